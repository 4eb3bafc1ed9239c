//! The once-a-second tick: drains the recorder's shards into the per-step totals and the
//! second's tally, writes the per-second series line (`seconds.jsonl`), samples the
//! loadgen's CPU, scheduler lag and requests in flight, and updates the progress line.

use crate::cpu::{CpuTrack, process_cpu_us};
use crate::lag::LagMonitor;
use crate::progress::Progress;
use crate::record::recorder::Recorder;
use crate::record::tally::Tally;
use satlab_record::RecordError;
use satlab_record::fsio::JsonlAppender;
use satlab_record::series::SecondSample;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A per-second callback: the second's sample and its latencies.
pub type SecondHook = Box<dyn FnMut(&SecondSample, &Tally) + Send>;

/// The tick's state; it ends up holding the run's per-step totals.
pub struct Ticker {
    recorder: Arc<Recorder>,
    lag: LagMonitor,
    start: Instant,
    capacity: f64,
    sec: Tally,
    /// Per-step totals of the measured windows.
    pub steps: Vec<Tally>,
    /// The per-second series so far.
    pub seconds: Vec<SecondSample>,
    /// `(t_us, cpu_us)` at each tick.
    pub cpu: CpuTrack,
    /// `(t_us, in_flight)` at each tick.
    pub in_flight: Vec<(u64, u64)>,
    last_t_us: u64,
    last_cpu_us: u64,
    last_dropped: u64,
    next_t_s: u32,
    out: Option<JsonlAppender>,
    progress: Progress,
    /// The first error writing `seconds.jsonl`, if any.
    pub write_error: Option<RecordError>,
    observer: Option<SecondHook>,
}

impl Ticker {
    /// A ticker writing the series to `out` (if any).
    pub fn new(
        recorder: Arc<Recorder>,
        lag: LagMonitor,
        start: Instant,
        capacity: f64,
        out: Option<JsonlAppender>,
        progress: Progress,
    ) -> Self {
        let n = recorder.schedule().steps.len();
        let mut cpu = CpuTrack::default();
        let cpu0 = process_cpu_us();
        cpu.push(0, cpu0);
        Ticker {
            recorder,
            lag,
            start,
            capacity,
            sec: Tally::default(),
            steps: (0..n).map(|_| Tally::default()).collect(),
            seconds: Vec::new(),
            cpu,
            in_flight: Vec::new(),
            last_t_us: 0,
            last_cpu_us: cpu0,
            last_dropped: 0,
            next_t_s: 0,
            out,
            progress,
            write_error: None,
            observer: None,
        }
    }

    /// Call `f` with each second's sample and histogram (e.g. to export metrics).
    pub fn on_second(&mut self, f: SecondHook) {
        self.observer = Some(f);
    }

    /// Tick once a second until `stop` fires, then return self.
    pub async fn run(mut self, stop: CancellationToken) -> Self {
        let mut next = self.start + Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return self,
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            self.tick();
            next += Duration::from_secs(1);
        }
    }

    /// Drain and emit one second (or the final partial second).
    pub fn tick(&mut self) {
        let t_us = self.start.elapsed().as_micros() as u64;
        self.recorder.drain(&mut self.sec, &mut self.steps, true);
        let cpu_us = process_cpu_us();
        self.cpu.push(t_us, cpu_us);
        let wall = t_us.saturating_sub(self.last_t_us).max(1) as f64;
        let cpu = (cpu_us.saturating_sub(self.last_cpu_us)) as f64 / wall / self.capacity;
        let in_flight = self.recorder.in_flight();
        self.in_flight.push((t_us, in_flight));
        let dropped_total = self.recorder.dropped_total();
        let sched = self.recorder.schedule();
        // The step running at the end of this nominal second (the tick fires just after it).
        let second_end = ((self.next_t_s as u64 + 1) * 1_000_000).min(t_us);
        let step = sched
            .step_at(second_end.saturating_sub(1))
            .unwrap_or(sched.steps.len().saturating_sub(1));
        let h = &self.sec.hist;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        let sample = SecondSample {
            t_s: self.next_t_s,
            step: step as u32,
            requests: self.sec.counts.requests,
            ok: self.sec.counts.ok,
            errors: self.sec.counts.failure_map(),
            dropped: dropped_total - self.last_dropped,
            p50_us: q(0.5),
            p99_us: q(0.99),
            max_us: if h.is_empty() { 0 } else { h.max() },
            in_flight,
            cpu,
            sched_lag_max_us: self.lag.take_second_max(),
        };
        if let Some(out) = &mut self.out
            && let Err(e) = out.append(&sample).and_then(|_| out.flush())
            && self.write_error.is_none()
        {
            self.write_error = Some(e);
        }
        if let Some(f) = &mut self.observer {
            f(&sample, &self.sec);
        }
        if let Some(w) = sched.steps.get(step) {
            self.progress.update(&sample, w);
        }
        self.seconds.push(sample);
        self.sec.reset();
        self.recorder.release_steps(step.saturating_sub(1));
        self.last_t_us = t_us;
        self.last_cpu_us = cpu_us;
        self.last_dropped = dropped_total;
        self.next_t_s += 1;
    }

    /// Final tick after the workers stopped; ends the progress line.
    pub fn finish(&mut self) {
        self.tick();
        self.progress.finish();
    }

    /// Mean of the in-flight samples taken in `[from, to]`.
    pub fn in_flight_mean(&self, from: u64, to: u64) -> f64 {
        let v: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, n)| *n)
            .collect();
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<u64>() as f64 / v.len() as f64
        }
    }

    /// The CPU capacity used for normalising.
    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    /// The lag monitor.
    pub fn lag(&self) -> &LagMonitor {
        &self.lag
    }
}
