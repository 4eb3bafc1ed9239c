//! Reading OTLP attributes: scalar values as strings or integers, attribute maps, and the
//! resource's `service.name`.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::BTreeMap;

/// The resource's `service.name` (`unknown_service` when absent).
pub(super) fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| attr(&r.attributes, "service.name"))
        .unwrap_or_else(|| "unknown_service".to_string())
}

/// An attribute's value as a string (`None` when absent or not a scalar).
pub fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(value_string)
}

fn value_string(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// An attribute's value as an unsigned integer (integers, non-negative doubles and
/// numeric strings).
pub(super) fn attr_u64(attrs: &[KeyValue], key: &str) -> Option<u64> {
    let kv = attrs.iter().find(|kv| kv.key == key)?;
    value_u64(kv.value.as_ref()?)
}

/// A value as an unsigned integer (integers, non-negative doubles and numeric strings).
pub(super) fn value_u64(v: &AnyValue) -> Option<u64> {
    match v.value.as_ref()? {
        any_value::Value::IntValue(i) => u64::try_from(*i).ok(),
        any_value::Value::DoubleValue(d) if *d >= 0.0 && d.is_finite() => Some(*d as u64),
        any_value::Value::StringValue(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The scalar attributes as a map, without the `skip` keys, at most 32.
pub(super) fn attr_map(attrs: &[KeyValue], skip: &[&str]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter(|kv| !skip.contains(&kv.key.as_str()))
        .take(32)
        .filter_map(|kv| Some((kv.key.clone(), kv.value.as_ref().and_then(value_string)?)))
        .collect()
}
