//! Latency over time: the median and the maximum per bucket of start time, filled from the
//! series in start order one bucket at a time, with the server events beside them.

use super::bursts::median_u32;
use crate::model::{EventMark, Timeline, TimelinePoint};
use satlab_record::{RequestRecord, ServerEvent};

/// Spike and event marks kept for charts.
pub const MAX_MARKS: usize = 2000;
/// Buckets of the latency-over-time series.
pub const TIMELINE_BUCKETS: u64 = 600;

/// Buckets the series fed in start order.
pub(crate) struct TimelineScan {
    /// The latest start + 1, µs.
    span_us: u64,
    bucket_us: u64,
    /// The bucket being filled and its latencies.
    current: Option<u64>,
    latencies: Vec<u32>,
    points: Vec<TimelinePoint>,
}

impl TimelineScan {
    /// [`TIMELINE_BUCKETS`] buckets (of at least 1 ms) up to the latest start.
    pub fn new(last_start_us: u64) -> Self {
        let span_us = last_start_us.saturating_add(1);
        TimelineScan {
            span_us,
            bucket_us: span_us.div_ceil(TIMELINE_BUCKETS).max(1000),
            current: None,
            latencies: Vec::new(),
            points: Vec::new(),
        }
    }

    /// The next record in start order.
    pub fn push(&mut self, r: &RequestRecord) {
        let b = r.start_us / self.bucket_us;
        if self.current != Some(b) {
            self.close();
            self.current = Some(b);
        }
        self.latencies.push(r.latency_us);
    }

    fn close(&mut self) {
        let Some(b) = self.current else { return };
        let max = self.latencies.iter().copied().max().unwrap_or(0);
        let p50 = median_u32(&mut self.latencies);
        self.points.push(TimelinePoint {
            t_s: (b * self.bucket_us) as f64 / 1e6,
            count: self.latencies.len() as u64,
            p50_ms: p50 / 1000.0,
            max_ms: f64::from(max) / 1000.0,
        });
        self.latencies.clear();
    }

    /// The timeline, with the server events from the run start to the latest start.
    pub fn finish(mut self, events: &[ServerEvent], run_start_ns: u64) -> Timeline {
        if self.current.is_none() {
            return Timeline::default();
        }
        self.close();
        let mut evs: Vec<EventMark> = events
            .iter()
            .filter(|e| e.start_unix_ns >= run_start_ns)
            .map(|e| EventMark {
                t_s: (e.start_unix_ns - run_start_ns) as f64 / 1e9,
                kind: e.kind,
                duration_ms: e.duration_ns as f64 / 1e6,
            })
            .filter(|e| e.t_s <= self.span_us as f64 / 1e6)
            .collect();
        evs.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        evs.truncate(MAX_MARKS);
        Timeline {
            bucket_s: self.bucket_us as f64 / 1e6,
            points: self.points,
            events: evs,
            step_starts_s: Vec::new(),
        }
    }
}
