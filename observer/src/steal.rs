//! Steal time: the share of the machine's CPU time the hypervisor gave to other guests while
//! this one's vCPUs were ready to run (`/proc/stat`, the aggregate `cpu` line).
//!
//! A stolen tick is in no process's CPU time and in no run queue: a thread that never
//! yields reads `1 − steal` of a core, and a guest paused for 30 ms stalls every request in
//! flight. Nothing inside the guest shows it but this counter.

/// The aggregate CPU counters the share is taken from, in ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// `steal`.
    pub steal: u64,
    /// idle + iowait: ticks no task ran.
    pub idle: u64,
    /// user + nice + system + idle + iowait + irq + softirq + steal (guest time is already
    /// in user and nice).
    pub total: u64,
}

impl CpuTicks {
    /// Parse the aggregate `cpu` line of `/proc/stat`; `None` when it is missing or short
    /// (kernels before 2.6.11 had no steal column).
    pub fn parse(stat: &str) -> Option<CpuTicks> {
        let line = stat.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        (v.len() == 8).then(|| CpuTicks {
            steal: v[7],
            idle: v[3] + v[4],
            total: v.iter().sum(),
        })
    }

    /// Read `/proc/stat` now.
    pub fn read() -> Option<CpuTicks> {
        CpuTicks::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// Share of the ticks between `earlier` and `self` that were stolen, 0–1 (0 when no
    /// tick passed).
    pub fn steal_since(&self, earlier: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        (self.steal.saturating_sub(earlier.steal) as f64 / total as f64).clamp(0.0, 1.0)
    }

    /// Share of the ticks between `earlier` and `self` in which something ran: tasks or
    /// the hypervisor's other guests (steal), 0–1 (0 when no tick passed).
    pub fn busy_since(&self, earlier: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        let idle = self.idle.saturating_sub(earlier.idle);
        (1.0 - idle as f64 / total as f64).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aggregate_line_gives_steal_and_total() {
        let a = CpuTicks::parse(
            "cpu  100 5 20 800 10 0 5 60 7 0\ncpu0 50 2 10 400 5 0 2 30 3 0\nintr 1\n",
        )
        .unwrap();
        assert_eq!(
            a,
            CpuTicks {
                steal: 60,
                idle: 810,
                total: 1000
            }
        );
        let b = CpuTicks {
            steal: 90,
            idle: 860,
            total: 1100,
        };
        assert!((b.steal_since(&a) - 0.3).abs() < 1e-12);
        assert!((b.busy_since(&a) - 0.5).abs() < 1e-12);
        assert_eq!(a.busy_since(&a), 0.0);
        assert_eq!(a.steal_since(&a), 0.0);
        assert_eq!(a.steal_since(&b), 0.0);
        assert_eq!(CpuTicks::parse("cpu  1 2 3 4\n"), None);
        assert_eq!(CpuTicks::parse("intr 1\n"), None);
    }
}
