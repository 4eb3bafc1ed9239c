//! A periodic train among unrelated slow bursts.
//!
//! On a machine whose other load (a neighbour's CPU, the hypervisor taking the vCPU away)
//! adds slow bursts at odd times, as severe as a periodic cause's, no severity tier keeps a
//! period: every unrelated burst cuts a gap in two. The periodic bursts still sit on a comb.
//! The train is the longest chain of bursts whose gaps are each a whole number of one
//! period (one missed burst allowed), on request index or time, read at the burst's onset
//! or its release. It is found from the bursts' positions alone, so the cause test run on
//! it afterwards stays one test, and it is taken only when bursts at random positions, as
//! dense as these, would make so long a chain for any of the periods tried less often than
//! [`TRAIN_MAX_CHANCE`], and it holds at least [`TRAIN_MIN_SHARE`] of them.

use super::bursts::Cluster;

/// A gap is on the period when within this share of a period of a whole number of periods:
/// a counter's release and a clock's onset keep within a few percent.
pub const TRAIN_TOLERANCE: f64 = 0.1;
/// Consecutive members of a train are at most this many periods apart (one burst missed).
pub const TRAIN_MAX_SKIP: f64 = 2.0;
/// Least share of its comb's places a train fills: a few missed bursts are allowed, while a
/// chain at half the true period (every other place empty, bursts near the midpoints
/// filling a few) is not a train at that period.
pub const TRAIN_MIN_FILL: f64 = 0.75;
/// Fewest bursts in a train.
pub const TRAIN_MIN: usize = 8;
/// Least share of the bursts searched that a train must hold: a periodic cause among noise
/// of its own order is what the train is for, while a thin regular thread through hundreds
/// of bursts is the machine's own rhythm (timer ticks, retries), not a cause to name.
pub const TRAIN_MIN_SHARE: f64 = 1.0 / 3.0;
/// Largest chance (over every period tried) that bursts at random positions make a chain
/// as long: the train must be far beyond what noise makes.
pub const TRAIN_MAX_CHANCE: f64 = 1e-4;
/// Bursts beyond which no train is looked for: the search is quadratic, and a run with
/// thousands of slow bursts has a worse problem than a periodic one.
pub const TRAIN_MAX_BURSTS: usize = 1024;
/// Candidate periods: the gaps from each burst to its next few on the axis.
const NEIGHBOURS: usize = 3;

/// A train: its bursts and the chance noise would make one as long.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Train {
    /// Indices into the bursts, in position order.
    pub members: Vec<usize>,
    /// Bonferroni-bounded chance of so long a chain from bursts at random positions.
    pub chance: f64,
}

/// The six readings of a burst's position: onset, release and silence (see `period`), in
/// requests and in time.
const ANCHORS: [fn(&Cluster) -> f64; 6] = [
    |c| c.first as f64,
    |c| c.release_index as f64,
    |c| c.quiet.index as f64,
    |c| c.start_us as f64,
    |c| c.peak_end_us as f64,
    |c| c.quiet.at_us as f64,
];

