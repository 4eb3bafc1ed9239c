//! One pass over the per-request series in start order, keeping only what the spike
//! analysis reads: the slow requests, the tail above p99 and the latency timeline.

use super::bursts::{Outlier, OutlierScan};
use super::tail::Tail;
use super::timeline::TimelineScan;
use crate::model::Timeline;
use satlab_record::{RequestRecord, ServerEvent};

/// What the spike analysis reads of the series.
pub(crate) struct Series {
    /// Requests in the series.
    pub requests: usize,
    /// The latest completion + 1, µs: the span events are matched over.
    pub span_us: i64,
    pub outliers: Vec<Outlier>,
    pub tail: Tail,
    pub timeline: TimelineScan,
}

impl Series {
    /// The latency timeline, with the server events.
    pub fn timeline(self, events: &[ServerEvent], run_start_ns: u64) -> Timeline {
        self.timeline.finish(events, run_start_ns)
    }
}

/// Fed the series in start order.
pub(crate) struct SeriesScan {
    requests: usize,
    outliers: OutlierScan,
    tail: Tail,
    timeline: TimelineScan,
}

impl SeriesScan {
    /// A scan of a series whose runs of one step are `segments` (step, requests) in start
    /// order, whose latest start is `last_start_us`, with the run's p99 `p99_us`.
    pub fn new(segments: Vec<(u8, u64)>, last_start_us: u64, p99_us: u64) -> Self {
        SeriesScan {
            requests: 0,
            outliers: OutlierScan::new(segments),
            tail: Tail::new(p99_us),
            timeline: TimelineScan::new(last_start_us),
        }
    }

    /// The next record in start order.
    pub fn push(&mut self, r: &RequestRecord) {
        self.outliers.push(r);
        self.tail.push(self.requests, r.latency_us);
        self.timeline.push(r);
        self.requests += 1;
    }

    /// The series, whose latest completion is `last_end_us`.
    pub fn finish(self, last_end_us: u64) -> Series {
        Series {
            requests: self.requests,
            span_us: i64::try_from(last_end_us).unwrap_or(i64::MAX - 1) + 1,
            outliers: self.outliers.finish(),
            tail: self.tail,
            timeline: self.timeline,
        }
    }
}
