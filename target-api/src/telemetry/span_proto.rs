//! OTLP/protobuf encoding of finished spans, from the SDK's `SpanData` straight into one
//! buffer: an `ExportTraceServiceRequest` with no proto structs in between (the SDK's
//! exporter first copies every string of every span into one, then encodes and drops
//! them: two thirds of its export cost). The bytes are exactly those prost writes for
//! opentelemetry-proto's `group_spans_by_resource_and_scope` of the same batch (tested).

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use std::time::{SystemTime, UNIX_EPOCH};

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags`: the context's "is remote" bit is known; and set.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// Encodes batches for one resource.
#[derive(Debug, Clone, Default)]
pub struct SpanEncoder {
    /// `ResourceSpans.resource`, tag and length included: encoded once.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url`.
    schema_url: String,
}

impl SpanEncoder {
    /// An encoder for spans of `resource`.
    pub fn new(resource: &Resource) -> Self {
        let mut buf = Vec::new();
        let at = open(&mut buf, 1);
        for (k, v) in resource.iter() {
            key_value(&mut buf, 1, k.as_str(), v);
        }
        close(&mut buf, at);
        SpanEncoder {
            resource: buf,
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
        }
    }

    /// Append `batch` to `out` as one `ExportTraceServiceRequest`: one `ResourceSpans`,
    /// one `ScopeSpans` per instrumentation scope in the order each first appears.
    pub fn encode(&self, batch: &[SpanData], out: &mut Vec<u8>) {
        let rs = open(out, 1);
        out.extend_from_slice(&self.resource);
        // Nearly always one scope: a linear scan beats hashing.
        let mut scopes: Vec<&InstrumentationScope> = Vec::with_capacity(1);
        for span in batch {
            if !scopes.contains(&&span.instrumentation_scope) {
                scopes.push(&span.instrumentation_scope);
            }
        }
        let one_scope = scopes.len() == 1;
        for scope in scopes {
            let ss = open(out, 2);
            instrumentation_scope(out, scope);
            if one_scope {
                batch.iter().for_each(|s| self::span(out, s));
            } else {
                batch
                    .iter()
                    .filter(|s| s.instrumentation_scope == *scope)
                    .for_each(|s| self::span(out, s));
            }
            string(out, 3, scope.schema_url().unwrap_or_default());
            close(out, ss);
        }
        string(out, 3, &self.schema_url);
        close(out, rs);
    }
}

fn instrumentation_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    let at = open(out, 1);
    string(out, 1, scope.name());
    string(out, 2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        key_value(out, 3, kv.key.as_str(), &kv.value);
    }
    close(out, at);
}

fn span(out: &mut Vec<u8>, s: &SpanData) {
    let at = open(out, 2);
    let cx = &s.span_context;
    bytes(out, 1, &cx.trace_id().to_bytes());
    bytes(out, 2, &cx.span_id().to_bytes());
    trace_state(out, 3, cx);
    if s.parent_span_id != SpanId::INVALID {
        bytes(out, 4, &s.parent_span_id.to_bytes());
    }
    string(out, 5, &s.name);
    uint(out, 6, kind(&s.span_kind));
    fixed64(out, 7, unix_nanos(s.start_time));
    fixed64(out, 8, unix_nanos(s.end_time));
    attributes(out, 9, &s.attributes);
    uint(out, 10, s.dropped_attributes_count.into());
    for e in s.events.iter() {
        let ev = open(out, 11);
        fixed64(out, 1, unix_nanos(e.timestamp));
        string(out, 2, &e.name);
        attributes(out, 3, &e.attributes);
        uint(out, 4, e.dropped_attributes_count.into());
        close(out, ev);
    }
    uint(out, 12, s.events.dropped_count.into());
    for l in s.links.iter() {
        let lk = open(out, 13);
        let lcx = &l.span_context;
        bytes(out, 1, &lcx.trace_id().to_bytes());
        bytes(out, 2, &lcx.span_id().to_bytes());
        trace_state(out, 3, lcx);
        attributes(out, 4, &l.attributes);
        uint(out, 5, l.dropped_attributes_count.into());
        fixed32(out, 6, flags(lcx.is_remote(), lcx));
        close(out, lk);
    }
    uint(out, 14, s.links.dropped_count.into());
    let st = open(out, 15);
    let (code, message) = match &s.status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description.as_ref()),
    };
    string(out, 2, message);
    uint(out, 3, code);
    close(out, st);
    fixed32(out, 16, flags(s.parent_span_is_remote, cx));
    close(out, at);
}

