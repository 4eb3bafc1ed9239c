//! Latency spikes: robust outliers on the per-request series, clustered into slow bursts
//! ([`bursts`]); the bursts ranked by severity into nested tiers ([`severity`]), or, when no
//! tier keeps a period, the periodic train among them ([`train`]); the period of the chosen
//! ones by request index and by time ([`period`]); its match to server events
//! (tested in [`crate::cause`]); and how much of the tail the spikes, and each event kind,
//! explain ([`tail`]).

mod bursts;
mod period;
mod quiet;
mod scan;
mod severity;
mod steal;
mod tail;
mod timeline;
mod train;

use crate::cause::{SpikeSpan, best_cause, floor_caveat, fmt_p, matches_by_kind};
use crate::model::{
    Cause, CauseShare, Explains, Period, PeriodAxis, SeverityTier, SpikeMark, SpikeTrain, Spikes,
};
use bursts::{Cluster, cluster};
use satlab_record::ServerEvent;
use satlab_record::samples::SystemSample;
use severity::{Tier, tiers, verdict_tier};

pub use bursts::{BLOCK, LONE_SPIKE_RATIO, MIN_EXCESS_OF_MEDIAN, MIN_EXCESS_US, OUTLIER_K};
pub use period::{MIN_SPIKES, ON_PERIOD_TOLERANCE, PERIOD_MAX_CV};
pub(crate) use scan::{Series, SeriesScan};
pub use severity::{MAX_BREAKS, MIN_ON_PERIOD, SEVERITY_SPLIT_ETA, SEVERITY_SPLIT_RATIO};
pub use steal::{STEAL_BURST, STEAL_STANDS_OUT};
pub use timeline::{MAX_MARKS, TIMELINE_BUCKETS};
pub use train::{
    TRAIN_MAX_BURSTS, TRAIN_MAX_CHANCE, TRAIN_MAX_SKIP, TRAIN_MIN, TRAIN_MIN_FILL, TRAIN_MIN_SHARE,
    TRAIN_TOLERANCE,
};

/// Share of spikes matched to one event kind for it to be named as the cause.
pub const MIN_MATCHED_FRACTION: f64 = 0.5;

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

/// Spike analysis of a series scanned in start order, with the server's events and the
/// machine's samples (for the hypervisor's steal); `p99_us` must be the one the scan
/// collected its tail above.
pub(crate) fn analyse(
    series: &Series,
    events: &[ServerEvent],
    system: &[SystemSample],
    run_start_ns: u64,
    p99_us: u64,
    p999_us: u64,
) -> Spikes {
    let out = &series.outliers;
    let all = cluster(out);
    let tiers = tiers(&all);
    let tier = verdict_tier(&tiers);
    let (chosen, train) = if tiers[tier].periodic() {
        (tiers[tier].clone(), None)
    } else {
        periodic_train(&all, &tiers).unwrap_or_else(|| (tiers[tier].clone(), None))
    };
    let chosen = &chosen;
    let clusters: Vec<Cluster> = chosen.members.iter().map(|&i| all[i]).collect();
    let span_us = series.span_us;
    let period = chosen.fit.as_ref().map(|f| f.period.clone());
    let spans: Vec<SpikeSpan> = clusters.iter().map(span_of).collect();
    let (mut cause, hits) = best_cause(&spans, events, run_start_ns, span_us);

    // The tail: inside the spikes, and inside the bursts (of any tier) each kind matched.
    let all_spans: Vec<SpikeSpan> = all.iter().map(span_of).collect();
    let kinds = matches_by_kind(&all_spans, events, run_start_ns, span_us);

    // Spikes no server event explains and a burst of steal covers: the hypervisor's. The
    // cause's share is of the others.
    let steal = steal::StealBursts::from_samples(system, run_start_ns);
    let hypervisor: Vec<bool> = chosen
        .members
        .iter()
        .map(|&i| !kinds.iter().any(|k| k.hits[i]) && steal.covers(&all_spans[i]))
        .collect();
    let excused = hypervisor.iter().filter(|h| **h).count();
    if let Some(c) = cause.as_mut().filter(|_| excused > 0) {
        let rest = clusters.len() - excused;
        c.matched_fraction = if rest == 0 {
            0.0
        } else {
            c.matched as f64 / rest as f64
        };
    }
    let mut in_tier = vec![false; all.len()];
    for &i in &chosen.members {
        in_tier[i] = true;
    }
    let mut masks = vec![in_tier];
    masks.extend(kinds.iter().map(|k| k.hits.clone()));
    let shares = tail::shares(&series.tail, &all, &masks, p999_us);
    let explains = (series.requests > 0).then(|| Explains {
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
        excused,
        &explains,
    );
    if let Some(t) = &train {
        text.push_str(&format!(
            " (a periodic train among them: the {} of {} slow bursts that keep a period, \
             chance {} at random places; {} others set aside)",
            t.count,
            all.len(),
            if t.chance < 1e-12 {
                "below 1e-12".to_string()
            } else {
                format!("{:.0e}", t.chance)
            },
            all.len() - t.count
        ));
    } else if let Some(t) = tier_text(&tiers, tier, all.len()) {
        text.push_str(&format!(" ({t})"));
    }
    let marks = clusters
        .iter()
        .zip(hits.iter().zip(&hypervisor))
        .take(MAX_MARKS)
        .map(|(c, (&m, &h))| SpikeMark {
            t_s: c.start_us as f64 / 1e6,
            index: c.first as u64,
            peak_ms: f64::from(c.peak_us) / 1000.0,
            size: c.size,
            matched: m,
            hypervisor: h,
        })
        .collect();
    Spikes {
        detected,
        count: clusters.len(),
        hypervisor: excused,
        outliers: out.len() as u64,
        bursts: all.len(),
        tiers,
        tier,
        train,
        period,
        cause,
        explains,
        by_cause,
        text,
        marks,
    }
}

/// When no tier keeps a period: the periodic train of the most severe tier that has one, as
/// the tier the spikes come from, if it stands out from chance and its own gaps keep the
/// period.
fn periodic_train(all: &[Cluster], tiers: &[Tier]) -> Option<(Tier, Option<SpikeTrain>)> {
    let (t, fit) = tiers.iter().rev().find_map(|tier| {
        let searched: Vec<Cluster> = tier.members.iter().map(|&i| all[i]).collect();
        let mut t = train::train(&searched)?;
        t.members = t.members.iter().map(|&k| tier.members[k]).collect();
        let kept: Vec<Cluster> = t.members.iter().map(|&i| all[i]).collect();
        let fit = period::period(&kept).filter(|f| f.period.cv <= PERIOD_MAX_CV)?;
        Some((t, fit))
    })?;
    let kept: Vec<Cluster> = t.members.iter().map(|&i| all[i]).collect();
    let model = SpikeTrain {
        count: t.members.len(),
        chance: t.chance,
    };
    let tier = Tier {
        min_excess_us: kept.iter().map(|c| c.excess_us).min().unwrap_or(0),
        fit: Some(fit),
        members: t.members,
    };
    Some((tier, Some(model)))
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
    hypervisor: usize,
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
    if hypervisor > 0 {
        parts.push(format!(
            "{hypervisor} coincide with a burst of the hypervisor's CPU steal and no server event: the machine's{}",
            if cause.is_some() { ", left out of that share" } else { "" }
        ));
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
