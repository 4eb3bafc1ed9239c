//! Slow bursts: robust outliers on the per-request series, and the clusters of overlapping
//! slow requests they form, each with how far its slowest request stood above the rest.

use super::quiet::{Completions, Quiet, Released};
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
    pub start_us: u64,
    pub latency_us: u32,
    /// Requests started before it completed.
    pub release_index: usize,
    /// The longest silence in completions while it was outstanding.
    pub quiet: Quiet,
}

impl Outlier {
    fn end_us(&self) -> u64 {
        self.start_us.saturating_add(u64::from(self.latency_us))
    }
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
    /// The longest silence in completions while any of its requests was outstanding: where
    /// a stall began, counted in requests finished before it (see `quiet`).
    pub quiet: Quiet,
    pub size: u64,
    /// Its slowest request's latency above its block's median, µs: its severity (how much
    /// worse than usual the worst latency it caused was).
    pub excess_us: u64,
}

#[cfg(test)]
impl Cluster {
    /// A burst for tests: 10 slow requests from `first`, starting `t_s` into the run, 50 ms
    /// long, its slowest 40 ms, `excess_ms` above the median.
    pub(crate) fn test_burst(first: usize, t_s: f64, excess_ms: u64) -> Cluster {
        let start_us = (t_s * 1e6) as u64;
        Cluster {
            ratio: 5.0,
            first,
            last: first + 10,
            start_us,
            end_us: start_us + 50_000,
            peak_us: 40_000,
            peak_end_us: start_us + 40_000,
            release_index: first + 10,
            quiet: Quiet {
                index: first + 2,
                at_us: start_us + 1000,
                len_us: 38_000,
            },
            size: 10,
            excess_us: excess_ms * 1000,
        }
    }
}

/// Flags outliers on the series fed in start order: latency above the block median +
/// max(k·1.4826·MAD, floor). A step's run of the series (a segment) is cut into
/// `max(len / BLOCK, 1)` equal blocks, so blocks never straddle a step boundary; only the
/// block being filled is held.
pub(crate) struct OutlierScan {
    /// The segments still to come, as (step, requests), last first.
    segments: Vec<(u8, u64)>,
    /// Records in the current segment, its blocks and the block being filled.
    seg_len: u64,
    blocks: u64,
    block_no: u64,
    /// Records in the block being filled.
    block_len: u64,
    block: Vec<RequestRecord>,
    /// Index of `block[0]` in the series.
    first: usize,
    scratch: Vec<u32>,
    out: Vec<Outlier>,
    /// Every request in flight, for the outliers' release and silence.
    completions: Completions,
    released: Vec<Released>,
}
impl OutlierScan {
    /// A scan of a series whose runs of one step are `segments`, as (step, requests), in
    /// start order.
    pub fn new(mut segments: Vec<(u8, u64)>) -> Self {
        segments.reverse();
        let mut scan = OutlierScan {
            segments,
            seg_len: 0,
            blocks: 0,
            block_no: 0,
            block_len: 0,
            block: Vec::with_capacity(BLOCK * 2),
            first: 0,
            scratch: Vec::with_capacity(BLOCK * 2),
            out: Vec::new(),
            completions: Completions::default(),
            released: Vec::new(),
        };
        scan.next_segment();
        scan
    }

    fn next_segment(&mut self) {
        // Past the last segment (a log that grew between passes), one open-ended block.
        let (_, len) = self.segments.pop().unwrap_or((0, u64::MAX));
        self.seg_len = len;
        self.blocks = (len / BLOCK as u64).max(1);
        self.block_no = 0;
        self.block_len = self.len_of_block();
    }

    /// Records in block `block_no` of the segment.
    fn len_of_block(&self) -> u64 {
        if self.seg_len == u64::MAX {
            return u64::MAX;
        }
        let bound =
            |b: u64| (u128::from(b) * u128::from(self.seg_len) / u128::from(self.blocks)) as u64;
        bound(self.block_no + 1) - bound(self.block_no)
    }

    /// The next record in start order.
    pub fn push(&mut self, r: &RequestRecord) {
        self.block.push(*r);
        if self.block.len() as u64 >= self.block_len {
            self.flush();
            self.block_no += 1;
            if self.block_no >= self.blocks {
                self.next_segment();
            } else {
                self.block_len = self.len_of_block();
            }
        }
    }

