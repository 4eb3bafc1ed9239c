//! One OTLP span read into a [`Timing`]: its ids, kind, times, error status and the few
//! attributes the diagnosis uses (`http.response.status_code`, `satlab.step`,
//! `satlab.intended_start_unix_nano`, `satlab.pool.wait_ns`), in one pass over its
//! attributes.

use super::attributes::value_u64;
use super::timings::Timing;
use opentelemetry_proto::tonic::trace::v1::Span;
use satlab_record::spans::SpanKind;
use satlab_record::telemetry::{ATTR_INTENDED_START, ATTR_POOL_WAIT_NS, ATTR_STEP};

/// The semantic-conventions attribute holding the HTTP status.
const ATTR_STATUS: &str = "http.response.status_code";

/// OTLP's `STATUS_CODE_ERROR`.
const STATUS_CODE_ERROR: i32 = 2;

/// The span's timing; `None` when its trace id is not 16 bytes or its span id not 8 (a
/// parent id of any other length than 8, or all zeros, is read as no parent).
pub fn timing_of(span: &Span) -> Option<Timing> {
    let trace_id = u128::from_be_bytes(span.trace_id.as_slice().try_into().ok()?);
    let span_id = u64::from_be_bytes(span.span_id.as_slice().try_into().ok()?);
    let parent_span_id = <[u8; 8]>::try_from(span.parent_span_id.as_slice())
        .ok()
        .map(u64::from_be_bytes)
        .filter(|&p| p != 0);
    let mut t = Timing {
        trace_id,
        span_id,
        parent_span_id,
        kind: SpanKind::from_otlp(span.kind),
        start_unix_ns: span.start_time_unix_nano,
        end_unix_ns: span.end_time_unix_nano,
        error: span
            .status
            .as_ref()
            .is_some_and(|s| s.code == STATUS_CODE_ERROR),
        status: None,
        step: None,
        intended_unix_ns: None,
        pool_wait_ns: None,
    };
    for kv in &span.attributes {
        let value = || kv.value.as_ref().and_then(value_u64);
        match kv.key.as_str() {
            ATTR_STATUS => t.status = value().and_then(|v| u16::try_from(v).ok()),
            ATTR_STEP => t.step = value().and_then(|v| u32::try_from(v).ok()),
            ATTR_INTENDED_START => t.intended_unix_ns = value(),
            ATTR_POOL_WAIT_NS => t.pool_wait_ns = value(),
            _ => {}
        }
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::trace::v1::Status;

    fn kv(key: &str, v: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn base() -> Span {
        Span {
            trace_id: (1..=16).collect(),
            span_id: vec![0xab; 8],
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 3_000,
            ..Default::default()
        }
    }

    #[test]
    fn ids_kind_times_status_and_the_four_attributes() {
        let mut s = base();
        s.parent_span_id = vec![0, 0, 0, 0, 0, 0, 0x12, 0x34];
        s.kind = 3;
        s.status = Some(Status {
            code: STATUS_CODE_ERROR,
            ..Default::default()
        });
        s.attributes = vec![
            kv("url.full", Value::StringValue("http://x/".into())),
            kv(ATTR_STATUS, Value::IntValue(503)),
            kv(ATTR_STEP, Value::IntValue(4)),
            kv(ATTR_INTENDED_START, Value::IntValue(900)),
            kv(ATTR_POOL_WAIT_NS, Value::StringValue("250".into())),
        ];
        let t = timing_of(&s).unwrap();
        assert_eq!(t.trace_id, 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        assert_eq!(t.span_id, 0xabab_abab_abab_abab);
        assert_eq!(t.parent_span_id, Some(0x1234));
        assert_eq!(t.kind, SpanKind::Client);
        assert_eq!((t.start_unix_ns, t.end_unix_ns), (1_000, 3_000));
        assert!(t.error);
        assert_eq!(t.status, Some(503));
        assert_eq!(t.step, Some(4));
        assert_eq!(t.intended_unix_ns, Some(900));
        assert_eq!(t.pool_wait_ns, Some(250), "numeric strings are read too");
    }

    #[test]
    fn absent_odd_and_out_of_range_values_are_left_out() {
        let mut s = base();
        s.parent_span_id = vec![0; 8];
        s.kind = 42;
        s.attributes = vec![
            kv(ATTR_STATUS, Value::IntValue(70_000)),
            kv(ATTR_STEP, Value::IntValue(-1)),
            kv(ATTR_POOL_WAIT_NS, Value::BoolValue(true)),
        ];
        let t = timing_of(&s).unwrap();
        assert_eq!(t.parent_span_id, None, "an all-zero parent is no parent");
        assert_eq!(t.kind, SpanKind::Unspecified);
        assert!(!t.error);
        assert_eq!((t.status, t.step, t.pool_wait_ns), (None, None, None));
        assert_eq!(t.intended_unix_ns, None);
        s.parent_span_id = vec![1, 2, 3];
        assert_eq!(timing_of(&s).unwrap().parent_span_id, None);
        s.trace_id.pop();
        assert_eq!(timing_of(&s), None, "a 15-byte trace id");
        let mut s = base();
        s.span_id = Vec::new();
        assert_eq!(timing_of(&s), None, "no span id");
    }
}
