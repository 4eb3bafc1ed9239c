//! Measurement: per-step and per-second latency histograms and outcome counts.
//!
//! Workers record into a few sharded accumulators (worker `i` uses shard `i % shards`),
//! each behind its own mutex that only its workers and the once-a-second collector take:
//! no lock is shared by all workers. The collector drains the shards every second into the
//! run's per-step totals and the per-second series.

use crate::classes::{ClassKey, Classes};
use crate::plan::Schedule;
use crate::reqlog::LogSink;
use hdrhistogram::Histogram;
use satlab_record::histogram::{new_latency_histogram, record_clamped};
use satlab_record::{ErrorKind, RequestRecord};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Status codes are counted in a fixed table of this size (larger codes go to the last slot).
pub const STATUS_SLOTS: usize = 600;
/// Request-log records buffered per shard before they are handed to the writer.
pub const LOG_CHUNK: usize = 4096;

/// Outcome counts of a window.
#[derive(Debug, Clone)]
pub struct Counts {
    /// Completed requests (any outcome).
    pub requests: u64,
    /// Responses with status < 400.
    pub ok: u64,
    /// Failures by [`ErrorKind`] code.
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Responses by status code.
    pub status: Box<[u64; STATUS_SLOTS]>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            requests: 0,
            ok: 0,
            errors: [0; ErrorKind::ALL.len()],
            status: Box::new([0; STATUS_SLOTS]),
        }
    }
}

impl Counts {
    /// Count one outcome.
    pub fn add(&mut self, status: u16, error: ErrorKind) {
        self.requests += 1;
        if error == ErrorKind::None {
            self.status[(status as usize).min(STATUS_SLOTS - 1)] += 1;
            if status > 0 && status < 400 {
                self.ok += 1;
            }
        } else {
            self.errors[error.code() as usize] += 1;
        }
    }

    /// Add another window's counts.
    pub fn merge(&mut self, o: &Counts) {
        self.requests += o.requests;
        self.ok += o.ok;
        for (a, b) in self.errors.iter_mut().zip(o.errors.iter()) {
            *a += b;
        }
        for (a, b) in self.status.iter_mut().zip(o.status.iter()) {
            *a += b;
        }
    }

    /// Zero all counts.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.ok = 0;
        self.errors = [0; ErrorKind::ALL.len()];
        self.status.fill(0);
    }

    /// Failures by kind name (no `none` entry).
    pub fn error_map(&self) -> BTreeMap<String, u64> {
        ErrorKind::ALL
            .iter()
            .filter(|k| **k != ErrorKind::None)
            .filter_map(|k| {
                let n = self.errors[k.code() as usize];
                (n > 0).then(|| (k.name().to_string(), n))
            })
            .collect()
    }

    /// Responses by status code.
    pub fn status_map(&self) -> BTreeMap<String, u64> {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c.to_string(), *n))
            .collect()
    }

    /// Failures by kind plus HTTP statuses ≥ 400 as `http_<code>`.
    pub fn failure_map(&self) -> BTreeMap<String, u64> {
        let mut m = self.error_map();
        for (c, n) in self.status.iter().enumerate().skip(400) {
            if *n > 0 {
                m.insert(format!("http_{c}"), *n);
            }
        }
        m
    }

    /// Failed requests: errors plus statuses ≥ 400.
    pub fn failures(&self) -> u64 {
        self.requests - self.ok
    }
}

/// A latency histogram (µs) and outcome counts.
#[derive(Debug, Clone)]
pub struct Acc {
    /// Latencies, µs.
    pub hist: Histogram<u64>,
    /// Outcomes.
    pub counts: Counts,
    /// Latencies by request class, for the OTel duration metric (filled only in the
    /// per-second windows, and only when [`Stats::with_classes`] asked for it).
    pub classes: Classes,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            hist: new_latency_histogram(),
            counts: Counts::default(),
            classes: Classes::default(),
        }
    }
}

impl Acc {
    /// Record one request.
    pub fn add(&mut self, latency_us: u64, status: u16, error: ErrorKind) {
        record_clamped(&mut self.hist, latency_us);
        self.counts.add(status, error);
    }

    /// Add another accumulator.
    pub fn merge(&mut self, o: &Acc) {
        // Same bounds by construction: cannot fail.
        let _ = self.hist.add(&o.hist);
        self.counts.merge(&o.counts);
        self.classes.merge(&o.classes);
    }

    /// Empty it, keeping the allocation.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.counts.reset();
        self.classes.reset();
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.requests == 0
    }
}

