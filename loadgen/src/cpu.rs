//! The load generator's own health: CPU time normalised to the CPUs it may use, and
//! scheduler lag (how late a periodic timer fires), so a saturated client shows in its
//! own record.

use crate::plan::Schedule;
use hdrhistogram::Histogram;
use satlab_record::summary::LagSummary;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Period of the scheduler-lag probe.
pub const LAG_TICK: Duration = Duration::from_millis(10);

/// CPUs this process may use: the affinity set, capped by the cgroup v2 `cpu.max` quota.
pub fn capacity() -> f64 {
    let mut cpus = affinity_cpus().unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    }) as f64;
    if let Some(q) = cgroup_quota() {
        cpus = cpus.min(q);
    }
    cpus.max(0.01)
}

fn affinity_cpus() -> Option<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let n = libc::CPU_COUNT(&set);
        (n > 0).then_some(n as usize)
    }
}

fn cgroup_quota() -> Option<f64> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let path = format!("/sys/fs/cgroup{rel}/cpu.max");
    let s = std::fs::read_to_string(path)
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/cpu.max"))
        .ok()?;
    parse_cpu_max(&s)
}

/// Parse cgroup v2 `cpu.max` (`"max 100000"` or `"200000 100000"`) into CPUs.
pub fn parse_cpu_max(s: &str) -> Option<f64> {
    let mut it = s.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    Some(quota.parse::<f64>().ok()? / period)
}

/// User + system CPU time of this process so far, µs.
pub fn process_cpu_us() -> u64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0;
        }
        let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

/// CPU samples `(t_us, cpu_us)` taken each second, to compute any window's utilisation.
#[derive(Debug, Default, Clone)]
pub struct CpuTrack {
    points: Vec<(u64, u64)>,
}

impl CpuTrack {
    /// Add a sample.
    pub fn push(&mut self, t_us: u64, cpu_us: u64) {
        self.points.push((t_us, cpu_us));
    }

    fn at(&self, t: u64) -> Option<f64> {
        let i = self.points.partition_point(|p| p.0 < t);
        if i == 0 {
            return self.points.first().map(|p| p.1 as f64);
        }
        if i >= self.points.len() {
            return self.points.last().map(|p| p.1 as f64);
        }
        let (t0, c0) = self.points[i - 1];
        let (t1, c1) = self.points[i];
        let f = if t1 > t0 {
            (t - t0) as f64 / (t1 - t0) as f64
        } else {
            0.0
        };
        Some(c0 as f64 + f * (c1 as f64 - c0 as f64))
    }

    /// Utilisation over `[from, to)`, 0–1 of `capacity` (interpolated between samples).
    pub fn utilisation(&self, from: u64, to: u64, capacity: f64) -> f64 {
        let to = to.min(self.points.last().map(|p| p.0).unwrap_or(0));
        if to <= from {
            return 0.0;
        }
        match (self.at(from), self.at(to)) {
            (Some(a), Some(b)) => ((b - a) / (to - from) as f64 / capacity).max(0.0),
            _ => 0.0,
        }
    }
}

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

/// Spin deterministic CPU work for `iterations` rounds; returns a value so it is not
/// optimised away. Simulates an expensive client (e.g. signing each payload).
pub fn client_work(iterations: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// Iterations of [`client_work`] that take about `d` on this machine (measured once).
pub fn calibrate_client_work(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    let probe = 2_000_000u64;
    let t = Instant::now();
    client_work(probe, 7);
    let per_iter = t.elapsed().as_secs_f64() / probe as f64;
    ((d.as_secs_f64() / per_iter.max(1e-12)) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_and_interpolation() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert!(capacity() >= 0.01);
        let mut t = CpuTrack::default();
        t.push(0, 0);
        t.push(1_000_000, 500_000);
        t.push(2_000_000, 1_500_000);
        assert!((t.utilisation(0, 1_000_000, 1.0) - 0.5).abs() < 1e-9);
        assert!((t.utilisation(1_000_000, 2_000_000, 2.0) - 0.5).abs() < 1e-9);
        assert!((t.utilisation(500_000, 1_500_000, 1.0) - 0.75).abs() < 1e-9);
    }
}
