//! Slow bursts by severity: ranked by how far their slowest request stood above the local
//! median, cut into nested tiers at natural breaks, and the tier the spike verdict is drawn
//! from.
//!
//! Near saturation a server has many small slow bursts of its own; a periodic cause (a CPU
//! burst every 2 s that halves the server's capacity) may make fewer bursts, but the worst
//! latencies. Counting all bursts as equals buries the periodic ones, so the bursts are cut
//! where their peaks form two clearly separate populations, again inside the upper one, and
//! so on: tier 0 holds every burst, each further tier only the bursts above the next break.
//! The peak, rather than the latency-time a burst adds, is the weight: a pause holds every
//! request for about its length, while a slow stretch of the queue adds as much time over
//! many requests without making any of them much worse.
//!
//! The tier the spikes are drawn from is chosen from the bursts alone (their severity and
//! their period), never from the server events, so the cause test run on it afterwards is
//! one test and its p-value needs no correction for the tiers looked at.

use super::bursts::Cluster;
use super::period::{Fit, MIN_SPIKES, PERIOD_MAX_CV, period};

/// Two populations of slow bursts are split (Otsu on log peak excess) when the upper one's
/// typical peak is at least this many times the lower one's: e.g. 40 ms pauses above 3 ms
/// scheduling hiccups.
pub const SEVERITY_SPLIT_RATIO: f64 = 3.0;
/// ...and the split explains at least this share of the variance of log peak excess
/// (clearly bimodal, not one smooth spread).
pub const SEVERITY_SPLIT_ETA: f64 = 0.6;
/// Most nested breaks: each needs two populations ≥ 3× apart with ≥ 5 bursts above, so a
/// run rarely has more than two; three bound the work on pathological runs.
pub const MAX_BREAKS: usize = 3;
/// A periodic tier is taken whole when at least this share of its gaps are on its period:
/// each unrelated burst inside a periodic train cuts one gap into two off the period, so
/// 90% keeps unrelated bursts to about 5% of the spikes.
pub const MIN_ON_PERIOD: f64 = 0.9;

/// The bursts above one break.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tier {
    /// Indices into the bursts, in position order.
    pub members: Vec<usize>,
    /// Peak excess of its least severe burst, µs.
    pub min_excess_us: u64,
    /// Their period, when there are enough of them.
    pub fit: Option<Fit>,
}

impl Tier {
    /// Periodic: the gaps' robust CV is within [`PERIOD_MAX_CV`].
    pub fn periodic(&self) -> bool {
        self.fit
            .as_ref()
            .is_some_and(|f| f.period.cv <= PERIOD_MAX_CV)
    }

    /// Periodic with nearly every gap on the period: no unrelated bursts mixed in.
    pub fn on_period(&self) -> bool {
        self.periodic()
            && self
                .fit
                .as_ref()
                .is_some_and(|f| f.on_period >= MIN_ON_PERIOD)
    }
}

/// The break in `v` (sorted ascending) when its values form two clearly separate
/// populations (by Otsu's criterion) with at least [`MIN_SPIKES`] above it: the size of the
/// lower one.
fn split(v: &[f64]) -> Option<usize> {
    if v.len() <= MIN_SPIKES {
        return None;
    }
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
    if between / var_total < SEVERITY_SPLIT_ETA || m1 - m0 < SEVERITY_SPLIT_RATIO.log10() {
        return None;
    }
    // Otsu's cut leans toward the larger class; the break itself is the widest gap between
    // the two classes' means (the valley).
    let valley = (1..v.len())
        .filter(|&j| v[j - 1] >= m0 && v[j] <= m1)
        .max_by(|&a, &b| {
            (v[a] - v[a - 1])
                .total_cmp(&(v[b] - v[b - 1]))
                .then(b.cmp(&a))
        });
    let k = valley.unwrap_or(k);
    (v.len() - k >= MIN_SPIKES).then_some(k)
}

/// The nested tiers of `clusters` (in position order): tier 0 holds them all, each next
/// one the bursts above the next natural break of peak excess.
pub(crate) fn tiers(clusters: &[Cluster]) -> Vec<Tier> {
    // Least severe first; ties by position, so the ranking is deterministic.
    let mut rank: Vec<usize> = (0..clusters.len()).collect();
    rank.sort_by_key(|&i| (clusters[i].excess_us, i));
    let log: Vec<f64> = rank
        .iter()
        .map(|&i| (clusters[i].excess_us.max(1) as f64).log10())
        .collect();
    let tier = |from: usize| {
        let mut members = rank[from..].to_vec();
        members.sort_unstable();
        let kept: Vec<Cluster> = members.iter().map(|&i| clusters[i]).collect();
        Tier {
            min_excess_us: rank.get(from).map_or(0, |&i| clusters[i].excess_us),
            fit: period(&kept),
            members,
        }
    };
    let mut out = vec![tier(0)];
    let mut from = 0;
    while out.len() <= MAX_BREAKS {
        let Some(k) = split(&log[from..]) else { break };
        from += k;
        out.push(tier(from));
    }
    out
}

