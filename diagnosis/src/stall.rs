//! Stall accounting: per step, the share of the measured window each kind of server event
//! covered (the union of its intervals, so overlapping events count once, never count ×
//! mean), what it stops, how often it fired, and the throughput cap that share implies.
//!
//! The cap. A count-driven event (it carries the request index that fired it: a pause
//! every M requests) stalls for d every M requests, so with X the step's throughput the
//! stalled share is s = X·d/M and X = 1 / (1/X₀ + d/M), X₀ being what the server does
//! between stalls. As X₀ grows without bound X approaches M/d = X/s: the cap. A time-driven
//! event (every T seconds) removes a fixed share s of the time whatever the load: it scales
//! capacity by 1 − s and implies no cap of its own.

use crate::intervals::Intervals;
use crate::model::{StallScope, StepStall};
use satlab_record::{EventKind, ServerEvent};

/// The stalls of each event kind over `[from, to)` (Unix ns), for a step whose successful
/// throughput was `ok_rps`; kinds with no event touching the window are left out.
pub fn step_stalls(events: &[ServerEvent], from: u64, to: u64, ok_rps: f64) -> Vec<StepStall> {
    if to <= from {
        return Vec::new();
    }
    let window_ns = (to - from) as f64;
    EventKind::present(events)
        .into_iter()
        .filter_map(|kind| {
            let of_kind: Vec<&ServerEvent> = events.iter().filter(|e| e.kind == kind).collect();
            let union = Intervals::union(of_kind.iter().map(|e| {
                (
                    e.start_unix_ns,
                    e.start_unix_ns.saturating_add(e.duration_ns),
                )
            }));
            let covered = union.covered(from, to);
            let starting: Vec<&&ServerEvent> = of_kind
                .iter()
                .filter(|e| e.start_unix_ns >= from && e.start_unix_ns < to)
                .collect();
            if covered == 0 && starting.is_empty() {
                return None;
            }
            let n = starting.len();
            let mean_ms = if n == 0 {
                0.0
            } else {
                starting.iter().map(|e| e.duration_ns as f64).sum::<f64>() / n as f64 / 1e6
            };
            let share = covered as f64 / window_ns;
            // A kind fires by count when most of its events carry the index that fired them.
            let indexed = starting
                .iter()
                .filter(|e| e.request_index.is_some())
                .count();
            let count_driven = n > 0 && indexed * 2 >= n;
            let implied_cap_rps = (count_driven && share > 0.0 && ok_rps > 0.0)
                .then(|| ok_rps / share)
                .filter(|c| c.is_finite());
            Some(StepStall {
                kind,
                scope: StallScope::of(kind),
                events: n as u64,
                per_s: n as f64 / (window_ns / 1e9),
                mean_ms,
                share,
                count_driven,
                implied_cap_rps,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    fn ev(kind: EventKind, start: u64, dur: u64, index: Option<u64>) -> ServerEvent {
        ServerEvent {
            kind,
            seq: 1,
            start_unix_ns: start,
            duration_ns: dur,
            request_index: index,
            service: "target-api".into(),
            attributes: Default::default(),
        }
    }

    /// 40 ms every 1000 requests at 10,000 req/s: 10 pauses a second, 40% of the time, a
    /// cap of 25,000 req/s.
    #[test]
    fn count_driven_pauses_imply_a_cap() {
        let events: Vec<ServerEvent> = (0..100)
            .map(|i| ev(EventKind::GcPause, i * 100 * MS, 40 * MS, Some(i * 1000)))
            .collect();
        let st = step_stalls(&events, 0, 10 * S, 10_000.0);
        assert_eq!(st.len(), 1);
        let g = &st[0];
        assert_eq!(g.kind, EventKind::GcPause);
        assert_eq!(g.scope, StallScope::Everything);
        assert_eq!(g.events, 100);
        assert!((g.per_s - 10.0).abs() < 1e-9);
        assert!((g.mean_ms - 40.0).abs() < 1e-9);
        assert!((g.share - 0.4).abs() < 1e-9);
        assert!(g.count_driven);
        assert!((g.implied_cap_rps.unwrap() - 25_000.0).abs() < 1e-6);
    }

    /// Overlapping events count once; an event straddling the window's edge counts for its
    /// part inside.
    #[test]
    fn the_union_not_count_times_mean() {
        let events = vec![
            ev(EventKind::GcPause, 0, 100 * MS, Some(1)),
            ev(EventKind::GcPause, 50 * MS, 100 * MS, Some(2)),
            ev(EventKind::GcPause, 950 * MS, 100 * MS, Some(3)),
        ];
        let st = step_stalls(&events, 0, S, 1000.0);
        // Union inside [0, 1 s): [0, 150 ms) and [950, 1000 ms) = 200 ms, not 300.
        assert!((st[0].share - 0.2).abs() < 1e-9, "{:?}", st[0]);
        assert_eq!(st[0].events, 3);
        // Only the straddling part, from the next window's side.
        let next = step_stalls(&events, S, 2 * S, 1000.0);
        assert!((next[0].share - 0.05).abs() < 1e-9);
        assert_eq!(next[0].events, 0);
    }

    /// Timer-driven bursts remove a share of a CPU but imply no cap; each kind keeps its
    /// own scope.
    #[test]
    fn time_driven_events_have_no_cap() {
        let events = vec![
            ev(EventKind::CpuBurst, 0, 300 * MS, None),
            ev(EventKind::CpuBurst, 2 * S, 300 * MS, None),
            ev(EventKind::PoolRecycle, S, 20 * MS, Some(500)),
        ];
        let st = step_stalls(&events, 0, 4 * S, 800.0);
        assert_eq!(st.len(), 2);
        let burst = st.iter().find(|s| s.kind == EventKind::CpuBurst).unwrap();
        assert_eq!(burst.scope, StallScope::HandlerCpu);
        assert!(!burst.count_driven);
        assert_eq!(burst.implied_cap_rps, None);
        assert!((burst.share - 0.15).abs() < 1e-9);
        let recycle = st
            .iter()
            .find(|s| s.kind == EventKind::PoolRecycle)
            .unwrap();
        assert_eq!(recycle.scope, StallScope::PoolUsers);
        assert!((recycle.implied_cap_rps.unwrap() - 800.0 / 0.005).abs() < 1e-6);
    }

    #[test]
    fn empty_or_reversed_windows_and_zero_throughput() {
        let events = vec![ev(EventKind::GcPause, 0, 10 * MS, Some(1))];
        assert!(step_stalls(&events, S, S, 10.0).is_empty());
        assert!(step_stalls(&events, 2 * S, S, 10.0).is_empty());
        assert!(step_stalls(&[], 0, S, 10.0).is_empty());
        let st = step_stalls(&events, 0, S, 0.0);
        assert_eq!(st[0].implied_cap_rps, None);
        // A duration that would overflow the clock is clipped, not a panic.
        let huge = vec![ev(EventKind::GcPause, u64::MAX - 5, u64::MAX, None)];
        assert!(step_stalls(&huge, 0, S, 10.0).is_empty());
    }
}