    fn flush(&mut self) {
        if self.block.is_empty() {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(self.block.iter().map(|r| r.latency_us));
        let med = median_u32(&mut self.scratch);
        for v in self.scratch.iter_mut() {
            *v = (f64::from(*v) - med).abs() as u32;
        }
        let mad = median_u32(&mut self.scratch);
        let excess = (OUTLIER_K * 1.4826 * mad)
            .max(MIN_EXCESS_OF_MEDIAN * med)
            .max(MIN_EXCESS_US);
        let thr = med + excess;
        let fresh = self.out.len();
        for (k, r) in self.block.iter().enumerate() {
            let lat = f64::from(r.latency_us);
            if lat > thr {
                self.out.push(Outlier {
                    index: self.first + k,
                    ratio: lat / thr,
                    excess_us: (lat - med) as u64,
                    start_us: r.start_us,
                    latency_us: r.latency_us,
                    release_index: 0,
                    quiet: Quiet::default(),
                });
            }
        }
        // Every request of the block, in start order, through the completions: an outlier
        // completes after its own start, so this block's and earlier blocks' outliers are
        // settled as later requests start.
        let mut next = fresh;
        for (k, r) in self.block.iter().enumerate() {
            let tag =
                (next < self.out.len() && self.out[next].index == self.first + k).then(|| {
                    next += 1;
                    next - 1
                });
            let end = r.start_us.saturating_add(u64::from(r.latency_us));
            self.completions
                .start(r.start_us, end, tag, &mut self.released);
        }
        self.settle();
        self.first += self.block.len();
        self.block.clear();
    }

    fn settle(&mut self) {
        for r in self.released.drain(..) {
            let o = &mut self.out[r.tag];
            o.release_index = r.release_index;
            o.quiet = r.quiet;
        }
    }

    /// The outliers, in series order.
    pub fn finish(mut self) -> Vec<Outlier> {
        self.flush();
        self.completions.finish(&mut self.released);
        self.settle();
        self.out
    }
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
pub(crate) fn cluster(outliers: &[Outlier]) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    for o in outliers {
        let end = o.end_us();
        match out.last_mut() {
            Some(c) if o.start_us <= c.end_us => {
                c.last = o.index;
                c.end_us = c.end_us.max(end);
                if o.latency_us > c.peak_us {
                    c.peak_us = o.latency_us;
                    c.peak_end_us = end;
                    c.release_index = o.release_index;
                }
                if o.quiet.len_us > c.quiet.len_us {
                    c.quiet = o.quiet;
                }
                c.size += 1;
                c.ratio = c.ratio.max(o.ratio);
                c.excess_us = c.excess_us.max(o.excess_us);
            }
            _ => out.push(Cluster {
                ratio: o.ratio,
                first: o.index,
                last: o.index,
                start_us: o.start_us,
                end_us: end,
                peak_us: o.latency_us,
                peak_end_us: end,
                release_index: o.release_index,
                quiet: o.quiet,
                size: 1,
                excess_us: o.excess_us,
            }),
        }
    }
    out.retain(|c| c.size >= 2 || c.ratio >= LONE_SPIKE_RATIO);
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

    /// The runs of one step of a start-ordered series.
    fn runs(reqs: &[RequestRecord]) -> Vec<(u8, u64)> {
        let mut runs: Vec<(u8, u64)> = Vec::new();
        for r in reqs {
            match runs.last_mut() {
                Some((s, n)) if *s == r.step => *n += 1,
                _ => runs.push((r.step, 1)),
            }
        }
        runs
    }

    fn outliers(reqs: &[RequestRecord]) -> Vec<Outlier> {
        let mut scan = OutlierScan::new(runs(reqs));
        reqs.iter().for_each(|r| scan.push(r));
        scan.finish()
    }

    /// (index, ratio, excess µs) of a flagged request.
    type Flag = (usize, f64, u64);

    /// The longest silence in completions while `reqs[i]` was outstanding, from every
    /// completion sorted: of the gaps between consecutive distinct completion times inside
    /// its [start, end], the longest (of equal ones the latest); else its own completion.
    fn reference_quiet(reqs: &[RequestRecord], ends: &[u64], i: usize) -> Quiet {
        let (s, t) = (
            reqs[i].start_us,
            reqs[i].start_us + u64::from(reqs[i].latency_us),
        );
        let mut best = Quiet {
            index: ends.partition_point(|&e| e < t),
            at_us: t,
            len_us: 0,
        };
        let lo = ends.partition_point(|&e| e < s);
        let hi = ends.partition_point(|&e| e <= t);
        for j in lo + 1..hi {
            let (a, b) = (ends[j - 1], ends[j]);
            if b > a && b - a >= best.len_us {
                best = Quiet {
                    index: j,
                    at_us: a,
                    len_us: b - a,
                };
            }
        }
        best
    }

    /// The whole-series computation the scan replaces, kept as its reference: the flagged
    /// requests, and each one's (index, release index).
    fn reference(reqs: &[RequestRecord]) -> (Vec<Flag>, Vec<(usize, usize)>) {
        let mut flagged = Vec::new();
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
                let mut v: Vec<u32> = reqs[lo..hi].iter().map(|r| r.latency_us).collect();
                let med = median_u32(&mut v);
                let mut d: Vec<u32> = reqs[lo..hi]
                    .iter()
                    .map(|r| (f64::from(r.latency_us) - med).abs() as u32)
                    .collect();
                let mad = median_u32(&mut d);
                let thr = med
                    + (OUTLIER_K * 1.4826 * mad)
                        .max(MIN_EXCESS_OF_MEDIAN * med)
                        .max(MIN_EXCESS_US);
                for (i, r) in reqs.iter().enumerate().take(hi).skip(lo) {
                    let lat = f64::from(r.latency_us);
                    if lat > thr {
                        flagged.push((i, lat / thr, (lat - med) as u64));
                    }
                }
            }
            seg_start = seg_end;
        }
        // Each flagged request's release: the first request starting at or after its end.
        let release = flagged
            .iter()
            .map(|&(i, _, _)| {
                let end = reqs[i].start_us + u64::from(reqs[i].latency_us);
                (i, reqs.partition_point(|r| r.start_us < end))
            })
            .collect();
        (flagged, release)
    }

    fn slow(reqs: &[RequestRecord], index: usize, ratio: f64, excess_us: u64) -> Outlier {
        Outlier {
            index,
            ratio,
            excess_us,
            start_us: reqs[index].start_us,
            latency_us: reqs[index].latency_us,
            release_index: index + 1,
            quiet: Quiet::default(),
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
        // A 40 ms request at 1 ms spacing is released 40 requests later.
        assert!(o.iter().all(|o| o.release_index == o.index + 40), "{o:?}");
        assert!(outliers(&series(10_000, 0)).is_empty());
    }

    #[test]
    fn the_scan_flags_what_the_whole_series_computation_flags() {
        let mut rng = SplitMix64::new(11);
        for round in 0..40 {
            // Steps of random lengths (a block boundary anywhere), random slow requests,
            // starts that repeat.
            let mut reqs = Vec::new();
            let mut t = 0u64;
            for step in 0..1 + rng.below(4) as u8 {
                for _ in 0..rng.below(3 * BLOCK as u64) {
                    t += rng.below(3);
                    let slow = rng.below(200) == 0;
                    reqs.push(RequestRecord {
                        start_us: t * 100,
                        latency_us: if slow {
                            5_000 + rng.below(50_000) as u32
                        } else {
                            300 + rng.below(400) as u32
                        },
                        status: 200,
                        error: ErrorKind::None,
                        step,
                    });
                }
            }
            let got = outliers(&reqs);
            let (flagged, release) = reference(&reqs);
            let got_flags: Vec<Flag> = got
                .iter()
                .map(|o| (o.index, o.ratio, o.excess_us))
                .collect();
            let got_release: Vec<(usize, usize)> =
                got.iter().map(|o| (o.index, o.release_index)).collect();
            assert_eq!(got_flags, flagged, "round {round}");
            assert_eq!(got_release, release, "round {round}");
            let mut ends: Vec<u64> = reqs
                .iter()
                .map(|r| r.start_us + u64::from(r.latency_us))
                .collect();
            ends.sort_unstable();
            for o in &got {
                assert_eq!(
                    o.quiet,
                    reference_quiet(&reqs, &ends, o.index),
                    "round {round}, request {}",
                    o.index
                );
            }
        }
    }

    #[test]
    fn overlapping_slow_requests_form_one_spike() {
        let mut r = series(100, 0);
        for x in r.iter_mut().skip(40).take(5) {
            x.latency_us = 20_000;
        }
        r[42].latency_us = 25_000;
        let o: Vec<Outlier> = [(40, 2.0), (41, 2.0), (42, 9.0), (43, 2.0), (44, 2.0)]
            .into_iter()
            .map(|(i, ratio)| slow(&r, i, ratio, 19_000 - i as u64))
            .collect();
        let c = cluster(&o);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].size, 5);
        assert_eq!(c[0].ratio, 9.0);
        assert_eq!(c[0].excess_us, 19_000 - 40);
        // The slowest request sets where the burst lets go.
        assert_eq!((c[0].peak_us, c[0].release_index), (25_000, 43));
        // A lone request just above the threshold is noise; far above it, a spike.
        assert!(cluster(&[slow(&r, 10, 1.2, 2000)]).is_empty());
        assert_eq!(cluster(&[slow(&r, 10, 4.0, 2000)]).len(), 1);
    }
}
