//! Writing what the store holds into a run directory's `otlp/` files.

use super::store::Store;
use satlab_record::fsio;
use satlab_record::{MetricPoint, RecordError, RunDir, ServerEvent};

impl Store {
    /// Write `otlp/events.jsonl`, `otlp/metrics.jsonl`, `otlp/spans.json` and
    /// `otlp/received.json` into `dir`, atomically. With a window `(from, to)` (Unix ns),
    /// only events starting and points stamped inside it are written.
    pub fn write_to(&self, dir: &RunDir, window: Option<(u64, u64)>) -> Result<(), RecordError> {
        let inside = |t: u64| window.is_none_or(|(a, b)| t >= a && t <= b);
        let (events, points, spans, received) = {
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
            (events, points, g.spans.clone(), g.received.clone())
        };
        let mut events = events;
        events.sort_by_key(|e| (e.start_unix_ns, e.seq));
        fsio::write_jsonl(&dir.events(), &events)?;
        fsio::write_jsonl(&dir.metrics(), &points)?;
        fsio::write_json(&dir.spans(), &spans)?;
        fsio::write_json(&dir.received(), &received)
    }
}

#[cfg(test)]
mod tests {
    use crate::otlp::logs::fixtures::{logs, pause};
    use crate::otlp::store::{Store, StoreLimits};
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
}
