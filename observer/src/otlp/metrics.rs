//! Metric ingestion: every metric name is listed per service; the points of the selected
//! names the diagnosis reads are kept, within the store's bound.

use super::attributes::service_name;
use super::ingest::{self, Ingest};
use super::metric_points::metric_points;
use super::signal::Signal;
use super::store::{Store, note, push_bounded};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use satlab_record::telemetry as tel;

/// Metric names whose points are kept (the others are only listed in `received.json`).
pub const SELECTED_METRICS: [&str; 8] = [
    tel::HTTP_SERVER_REQUEST_DURATION,
    tel::HTTP_SERVER_ACTIVE_REQUESTS,
    tel::HTTP_CLIENT_REQUEST_DURATION,
    tel::PROCESS_CPU_UTILIZATION,
    tel::POOL_WAIT_DURATION,
    tel::EVENT_DURATION,
    tel::SHED_REQUESTS,
    tel::TELEMETRY_DROPPED,
];

impl Store {
    /// Take the data points of a metrics export (selected names kept, all names listed).
    pub fn ingest_metrics(&self, req: &ExportMetricsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        let mut g = self.lock();
        let lim = self.limits;
        for rm in &req.resource_metrics {
            let service = g.service_key(service_name(rm.resource.as_ref()), &lim);
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let names = g.received.services.entry(service.clone()).or_default();
                    note(&mut names.metrics, &m.name, lim.max_names);
                    let keep = SELECTED_METRICS.contains(&m.name.as_str());
                    for p in metric_points(&service, m) {
                        if !keep {
                            out.accepted += 1;
                            continue;
                        }
                        if push_bounded(&mut g.points, p, lim.max_points, lim.overflow) {
                            out.accepted += 1;
                        } else {
                            out.reject("observer metric store full");
                        }
                    }
                }
            }
        }
        ingest::count(&mut g, Signal::Metrics, &out, "store_full");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::store::StoreLimits;
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
    };

    #[test]
    fn histograms_are_flattened_and_unselected_names_only_listed() {
        let hist = |name: &str| Metric {
            name: name.into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: 9,
                    count: 3,
                    sum: Some(0.5),
                    explicit_bounds: vec![0.1, 1.0],
                    bucket_counts: vec![1, 2, 0],
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        hist(tel::HTTP_SERVER_REQUEST_DURATION),
                        hist("other.metric"),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let s = Store::new(StoreLimits::default());
        assert_eq!(s.ingest_metrics(&req).accepted, 2);
        let p = s.points();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, "histogram");
        assert_eq!(p[0].temporality, "cumulative");
        assert_eq!(p[0].bucket_counts, vec![1, 2, 0]);
        let names = &s.received().services["unknown_service"].metrics;
        assert!(
            names.contains("other.metric") && names.contains(tel::HTTP_SERVER_REQUEST_DURATION)
        );
    }
}
