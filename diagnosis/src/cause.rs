//! Which server events the spikes follow, and how sure that is: a circular-shift
//! permutation test of spike/event alignment that stays informative for strictly periodic
//! events.
//!
//! The plain test shifts the event train by a random offset around the run and asks how
//! often the shifted events sit as close to the spikes as the real ones. For a strictly
//! periodic train (a cron every 2 s, a pause every N requests under steady load) every
//! offset near a whole number of periods re-aligns the train with itself, so p can never
//! fall much below (alignment × 2) / period, whatever the data: about 0.01 for a 2 s cron.
//!
//! So the null here leaves those re-alignments out. A shift whose events land, for the most
//! part (the median of their distances: the events a circular shift wraps around the run's
//! end land off the period), within twice the spikes' mean distance of the original events
//! reproduces the observed
//! configuration up to the precision the spikes show (no shift further out can do as well:
//! Σ|dᵢ − δ| ≥ n·|δ| − Σ|dᵢ|), so it cannot tell a cause from a coincidence of period and
//! phase. What remains tests the consistency of the lag between events and spikes. The share
//! of shifts left out is the test's floor for the run: the chance that an unrelated process
//! with the events' period would line up as well. It is reported, and said in words when it
//! is above the significance level, so a strictly periodic cause is shown at p < 0.01 when
//! the lags are consistent, with the caveat stated plainly.

use crate::intervals::Intervals;
use crate::model::Cause;
use satlab_common::rng::SplitMix64;
use satlab_record::{EventKind, ServerEvent};

/// A spike and a server event match when their intervals come within this, µs. Clocks are
/// the same machine's wall clock; 10 ms covers scheduling delay between the two processes
/// while staying short next to typical spike periods (≥ 100 ms).
pub const MATCH_WINDOW_US: i64 = 10_000;
/// Cap on the distance between a spike's end and the nearest event's end in the permutation
/// statistic, µs: beyond a second, "far" is far enough.
pub const MAX_ANCHOR_DISTANCE_US: i64 = 1_000_000;
/// Circular shifts in the permutation test: 999 allows p down to 0.001.
pub const PERMUTATIONS: usize = 999;
/// Fewest shifts that must stay in the null after re-alignments are left out; with fewer,
/// the events re-align with themselves at almost every offset and the test cannot speak.
pub const MIN_NULL_SHIFTS: usize = 200;
/// Fixed seed: the diagnosis is a deterministic function of the run directory.
pub const SEED: u64 = 0x5A71_AB5E_ED00_0001;
/// p-value below which a match to events is significant.
pub const SIGNIFICANCE: f64 = 0.01;

/// One spike on the run's time axis, µs since the run start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeSpan {
    /// First slow request's start.
    pub start_us: u64,
    /// Last slow request's completion.
    pub end_us: u64,
    /// When the slowest request completed: where a stall or a burst lets go of the work it
    /// held (later completions are the queue draining, whose length depends on load).
    pub anchor_us: u64,
}

/// Events of one kind on the run's time axis (µs since the run start), sorted.
#[derive(Debug, Clone, Default)]
struct EventTimes {
    start: Vec<i64>,
    dur: Vec<i64>,
    /// Event ends (start + duration), sorted.
    ends: Vec<i64>,
}

impl EventTimes {
    fn new(mut ev: Vec<(i64, i64)>) -> Self {
        ev.sort_unstable();
        let mut ends: Vec<i64> = ev.iter().map(|e| e.0 + e.1).collect();
        ends.sort_unstable();
        EventTimes {
            start: ev.iter().map(|e| e.0).collect(),
            dur: ev.iter().map(|e| e.1).collect(),
            ends,
        }
    }

    fn max_dur(&self) -> i64 {
        self.dur.iter().copied().max().unwrap_or(0)
    }

    /// Which spikes have an event within the window, and how many events hit a spike.
    fn matches(&self, spikes: &[SpikeSpan]) -> (Vec<bool>, usize) {
        let max_dur = self.max_dur();
        let mut ev_hit = vec![false; self.start.len()];
        let hits = spikes
            .iter()
            .map(|c| {
                let lo = c.start_us as i64 - MATCH_WINDOW_US;
                let hi = c.end_us as i64 + MATCH_WINDOW_US;
                let mut k = self.start.partition_point(|&s| s <= hi);
                let mut hit = false;
                while k > 0 {
                    k -= 1;
                    if self.start[k] + max_dur < lo {
                        break;
                    }
                    if self.start[k] + self.dur[k] >= lo {
                        hit = true;
                        ev_hit[k] = true;
                    }
                }
                hit
            })
            .collect();
        (hits, ev_hit.iter().filter(|h| **h).count())
    }

