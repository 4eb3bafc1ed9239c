//! Flattening one OTLP metric into the run directory's [`MetricPoint`]s, one per data
//! point (exponential histograms and summaries keep count and sum only).

use super::attributes::attr_map;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use satlab_record::MetricPoint;

fn temporality(t: i32) -> String {
    match t {
        1 => "delta".into(),
        2 => "cumulative".into(),
        _ => String::new(),
    }
}

/// Flatten one OTLP metric into points (exponential histograms and summaries keep count
/// and sum only).
pub(super) fn metric_points(service: &str, m: &Metric) -> Vec<MetricPoint> {
    let base = |kind: &str, temp: String, attrs: &[KeyValue], t: u64, start: u64| MetricPoint {
        t_unix_ns: t,
        start_unix_ns: start,
        service: service.to_string(),
        name: m.name.clone(),
        kind: kind.to_string(),
        temporality: temp,
        attributes: attr_map(attrs, &[]),
        value: None,
        count: None,
        sum: None,
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
    };
    let number = |v: &Option<number_data_point::Value>| match v {
        Some(number_data_point::Value::AsDouble(d)) => Some(*d),
        Some(number_data_point::Value::AsInt(i)) => Some(*i as f64),
        None => None,
    };
    match &m.data {
        Some(metric::Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|p| MetricPoint {
                value: number(&p.value),
                ..base(
                    "gauge",
                    String::new(),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|p| MetricPoint {
                value: number(&p.value),
                ..base(
                    "sum",
                    temporality(s.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: p.sum,
                bounds: p.explicit_bounds.clone(),
                bucket_counts: p.bucket_counts.clone(),
                ..base(
                    "histogram",
                    temporality(h.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: p.sum,
                ..base(
                    "exponential_histogram",
                    temporality(h.aggregation_temporality),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        Some(metric::Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|p| MetricPoint {
                count: Some(p.count),
                sum: Some(p.sum),
                ..base(
                    "summary",
                    String::new(),
                    &p.attributes,
                    p.time_unix_nano,
                    p.start_time_unix_nano,
                )
            })
            .collect(),
        None => Vec::new(),
    }
}
