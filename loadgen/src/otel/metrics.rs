//! The `http.client.request.duration` metric's attributes for one request class.

use crate::record::classes::ClassKey;
use satlab_record::ErrorKind;
use satlab_record::telemetry::ATTR_STEP;

/// The duration metric's attributes for a request class (semantic conventions:
/// `error.type` is the failure kind when no response arrived, the status code for
/// statuses >= 400, and `_OTHER` for the classes folded together).
pub fn class_attributes(key: ClassKey, method: &'static str) -> Vec<opentelemetry::KeyValue> {
    use opentelemetry::KeyValue;
    // `method_name` gives "HTTP" (the span name) for methods semconv does not know.
    let method = if method == "HTTP" { "_OTHER" } else { method };
    let mut attrs = vec![KeyValue::new("http.request.method", method)];
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