    /// The statistic: summed distance from each spike's anchor to the nearest event end,
    /// capped. Lower is closer.
    fn distance(&self, spikes: &[SpikeSpan]) -> i64 {
        spikes
            .iter()
            .map(|c| nearest(&self.ends, c.anchor_us as i64))
            .sum()
    }

    /// Median distance from each of `self`'s event ends to the nearest of `other`'s, capped:
    /// how closely a shifted train re-aligns with the original one. The median, not the
    /// mean: a circular shift wraps the events past the run's end around to its start, off
    /// the period by the run's length modulo it, and those few would make a shift that
    /// re-aligns every other event look far; the spikes' statistic, which takes each
    /// spike's nearest event, is not moved by them. Both are sorted, so one merge walk
    /// does it; `scratch` holds the distances.
    fn self_alignment(&self, other: &EventTimes, scratch: &mut Vec<i64>) -> f64 {
        if self.ends.is_empty() || other.ends.is_empty() {
            return MAX_ANCHOR_DISTANCE_US as f64;
        }
        scratch.clear();
        let mut k = 0usize;
        for &e in &self.ends {
            while k < other.ends.len() && other.ends[k] < e {
                k += 1;
            }
            let mut d = MAX_ANCHOR_DISTANCE_US;
            if k < other.ends.len() {
                d = d.min(other.ends[k] - e);
            }
            if k > 0 {
                d = d.min(e - other.ends[k - 1]);
            }
            scratch.push(d);
        }
        let mid = (scratch.len() - 1) / 2;
        let (_, m, _) = scratch.select_nth_unstable(mid);
        *m as f64
    }

    /// The events shifted by `delta` around a circle of length `span` (sorted order is a
    /// rotation, so no sort is needed).
    fn shifted(&self, delta: i64, span: i64, out: &mut EventTimes) {
        fn rotate(src: &[i64], delta: i64, span: i64, out: &mut Vec<i64>) -> usize {
            out.clear();
            let cut = src.partition_point(|&s| s + delta < span);
            out.extend(src[cut..].iter().map(|s| s + delta - span));
            out.extend(src[..cut].iter().map(|s| s + delta));
            cut
        }
        let cut = rotate(&self.start, delta, span, &mut out.start);
        out.dur.clear();
        out.dur.extend_from_slice(&self.dur[cut..]);
        out.dur.extend_from_slice(&self.dur[..cut]);
        rotate(&self.ends, delta, span, &mut out.ends);
    }
}

/// Distance from `a` to the nearest value of the sorted `xs`, capped.
fn nearest(xs: &[i64], a: i64) -> i64 {
    let k = xs.partition_point(|&e| e < a);
    let mut d = MAX_ANCHOR_DISTANCE_US;
    if k < xs.len() {
        d = d.min(xs[k] - a);
    }
    if k > 0 {
        d = d.min(a - xs[k - 1]);
    }
    d
}

/// The outcome of the permutation test for one event kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftTest {
    /// p-value among the shifts that do not re-align the events with themselves.
    pub p_value: f64,
    /// The plain circular-shift p-value (every shift in the null).
    pub p_all_shifts: f64,
    /// Share of shifts left out as re-alignments: the test's floor for this run.
    pub floor: f64,
    /// Shifts kept in the null.
    pub null_shifts: usize,
}