/// The tier the spikes are drawn from: the largest whose bursts keep to their period (the
/// periodic cause with all its bursts, the unrelated ones left out); else the most severe
/// periodic one; else the bursts above the first break (the major ones), or all.
pub(crate) fn verdict_tier(tiers: &[Tier]) -> usize {
    tiers
        .iter()
        .position(Tier::on_period)
        .or_else(|| tiers.iter().rposition(Tier::periodic))
        .unwrap_or(usize::from(tiers.len() > 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(first: usize, t_s: f64, excess_ms: u64) -> Cluster {
        Cluster::test_burst(first, t_s, excess_ms)
    }

    /// Sorted by position, as the detector gives them.
    fn by_position(mut v: Vec<Cluster>) -> Vec<Cluster> {
        v.sort_by_key(|c| c.start_us);
        v
    }

    #[test]
    fn two_populations_of_bursts_are_split() {
        let v: Vec<f64> = (0..40)
            .map(|i| 2000.0 + f64::from(i) * 100.0)
            .chain((0..10).map(|i| 40_000.0 + f64::from(i) * 500.0))
            .map(f64::log10)
            .collect();
        assert_eq!(split(&v), Some(40));
        // One smooth population is left alone.
        let one: Vec<f64> = (0..50)
            .map(|i| (2000.0 + f64::from(i) * 150.0).log10())
            .collect();
        assert_eq!(split(&one), None);
        // Too few above the break for a period.
        assert_eq!(split(&v[..44]), None);
    }

    #[test]
    fn severe_periodic_bursts_are_found_among_more_numerous_small_ones() {
        // 15 bursts every 2 s peaking 60–74 ms above the median, and 45 unrelated ones
        // peaking 8–17 ms above it at odd times.
        let mut v: Vec<Cluster> = (0..15)
            .map(|i| burst(i * 1200, 1.0 + 2.0 * i as f64, 60 + i as u64))
            .collect();
        v.extend((0..45).map(|i| {
            let t = 0.3 + 0.667 * i as f64 + 0.1 * ((i * 7) % 5) as f64;
            burst((t * 600.0) as usize, t, 8 + (i as u64 % 10))
        }));
        let v = by_position(v);
        let t = tiers(&v);
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0].members.len(), 60);
        assert!(!t[0].periodic(), "{:?}", t[0].fit);
        assert_eq!(t[1].members.len(), 15);
        assert_eq!(t[1].min_excess_us, 60_000);
        assert!(t[1].on_period(), "{:?}", t[1].fit);
        assert_eq!(verdict_tier(&t), 1);
        let p = &t[1].fit.as_ref().unwrap().period;
        assert!((p.seconds - 2.0).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn a_periodic_cause_whose_bursts_grow_with_load_is_taken_whole() {
        // A pause every 1,000 requests over three load steps: each step's requests queue
        // longer behind it, so the bursts break by step, yet the whole train keeps its period.
        let mut v: Vec<Cluster> = (0..30)
            .map(|i| burst(i * 1000, 0.1 * i as f64, [8, 30, 120][i / 10]))
            .collect();
        // Scheduling hiccups far below them.
        v.extend((0..30).map(|i| burst(i * 1000 + 370, 0.1 * i as f64 + 0.037, 1)));
        let v = by_position(v);
        let t = tiers(&v);
        let sizes: Vec<usize> = t.iter().map(|t| t.members.len()).collect();
        assert_eq!(sizes, vec![60, 30, 10]);
        // The last step's pauses alone keep the period too, yet they are a third of them.
        assert!(t[2].on_period(), "{t:?}");
        assert_eq!(verdict_tier(&t), 1);
    }

    #[test]
    fn without_a_period_the_bursts_above_the_first_break_are_the_spikes() {
        let v: Vec<Cluster> = (0..20)
            .map(|i| {
                let t = (i * i) as f64 * 0.05;
                burst((t * 1000.0) as usize, t, if i % 3 == 0 { 50 } else { 5 })
            })
            .collect();
        let t = tiers(&v);
        assert_eq!(t.len(), 2, "{t:?}");
        assert!(!t[1].periodic());
        assert_eq!(verdict_tier(&t), 1);
        assert_eq!(verdict_tier(&tiers(&v[..3])), 0);
        assert_eq!(verdict_tier(&tiers(&[])), 0);
    }
}