/// `Span.SpanKind` (never unspecified: the SDK has no such kind).
fn kind(k: &SpanKind) -> u64 {
    match k {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn flags(remote: bool, cx: &SpanContext) -> u32 {
    u32::from(cx.trace_flags().to_u8()) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn trace_state(out: &mut Vec<u8>, field: u32, cx: &SpanContext) {
    let ts = cx.trace_state();
    if *ts != Default::default() {
        string(out, field, &ts.header());
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn attributes(out: &mut Vec<u8>, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        key_value(out, field, kv.key.as_str(), &kv.value);
    }
}

fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &Value) {
    // A scalar's length is known before it is written: no length to patch afterwards.
    let Some(value_len) = scalar_len(value) else {
        let at = open(out, field);
        string(out, 1, key);
        let v = open(out, 2);
        any_value(out, value);
        close(out, v);
        close(out, at);
        return;
    };
    let key_len = if key.is_empty() {
        0
    } else {
        1 + varint_len(key.len() as u64) + key.len() as u64
    };
    tag(out, field, LEN);
    varint(out, key_len + 1 + varint_len(value_len) + value_len);
    string(out, 1, key);
    tag(out, 2, LEN);
    varint(out, value_len);
    any_value(out, value);
}

/// The encoded length of a scalar `AnyValue`; `None` for an array.
fn scalar_len(value: &Value) -> Option<u64> {
    match value {
        Value::Bool(_) => Some(2),
        Value::I64(i) => Some(1 + varint_len(*i as u64)),
        Value::F64(_) => Some(9),
        Value::String(s) => {
            let n = s.as_str().len() as u64;
            Some(1 + varint_len(n) + n)
        }
        _ => None,
    }
}

fn varint_len(v: u64) -> u64 {
    u64::from((64 - (v | 1).leading_zeros()).div_ceil(7))
}

/// The body of an `AnyValue` (a oneof: written even when it holds a default).
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => any_bool(out, *b),
        Value::I64(i) => any_i64(out, *i),
        Value::F64(f) => any_f64(out, *f),
        Value::String(s) => any_str(out, s.as_str()),
        Value::Array(a) => {
            let at = open(out, 5);
            match a {
                Array::Bool(v) => v.iter().for_each(|x| array_item(out, |o| any_bool(o, *x))),
                Array::I64(v) => v.iter().for_each(|x| array_item(out, |o| any_i64(o, *x))),
                Array::F64(v) => v.iter().for_each(|x| array_item(out, |o| any_f64(o, *x))),
                Array::String(v) => v
                    .iter()
                    .for_each(|x| array_item(out, |o| any_str(o, x.as_str()))),
                // A kind of array this version does not know: sent empty.
                _ => {}
            }
            close(out, at);
        }
        // A kind of value this version does not know: an empty `AnyValue`.
        _ => {}
    }
}

fn any_bool(out: &mut Vec<u8>, b: bool) {
    tag(out, 2, VARINT);
    varint(out, u64::from(b));
}

fn any_i64(out: &mut Vec<u8>, i: i64) {
    tag(out, 3, VARINT);
    varint(out, i as u64);
}

fn any_f64(out: &mut Vec<u8>, f: f64) {
    tag(out, 4, FIXED64);
    out.extend_from_slice(&f.to_bits().to_le_bytes());
}

fn any_str(out: &mut Vec<u8>, s: &str) {
    tag(out, 1, LEN);
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// One `ArrayValue.values` item.
fn array_item(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let at = open(out, 1);
    body(out);
    close(out, at);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A scalar field, left out at its default (proto3).
fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, VARINT);
        varint(out, v);
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        tag(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        tag(out, field, FIXED32);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        tag(out, field, LEN);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes(out, field, s.as_bytes());
}

/// Start a length-delimited field whose length is not known yet: its tag and a one-byte
/// length, patched by [`close`]. Returns where the body starts.
fn open(out: &mut Vec<u8>, field: u32) -> usize {
    tag(out, field, LEN);
    out.push(0);
    out.len()
}

/// Write the length of the field [`open`] started at `body`, moving the body up when the
/// length needs more than one byte.
fn close(out: &mut Vec<u8>, body: usize) {
    let len = out.len() - body;
    if len < 0x80 {
        out[body - 1] = len as u8;
        return;
    }
    let (mut prefix, mut n, mut v) = ([0u8; 10], 0, len);
    while v >= 0x80 {
        prefix[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    let extra = n;
    out.resize(out.len() + extra, 0);
    out.copy_within(body..body + len, body + extra);
    out[body - 1..body + extra].copy_from_slice(&prefix[..=n]);
}

/// `ExportTraceServiceResponse.partial_success.rejected_spans`: 0 when absent (a full
/// success) or when the answer cannot be read.
pub fn rejected_spans(response: &[u8]) -> u64 {
    fields(response)
        .find(|(field, _)| *field == 1)
        .and_then(|(_, v)| match v {
            Field::Len(partial) => fields(partial).find_map(|(f, v)| match (f, v) {
                (1, Field::Varint(n)) => Some(n.max(0)),
                _ => None,
            }),
            Field::Varint(_) => None,
        })
        .map_or(0, |n| n as u64)
}

/// A read field's value: a varint (as `i64`) or a length-delimited body. Fixed-width
/// fields are skipped by [`fields`].
enum Field<'a> {
    Varint(i64),
    Len(&'a [u8]),
}

/// The fields of one protobuf message, until its end or the first malformed byte.
fn fields(mut b: &[u8]) -> impl Iterator<Item = (u64, Field<'_>)> {
    std::iter::from_fn(move || {
        loop {
            let key = read_varint(&mut b)?;
            let value = match key & 7 {
                0 => Some(Field::Varint(read_varint(&mut b)? as i64)),
                1 => {
                    b = b.get(8..)?;
                    None
                }
                2 => {
                    let len = usize::try_from(read_varint(&mut b)?).ok()?;
                    let body = b.get(..len)?;
                    b = &b[len..];
                    Some(Field::Len(body))
                }
                5 => {
                    b = b.get(4..)?;
                    None
                }
                _ => return None,
            };
            if let Some(v) = value {
                return Some((key >> 3, v));
            }
        }
    })
}

fn read_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::{KeyValue, StringValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message;
    use std::borrow::Cow;
    use std::str::FromStr;
    use std::time::Duration;

    /// What prost writes for the SDK exporter's conversion of the same batch.
    fn reference(batch: &[SpanData], resource: &Resource) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                batch.to_vec(),
                &ResourceAttributesWithSchema::from(resource),
            ),
        }
        .encode_to_vec()
    }

    fn ours(batch: &[SpanData], resource: &Resource) -> Vec<u8> {
        let mut out = Vec::new();
        SpanEncoder::new(resource).encode(batch, &mut out);
        out
    }

    fn cx(trace: u128, span: u64, sampled: bool, remote: bool, state: &str) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            flags,
            remote,
            TraceState::from_str(state).unwrap(),
        )
    }

    fn server_span(i: u64, scope: &InstrumentationScope) -> SpanData {
        let t0 = UNIX_EPOCH + Duration::from_nanos(1_764_000_000_123_456_789 + i);
        SpanData {
            span_context: cx(
                0x0af7651916cd43dd8448eb211c80319c + u128::from(i),
                0xb7ad6b71 + i,
                true,
                false,
                "",
            ),
            parent_span_id: SpanId::from(0x00f067aa0ba902b7),
            parent_span_is_remote: true,
            span_kind: SpanKind::Server,
            name: Cow::Borrowed("POST /api/vector/add"),
            start_time: t0,
            end_time: t0 + Duration::from_micros(87),
            attributes: vec![
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.route", "/api/vector/add"),
                KeyValue::new("server.port", 8080_i64),
                KeyValue::new("http.response.status_code", 200_i64),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    #[test]
    fn a_batch_of_server_spans_is_what_prost_writes() {
        let resource = Resource::builder_empty()
            .with_service_name("target-api")
            .with_attribute(KeyValue::new("deployment.environment.name", "lab"))
            .build();
        let scope = InstrumentationScope::builder("target-api").build();
        let batch: Vec<_> = (0..600).map(|i| server_span(i, &scope)).collect();
        assert_eq!(ours(&batch, &resource), reference(&batch, &resource));
    }

    #[test]
    fn every_field_and_value_kind_is_what_prost_writes() {
        let resource = Resource::builder_empty()
            .with_schema_url(
                [KeyValue::new("service.name", "svc")],
                "https://opentelemetry.io/schemas/1.26.0",
            )
            .build();
        let a = InstrumentationScope::builder("a")
            .with_version("1.2.3")
            .with_schema_url("https://example.com/s")
            .with_attributes([KeyValue::new("scope.k", true)])
            .build();
        let b = InstrumentationScope::builder("b").build();
        let long = "x".repeat(20_000); // lengths of three varint bytes
        let mut span = server_span(7, &a);
        span.span_context = cx(1, 2, false, true, "vendor=v1,other=o2");
        span.parent_span_id = SpanId::INVALID;
        span.parent_span_is_remote = false;
        span.span_kind = SpanKind::Client;
        span.name = Cow::Owned(long.clone());
        span.start_time = UNIX_EPOCH;
        span.attributes = vec![
            KeyValue::new("neg", -5_i64),
            KeyValue::new("zero", 0_i64),
            KeyValue::new("f", -0.25_f64),
            KeyValue::new("b", false),
            KeyValue::new("empty", ""),
            KeyValue::new("", "empty key"),
            KeyValue::new("long", long.clone()),
            KeyValue::new("ab", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ai", Value::Array(Array::I64(vec![i64::MIN, 0, 300]))),
            KeyValue::new("af", Value::Array(Array::F64(vec![1.5]))),
            KeyValue::new(
                "as",
                Value::Array(Array::String(vec![
                    StringValue::from("s"),
                    StringValue::from(long.clone()),
                ])),
            ),
            KeyValue::new("a0", Value::Array(Array::I64(vec![]))),
        ];
        span.dropped_attributes_count = 3;
        span.events.events = vec![
            Event::new(
                "gc_pause",
                UNIX_EPOCH + Duration::from_secs(5),
                vec![KeyValue::new("ms", 12_i64)],
                1,
            ),
            Event::new("", UNIX_EPOCH, vec![], 0),
        ];
        span.events.dropped_count = 4;
        span.links.links = vec![Link::new(
            cx(9, 8, true, true, "k=v"),
            vec![KeyValue::new("l", 1.0_f64)],
            2,
        )];
        span.links.dropped_count = 5;
        span.status = Status::error("boom");
        let mut ok = server_span(8, &b);
        ok.status = Status::Ok;
        let mut unset_error = server_span(9, &a);
        unset_error.status = Status::error("");
        let batch = vec![
            server_span(1, &a),
            span,
            ok,
            unset_error,
            server_span(2, &b),
            server_span(3, &a),
        ];
        assert_eq!(ours(&batch, &resource), reference(&batch, &resource));
        // An empty batch: an empty ResourceSpans, as the SDK exporter would send.
        assert_eq!(ours(&[], &resource), reference(&[], &resource));
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>().prop_map(Value::F64),
            ".{0,300}".prop_map(|s| Value::String(s.into())),
            prop::collection::vec(any::<i64>(), 0..40).prop_map(|v| Value::Array(Array::I64(v))),
        ]
    }

    proptest! {
        #[test]
        fn any_attributes_encode_as_prost_does(
            attrs in prop::collection::vec(("[a-z.]{0,20}", value()), 0..30),
            n in 1usize..20,
        ) {
            let resource = Resource::builder_empty().with_service_name("p").build();
            let scope = InstrumentationScope::builder("p").build();
            let kvs: Vec<KeyValue> = attrs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
            let batch: Vec<_> = (0..n as u64)
                .map(|i| {
                    let mut s = server_span(i, &scope);
                    s.attributes = kvs.clone();
                    s
                })
                .collect();
            prop_assert_eq!(ours(&batch, &resource), reference(&batch, &resource));
        }
    }

    #[test]
    fn a_partial_success_says_how_many_spans_were_rejected() {
        use opentelemetry_proto::tonic::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        let answer = |rejected, message: &str| {
            ExportTraceServiceResponse {
                partial_success: Some(ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message.into(),
                }),
            }
            .encode_to_vec()
        };
        assert_eq!(rejected_spans(&answer(17, "quota")), 17);
        assert_eq!(rejected_spans(&answer(300, "")), 300);
        assert_eq!(rejected_spans(&answer(0, "a warning only")), 0);
        assert_eq!(
            rejected_spans(&ExportTraceServiceResponse::default().encode_to_vec()),
            0
        );
        assert_eq!(rejected_spans(&[]), 0);
        // Malformed answers read as no rejection, never a panic.
        let whole = answer(1 << 40, "x".repeat(200).as_str());
        for cut in 0..whole.len() {
            let _ = rejected_spans(&whole[..cut]);
        }
        assert_eq!(rejected_spans(&[0xff; 12]), 0);
    }
}
