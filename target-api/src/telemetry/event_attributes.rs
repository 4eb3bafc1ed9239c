//! A server event's attributes, shared by its log record ([`super::server_events`]) and
//! the span events of the requests it overlapped ([`super::span_proto`]).

use opentelemetry::KeyValue;
use satlab_record::ServerEvent;
use satlab_record::telemetry as names;

/// An event's attributes, shared by its log record and the span events of the requests
/// it overlapped.
pub(super) fn event_attributes(e: &ServerEvent) -> Vec<KeyValue> {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut attrs = vec![
        KeyValue::new(names::ATTR_EVENT_NAME, e.kind.name()),
        KeyValue::new(names::ATTR_EVENT_SEQ, i(e.seq)),
        KeyValue::new(names::ATTR_EVENT_START, i(e.start_unix_ns)),
        KeyValue::new(names::ATTR_EVENT_DURATION_NS, i(e.duration_ns)),
    ];
    if let Some(idx) = e.request_index {
        attrs.push(KeyValue::new(names::ATTR_EVENT_REQUEST_INDEX, i(idx)));
    }
    attrs
}
