//! The process's CPU utilisation for the `process.cpu.utilization` gauge: CPU time
//! (`getrusage`) over wall time, as a share of the CPUs the process may use
//! (`satlab_common::capacity::own_cpus`: affinity, cgroup v1 and v2 quotas).

use std::sync::Mutex;
use std::time::Instant;

/// CPU time used by this process so far (user + system), in seconds.
pub(super) fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    }
}

/// Utilisation between two readings.
#[derive(Debug)]
pub(super) struct CpuUtilization {
    capacity: f64,
    last: Mutex<(Instant, f64)>,
}

impl CpuUtilization {
    /// Start measuring now; the capacity is read once.
    pub(super) fn start() -> Self {
        CpuUtilization {
            capacity: satlab_common::capacity::own_cpus(),
            last: Mutex::new((Instant::now(), process_cpu_seconds())),
        }
    }

    /// Utilisation (0–1) since the previous call, or `None` when no time has passed.
    pub(super) fn sample(&self) -> Option<f64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (now, cpu) = (Instant::now(), process_cpu_seconds());
        let wall = now.duration_since(last.0).as_secs_f64();
        let used = (wall > 0.0).then(|| ((cpu - last.1) / wall / self.capacity).clamp(0.0, 1.0));
        *last = (now, cpu);
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_is_a_share() {
        let u = CpuUtilization::start();
        let t0 = Instant::now();
        let mut x = 0u64;
        while t0.elapsed().as_millis() < 20 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let share = u.sample().unwrap();
        assert!((0.0..=1.0).contains(&share), "{share}");
        assert!(process_cpu_seconds() > 0.0);
    }
}
