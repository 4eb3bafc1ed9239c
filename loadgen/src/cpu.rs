//! The load generator's own CPU time, and its utilisation over any window, so a saturated
//! client shows in its own record. The CPUs it may use (the divisor) come from
//! [`satlab_common::capacity::own_cpus`].

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

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::capacity::{own_cpus, parse_cpu_max};

    #[test]
    fn cpu_max_and_interpolation() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert!(own_cpus() >= 0.01);
        let mut t = CpuTrack::default();
        t.push(0, 0);
        t.push(1_000_000, 500_000);
        t.push(2_000_000, 1_500_000);
        assert!((t.utilisation(0, 1_000_000, 1.0) - 0.5).abs() < 1e-9);
        assert!((t.utilisation(1_000_000, 2_000_000, 2.0) - 0.5).abs() < 1e-9);
        assert!((t.utilisation(500_000, 1_500_000, 1.0) - 0.75).abs() < 1e-9);
    }
}
