//! A tally: what one window (a second, or a step's measured window) measured — the
//! latency histogram in µs, the outcome counts and, for the OTel metric, the latencies by
//! request class.

use crate::record::classes::Classes;
use crate::record::counts::Counts;
use hdrhistogram::Histogram;
use satlab_record::ErrorKind;
use satlab_record::histogram::{new_latency_histogram, record_clamped};

/// A latency histogram (µs), outcome counts and latencies by class.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latencies, µs.
    pub hist: Histogram<u64>,
    /// Outcomes.
    pub counts: Counts,
    /// Latencies by request class, for the OTel duration metric (filled only in the
    /// per-second windows, and only when [`Recorder::with_classes`](crate::record::recorder::Recorder::with_classes) asked for it).
    pub classes: Classes,
    /// Open loop: how late the sends started, µs (created on the first; steps only).
    pub lateness: Option<Histogram<u64>>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            hist: new_latency_histogram(),
            counts: Counts::default(),
            classes: Classes::default(),
            lateness: None,
        }
    }
}

impl Tally {
    /// Record one request.
    pub fn add(&mut self, latency_us: u64, status: u16, error: ErrorKind) {
        record_clamped(&mut self.hist, latency_us);
        self.counts.add(status, error);
    }

    /// Record how late one open-loop send started.
    pub fn add_lateness(&mut self, us: u64) {
        record_clamped(self.lateness.get_or_insert_with(new_latency_histogram), us);
    }

    /// Add another tally.
    pub fn merge(&mut self, o: &Tally) {
        // Same bounds by construction: cannot fail.
        let _ = self.hist.add(&o.hist);
        self.counts.merge(&o.counts);
        self.classes.merge(&o.classes);
        if let Some(l) = &o.lateness {
            let _ = self
                .lateness
                .get_or_insert_with(new_latency_histogram)
                .add(l);
        }
    }

    /// Empty it, keeping the allocation.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.counts.reset();
        self.classes.reset();
        if let Some(l) = &mut self.lateness {
            l.reset();
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.requests == 0
    }
}
