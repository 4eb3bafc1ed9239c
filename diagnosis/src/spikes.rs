//! Latency spikes: robust outliers on the per-request series, clustered into spikes; their
//! period by request index and by time; their match to server events (tested in
//! [`crate::cause`]); and how much of the tail they explain.

use crate::cause::{SpikeSpan, best_cause, floor_caveat, fmt_p};
use crate::model::{
    Cause, EventMark, Explains, Period, PeriodAxis, SpikeMark, Spikes, Timeline, TimelinePoint,
};
use satlab_record::{RequestRecord, ServerEvent};

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
/// Two populations of slow bursts are split (Otsu on log peak latency) when the upper one's
/// typical peak is at least this many times the lower one's: e.g. 40 ms pauses above 3 ms
/// scheduling hiccups. Only the upper population counts as spikes.
pub const SEVERITY_SPLIT_RATIO: f64 = 3.0;
/// ...and the split explains at least this share of the variance of log peaks (clearly
/// bimodal, not one smooth spread).
pub const SEVERITY_SPLIT_ETA: f64 = 0.6;
/// Fewest spikes for a period: four gaps give a median and a spread worth reporting.
pub const MIN_SPIKES: usize = 5;
/// Largest robust coefficient of variation of the inter-spike gaps for the spikes to count
/// as periodic: random (Poisson) arrivals give ≈1, a clock or a counter gives < 0.1.
pub const PERIOD_MAX_CV: f64 = 0.25;
/// Share of spikes matched to one event kind for it to be named as the cause.
pub const MIN_MATCHED_FRACTION: f64 = 0.5;
/// Spike and event marks kept for charts.
pub const MAX_MARKS: usize = 2000;
/// Buckets of the latency-over-time series.
pub const TIMELINE_BUCKETS: u64 = 600;

/// A cluster of overlapping slow requests.
#[derive(Debug, Clone, Copy)]
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
    pub size: u64,
}

/// Flag outliers: latency above the block median + max(k·1.4826·MAD, floor). Blocks never
/// straddle a step boundary. `reqs` must be in start order.
pub(crate) fn outliers(reqs: &[RequestRecord]) -> Vec<(usize, f64)> {
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
                    .map(|i| (i, f64::from(reqs[i].latency_us) / thr)),
            );
        }
        seg_start = seg_end;
    }
    out
}

fn median_u32(v: &mut [u32]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable(mid);
    f64::from(*m)
}

fn median_f64(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// Merge outliers whose [start, end] intervals overlap: one pause slows every request in
/// flight, and they all belong to one spike.
/// Lone slow requests barely above the threshold are dropped (see [`LONE_SPIKE_RATIO`]).
pub(crate) fn cluster(reqs: &[RequestRecord], outliers: &[(usize, f64)]) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    for &(i, ratio) in outliers {
        let r = reqs[i];
        let end = r.start_us + u64::from(r.latency_us);
        match out.last_mut() {
            Some(c) if r.start_us <= c.end_us => {
                c.last = i;
                c.end_us = c.end_us.max(end);
                if r.latency_us > c.peak_us {
                    c.peak_us = r.latency_us;
                    c.peak_end_us = end;
                }
                c.size += 1;
                c.ratio = c.ratio.max(ratio);
            }
            _ => out.push(Cluster {
                ratio,
                first: i,
                last: i,
                start_us: r.start_us,
                end_us: end,
                peak_us: r.latency_us,
                peak_end_us: end,
                size: 1,
            }),
        }
    }
    out.retain(|c| c.size >= 2 || c.ratio >= LONE_SPIKE_RATIO);
    out
}

/// Split clusters into major spikes and minor bursts when their peaks form two clearly
/// separate populations (Otsu's threshold on log peak latency); returns the peak threshold
/// in µs, or `None` when the peaks are one population.
pub(crate) fn severity_split(clusters: &[Cluster]) -> Option<u32> {
    if clusters.len() < 2 * MIN_SPIKES {
        return None;
    }
    let mut v: Vec<f64> = clusters
        .iter()
        .map(|c| f64::from(c.peak_us.max(1)).log10())
        .collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let total: f64 = v.iter().sum();
    let mean = total / n;
    let var_total = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    if var_total <= 0.0 {
        return None;
    }
    let mut best: Option<(f64, usize, f64, f64)> = None;
    let mut left = 0.0;
    for k in 1..v.len() {
        left += v[k - 1];
        let (w0, w1) = (k as f64 / n, (n - k as f64) / n);
        let (m0, m1) = (left / k as f64, (total - left) / (n - k as f64));
        let between = w0 * w1 * (m1 - m0).powi(2);
        if best.is_none_or(|b| between > b.0) {
            best = Some((between, k, m0, m1));
        }
    }
    let (between, k, m0, m1) = best?;
    let upper = v.len() - k;
    (between / var_total >= SEVERITY_SPLIT_ETA
        && m1 - m0 >= SEVERITY_SPLIT_RATIO.log10()
        && upper >= MIN_SPIKES)
        .then(|| 10f64.powf((v[k - 1] + v[k]) / 2.0) as u32)
}

