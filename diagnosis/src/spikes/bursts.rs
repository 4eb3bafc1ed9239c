//! Slow bursts: robust outliers on the per-request series, and the clusters of overlapping
//! slow requests they form, each with how far its slowest request stood above the rest.

use satlab_record::RequestRecord;

/// Outlier threshold in robust standard deviations (1.4826·MAD): 6 keeps Gaussian-like
/// noise out (a false flag per ~10⁹ requests) while a pause of a few milliseconds on a
/// sub-millisecond service stands far above it.
pub const OUTLIER_K: f64 = 6.0;
/// A spike is at least this many times the local median above it (2× latency): on very
/// steady series the MAD is tiny and k·MAD alone would flag harmless jitter.
pub const MIN_EXCESS_OF_MEDIAN: f64 = 1.0;
/// ...and at least this far above it, µs: below a millisecond nobody calls it a spike.
pub const MIN_EXCESS_US: f64 = 1000.0;
/// Requests per block of the rolling median/MAD: large enough that the burst of slow
/// requests of one pause stays a minority of its block, small enough to follow drift within
/// a step (blocks never straddle steps).
pub const BLOCK: usize = 5000;
/// A lone slow request counts as a spike only this many times above its threshold: one pause
/// slows every request in flight, while a single barely-slow request is usually noise.
pub const LONE_SPIKE_RATIO: f64 = 3.0;

/// One slow request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outlier {
    /// Its index in the start-ordered series.
    pub index: usize,
    /// Its latency over its block's threshold.
    pub ratio: f64,
    /// Its latency above its block's median, µs: the time the burst added to it.
    pub excess_us: u64,
}

/// A cluster of overlapping slow requests: one slow burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cluster {
    /// Largest latency / threshold ratio among its requests.
    pub ratio: f64,
    pub first: usize,
    pub last: usize,
    pub start_us: u64,
    pub end_us: u64,
    pub peak_us: u32,
    /// When the slowest request of the spike completed: where a stall or a burst lets go
    /// of the work it held. Later completions are the queue draining, whose length depends
    /// on load, not on the event.
    pub peak_end_us: u64,
    /// Requests started before `peak_end_us`: where the burst let go, counted in requests.
    /// A stall in a closed loop holds every worker's request, so this count is the
    /// completions before it plus the workers, steadier than the index of the first slow
    /// request, which wanders with whichever request happened to be in flight longest.
    pub release_index: usize,
    pub size: u64,
    /// Its slowest request's latency above its block's median, µs: its severity (how much
    /// worse than usual the worst latency it caused was).
    pub excess_us: u64,
}

/// Flag outliers: latency above the block median + max(k·1.4826·MAD, floor). Blocks never
/// straddle a step boundary. `reqs` must be in start order.
pub(crate) fn outliers(reqs: &[RequestRecord]) -> Vec<Outlier> {
    let mut out = Vec::new();
    let mut scratch: Vec<u32> = Vec::with_capacity(BLOCK * 2);
    let mut seg_start = 0;
    while seg_start < reqs.len() {
        let step = reqs[seg_start].step;
        let mut seg_end = seg_start;
        while seg_end < reqs.len() && reqs[seg_end].step == step {
            seg_end += 1;
        }
        let n = seg_end - seg_start;
        let blocks = (n / BLOCK).max(1);
        for b in 0..blocks {
            let lo = seg_start + b * n / blocks;
            let hi = seg_start + (b + 1) * n / blocks;
            scratch.clear();
            scratch.extend(reqs[lo..hi].iter().map(|r| r.latency_us));
            let med = median_u32(&mut scratch);
            for v in scratch.iter_mut() {
                *v = (f64::from(*v) - med).abs() as u32;
            }
            let mad = median_u32(&mut scratch);
            let excess = (OUTLIER_K * 1.4826 * mad)
                .max(MIN_EXCESS_OF_MEDIAN * med)
                .max(MIN_EXCESS_US);
            let thr = med + excess;
            out.extend(
                (lo..hi)
                    .filter(|&i| f64::from(reqs[i].latency_us) > thr)
                    .map(|i| {
                        let lat = f64::from(reqs[i].latency_us);
                        Outlier {
                            index: i,
                            ratio: lat / thr,
                            excess_us: (lat - med) as u64,
                        }
                    }),
            );
        }
        seg_start = seg_end;
    }
    out
}

