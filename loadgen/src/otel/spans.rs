//! Client spans: workers only `try_send` finished, sampled requests into a bounded queue
//! (dropped and counted when full); the export thread turns each into the client span
//! whose ids were sent in `traceparent`.

use crate::otel::target::TargetAttrs;
use satlab_record::ErrorKind;
use satlab_record::telemetry::{ATTR_INTENDED_START, ATTR_STEP};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

/// Span records that may wait for the exporter.
pub const SPAN_QUEUE: usize = 8192;

/// A finished, sampled request: enough to build its client span after the fact.
#[derive(Debug, Clone, Copy)]
pub struct SpanRecord {
    /// Trace id sent in `traceparent`.
    pub trace_id: u128,
    /// Span id sent in `traceparent` (the server span's parent).
    pub span_id: u64,
    /// Send time, Unix ns.
    pub start_unix_ns: u64,
    /// End of the response, Unix ns.
    pub end_unix_ns: u64,
    /// Open loop: when the request was meant to be sent, Unix ns (`None` in closed loop).
    pub intended_unix_ns: Option<u64>,
    /// HTTP status, 0 when none.
    pub status: u16,
    /// Failure kind.
    pub error: ErrorKind,
    /// Load step.
    pub step: u32,
}

/// The workers' side of the span queue.
#[derive(Clone)]
pub struct SpanSink {
    tx: SyncSender<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

impl SpanSink {
    /// A sink and the receiver the exporter drains.
    pub fn channel(capacity: usize) -> (SpanSink, Receiver<SpanRecord>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        (
            SpanSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Queue a span without waiting; counts it as dropped when the queue is full.
    pub fn offer(&self, r: SpanRecord) {
        if self.tx.try_send(r).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The client span of a sampled request `r` to `target`. Its status is Error for a
/// transport error and for any status of 400 or more (the client-span convention; a
/// server span is an error only from 500).
pub fn span_data(r: &SpanRecord, target: &TargetAttrs) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    let t = |ns: u64| std::time::UNIX_EPOCH + Duration::from_nanos(ns);
    let mut attributes = target.span_attributes();
    attributes.push(KeyValue::new(ATTR_STEP, r.step as i64));
    if let Some(t) = r.intended_unix_ns {
        attributes.push(KeyValue::new(
            ATTR_INTENDED_START,
            t.min(i64::MAX as u64) as i64,
        ));
    }
    if r.status > 0 {
        attributes.push(KeyValue::new("http.response.status_code", r.status as i64));
    }
    let failed = r.error != ErrorKind::None || r.status >= 400;
    if r.error != ErrorKind::None {
        attributes.push(KeyValue::new("error.type", r.error.name()));
    } else if r.status >= 400 {
        attributes.push(KeyValue::new("error.type", r.status.to_string()));
    }
    opentelemetry_sdk::trace::SpanData {
        span_context: SpanContext::new(
            TraceId::from(r.trace_id),
            SpanId::from(r.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name: target.name.into(),
        start_time: t(r.start_unix_ns),
        end_time: t(r.end_unix_ns),
        attributes,
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status: if failed {
            Status::error("")
        } else {
            Status::Unset
        },
        instrumentation_scope: opentelemetry::InstrumentationScope::builder("loadgen").build(),
    }
}

/// Span names are the HTTP method (semantic conventions for clients without a route).
pub fn method_name(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "HTTP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::Status;

    fn span(status: u16, error: ErrorKind) -> opentelemetry_sdk::trace::SpanData {
        let r = SpanRecord {
            trace_id: 1,
            span_id: 2,
            start_unix_ns: 1_000,
            end_unix_ns: 2_000,
            intended_unix_ns: None,
            status,
            error,
            step: 0,
        };
        span_data(&r, &TargetAttrs::new("GET", "http://127.0.0.1:18080/x"))
    }

    fn attr(s: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
        s.attributes
            .iter()
            .find(|k| k.key.as_str() == key)
            .map(|k| k.value.to_string())
    }

    #[test]
    fn client_spans_are_errors_from_400_and_on_transport_errors() {
        for (status, error, failed, error_type) in [
            (200, ErrorKind::None, false, None),
            (302, ErrorKind::None, false, None),
            (404, ErrorKind::None, true, Some("404")),
            (429, ErrorKind::None, true, Some("429")),
            (500, ErrorKind::None, true, Some("500")),
            (0, ErrorKind::ConnectRefused, true, Some("connect_refused")),
            (0, ErrorKind::RequestTimeout, true, Some("request_timeout")),
        ] {
            let s = span(status, error);
            let want = if failed {
                Status::error("")
            } else {
                Status::Unset
            };
            assert_eq!(s.status, want, "{status} {error:?}");
            assert_eq!(attr(&s, "error.type").as_deref(), error_type, "{status}");
            assert_eq!(
                attr(&s, "http.response.status_code"),
                (status > 0).then(|| status.to_string())
            );
        }
    }

    #[test]
    fn client_spans_name_the_server_and_the_scheme() {
        let s = span(200, ErrorKind::None);
        assert_eq!(s.name, "GET");
        assert_eq!(attr(&s, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attr(&s, "server.port").as_deref(), Some("18080"));
        assert_eq!(attr(&s, "url.scheme").as_deref(), Some("http"));
        assert_eq!(
            attr(&s, "url.full").as_deref(),
            Some("http://127.0.0.1:18080/x")
        );
        assert_eq!(attr(&s, ATTR_STEP).as_deref(), Some("0"));
    }
}
