//! The one sampling rule of a run: a trace is kept or dropped by a function of its trace
//! id alone, decided once by the load generator (the `traceparent` sampled flag) and
//! re-applied with a smaller ratio by whoever must keep fewer (the observer's span store),
//! so every kept trace is whole and the kept set is an unbiased sample of the run.
//!
//! The rule is the OpenTelemetry SDK's `TraceIdRatioBased`: the low 64 bits of the trace
//! id, shifted right by one, compared with `ratio · 2⁶³`. A collector sampling by ratio
//! therefore keeps a subset of what satlab keeps.

/// The trace's rank: uniform over `0..2⁶³` for random trace ids.
pub fn rank(trace_id: u128) -> u64 {
    (trace_id as u64) >> 1
}

/// The rank bound for `ratio` (clamped to 0–1): ranks below it are kept.
pub fn threshold(ratio: f64) -> u64 {
    if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio.max(0.0) * (1u64 << 63) as f64) as u64
    }
}

/// The ratio a rank bound keeps.
pub fn ratio(threshold: u64) -> f64 {
    if threshold > 1u64 << 63 {
        1.0
    } else {
        threshold as f64 / (1u64 << 63) as f64
    }
}

/// True when `trace_id` is kept at `ratio`.
pub fn sampled(trace_id: u128, ratio: f64) -> bool {
    ratio >= 1.0 || rank(trace_id) < threshold(ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_keeps_its_share_and_smaller_ratios_keep_subsets() {
        let mut x: u64 = 1;
        let mut next = || {
            // SplitMix64, inline: the record crate depends on nothing random.
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (mut half, mut tenth) = (0, 0);
        for _ in 0..20_000 {
            let id = ((next() as u128) << 64) | next() as u128;
            let h = sampled(id, 0.5);
            let t = sampled(id, 0.1);
            assert!(!t || h, "a trace kept at 0.1 is kept at 0.5");
            half += h as u32;
            tenth += t as u32;
        }
        assert!((9_500..10_500).contains(&half), "{half}");
        assert!((1_700..2_300).contains(&tenth), "{tenth}");
        assert!(sampled(u128::MAX, 1.0) && !sampled(0, 0.0));
        assert_eq!(ratio(threshold(0.25)), 0.25);
        assert_eq!(ratio(threshold(1.0)), 1.0);
    }
}