/// The median of `v` (reordered in place); 0 when empty.
pub(crate) fn median_u32(v: &mut [u32]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    f64::from(*m)
}

/// Merge outliers whose [start, end] intervals overlap: one pause slows every request in
/// flight, and they all belong to one spike.
/// Lone slow requests barely above the threshold are dropped (see [`LONE_SPIKE_RATIO`]).
pub(crate) fn cluster(reqs: &[RequestRecord], outliers: &[Outlier]) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    for o in outliers {
        let r = reqs[o.index];
        let end = r.start_us + u64::from(r.latency_us);
        match out.last_mut() {
            Some(c) if r.start_us <= c.end_us => {
                c.last = o.index;
                c.end_us = c.end_us.max(end);
                if r.latency_us > c.peak_us {
                    c.peak_us = r.latency_us;
                    c.peak_end_us = end;
                }
                c.size += 1;
                c.ratio = c.ratio.max(o.ratio);
                c.excess_us = c.excess_us.max(o.excess_us);
            }
            _ => out.push(Cluster {
                ratio: o.ratio,
                first: o.index,
                last: o.index,
                start_us: r.start_us,
                end_us: end,
                peak_us: r.latency_us,
                peak_end_us: end,
                release_index: 0,
                size: 1,
                excess_us: o.excess_us,
            }),
        }
    }
    out.retain(|c| c.size >= 2 || c.ratio >= LONE_SPIKE_RATIO);
    for c in &mut out {
        c.release_index = reqs.partition_point(|r| r.start_us < c.peak_end_us);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::rng::SplitMix64;
    use satlab_record::ErrorKind;

    fn series(n: usize, slow_every: usize) -> Vec<RequestRecord> {
        let mut rng = SplitMix64::new(3);
        (0..n)
            .map(|i| RequestRecord {
                start_us: i as u64 * 1000,
                latency_us: if slow_every > 0 && i % slow_every == 0 && i > 0 {
                    40_000
                } else {
                    900 + rng.below(200) as u32
                },
                status: 200,
                error: ErrorKind::None,
                step: 0,
            })
            .collect()
    }

    fn slow(index: usize, ratio: f64, excess_us: u64) -> Outlier {
        Outlier {
            index,
            ratio,
            excess_us,
        }
    }

    #[test]
    fn outliers_flag_only_the_slow_requests() {
        let r = series(10_000, 500);
        let o = outliers(&r);
        assert_eq!(o.len(), 19, "{o:?}");
        assert!(o.iter().all(|o| o.index % 500 == 0 && o.ratio > 10.0));
        // The median of 900–1099 µs is about 1000 µs: each adds about 39 ms.
        assert!(
            o.iter().all(|o| (38_800..=39_200).contains(&o.excess_us)),
            "{o:?}"
        );
        assert!(outliers(&series(10_000, 0)).is_empty());
    }

    #[test]
    fn overlapping_slow_requests_form_one_spike() {
        let mut r = series(100, 0);
        for x in r.iter_mut().skip(40).take(5) {
            x.latency_us = 20_000;
        }
        let o: Vec<Outlier> = [(40, 2.0), (41, 2.0), (42, 9.0), (43, 2.0), (44, 2.0)]
            .into_iter()
            .map(|(i, ratio)| slow(i, ratio, 19_000 - i as u64))
            .collect();
        let c = cluster(&r, &o);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].size, 5);
        assert_eq!(c[0].ratio, 9.0);
        assert_eq!(c[0].excess_us, 19_000 - 40);
        // A lone request just above the threshold is noise; far above it, a spike.
        assert!(cluster(&r, &[slow(10, 1.2, 2000)]).is_empty());
        assert_eq!(cluster(&r, &[slow(10, 4.0, 2000)]).len(), 1);
    }
}
