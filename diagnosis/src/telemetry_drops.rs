//! Telemetry the emitters could not export (`satlab.telemetry.dropped`, per service and
//! signal): when a full export queue drops spans or log records, the joined spans and the
//! server events the diagnosis reads are fewer than the ones sampled, and the report says so.

use satlab_record::MetricPoint;
use satlab_record::telemetry::TELEMETRY_DROPPED;
use std::collections::BTreeMap;

/// Items dropped over the run, per (service, signal): a cumulative counter's largest value
/// per series (one per process start), summed over series; a delta counter's values summed.
pub fn dropped(points: &[MetricPoint]) -> BTreeMap<(String, String), u64> {
    let mut cumulative: BTreeMap<(String, String, u64), f64> = BTreeMap::new();
    let mut delta: BTreeMap<(String, String), f64> = BTreeMap::new();
    for p in points.iter().filter(|p| p.name == TELEMETRY_DROPPED) {
        let Some(v) = p.value.filter(|v| v.is_finite() && *v > 0.0) else {
            continue;
        };
        let signal = p.attributes.get("signal").cloned().unwrap_or_default();
        if p.temporality == "delta" {
            *delta.entry((p.service.clone(), signal)).or_default() += v;
        } else {
            let m = cumulative
                .entry((p.service.clone(), signal, p.start_unix_ns))
                .or_default();
            *m = m.max(v);
        }
    }
    let mut out: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((service, signal, _), v) in cumulative {
        *out.entry((service, signal)).or_default() += v as u64;
    }
    for (key, v) in delta {
        *out.entry(key).or_default() += v as u64;
    }
    out.retain(|_, n| *n > 0);
    out
}

/// One limitation line for the drops, or `None` when nothing was dropped.
pub fn limitation(points: &[MetricPoint]) -> Option<String> {
    let d = dropped(points);
    if d.is_empty() {
        return None;
    }
    let each: Vec<String> = d
        .iter()
        .map(|((service, signal), n)| {
            let what = if signal.is_empty() { "items" } else { signal };
            format!("{service} {} {what}", crate::format::fmt_num(*n as f64))
        })
        .collect();
    Some(format!(
        "telemetry was dropped by a full export queue ({}): the joined spans and the server events cover fewer requests than were sampled; sample less (--trace-sample) or export faster",
        each.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(service: &str, signal: &str, temporality: &str, start: u64, v: f64) -> MetricPoint {
        MetricPoint {
            t_unix_ns: start + 1,
            start_unix_ns: start,
            service: service.into(),
            name: TELEMETRY_DROPPED.into(),
            kind: "sum".into(),
            temporality: temporality.into(),
            attributes: [("signal".to_string(), signal.to_string())].into(),
            value: Some(v),
            count: None,
            sum: None,
            bounds: Vec::new(),
            bucket_counts: Vec::new(),
        }
    }

    #[test]
    fn cumulative_series_take_their_largest_value_and_restarts_add_up() {
        let pts = [
            point("target-api", "spans", "cumulative", 10, 100.0),
            point("target-api", "spans", "cumulative", 10, 391_041.0),
            point("target-api", "spans", "cumulative", 10, 300.0),
            // A restarted process: a new series.
            point("target-api", "spans", "cumulative", 20, 9.0),
            point("target-api", "logs", "cumulative", 10, 0.0),
            point("loadgen", "spans", "delta", 0, 5.0),
            point("loadgen", "spans", "delta", 0, 7.0),
        ];
        let d = dropped(&pts);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[&("target-api".into(), "spans".into())], 391_050);
        assert_eq!(d[&("loadgen".into(), "spans".into())], 12);
        let line = limitation(&pts).expect("a limitation");
        assert!(line.contains("target-api 391,050 spans"), "{line}");
        assert!(line.contains("loadgen 12 spans"), "{line}");
    }

    #[test]
    fn nothing_dropped_says_nothing() {
        let mut other = point("target-api", "spans", "cumulative", 10, 50.0);
        other.name = "http.server.active_requests".into();
        let zero = point("target-api", "spans", "cumulative", 10, 0.0);
        assert_eq!(limitation(&[other, zero]), None);
    }
}
