//! The recorder: what the workers record finished requests into, on the hot path.
//!
//! Workers record into a few sharded tallies (worker `i` uses shard `i % shards`), each
//! behind its own mutex that only its workers and the once-a-second [tick] take: no lock
//! is shared by all workers. The step a request counts for is found once, where it is
//! issued ([`crate::exec`]), and handed in with it.
//!
//! [tick]: crate::record::tick

use crate::plan::{Placement, Schedule};
use crate::record::classes::ClassKey;
use crate::record::log::{LogBuffer, LogSink};
use crate::record::tally::Tally;
use satlab_record::{ErrorKind, RequestRecord};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

struct ShardData {
    sec: Tally,
    steps: Vec<Option<Tally>>,
    log: LogBuffer,
}

/// One shard of the tallies.
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

/// All tallies of one run, and the open loop's dropped and late sends.
pub struct Recorder {
    shards: Box<[Shard]>,
    schedule: Schedule,
    log: Option<LogSink>,
    dropped: Box<[AtomicU64]>,
    late: Box<[AtomicU64]>,
    dropped_total: AtomicU64,
    classes: bool,
}

impl Recorder {
    /// Tallies for `schedule`, with `shards` shards, logging requests to `log`.
    pub fn new(schedule: Schedule, shards: usize, log: Option<LogSink>) -> Self {
        let n = schedule.steps.len();
        Recorder {
            shards: (0..shards.max(1))
                .map(|_| Shard {
                    data: Mutex::new(ShardData {
                        sec: Tally::default(),
                        steps: (0..n).map(|_| None).collect(),
                        log: LogBuffer::default(),
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
    /// [`Tally::classes`], for the OTel duration metric.
    pub fn with_classes(mut self) -> Self {
        self.classes = true;
        self
    }

    /// The schedule the tallies are kept against.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The shard worker `worker` records into.
    pub fn shard(&self, worker: usize) -> &Shard {
        &self.shards[worker % self.shards.len()]
    }

    /// Record a finished request placed at `at` (the step its intended start falls in):
    /// it counts for this second, and in the step's statistics only when `at.measured`.
    /// `lateness_us`: open loop, how late its send started.
    pub fn record(
        &self,
        shard: &Shard,
        rec: RequestRecord,
        at: Placement,
        lateness_us: Option<u64>,
    ) {
        let latency_us = u64::from(rec.latency_us);
        let mut d = shard.lock();
        d.sec.add(latency_us, rec.status, rec.error);
        if self.classes {
            let key = ClassKey::Request {
                status: if rec.error == ErrorKind::None {
                    rec.status
                } else {
                    0
                },
                error: rec.error,
                step: at.step as u32,
            };
            d.sec.classes.add(key, latency_us);
        }
        if at.measured
            && let Some(slot) = d.steps.get_mut(at.step)
        {
            let tally = slot.get_or_insert_with(Tally::default);
            tally.add(latency_us, rec.status, rec.error);
            if let Some(us) = lateness_us {
                tally.add_lateness(us);
            }
        }
        if let Some(log) = &self.log {
            d.log.push(rec, log);
        }
    }

    /// Open loop: a send due at `at` found no free slot.
    pub fn count_dropped(&self, at: Placement) {
        self.dropped_total.fetch_add(1, Ordering::Relaxed);
        if at.measured {
            self.dropped[at.step].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Open loop: a send due at `at` started late.
    pub fn count_late(&self, at: Placement) {
        if at.measured {
            self.late[at.step].fetch_add(1, Ordering::Relaxed);
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
    pub fn drain(&self, sec: &mut Tally, steps: &mut [Tally], flush_log: bool) {
        for shard in self.shards.iter() {
            let mut d = shard.lock();
            sec.merge(&d.sec);
            d.sec.reset();
            for (i, slot) in d.steps.iter_mut().enumerate() {
                if let Some(tally) = slot
                    && !tally.is_empty()
                {
                    if let Some(total) = steps.get_mut(i) {
                        total.merge(tally);
                    }
                    tally.reset();
                }
            }
            if flush_log && let Some(log) = &self.log {
                d.log.flush(log);
            }
        }
    }

    /// Stop logging requests (after the last drain); the writer then finishes.
    pub fn close_log(&self) {
        if let Some(log) = &self.log {
            log.close();
        }
    }

    /// Free the shards' tallies of steps that ended before `before_step`.
    pub fn release_steps(&self, before_step: usize) {
        for shard in self.shards.iter() {
            let mut d = shard.lock();
            for slot in d.steps.iter_mut().take(before_step) {
                if slot.as_ref().is_some_and(Tally::is_empty) {
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
    use satlab_record::Failure;
    use std::time::Duration;

    /// Record `rec` as the executor does: placed once, by its start.
    fn record(r: &Recorder, worker: usize, mut rec: RequestRecord) {
        let at = r.schedule().place(rec.start_us);
        rec.step = at.step as u8;
        r.record(r.shard(worker), rec, at, None);
    }

    #[test]
    fn records_land_in_their_step_and_second() {
        let plan = Plan::new(
            Load::Closed(parse_stages("1:1s,2:1s").unwrap()),
            Duration::from_millis(200),
            "x",
        )
        .unwrap();
        let stats = Recorder::new(plan.schedule(), 3, None);
        let rec = |start_us, latency_us, status, error| RequestRecord {
            start_us,
            latency_us,
            status,
            error,
            step: 0,
        };
        // Settle window of step 0: counts per second but not for the step.
        record(&stats, 0, rec(100_000, 10, 200, ErrorKind::None));
        record(&stats, 1, rec(300_000, 20, 200, ErrorKind::None));
        record(&stats, 2, rec(1_500_000, 30, 503, ErrorKind::None));
        record(&stats, 4, rec(1_600_000, 40, 0, ErrorKind::ConnectRefused));
        let mut sec = Tally::default();
        let mut steps = vec![Tally::default(), Tally::default()];
        stats.drain(&mut sec, &mut steps, true);
        assert_eq!(sec.counts.requests, 4);
        assert_eq!(steps[0].counts.requests, 1);
        assert_eq!(steps[0].hist.max(), 20);
        assert_eq!(steps[1].counts.requests, 2);
        assert_eq!(steps[1].counts.ok, 0);
        let f = steps[1].counts.failure_map();
        assert_eq!(f.get(&Failure::Status(503)), Some(&1));
        assert_eq!(f.get(&Failure::Error(ErrorKind::ConnectRefused)), Some(&1));
        assert_eq!(steps[1].counts.status_map().get(&503), Some(&1));
        // Without `with_classes` nothing is kept by class.
        assert_eq!(sec.classes.requests(), 0);
        // Drained: a second drain adds nothing.
        let mut sec2 = Tally::default();
        stats.drain(&mut sec2, &mut steps, true);
        assert!(sec2.is_empty());
        assert_eq!(steps[1].counts.requests, 2);
    }

    #[test]
    fn classes_are_kept_per_status_error_and_step() {
        use crate::record::classes::ClassKey;
        let plan = Plan::new(
            Load::Closed(parse_stages("1:1s,2:1s").unwrap()),
            Duration::from_millis(200),
            "x",
        )
        .unwrap();
        let stats = Recorder::new(plan.schedule(), 2, None).with_classes();
        let rec = |start_us, status, error| RequestRecord {
            start_us,
            latency_us: 7,
            status,
            error,
            step: 0,
        };
        record(&stats, 0, rec(100_000, 200, ErrorKind::None));
        record(&stats, 1, rec(300_000, 200, ErrorKind::None));
        record(&stats, 0, rec(1_500_000, 200, ErrorKind::None));
        record(&stats, 1, rec(1_600_000, 0, ErrorKind::ConnectRefused));
        let mut sec = Tally::default();
        let mut steps = vec![Tally::default(), Tally::default()];
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