/// The longest chain of `xs` (sorted ascending) with every gap within
/// [`TRAIN_TOLERANCE`] of 1..=[`TRAIN_MAX_SKIP`] periods `p`, and of the longest the one
/// whose gaps sit closest to whole periods (so a burst near the period's place does not
/// stand in for the periodic one): its positions in `xs`.
fn chain(xs: &[f64], p: f64) -> Vec<usize> {
    let tol = TRAIN_TOLERANCE * p;
    // (length, summed squared deviation in periods) of the best chain ending at each burst.
    let mut best = vec![(1usize, 0.0f64); xs.len()];
    let mut prev = vec![usize::MAX; xs.len()];
    let better = |a: (usize, f64), b: (usize, f64)| a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
    for j in 0..xs.len() {
        let lo = xs[j] - TRAIN_MAX_SKIP * p - tol;
        let hi = xs[j] - p + tol;
        let mut i = xs.partition_point(|&x| x < lo);
        while i < j && xs[i] <= hi {
            let k = ((xs[j] - xs[i]) / p).round();
            let dev = xs[j] - xs[i] - k * p;
            let cand = (best[i].0 + 1, best[i].1 + (dev / p).powi(2));
            if (1.0..=TRAIN_MAX_SKIP).contains(&k) && dev.abs() <= tol && better(cand, best[j]) {
                best[j] = cand;
                prev[j] = i;
            }
            i += 1;
        }
    }
    let Some(mut j) = (0..xs.len()).reduce(|a, b| if better(best[b], best[a]) { b } else { a })
    else {
        return Vec::new();
    };
    let mut out = vec![j];
    while prev[j] != usize::MAX {
        j = prev[j];
        out.push(j);
    }
    out.reverse();
    out
}

/// P(Binomial(n, q) ≥ k).
fn binomial_tail(n: usize, k: usize, q: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return 1.0;
    }
    // ln of the k-th term, then the rest by the terms' ratio.
    let ln_choose: f64 = (0..k).map(|i| ((n - i) as f64 / (k - i) as f64).ln()).sum();
    let mut term = (ln_choose + k as f64 * q.ln() + (n - k) as f64 * (1.0 - q).ln()).exp();
    let mut sum = 0.0;
    for h in k..=n {
        sum += term;
        term *= (n - h) as f64 / (h + 1) as f64 * q / (1.0 - q);
    }
    sum.min(1.0)
}

