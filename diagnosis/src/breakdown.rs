//! The breakdown of a set of joined requests: the share of total time per part, and the
//! parts of the requests around p50, p99 and p99.9.
//!
//! The parts "at" a quantile q are the mean of each part over the joined requests whose
//! latency rank lies in a band around q's rank: q's nearest rank r = ⌈q·n⌉ − 1, widened by
//! h = max([`MIN_BAND_HALF`], ⌊[`BAND_TAIL_FRACTION`]·(1−q)·n⌋) ranks each side (clipped to
//! the requests there are). The parts' means add up to the band's mean latency.

use crate::parts::RequestParts;
use crate::time_model::{Decomposition, Parts, QuantileParts};

/// The quantiles the parts are given at.
pub const QUANTILES: [f64; 3] = [0.5, 0.99, 0.999];

/// The band's half-width as a share of the requests beyond the quantile: a tenth of the
/// tail each side keeps the band's latency close to the quantile's (p99: ranks 98.9–99.1%)
/// while averaging enough requests at p50 (45–55%) for a stable figure.
pub const BAND_TAIL_FRACTION: f64 = 0.1;

/// At least one neighbour each side, so one odd request does not make a whole row.
pub const MIN_BAND_HALF: usize = 1;

/// What the decomposition is set beside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beside {
    /// Client spans present for the same requests (joined or not).
    pub client_spans: u64,
    /// Requests the load generator recorded (`requests.bin`).
    pub requests: u64,
    /// The effective sampling ratio, when known.
    pub effective_ratio: Option<f64>,
    /// The p99 the load generator recorded, ms.
    pub recorded_p99_ms: Option<f64>,
}

/// The nearest rank of quantile `q` among `n` values (`n > 0`).
pub fn nearest_rank(q: f64, n: usize) -> usize {
    // The small slack keeps q·n that is a whole number in binary rounding (0.99 × 100)
    // on its own rank.
    let r = (q * n as f64 - 1e-9).ceil() as i64 - 1;
    r.clamp(0, n as i64 - 1) as usize
}

/// The rank band `[from, to]` averaged at quantile `q` among `n` values (`n > 0`).
pub fn band(q: f64, n: usize) -> (usize, usize) {
    let r = nearest_rank(q, n);
    let h = MIN_BAND_HALF.max((BAND_TAIL_FRACTION * (1.0 - q) * n as f64).floor() as usize);
    (r.saturating_sub(h), (r + h).min(n - 1))
}

fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Decompose `reqs` (`None` when empty).
pub fn decompose(reqs: &[RequestParts], beside: &Beside) -> Option<Decomposition> {
    if reqs.is_empty() {
        return None;
    }
    let mut v: Vec<&RequestParts> = reqs.iter().collect();
    v.sort_unstable_by_key(|r| (r.latency_ns, r.origin_ns, r.parts));
    let n = v.len();
    let total_latency: u128 = v.iter().map(|r| u128::from(r.latency_ns)).sum();
    let mut sums = [0u128; 6];
    for r in &v {
        for (s, p) in sums.iter_mut().zip(r.parts) {
            *s += u128::from(p);
        }
    }
    let share = Parts::from_values(sums.map(|s| {
        if total_latency == 0 {
            0.0
        } else {
            s as f64 / total_latency as f64
        }
    }));
    let at = QUANTILES
        .iter()
        .map(|&q| {
            let (from, to) = band(q, n);
            let m = (to - from + 1) as f64;
            let mut part_sums = [0u128; 6];
            for r in &v[from..=to] {
                for (s, p) in part_sums.iter_mut().zip(r.parts) {
                    *s += u128::from(p);
                }
            }
            QuantileParts {
                quantile: q,
                latency_ms: ms(v[nearest_rank(q, n)].latency_ns as f64),
                band: (to - from + 1) as u64,
                band_from: from as f64 / n as f64,
                band_to: (to + 1) as f64 / n as f64,
                parts_ms: Parts::from_values(part_sums.map(|s| ms(s as f64 / m))),
            }
        })
        .collect();
    let joined = n as u64;
    let expected = beside
        .effective_ratio
        .map(|ratio| beside.requests as f64 * ratio);
    Some(Decomposition {
        joined,
        expected_client_spans: expected,
        joined_share_expected: expected.filter(|e| *e > 0.0).map(|e| joined as f64 / e),
        joined_share_present: (beside.client_spans > 0)
            .then(|| joined as f64 / beside.client_spans as f64),
        joined_p99_ms: ms(v[nearest_rank(0.99, n)].latency_ns as f64),
        recorded_p99_ms: beside.recorded_p99_ms,
        mean_ms: ms(total_latency as f64 / n as f64),
        share,
        at,
        clamped: v.iter().filter(|r| r.clamped_ns > 0).count() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(latency_ns: u64, parts: [u64; 6]) -> RequestParts {
        assert_eq!(parts.iter().sum::<u64>(), latency_ns);
        RequestParts {
            step: 0,
            origin_ns: 0,
            latency_ns,
            parts,
            clamped_ns: 0,
        }
    }

    #[test]
    fn ranks_and_bands() {
        assert_eq!(nearest_rank(0.99, 100), 98);
        assert_eq!(nearest_rank(0.5, 100), 49);
        assert_eq!(nearest_rank(0.999, 10), 9);
        assert_eq!(nearest_rank(0.5, 1), 0);
        // p50 of 1,000: ±50 ranks; p99 of 10,000: ±10; p99.9 of 1,000: the minimum ±1.
        assert_eq!(band(0.5, 1000), (449, 549));
        assert_eq!(band(0.99, 10_000), (9_889, 9_909));
        assert_eq!(band(0.999, 1000), (997, 999));
        assert_eq!(band(0.5, 1), (0, 0));
    }

    #[test]
    fn tail_requests_carry_their_own_parts() {
        // 990 fast requests (1 ms: 0.2 before, 0.7 handler, 0.1 after) and 10 slow ones
        // (41 ms: the same plus 40 ms stalled).
        let mut reqs = Vec::new();
        for _ in 0..990 {
            reqs.push(req(1_000_000, [0, 200_000, 0, 0, 700_000, 100_000]));
        }
        for _ in 0..10 {
            reqs.push(req(
                41_000_000,
                [0, 200_000, 0, 40_000_000, 700_000, 100_000],
            ));
        }
        let d = decompose(
            &reqs,
            &Beside {
                client_spans: 1_000,
                requests: 2_000,
                effective_ratio: Some(0.5),
                recorded_p99_ms: Some(1.0),
            },
        )
        .unwrap();
        assert_eq!(d.joined, 1000);
        assert_eq!(d.expected_client_spans, Some(1000.0));
        assert_eq!(d.joined_share_expected, Some(1.0));
        assert_eq!(d.joined_share_present, Some(1.0));
        assert_eq!(d.joined_p99_ms, 1.0);
        let p50 = &d.at[0];
        assert_eq!(p50.parts_ms.before_handler, 0.2);
        assert_eq!(p50.parts_ms.stalled, 0.0);
        assert_eq!(p50.band, 101);
        // p99 of 1,000 is rank 989 (the last fast one), band 988–990: two fast, one slow.
        let p99 = &d.at[1];
        assert_eq!((p99.band, p99.band_from, p99.band_to), (3, 0.988, 0.991));
        assert!((p99.parts_ms.stalled - 40.0 / 3.0).abs() < 1e-9);
        // p99.9: ranks 997–999, all slow.
        let p999 = &d.at[2];
        assert_eq!(p999.latency_ms, 41.0);
        assert_eq!(p999.parts_ms.stalled, 40.0);
        assert!((p999.parts_ms.total() - 41.0).abs() < 1e-9);
        // Σ stalled ÷ Σ latency = 400 / (990 + 410).
        assert!((d.share.stalled - 400.0 / 1400.0).abs() < 1e-12);
        assert!((d.share.total() - 1.0).abs() < 1e-12);
        assert_eq!(d.mean_ms, 1.4);
        assert!(
            decompose(
                &[],
                &Beside {
                    client_spans: 0,
                    requests: 0,
                    effective_ratio: None,
                    recorded_p99_ms: None
                }
            )
            .is_none()
        );
    }
}
