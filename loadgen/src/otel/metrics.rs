//! The `http.client.request.duration` metric: its attributes for one request class, and
//! the replay of a second's class aggregates into handles bound per class.

use crate::otel::target::TargetAttrs;
use crate::record::classes::{ClassAgg, ClassKey};
use opentelemetry::metrics::{BoundHistogram, Histogram};
use satlab_record::ErrorKind;
use satlab_record::telemetry::ATTR_STEP;
use std::collections::HashMap;

/// Most classes given a bound handle over a run; later ones are recorded unbound. A plan's
/// steps × statuses × failure kinds stays far below it.
const MAX_BOUND: usize = 4096;

/// The duration histogram with a handle bound per request class on the class's first
/// second: the replay (one `record` per request, see `record::classes`) then neither
/// builds nor hashes an attribute set per request, only per class.
pub struct Durations {
    histogram: Histogram<f64>,
    target: TargetAttrs,
    bound: HashMap<ClassKey, BoundHistogram<f64>>,
}

impl Durations {
    /// Handles for `histogram`, with the target's attributes on every class.
    pub fn new(histogram: Histogram<f64>, target: TargetAttrs) -> Self {
        Durations {
            histogram,
            target,
            bound: HashMap::new(),
        }
    }

    /// Record one second of one class: as many values as it had requests.
    pub fn record(&mut self, class: &ClassAgg) {
        let replay = |record: &dyn Fn(f64)| {
            for (v, n) in class.replay() {
                for _ in 0..n {
                    record(v);
                }
            }
        };
        if let Some(h) = self.bound.get(&class.key) {
            return replay(&|v| h.record(v));
        }
        let attrs = class_attributes(class.key, &self.target);
        if self.bound.len() < MAX_BOUND {
            let h = self.histogram.bind(&attrs);
            replay(&|v| h.record(v));
            self.bound.insert(class.key, h);
        } else {
            replay(&|v| self.histogram.record(v, &attrs));
        }
    }
}

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
