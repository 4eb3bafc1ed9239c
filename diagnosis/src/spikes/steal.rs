//! Spikes the hypervisor explains. On a VM the hypervisor runs other guests on the machine's
//! vCPUs (steal): whatever ran on a vCPU stops for tens of milliseconds, and the requests it
//! was serving make a slow burst no server event explains. Such a burst, covered by a burst
//! of steal and matched to no server event, is the machine's, not the service's: it is
//! counted apart, so it neither dilutes a real cause's share nor passes for one.

use crate::cause::SpikeSpan;
use satlab_record::samples::SystemSample;

/// Steal share of a sampling interval from which it is a burst: 15% of the machine's CPU
/// time over 100 ms is 30 ms of one of two vCPUs, as long as the spikes it makes.
pub const STEAL_BURST: f64 = 0.15;
/// ...and at least this many times the run's median steal, so a machine stolen from all
/// along, whose every spike would coincide with steal, has none excused (its steps are
/// marked disturbed instead).
pub const STEAL_STANDS_OUT: f64 = 3.0;

/// The sampling intervals (µs since the run's start, in order) in which the hypervisor took
/// a burst of CPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StealBursts(Vec<(u64, u64)>);

impl StealBursts {
    /// From the machine's samples (in time order); each sample covers the time since the one
    /// before it.
    pub fn from_samples(system: &[SystemSample], run_start_ns: u64) -> Self {
        let mut shares: Vec<f64> = system
            .iter()
            .map(|s| s.steal)
            .filter(|s| s.is_finite())
            .collect();
        if shares.is_empty() {
            return Self::default();
        }
        let mid = shares.len() / 2;
        let (_, median, _) = shares.select_nth_unstable_by(mid, f64::total_cmp);
        let floor = STEAL_BURST.max(STEAL_STANDS_OUT * *median);
        let us = |t: u64| t.saturating_sub(run_start_ns) / 1000;
        StealBursts(
            system
                .windows(2)
                .filter(|w| w[1].steal >= floor)
                .map(|w| (us(w[0].t_unix_ns), us(w[1].t_unix_ns)))
                .filter(|(lo, hi)| hi > lo)
                .collect(),
        )
    }

    /// Whether a burst of steal overlaps the spike.
    pub fn covers(&self, s: &SpikeSpan) -> bool {
        let k = self.0.partition_point(|&(_, hi)| hi <= s.start_us);
        self.0.get(k).is_some_and(|&(lo, _)| lo < s.end_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, steal: f64) -> SystemSample {
        SystemSample {
            t_unix_ns: 1_000_000_000 + t_ms * 1_000_000,
            cpu_util: 0.5,
            per_cpu: vec![0.5, 0.5],
            steal,
        }
    }

    fn span(from_ms: u64, to_ms: u64) -> SpikeSpan {
        SpikeSpan {
            start_us: from_ms * 1000,
            end_us: to_ms * 1000,
            anchor_us: to_ms * 1000,
        }
    }

    #[test]
    fn a_burst_of_steal_covers_the_spikes_inside_it_only() {
        // Samples every 100 ms, steal 2% but 25% over 300–400 ms.
        let system: Vec<SystemSample> = (0..10)
            .map(|i| sample(i * 100, if i == 4 { 0.25 } else { 0.02 }))
            .collect();
        let b = StealBursts::from_samples(&system, 1_000_000_000);
        assert_eq!(b, StealBursts(vec![(300_000, 400_000)]));
        assert!(b.covers(&span(350, 380)));
        assert!(b.covers(&span(250, 310)));
        assert!(b.covers(&span(390, 600)));
        assert!(!b.covers(&span(400, 450)));
        assert!(!b.covers(&span(100, 300)));
    }

    #[test]
    fn steal_all_along_excuses_nothing() {
        // 20–30% everywhere: every spike would coincide with it.
        let system: Vec<SystemSample> = (0..10)
            .map(|i| sample(i * 100, 0.2 + 0.01 * i as f64))
            .collect();
        let b = StealBursts::from_samples(&system, 1_000_000_000);
        assert_eq!(b, StealBursts::default());
        assert!(!b.covers(&span(0, 1000)));
        // Below the floor, a lone 12% is no burst either.
        let system: Vec<SystemSample> = (0..10)
            .map(|i| sample(i * 100, if i == 4 { 0.12 } else { 0.0 }))
            .collect();
        assert_eq!(
            StealBursts::from_samples(&system, 1_000_000_000),
            StealBursts::default()
        );
    }
}
