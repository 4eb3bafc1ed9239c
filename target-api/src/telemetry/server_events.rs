//! Server-event export: each event as an OTLP log record in the trace of the request that
//! triggered it, and in the `satlab.event.duration` histogram.

use super::event_attributes::event_attributes;
use super::handle::Telemetry;
use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::SpanContext;
use satlab_record::ServerEvent;
use satlab_record::telemetry as names;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Telemetry {
    /// Export one server event: an OTLP log record (event name `satlab.gc_pause`, ...) in the
    /// trace of the request that triggered it, and the `satlab.event.duration` histogram.
    pub fn server_event(&self, e: &ServerEvent, cx: Option<&SpanContext>) {
        if let Some(inst) = &self.inst {
            inst.event_duration.record(
                e.duration_ns as f64 / 1e9,
                &[KeyValue::new(names::ATTR_EVENT_NAME, e.kind.name())],
            );
        }
        if let Some(logger) = &self.logger {
            let mut rec = logger.create_log_record();
            rec.set_event_name(e.kind.event_name());
            rec.set_timestamp(UNIX_EPOCH + Duration::from_nanos(e.start_unix_ns));
            rec.set_observed_timestamp(SystemTime::now());
            rec.set_severity_number(Severity::Info);
            rec.set_severity_text("INFO");
            rec.set_body(AnyValue::from(format!(
                "{} #{} lasted {:.3} ms",
                e.kind.name(),
                e.seq,
                e.duration_ns as f64 / 1e6
            )));
            rec.add_attributes(
                event_attributes(e)
                    .into_iter()
                    .map(|kv| (kv.key, kv_any(kv.value))),
            );
            if let Some(sc) = cx.filter(|sc| sc.is_valid()) {
                rec.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
            }
            self.logs.ended.fetch_add(1, Ordering::Relaxed);
            logger.emit(rec);
        }
    }
}

fn kv_any(v: opentelemetry::Value) -> AnyValue {
    match v {
        opentelemetry::Value::I64(i) => AnyValue::Int(i),
        opentelemetry::Value::F64(f) => AnyValue::Double(f),
        opentelemetry::Value::Bool(b) => AnyValue::Boolean(b),
        other => AnyValue::String(other.to_string().into()),
    }
}
