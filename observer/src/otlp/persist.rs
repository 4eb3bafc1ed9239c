//! Writing what the store holds into a run directory's `otlp/` files.

use super::store::Store;
use satlab_record::fsio;
use satlab_record::{MetricPoint, RecordError, RunDir, ServerEvent};

impl Store {
    /// Write `otlp/events.jsonl`, `otlp/metrics.jsonl`, `otlp/spans.jsonl`,
    /// `otlp/spans.json` and `otlp/received.json` into `dir`, atomically. With a window
    /// `(from, to)` (Unix ns), only events and spans starting and points stamped inside it
    /// are written.
    pub fn write_to(&self, dir: &RunDir, window: Option<(u64, u64)>) -> Result<(), RecordError> {
        let inside = |t: u64| window.is_none_or(|(a, b)| t >= a && t <= b);
        let (events, points, mut spans, received, (timings, timing_stats)) = {
            let g = self.lock();
            let events: Vec<ServerEvent> = g
                .events
                .iter()
                .filter(|e| inside(e.start_unix_ns))
                .cloned()
                .collect();
            let points: Vec<MetricPoint> = g
                .points
                .iter()
                .filter(|p| inside(p.t_unix_ns))
                .cloned()
                .collect();
            let timings = g.timings.snapshot(window);
            (events, points, g.spans.clone(), g.received.clone(), timings)
        };
        spans.timings = timing_stats;
        let mut events = events;
        events.sort_by_key(|e| (e.start_unix_ns, e.seq));
        fsio::write_jsonl(&dir.events(), &events)?;
        fsio::write_jsonl(&dir.metrics(), &points)?;
        fsio::write_jsonl(&dir.span_timings(), &timings)?;
        fsio::write_json(&dir.spans(), &spans)?;
        fsio::write_json(&dir.received(), &received)
    }
}

#[cfg(test)]
mod tests {
    use crate::otlp::logs::fixtures::{logs, pause};
    use crate::otlp::store::{Store, StoreLimits};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use satlab_record::events::SpanSummary;
    use satlab_record::spans::{SpanKind, SpanTiming};
    use satlab_record::{RunDir, ServerEvent, fsio};

    #[test]
    fn write_to_respects_the_window() {
        let s = Store::new(StoreLimits::default());
        let mut a = pause(1);
        a.time_unix_nano = 100;
        let mut b = pause(2);
        b.time_unix_nano = 900;
        s.ingest_logs(&logs(vec![b, a]));
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        s.write_to(&dir, None).unwrap();
        let all: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2],
            "sorted by start"
        );
        s.write_to(&dir, Some((0, 500))).unwrap();
        let some: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
        assert_eq!(some.len(), 1);
        assert!(dir.received().is_file() && dir.spans().is_file() && dir.metrics().is_file());
    }

    fn span(trace: u8, id: u8, parent: Option<u8>, kind: i32, start: u64) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            kind,
            name: "x".into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + 50,
            ..Default::default()
        }
    }

    fn export(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(service.into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn span_timings_are_written_sorted_and_windowed_with_their_account() {
        let s = Store::new(StoreLimits::default());
        // Server spans first (their exporter flushed earlier), then the clients.
        let r = s.ingest_traces(&export(
            "target-api",
            vec![span(2, 20, Some(21), 2, 610), span(1, 10, Some(11), 2, 110)],
        ));
        assert_eq!(r.accepted, 2);
        let mut bad = span(3, 30, None, 3, 5);
        bad.trace_id.truncate(4);
        let r = s.ingest_traces(&export(
            "loadgen",
            vec![span(1, 11, None, 3, 100), span(2, 21, None, 3, 600), bad],
        ));
        assert_eq!((r.accepted, r.rejected), (2, 1));
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        s.write_to(&dir, None).unwrap();
        let all: Vec<SpanTiming> = fsio::read_jsonl(&dir.span_timings()).unwrap();
        let starts: Vec<u64> = all.iter().map(|t| t.start_unix_ns).collect();
        assert_eq!(starts, vec![100, 110, 600, 610]);
        assert_eq!(all[1].parent_span_id, Some(all[0].span_id));
        assert_eq!(
            (all[0].kind, all[0].service.as_str()),
            (SpanKind::Client, "loadgen")
        );
        assert_eq!(
            (all[1].kind, all[1].service.as_str()),
            (SpanKind::Server, "target-api")
        );
        let summary: SpanSummary = fsio::read_json(&dir.spans()).unwrap();
        let t = &summary.timings;
        assert_eq!((t.received, t.kept, t.dropped_by_ratio), (4, 4, 0));
        assert_eq!(
            (t.cap, t.ratio),
            (StoreLimits::default().max_spans as u64, 1.0)
        );
        assert_eq!(summary, s.spans(), "the same account in memory and on disk");

        s.write_to(&dir, Some((105, 605))).unwrap();
        let some: Vec<SpanTiming> = fsio::read_jsonl(&dir.span_timings()).unwrap();
        assert_eq!(
            some.iter().map(|t| t.start_unix_ns).collect::<Vec<_>>(),
            [110, 600]
        );
        let summary: SpanSummary = fsio::read_json(&dir.spans()).unwrap();
        assert_eq!(
            (summary.timings.kept, summary.timings.outside_window),
            (2, 2)
        );
    }
}
