//! The `http.client.request.duration` metric's attributes for one request class.

use crate::otel::target::TargetAttrs;
use crate::record::classes::ClassKey;
use satlab_record::ErrorKind;
use satlab_record::telemetry::ATTR_STEP;

/// The duration metric's attributes for a request class (semantic conventions:
/// `error.type` is the failure kind when no response arrived, the status code for
/// statuses >= 400, and `_OTHER` for the classes folded together), after the target's
/// method, `server.address` and `server.port`.
pub fn class_attributes(key: ClassKey, target: &TargetAttrs) -> Vec<opentelemetry::KeyValue> {
    use opentelemetry::KeyValue;
    let mut attrs = target.metric_attributes();
    match key {
        ClassKey::Request {
            status,
            error,
            step,
        } => {
            if status > 0 {
                attrs.push(KeyValue::new("http.response.status_code", status as i64));
            }
            if error != ErrorKind::None {
                attrs.push(KeyValue::new("error.type", error.name()));
            } else if status >= 400 {
                attrs.push(KeyValue::new("error.type", status.to_string()));
            } else if status == 0 {
                attrs.push(KeyValue::new("error.type", "_OTHER"));
            }
            attrs.push(KeyValue::new(ATTR_STEP, step as i64));
        }
        ClassKey::Overflow => attrs.push(KeyValue::new("error.type", "_OTHER")),
    }
    attrs
}