/// Run the permutation test of `spikes` against `times` over a run of `span_us`.
fn shift_test(times: &EventTimes, spikes: &[SpikeSpan], span_us: i64) -> ShiftTest {
    let observed = times.distance(spikes);
    let mean_distance = observed as f64 / spikes.len().max(1) as f64;
    let realigned_within = 2.0 * mean_distance;
    let mut rng = SplitMix64::new(SEED);
    let mut shifted = EventTimes::default();
    let mut scratch = Vec::with_capacity(times.ends.len());
    let (mut kept, mut kept_as_close, mut all_as_close) = (0usize, 0usize, 0usize);
    for _ in 0..PERMUTATIONS {
        let delta = rng.below(span_us.max(1) as u64) as i64;
        times.shifted(delta, span_us, &mut shifted);
        let as_close = shifted.distance(spikes) <= observed;
        all_as_close += usize::from(as_close);
        if shifted.self_alignment(times, &mut scratch) > realigned_within {
            kept += 1;
            kept_as_close += usize::from(as_close);
        }
    }
    let p_all_shifts = (1 + all_as_close) as f64 / (1 + PERMUTATIONS) as f64;
    let floor = (PERMUTATIONS - kept) as f64 / PERMUTATIONS as f64;
    if kept >= MIN_NULL_SHIFTS {
        ShiftTest {
            p_value: (1 + kept_as_close) as f64 / (1 + kept) as f64,
            p_all_shifts,
            floor,
            null_shifts: kept,
        }
    } else {
        // Spikes this far from the events re-align with almost any shift: leaving those
        // out would leave no null. The plain test speaks (and says "not significant").
        ShiftTest {
            p_value: p_all_shifts,
            p_all_shifts,
            floor,
            null_shifts: PERMUTATIONS,
        }
    }
}

/// The events of `kind` inside the run (µs since its start, below `span_us`), or `None`
/// when it has none.
fn kind_times(
    events: &[ServerEvent],
    kind: EventKind,
    run_start_ns: u64,
    span_us: i64,
) -> Option<EventTimes> {
    let ev: Vec<(i64, i64)> = events
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| {
            let s = (e.start_unix_ns as i128 - run_start_ns as i128) / 1000;
            (s as i64, (e.duration_ns / 1000) as i64)
        })
        .filter(|(s, _)| *s >= 0 && *s < span_us)
        .collect();
    (!ev.is_empty()).then(|| EventTimes::new(ev))
}

/// The spikes one event kind matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KindMatch {
    /// The event kind.
    pub kind: EventKind,
    /// Its events in the run.
    pub events: usize,
    /// For each spike, whether such an event is within [`MATCH_WINDOW_US`].
    pub hits: Vec<bool>,
    /// Share of the run's time within [`MATCH_WINDOW_US`] of such an event: about the share
    /// of anything, the tail included, that an unrelated kind would match by chance.
    pub time_share: f64,
}

/// For each event kind with events in the run: how many, which of `spikes` have one within
/// the match window, and how much of the run that window covers.
pub(crate) fn matches_by_kind(
    spikes: &[SpikeSpan],
    events: &[ServerEvent],
    run_start_ns: u64,
    span_us: i64,
) -> Vec<KindMatch> {
    EventKind::present(events)
        .into_iter()
        .filter_map(|kind| {
            let times = kind_times(events, kind, run_start_ns, span_us)?;
            let windows = Intervals::union(times.start.iter().zip(&times.dur).map(|(&s, &d)| {
                let lo = (s - MATCH_WINDOW_US).clamp(0, span_us);
                let hi = (s + d + MATCH_WINDOW_US).clamp(0, span_us);
                (lo as u64, hi as u64)
            }));
            Some(KindMatch {
                kind,
                events: times.start.len(),
                hits: times.matches(spikes).0,
                time_share: windows.total() as f64 / span_us.max(1) as f64,
            })
        })
        .collect()
}

/// The event kind the spikes coincide with best, with its test, and which spikes matched.
pub(crate) fn best_cause(
    spikes: &[SpikeSpan],
    events: &[ServerEvent],
    run_start_ns: u64,
    span_us: i64,
) -> (Option<Cause>, Vec<bool>) {
    let mut best: Option<(Cause, Vec<bool>)> = None;
    for kind in EventKind::present(events) {
        if spikes.is_empty() {
            break;
        }
        let Some(times) = kind_times(events, kind, run_start_ns, span_us) else {
            continue;
        };
        let (hits, ev_matched) = times.matches(spikes);
        let observed = hits.iter().filter(|h| **h).count();
        let test = shift_test(&times, spikes, span_us);
        let cause = Cause {
            kind,
            matched_fraction: observed as f64 / spikes.len() as f64,
            matched: observed,
            events: times.start.len(),
            events_matched_fraction: ev_matched as f64 / times.start.len() as f64,
            p_value: test.p_value,
            significant: test.p_value < SIGNIFICANCE && observed > 0,
            p_all_shifts: test.p_all_shifts,
            p_floor: test.floor,
            null_shifts: test.null_shifts,
        };
        let better = match &best {
            None => true,
            Some((b, _)) => {
                (cause.significant, cause.matched_fraction, -cause.p_value)
                    > (b.significant, b.matched_fraction, -b.p_value)
            }
        };
        if better {
            best = Some((cause, hits));
        }
    }
    match best {
        Some((c, h)) => (Some(c), h),
        None => (None, vec![false; spikes.len()]),
    }
}

