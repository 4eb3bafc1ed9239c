//! Scheduler lag: how late a periodic timer fires in the loadgen's runtime, per second
//! and per step, so a starved client shows in its own record.

use crate::plan::Schedule;
use hdrhistogram::Histogram;
use satlab_record::summary::LagSummary;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Period of the scheduler-lag probe.
pub const LAG_TICK: Duration = Duration::from_millis(10);

struct LagData {
    sec_max: u64,
    steps: Vec<Histogram<u64>>,
}

/// Scheduler lag probe: a task sleeping [`LAG_TICK`] at a time and measuring how late it
/// wakes. Tokio's timer has 1 ms granularity, so up to ~1 ms is the timer, not starvation.
#[derive(Clone)]
pub struct LagMonitor {
    data: Arc<Mutex<LagData>>,
}

fn lag_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid static bounds")
}

impl LagMonitor {
    /// A monitor for the steps of `schedule`.
    pub fn new(schedule: &Schedule) -> Self {
        LagMonitor {
            data: Arc::new(Mutex::new(LagData {
                sec_max: 0,
                steps: schedule.steps.iter().map(|_| lag_hist()).collect(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LagData> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run the probe until `stop` fires. `now_us` gives the run clock.
    pub async fn run(
        self,
        schedule: Schedule,
        start: Instant,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut deadline = Instant::now() + LAG_TICK;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            let now = Instant::now();
            let late = now.saturating_duration_since(deadline).as_micros() as u64;
            let t = now.duration_since(start).as_micros() as u64;
            {
                let mut d = self.lock();
                d.sec_max = d.sec_max.max(late);
                if let Some((step, true)) = schedule.locate(t) {
                    let _ = d.steps[step].record(late.clamp(1, 3_600_000_000));
                }
            }
            deadline = now + LAG_TICK;
        }
    }

    /// The largest lag since the last call, µs.
    pub fn take_second_max(&self) -> u64 {
        std::mem::take(&mut self.lock().sec_max)
    }

    /// Lag summary of a step's measured window.
    pub fn step_summary(&self, step: usize) -> LagSummary {
        let d = self.lock();
        d.steps.get(step).map(summarise).unwrap_or_default()
    }

    /// Lag summary of all steps together.
    pub fn overall(&self) -> LagSummary {
        let d = self.lock();
        let mut all = lag_hist();
        for h in &d.steps {
            let _ = all.add(h);
        }
        summarise(&all)
    }
}

fn summarise(h: &Histogram<u64>) -> LagSummary {
    if h.is_empty() {
        return LagSummary::default();
    }
    LagSummary {
        mean_us: h.mean(),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
    }
}