/// Median gap and robust CV (1.4826·MAD / median) of consecutive differences.
fn gap_stats(xs: &[f64]) -> (f64, f64) {
    let mut gaps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    let med = median_f64(&mut gaps.clone());
    if med <= 0.0 {
        return (med, f64::INFINITY);
    }
    for g in gaps.iter_mut() {
        *g = (*g - med).abs();
    }
    (med, 1.4826 * median_f64(&mut gaps) / med)
}

/// The period on both axes; the one with the lower CV wins.
pub(crate) fn period(clusters: &[Cluster]) -> Option<Period> {
    if clusters.len() < MIN_SPIKES {
        return None;
    }
    let by_idx: Vec<f64> = clusters.iter().map(|c| c.first as f64).collect();
    let by_time: Vec<f64> = clusters.iter().map(|c| c.start_us as f64 / 1e6).collect();
    let (pi, cvi) = gap_stats(&by_idx);
    let (pt, cvt) = gap_stats(&by_time);
    let (by, cv) = if cvi <= cvt {
        (PeriodAxis::Requests, cvi)
    } else {
        (PeriodAxis::Time, cvt)
    };
    Some(Period {
        by,
        requests: pi,
        seconds: pt,
        cv,
        cv_requests: cvi,
        cv_seconds: cvt,
    })
}

/// Spike analysis of a start-ordered series.
pub(crate) fn analyse(
    reqs: &[RequestRecord],
    events: &[ServerEvent],
    run_start_ns: u64,
    p99_us: u64,
    p999_us: u64,
) -> Spikes {
    let out = outliers(reqs);
    let mut clusters = cluster(reqs, &out);
    let before = clusters.len();
    let split = severity_split(&clusters);
    if let Some(thr) = split {
        clusters.retain(|c| c.peak_us >= thr);
    }
    let minor = before - clusters.len();
    let span_us = reqs
        .iter()
        .map(|r| r.start_us + u64::from(r.latency_us))
        .max()
        .unwrap_or(0) as i64
        + 1;
    let period = period(&clusters);
    let spans: Vec<SpikeSpan> = clusters
        .iter()
        .map(|c| SpikeSpan {
            start_us: c.start_us,
            end_us: c.end_us,
            anchor_us: c.peak_end_us,
        })
        .collect();
    let (cause, hits) = best_cause(&spans, events, run_start_ns, span_us);

    // Share of the tail inside spikes.
    let explains = (!reqs.is_empty()).then(|| {
        let (mut a99, mut s99, mut a999, mut s999) = (0u64, 0u64, 0u64, 0u64);
        let mut c = 0usize;
        for (i, r) in reqs.iter().enumerate() {
            while c < clusters.len() && clusters[c].last < i {
                c += 1;
            }
            let inside = c < clusters.len() && clusters[c].first <= i;
            let lat = u64::from(r.latency_us);
            if lat > p99_us {
                a99 += 1;
                s99 += u64::from(inside);
            }
            if lat > p999_us {
                a999 += 1;
                s999 += u64::from(inside);
            }
        }
        let frac = |s: u64, a: u64| if a == 0 { 0.0 } else { s as f64 / a as f64 };
        Explains {
            p99_ms: p99_us as f64 / 1000.0,
            p999_ms: p999_us as f64 / 1000.0,
            p99: frac(s99, a99),
            p999: frac(s999, a999),
        }
    });

    let periodic = period.as_ref().is_some_and(|p| p.cv <= PERIOD_MAX_CV);
    let caused = cause
        .as_ref()
        .is_some_and(|c| c.significant && c.matched_fraction >= MIN_MATCHED_FRACTION);
    let detected = clusters.len() >= MIN_SPIKES && (periodic || caused);
    let mut text = describe(
        clusters.len(),
        detected,
        periodic,
        &period,
        &cause,
        &explains,
    );
    if let Some(thr) = split {
        text.push_str(&format!(
            " ({minor} minor slow bursts below {:.1} ms set aside)",
            f64::from(thr) / 1000.0
        ));
    }
    let marks = clusters
        .iter()
        .zip(&hits)
        .take(MAX_MARKS)
        .map(|(c, &m)| SpikeMark {
            t_s: c.start_us as f64 / 1e6,
            index: c.first as u64,
            peak_ms: f64::from(c.peak_us) / 1000.0,
            size: c.size,
            matched: m,
        })
        .collect();
    Spikes {
        detected,
        count: clusters.len(),
        outliers: out.len() as u64,
        period,
        cause,
        explains,
        text,
        marks,
    }
}