/// The train of `clusters` (in position order), when one stands out from chance.
pub(crate) fn train(clusters: &[Cluster]) -> Option<Train> {
    let n = clusters.len();
    if !(TRAIN_MIN..=TRAIN_MAX_BURSTS).contains(&n) {
        return None;
    }
    let least = TRAIN_MIN.max((TRAIN_MIN_SHARE * n as f64).ceil() as usize);
    // (members in position order, chain length, slots, q) for every period tried.
    let mut tried = 0usize;
    let mut found: Vec<(Vec<usize>, usize, usize, f64)> = Vec::new();
    for anchor in ANCHORS {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| anchor(&clusters[a]).total_cmp(&anchor(&clusters[b])));
        let xs: Vec<f64> = order.iter().map(|&i| anchor(&clusters[i])).collect();
        let span = xs[n - 1] - xs[0];
        if span <= 0.0 {
            continue;
        }
        let density = (n - 1) as f64 / span;
        let mut periods: Vec<f64> = (0..n)
            .flat_map(|i| (i + 1..n.min(i + 1 + NEIGHBOURS)).map(move |j| (i, j)))
            .map(|(i, j)| xs[j] - xs[i])
            .filter(|&p| p > 0.0)
            .collect();
        periods.sort_by(f64::total_cmp);
        periods.dedup_by(|a, b| *a - *b <= 1e-3 * *b);
        for p in periods {
            tried += 1;
            let c = chain(&xs, p);
            if c.len() < least {
                continue;
            }
            let slots = ((xs[c[c.len() - 1]] - xs[c[0]]) / p).round() as usize + 1;
            if (c.len() as f64) < TRAIN_MIN_FILL * slots as f64 {
                continue;
            }
            let q = 1.0 - (-density * 2.0 * TRAIN_TOLERANCE * p).exp();
            let mut members: Vec<usize> = c.iter().map(|&k| order[k]).collect();
            members.sort_unstable();
            found.push((members, c.len(), slots, q));
        }
    }
    found
        .into_iter()
        .map(|(members, len, slots, q)| {
            // The first member is free; each later slot holds a burst by chance with q.
            let chance =
                (binomial_tail(slots.saturating_sub(1), len - 1, q) * tried as f64).min(1.0);
            Train { members, chance }
        })
        .filter(|t| t.chance <= TRAIN_MAX_CHANCE)
        .max_by(|a, b| {
            a.members
                .len()
                .cmp(&b.members.len())
                .then(b.chance.total_cmp(&a.chance))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::rng::SplitMix64;

    fn burst(first: usize, t_s: f64) -> Cluster {
        Cluster::test_burst(first, t_s, 40)
    }

    /// A recycle every 1,000 requests at ~2,000 req/s for 24 periods, its onset wandering
    /// by up to ±40 requests, among `noise` bursts at random places, sorted by position.
    fn recycles_among(noise: usize, seed: u64) -> (Vec<Cluster>, Vec<usize>) {
        let mut rng = SplitMix64::new(seed);
        let mut v: Vec<(Cluster, bool)> = (1..=24usize)
            .map(|i| {
                let first = i * 1000 + rng.below(80) as usize - 40;
                (burst(first, first as f64 / 2000.0), true)
            })
            .collect();
        v.extend((0..noise).map(|_| {
            let first = 500 + rng.below(24_000) as usize;
            (burst(first, first as f64 / 2000.0), false)
        }));
        v.sort_by_key(|(c, _)| c.first);
        let periodic = (0..v.len()).filter(|&i| v[i].1).collect();
        (v.into_iter().map(|(c, _)| c).collect(), periodic)
    }

    #[test]
    fn a_counter_train_is_found_among_as_many_unrelated_bursts() {
        for seed in 1..=20 {
            let (v, periodic) = recycles_among(20, seed);
            let t = train(&v).unwrap_or_else(|| panic!("seed {seed}: no train"));
            let missed = periodic.iter().filter(|i| !t.members.contains(i)).count();
            let intruders = t.members.iter().filter(|i| !periodic.contains(i)).count();
            // A random burst a few requests from a periodic one may stand in for it.
            assert!(missed <= 2, "seed {seed}: {missed} missed, {t:?}");
            assert!(intruders <= 2, "seed {seed}: {intruders} intruders, {t:?}");
        }
    }

    #[test]
    fn a_thin_train_through_many_bursts_is_not_taken() {
        let (v, _) = recycles_among(60, 3);
        assert_eq!(train(&v), None, "24 of 84 bursts");
        let (v, _) = recycles_among(44, 3);
        assert!(train(&v).is_some(), "24 of 68 bursts");
    }

    #[test]
    fn bursts_at_random_places_make_no_train() {
        let mut rng = SplitMix64::new(7);
        for round in 0..50 {
            let n = 10 + rng.below(60) as usize;
            let mut firsts: Vec<usize> = (0..n).map(|_| rng.below(30_000) as usize).collect();
            firsts.sort_unstable();
            let v: Vec<Cluster> = firsts
                .iter()
                .map(|&f| burst(f, f as f64 / 2000.0 + rng.below(1000) as f64 / 1e4))
                .collect();
            assert_eq!(train(&v), None, "round {round}: {n} random bursts");
        }
    }

    #[test]
    fn too_few_bursts_or_no_span_make_no_train() {
        let v: Vec<Cluster> = (0..TRAIN_MIN - 1)
            .map(|i| burst(i * 1000, i as f64))
            .collect();
        assert_eq!(train(&v), None);
        let same: Vec<Cluster> = (0..20).map(|_| burst(5, 1.0)).collect();
        assert_eq!(train(&same), None);
    }

    #[test]
    fn the_binomial_tail_is_exact_on_small_cases() {
        assert!((binomial_tail(3, 2, 0.5) - 0.5).abs() < 1e-12);
        assert!((binomial_tail(4, 4, 0.5) - 0.0625).abs() < 1e-12);
        assert_eq!(binomial_tail(4, 0, 0.3), 1.0);
        assert_eq!(binomial_tail(4, 5, 0.3), 0.0);
        assert!((binomial_tail(10, 1, 0.1) - (1.0 - 0.9f64.powi(10))).abs() < 1e-12);
    }
}