/// `p < 0.002` (at the smallest value the test's null allows) or `p = 0.012`.
pub fn fmt_p(p: f64, null_shifts: usize) -> String {
    let least = 1.0 / (1 + null_shifts.max(1)) as f64;
    if p <= least {
        format!("p < {:.3}", 2.0 * least)
    } else {
        format!("p = {p:.3}")
    }
}

/// What to say about the test's floor, when it matters: a cause shown although the events
/// are regular enough to re-align with themselves, or a match the run cannot show for
/// that reason.
pub fn floor_caveat(c: &Cause) -> Option<String> {
    if c.p_floor < SIGNIFICANCE {
        return None;
    }
    let share = c.p_floor * 100.0;
    if c.significant {
        Some(format!(
            "the events are regular: an unrelated process with their period could line up as \
             well up to {share:.0}% of the time, so the test leaves those re-alignments out and \
             tests the lag's consistency"
        ))
    } else if c.matched_fraction >= 0.5 {
        Some(format!(
            "the events are too regular for this run to tell a cause from a coincidence of \
             period and phase (an unrelated process with their period could line up as well up \
             to {share:.0}% of the time)"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train(starts: impl IntoIterator<Item = i64>, dur: i64) -> EventTimes {
        EventTimes::new(starts.into_iter().map(|s| (s, dur)).collect())
    }

    #[test]
    fn circular_shift_keeps_order() {
        let t = train([100, 500, 900], 10);
        let mut out = EventTimes::default();
        t.shifted(200, 1000, &mut out);
        assert_eq!(out.start, vec![100, 300, 700]);
        assert_eq!(out.ends, vec![110, 310, 710]);
        assert_eq!(out.dur, vec![10, 10, 10]);
    }

    #[test]
    fn self_alignment_of_a_periodic_train() {
        let t = train((0..10).map(|i| i * 1000), 0);
        let mut out = EventTimes::default();
        let mut scratch = Vec::new();
        t.shifted(2000, 10_000, &mut out);
        assert_eq!(out.self_alignment(&t, &mut scratch), 0.0);
        t.shifted(2030, 10_000, &mut out);
        assert!((out.self_alignment(&t, &mut scratch) - 30.0).abs() < 1e-9);
        t.shifted(2500, 10_000, &mut out);
        assert!((out.self_alignment(&t, &mut scratch) - 500.0).abs() < 1e-9);
        // A run whose length is no whole number of periods: the events that wrap around
        // land off the period, yet a shift by whole periods still re-aligns the rest.
        t.shifted(2000, 10_300, &mut out);
        assert_eq!(out.self_alignment(&t, &mut scratch), 0.0);
    }

    const RUN_START_NS: u64 = 1_700_000_000_000_000_000;
    const SPAN_US: i64 = 120_000_000;
    const BURST_US: i64 = 300_000;

    /// CPU bursts of 300 ms starting at `starts` (µs since the run start).
    fn bursts(starts: &[i64]) -> Vec<ServerEvent> {
        starts
            .iter()
            .enumerate()
            .map(|(i, &s)| ServerEvent {
                kind: EventKind::CpuBurst,
                seq: i as u64 + 1,
                start_unix_ns: RUN_START_NS + s as u64 * 1000,
                duration_ns: BURST_US as u64 * 1000,
                request_index: None,
                service: "target-api".into(),
                attributes: Default::default(),
            })
            .collect()
    }

    /// A spike whose slowest request completes at `anchor` and which began 300 ms before.
    fn spike(anchor: i64) -> SpikeSpan {
        SpikeSpan {
            start_us: (anchor - BURST_US).max(0) as u64,
            end_us: anchor as u64 + 5_000,
            anchor_us: anchor as u64,
        }
    }

    /// Every `period_us` from `phase_us` to the end of the run.
    fn every(period_us: i64, phase_us: i64) -> Vec<i64> {
        (0..)
            .map(|i| phase_us + i * period_us)
            .take_while(|&t| t < SPAN_US - BURST_US)
            .collect()
    }

    /// Spikes released by each burst, a consistent lag after its end (30 ms ± 10 ms).
    fn caused_by(starts: &[i64], rng: &mut SplitMix64) -> Vec<SpikeSpan> {
        starts
            .iter()
            .map(|s| spike(s + BURST_US + 30_000 + (rng.normal() * 10_000.0) as i64))
            .collect()
    }

    fn test(spikes: &[SpikeSpan], starts: &[i64]) -> Cause {
        best_cause(spikes, &bursts(starts), RUN_START_NS, SPAN_US)
            .0
            .expect("a cause is always reported when there are events")
    }

    #[test]
    fn strictly_periodic_events_with_caused_spikes_are_significant() {
        let mut rng = SplitMix64::new(11);
        let starts = every(2_000_000, 700_000);
        let c = test(&caused_by(&starts, &mut rng), &starts);
        assert!(c.significant, "{c:?}");
        assert!(c.p_value < SIGNIFICANCE, "{c:?}");
        assert_eq!(c.matched_fraction, 1.0);
        // The plain circular shift cannot get there: re-alignments a period apart.
        assert!(c.p_all_shifts >= SIGNIFICANCE, "{c:?}");
        // ...and the floor says so: about 4 × 30 ms / 2 s of the shifts re-align.
        assert!((0.03..0.12).contains(&c.p_floor), "{c:?}");
        assert!(floor_caveat(&c).is_some());
    }

    #[test]
    fn independent_periodic_spikes_of_another_period_are_not_significant() {
        let starts = every(2_000_000, 700_000);
        for (period, phase) in [(2_300_000, 150_000), (1_700_000, 900_000), (2_900_000, 0)] {
            let spikes: Vec<SpikeSpan> = every(period, phase).into_iter().map(spike).collect();
            let c = test(&spikes, &starts);
            assert!(!c.significant, "period {period}: {c:?}");
            assert!(c.p_value >= 0.05, "period {period}: {c:?}");
            assert!(floor_caveat(&c).is_none(), "period {period}: {c:?}");
        }
    }

    #[test]
    fn random_spikes_are_not_significant() {
        let mut rng = SplitMix64::new(5);
        let starts = every(2_000_000, 700_000);
        let mut anchors: Vec<i64> = (0..50).map(|_| rng.below(SPAN_US as u64) as i64).collect();
        anchors.sort_unstable();
        let spikes: Vec<SpikeSpan> = anchors.into_iter().map(spike).collect();
        let c = test(&spikes, &starts);
        assert!(!c.significant, "{c:?}");
    }

    #[test]
    fn jittered_events_with_caused_spikes_are_significant_with_a_low_floor() {
        let mut rng = SplitMix64::new(23);
        // A 2 s timer with up to 400 ms of splay, as cron daemons and systemd timers add.
        let starts: Vec<i64> = every(2_000_000, 700_000)
            .into_iter()
            .map(|s| s + rng.below(400_000) as i64)
            .collect();
        let c = test(&caused_by(&starts, &mut rng), &starts);
        assert!(c.significant, "{c:?}");
        assert!(c.p_all_shifts < SIGNIFICANCE, "{c:?}");
        assert!(c.p_floor < SIGNIFICANCE, "{c:?}");
        assert!(floor_caveat(&c).is_none());
    }

    #[test]
    fn events_too_regular_for_the_run_are_said_to_be() {
        // Bursts every 150 ms, spikes 40 ms after each: every other shift re-aligns.
        let mut rng = SplitMix64::new(3);
        let starts = every(150_000, 20_000);
        let c = test(&caused_by(&starts, &mut rng), &starts);
        assert!(!c.significant, "{c:?}");
        assert!(c.p_floor > 0.5, "{c:?}");
        let said = floor_caveat(&c).expect("a caveat");
        assert!(said.contains("too regular"), "{said}");
    }

    #[test]
    fn fmt_p_names_the_least_p() {
        assert_eq!(fmt_p(0.001, 999), "p < 0.002");
        assert_eq!(fmt_p(1.0 / 501.0, 500), "p < 0.004");
        assert_eq!(fmt_p(0.0123, 999), "p = 0.012");
    }
}
