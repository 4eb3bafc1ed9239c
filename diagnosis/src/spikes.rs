//! Latency spikes: robust outliers on the per-request series, clustered into slow bursts
//! ([`bursts`]); the bursts ranked by severity into nested tiers ([`severity`]); the period
//! of the chosen tier by request index and by time ([`period`]); its match to server events
//! (tested in [`crate::cause`]); and how much of the tail the spikes, and each event kind,
//! explain ([`tail`]).

mod bursts;
mod period;
mod severity;
mod tail;

use crate::cause::{SpikeSpan, best_cause, floor_caveat, fmt_p, matches_by_kind};
use crate::model::{
    Cause, CauseShare, EventMark, Explains, Period, PeriodAxis, SeverityTier, SpikeMark, Spikes,
    Timeline, TimelinePoint,
};
use bursts::{Cluster, cluster, median_u32, outliers};
use satlab_record::{RequestRecord, ServerEvent};
use severity::{Tier, tiers, verdict_tier};

pub use bursts::{BLOCK, LONE_SPIKE_RATIO, MIN_EXCESS_OF_MEDIAN, MIN_EXCESS_US, OUTLIER_K};
pub use period::{MIN_SPIKES, ON_PERIOD_TOLERANCE, PERIOD_MAX_CV};
pub use severity::{MAX_BREAKS, MIN_ON_PERIOD, SEVERITY_SPLIT_ETA, SEVERITY_SPLIT_RATIO};

/// Share of spikes matched to one event kind for it to be named as the cause.
pub const MIN_MATCHED_FRACTION: f64 = 0.5;
/// Spike and event marks kept for charts.
pub const MAX_MARKS: usize = 2000;
/// Buckets of the latency-over-time series.
pub const TIMELINE_BUCKETS: u64 = 600;

fn span_of(c: &Cluster) -> SpikeSpan {
    SpikeSpan {
        start_us: c.start_us,
        end_us: c.end_us,
        anchor_us: c.peak_end_us,
    }
}

fn tier_model(t: &Tier) -> SeverityTier {
    SeverityTier {
        count: t.members.len(),
        min_excess_ms: t.min_excess_us as f64 / 1000.0,
        period_cv: t
            .fit
            .as_ref()
            .map(|f| f.period.cv)
            .filter(|cv| cv.is_finite()),
        on_period: t.fit.as_ref().map(|f| f.on_period),
        periodic: t.periodic(),
    }
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
    let all = cluster(reqs, &out);
    let tiers = tiers(&all);
    let tier = verdict_tier(&tiers);
    let chosen = &tiers[tier];
    let clusters: Vec<Cluster> = chosen.members.iter().map(|&i| all[i]).collect();
    let span_us = reqs
        .iter()
        .map(|r| r.start_us + u64::from(r.latency_us))
        .max()
        .unwrap_or(0) as i64
        + 1;
    let period = chosen.fit.as_ref().map(|f| f.period.clone());
    let spans: Vec<SpikeSpan> = clusters.iter().map(span_of).collect();
    let (cause, hits) = best_cause(&spans, events, run_start_ns, span_us);

    // The tail: inside the spikes, and inside the bursts (of any tier) each kind matched.
    let all_spans: Vec<SpikeSpan> = all.iter().map(span_of).collect();
    let kinds = matches_by_kind(&all_spans, events, run_start_ns, span_us);
    let mut in_tier = vec![false; all.len()];
    for &i in &chosen.members {
        in_tier[i] = true;
    }
    let mut masks = vec![in_tier];
    masks.extend(kinds.iter().map(|k| k.hits.clone()));
    let shares = tail::shares(reqs, &all, &masks, p99_us, p999_us);
    let explains = (!reqs.is_empty()).then(|| Explains {
        p99_ms: p99_us as f64 / 1000.0,
        p999_ms: p999_us as f64 / 1000.0,
        p99: shares[0].p99,
        p999: shares[0].p999,
    });
    let by_cause: Vec<CauseShare> = kinds
        .iter()
        .zip(&shares[1..])
        .map(|(k, s)| CauseShare {
            kind: k.kind,
            events: k.events,
            bursts: k.hits.iter().filter(|h| **h).count(),
            time_share: k.time_share,
            p99: s.p99,
            p999: s.p999,
        })
        .collect();

    let periodic = chosen.periodic();
    let caused = cause
        .as_ref()
        .is_some_and(|c| c.significant && c.matched_fraction >= MIN_MATCHED_FRACTION);
    let detected = clusters.len() >= MIN_SPIKES && (periodic || caused);
    let tiers: Vec<SeverityTier> = tiers.iter().map(tier_model).collect();
    let mut text = describe(
        clusters.len(),
        detected,
        periodic,
        &period,
        &cause,
        &explains,
    );
    if let Some(t) = tier_text(&tiers, tier, all.len()) {
        text.push_str(&format!(" ({t})"));
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
        bursts: all.len(),
        tiers,
        tier,
        period,
        cause,
        explains,
        by_cause,
        text,
        marks,
    }
}

/// Which tier the spikes come from, when not from all the bursts.
fn tier_text(tiers: &[SeverityTier], tier: usize, bursts: usize) -> Option<String> {
    let t = tiers.get(tier).filter(|_| tier > 0)?;
    let which = if tier + 1 == tiers.len() {
        "the most severe tier".to_string()
    } else {
        format!("severity tier {tier} of {}", tiers.len() - 1)
    };
    Some(format!(
        "{which}: the {} of {bursts} slow bursts peaking at least {:.1} ms above the \
         median; {} smaller set aside",
        t.count,
        t.min_excess_ms,
        bursts - t.count
    ))
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
