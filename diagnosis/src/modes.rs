//! Latency modes at SYN-retransmit timeouts: a SYN dropped by a full listen queue is resent
//! after 1 s, then 2 s more, then 4 s more, so such requests cluster at ≈1 s, 3 s and 7 s.

use crate::model::LatencyMode;
use hdrhistogram::Histogram;

/// The cumulative SYN retransmission delays of Linux (initial RTO 1 s, doubling), s.
pub const SYN_TIMEOUTS_S: [f64; 3] = [1.0, 3.0, 7.0];
/// Width of the window just above each timeout, s: the retransmitted connect succeeds, then
/// the request itself still takes its usual time.
pub const MODE_WINDOW_S: f64 = 0.3;
/// Fewest requests in a window to call it a mode.
pub const MODE_MIN_COUNT: u64 = 5;
/// Smallest share of all requests for a mode (0.05%): rarer clusters are not worth a verdict.
pub const MODE_MIN_SHARE: f64 = 0.0005;
/// The window must be this many times denser than the same width just below the timeout:
/// a mode, not the tail of a smooth distribution.
pub const MODE_MIN_CONTRAST: f64 = 3.0;

/// Find modes at the SYN timeouts in a latency histogram (µs).
pub(crate) fn syn_modes(h: &Histogram<u64>) -> Vec<LatencyMode> {
    let total = h.len();
    if total == 0 {
        return Vec::new();
    }
    SYN_TIMEOUTS_S
        .iter()
        .filter_map(|&t| {
            let at = (t * 1e6) as u64;
            let w = (MODE_WINDOW_S * 1e6) as u64;
            let inside = count_between(h, at, at + w);
            let below = count_between(h, at - w, at);
            let contrast = inside as f64 / (below.max(1)) as f64;
            let share = inside as f64 / total as f64;
            (inside >= MODE_MIN_COUNT && share >= MODE_MIN_SHARE && contrast >= MODE_MIN_CONTRAST)
                .then_some(LatencyMode {
                    at_s: t,
                    count: inside,
                    share,
                    contrast,
                })
        })
        .collect()
}

/// Values in `[lo, hi)` µs.
fn count_between(h: &Histogram<u64>, lo: u64, hi: u64) -> u64 {
    h.iter_recorded()
        .filter(|v| {
            let x = v.value_iterated_to();
            x >= lo && x < hi
        })
        .map(|v| v.count_at_value())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_one_and_three_second_clusters_only() {
        let mut h = satlab_record::histogram::new_latency_histogram();
        for i in 0..10_000u64 {
            h.record(500 + i % 2000).unwrap();
        }
        for i in 0..50u64 {
            h.record(1_000_000 + 2_000 + i * 100).unwrap();
            h.record(3_000_000 + 4_000 + i * 100).unwrap();
        }
        let m = syn_modes(&h);
        assert_eq!(m.iter().map(|m| m.at_s).collect::<Vec<_>>(), vec![1.0, 3.0]);
        // A smooth heavy tail has no mode.
        let mut t = satlab_record::histogram::new_latency_histogram();
        for i in 1..100_000u64 {
            t.record(1_000_000_000 / (i + 200)).unwrap();
        }
        assert!(syn_modes(&t).is_empty(), "{:?}", syn_modes(&t));
    }
}