struct ShardData {
    sec: Acc,
    steps: Vec<Option<Acc>>,
    log: Vec<RequestRecord>,
}

/// One shard of the accumulators.
pub struct Shard {
    data: Mutex<ShardData>,
    in_flight: AtomicI64,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, ShardData> {
        // A poisoned shard still holds valid counts.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request was sent.
    pub fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request ended.
    pub fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// All accumulators of one run.
pub struct Stats {
    shards: Box<[Shard]>,
    schedule: Schedule,
    log: Option<LogSink>,
    dropped: Box<[AtomicU64]>,
    late: Box<[AtomicU64]>,
    dropped_total: AtomicU64,
    classes: bool,
}

impl Stats {
    /// Accumulators for `schedule`, with `shards` shards, logging requests to `log`.
    pub fn new(schedule: Schedule, shards: usize, log: Option<LogSink>) -> Self {
        let n = schedule.steps.len();
        Stats {
            shards: (0..shards.max(1))
                .map(|_| Shard {
                    data: Mutex::new(ShardData {
                        sec: Acc::default(),
                        steps: (0..n).map(|_| None).collect(),
                        log: Vec::new(),
                    }),
                    in_flight: AtomicI64::new(0),
                })
                .collect(),
            dropped: (0..n).map(|_| AtomicU64::new(0)).collect(),
            late: (0..n).map(|_| AtomicU64::new(0)).collect(),
            dropped_total: AtomicU64::new(0),
            classes: false,
            schedule,
            log,
        }
    }

    /// Also keep the per-second latencies by request class (status, error kind, step) in
    /// [`Acc::classes`], for the OTel duration metric.
    pub fn with_classes(mut self) -> Self {
        self.classes = true;
        self
    }

    /// The schedule the stats are kept against.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The shard worker `worker` records into.
    pub fn shard(&self, worker: usize) -> &Shard {
        &self.shards[worker % self.shards.len()]
    }

    /// Record a finished request. It counts for the step its (intended) start falls in,
    /// and in the step statistics only when that start is past the settle time.
    pub fn record(&self, shard: &Shard, rec: RequestRecord) {
        let located = self.schedule.locate(rec.start_us);
        let mut d = shard.lock();
        d.sec.add(rec.latency_us as u64, rec.status, rec.error);
        if self.classes {
            let key = ClassKey::Request {
                status: if rec.error == ErrorKind::None {
                    rec.status
                } else {
                    0
                },
                error: rec.error,
                step: located.map_or(rec.step as u32, |(s, _)| s as u32),
            };
            d.sec.classes.add(key, rec.latency_us as u64);
        }
        if let Some((step, true)) = located
            && let Some(slot) = d.steps.get_mut(step)
        {
            slot.get_or_insert_with(Acc::default)
                .add(rec.latency_us as u64, rec.status, rec.error);
        }
        if let Some(log) = &self.log {
            if d.log.capacity() == 0 {
                d.log.reserve_exact(LOG_CHUNK);
            }
            d.log.push(rec);
            if d.log.len() >= LOG_CHUNK {
                let chunk = std::mem::take(&mut d.log);
                log.send(chunk);
            }
        }
    }

    /// Open loop: a send scheduled at `intended_us` found no free slot.
    pub fn count_dropped(&self, intended_us: u64) {
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
        if let Some((step, true)) = self.schedule.locate(intended_us) {
            self.dropped[step].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Open loop: a send scheduled at `intended_us` started late.
    pub fn count_late(&self, intended_us: u64) {
        if let Some((step, true)) = self.schedule.locate(intended_us) {
            self.late[step].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Dropped sends of a step's measured window.
    pub fn dropped(&self, step: usize) -> u64 {
        self.dropped[step].load(Ordering::Relaxed)
    }

    /// Late sends of a step's measured window.
    pub fn late(&self, step: usize) -> u64 {
        self.late[step].load(Ordering::Relaxed)
    }

    /// All dropped sends so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total.load(Ordering::Relaxed)
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.in_flight.load(Ordering::Relaxed))
            .sum::<i64>()
            .max(0) as u64
    }

    /// Move everything recorded since the last drain into `sec` (this second) and `steps`
    /// (the run's per-step totals), and hand buffered request-log records to the writer.
    pub fn drain(&self, sec: &mut Acc, steps: &mut [Acc], flush_log: bool) {
        for shard in self.shards.iter() {
            let mut d = shard.lock();
            sec.merge(&d.sec);
            d.sec.reset();
            for (i, slot) in d.steps.iter_mut().enumerate() {
                if let Some(acc) = slot
                    && !acc.is_empty()
                {
                    if let Some(total) = steps.get_mut(i) {
                        total.merge(acc);
                    }
                    acc.reset();
                }
            }
            if flush_log
                && !d.log.is_empty()
                && let Some(log) = &self.log
            {
                let chunk = std::mem::take(&mut d.log);
                log.send(chunk);
            }
        }
    }

    /// Stop logging requests (after the last drain); the writer then finishes.
    pub fn close_log(&self) {
        if let Some(log) = &self.log {
            log.close();
        }
    }

    /// Free the shards' accumulators of steps that ended before `before_step`.
    pub fn release_steps(&self, before_step: usize) {
        for shard in self.shards.iter() {
            let mut d = shard.lock();
            for slot in d.steps.iter_mut().take(before_step) {
                if slot.as_ref().is_some_and(Acc::is_empty) {
                    *slot = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Load, Plan, parse_stages};
    use std::time::Duration;

    #[test]
    fn records_land_in_their_step_and_second() {
        let plan = Plan::new(
            Load::Closed(parse_stages("1:1s,2:1s").unwrap()),
            Duration::from_millis(200),
            "x",
        )
        .unwrap();
        let stats = Stats::new(plan.schedule(), 3, None);
        let rec = |start_us, latency_us, status, error| RequestRecord {
            start_us,
            latency_us,
            status,
            error,
            step: 0,
        };
        // Settle window of step 0: counts per second but not for the step.
        stats.record(stats.shard(0), rec(100_000, 10, 200, ErrorKind::None));
        stats.record(stats.shard(1), rec(300_000, 20, 200, ErrorKind::None));
        stats.record(stats.shard(2), rec(1_500_000, 30, 503, ErrorKind::None));
        stats.record(
            stats.shard(4),
            rec(1_600_000, 40, 0, ErrorKind::ConnectRefused),
        );
        let mut sec = Acc::default();
        let mut steps = vec![Acc::default(), Acc::default()];
        stats.drain(&mut sec, &mut steps, true);
        assert_eq!(sec.counts.requests, 4);
        assert_eq!(steps[0].counts.requests, 1);
        assert_eq!(steps[0].hist.max(), 20);
        assert_eq!(steps[1].counts.requests, 2);
        assert_eq!(steps[1].counts.ok, 0);
        let f = steps[1].counts.failure_map();
        assert_eq!(f.get("http_503"), Some(&1));
        assert_eq!(f.get("connect_refused"), Some(&1));
        assert_eq!(steps[1].counts.status_map().get("503"), Some(&1));
        // Without `with_classes` nothing is kept by class.
        assert_eq!(sec.classes.requests(), 0);
        // Drained: a second drain adds nothing.
        let mut sec2 = Acc::default();
        stats.drain(&mut sec2, &mut steps, true);
        assert!(sec2.is_empty());
        assert_eq!(steps[1].counts.requests, 2);
    }

    #[test]
    fn classes_are_kept_per_status_error_and_step() {
        use crate::classes::ClassKey;
        let plan = Plan::new(
            Load::Closed(parse_stages("1:1s,2:1s").unwrap()),
            Duration::from_millis(200),
            "x",
        )
        .unwrap();
        let stats = Stats::new(plan.schedule(), 2, None).with_classes();
        let rec = |start_us, status, error| RequestRecord {
            start_us,
            latency_us: 7,
            status,
            error,
            step: 0,
        };
        stats.record(stats.shard(0), rec(100_000, 200, ErrorKind::None));
        stats.record(stats.shard(1), rec(300_000, 200, ErrorKind::None));
        stats.record(stats.shard(0), rec(1_500_000, 200, ErrorKind::None));
        stats.record(stats.shard(1), rec(1_600_000, 0, ErrorKind::ConnectRefused));
        let mut sec = Acc::default();
        let mut steps = vec![Acc::default(), Acc::default()];
        stats.drain(&mut sec, &mut steps, true);
        let got: Vec<(ClassKey, u64)> = sec.classes.iter().map(|c| (c.key, c.count)).collect();
        let key = |status, error, step| ClassKey::Request {
            status,
            error,
            step,
        };
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.contains(&(key(200, ErrorKind::None, 0), 2)));
        assert!(got.contains(&(key(200, ErrorKind::None, 1), 1)));
        assert!(got.contains(&(key(0, ErrorKind::ConnectRefused, 1), 1)));
        assert_eq!(
            steps[1].classes.requests(),
            0,
            "only the per-second windows"
        );
    }
}