fn describe(
    count: usize,
    detected: bool,
    periodic: bool,
    period: &Option<Period>,
    cause: &Option<Cause>,
    explains: &Option<Explains>,
) -> String {
    if count == 0 {
        return "no latency spikes".into();
    }
    if !detected {
        return format!(
            "{count} isolated slow burst{} (not periodic, not tied to server events): noise, no spike verdict",
            if count == 1 { "" } else { "s" }
        );
    }
    let mut parts = Vec::new();
    match period {
        Some(p) if periodic && p.by == PeriodAxis::Requests => parts.push(format!(
            "{count} spikes every ~{:.0} requests (gap cv {:.2}; by time cv {:.2})",
            p.requests, p.cv_requests, p.cv_seconds
        )),
        Some(p) if periodic => parts.push(format!(
            "{count} spikes every ~{:.2} s (gap cv {:.2}; by requests cv {:.2})",
            p.seconds, p.cv_seconds, p.cv_requests
        )),
        _ => parts.push(format!("{count} spikes, not periodic")),
    }
    if let Some(c) = cause {
        parts.push(format!(
            "{:.0}% coincide with {} events ({})",
            c.matched_fraction * 100.0,
            c.kind.name(),
            fmt_p(c.p_value, c.null_shifts)
        ));
        if let Some(caveat) = floor_caveat(c) {
            parts.push(caveat);
        }
    }
    if let Some(e) = explains {
        parts.push(format!(
            "they hold {:.0}% of requests above p99 and {:.0}% above p99.9",
            e.p99 * 100.0,
            e.p999 * 100.0
        ));
    }
    parts.join("; ")
}

/// Latency over time, max and median per bucket, with server events.
pub(crate) fn timeline(
    reqs: &[RequestRecord],
    events: &[ServerEvent],
    run_start_ns: u64,
) -> Timeline {
    let Some(last) = reqs.last() else {
        return Timeline::default();
    };
    let span = last.start_us + 1;
    let bucket_us = span.div_ceil(TIMELINE_BUCKETS).max(1000);
    let mut points = Vec::new();
    let mut scratch: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < reqs.len() {
        let b = reqs[i].start_us / bucket_us;
        let mut j = i;
        while j < reqs.len() && reqs[j].start_us / bucket_us == b {
            j += 1;
        }
        scratch.clear();
        scratch.extend(reqs[i..j].iter().map(|r| r.latency_us));
        let max = scratch.iter().copied().max().unwrap_or(0);
        let p50 = median_u32(&mut scratch);
        points.push(TimelinePoint {
            t_s: (b * bucket_us) as f64 / 1e6,
            count: (j - i) as u64,
            p50_ms: p50 / 1000.0,
            max_ms: f64::from(max) / 1000.0,
        });
        i = j;
    }
    let mut evs: Vec<EventMark> = events
        .iter()
        .filter(|e| e.start_unix_ns >= run_start_ns)
        .map(|e| EventMark {
            t_s: (e.start_unix_ns - run_start_ns) as f64 / 1e9,
            kind: e.kind,
            duration_ms: e.duration_ns as f64 / 1e6,
        })
        .filter(|e| e.t_s <= span as f64 / 1e6)
        .collect();
    evs.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    evs.truncate(MAX_MARKS);
    Timeline {
        bucket_s: bucket_us as f64 / 1e6,
        points,
        events: evs,
        step_starts_s: Vec::new(),
    }
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

    #[test]
    fn outliers_flag_only_the_slow_requests() {
        let r = series(10_000, 500);
        let o = outliers(&r);
        assert_eq!(o.len(), 19, "{o:?}");
        assert!(o.iter().all(|&(i, r)| i % 500 == 0 && r > 10.0));
        assert!(outliers(&series(10_000, 0)).is_empty());
    }

    #[test]
    fn overlapping_slow_requests_form_one_spike() {
        let mut r = series(100, 0);
        for x in r.iter_mut().skip(40).take(5) {
            x.latency_us = 20_000;
        }
        let c = cluster(&r, &[(40, 2.0), (41, 2.0), (42, 9.0), (43, 2.0), (44, 2.0)]);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].size, 5);
        assert_eq!(c[0].ratio, 9.0);
        // A lone request just above the threshold is noise; far above it, a spike.
        assert!(cluster(&r, &[(10, 1.2)]).is_empty());
        assert_eq!(cluster(&r, &[(10, 4.0)]).len(), 1);
    }

    #[test]
    fn two_populations_of_bursts_are_split() {
        let mk = |peak_us: u32| Cluster {
            ratio: 2.0,
            first: 0,
            last: 0,
            start_us: 0,
            end_us: 0,
            peak_us,
            peak_end_us: 0,
            size: 20,
        };
        let mut c: Vec<Cluster> = (0..40).map(|i| mk(2000 + i * 100)).collect();
        c.extend((0..10).map(|i| mk(40_000 + i * 500)));
        let thr = severity_split(&c).expect("bimodal");
        assert!((6000..40_000).contains(&thr), "{thr}");
        // One smooth population is left alone.
        let one: Vec<Cluster> = (0..50).map(|i| mk(2000 + i * 150)).collect();
        assert_eq!(severity_split(&one), None);
    }
}
