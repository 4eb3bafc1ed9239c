//! The period of a set of slow bursts, by request index and by time, and how many of their
//! gaps sit on it.

use super::bursts::Cluster;
use crate::model::{Period, PeriodAxis};

/// Fewest spikes for a period: four gaps give a median and a spread worth reporting.
pub const MIN_SPIKES: usize = 5;
/// Largest robust coefficient of variation of the inter-spike gaps for the spikes to count
/// as periodic: random (Poisson) arrivals give ≈1, a clock or a counter gives < 0.1.
pub const PERIOD_MAX_CV: f64 = 0.25;
/// A gap is on the period when it is within this share of a period of a whole number of
/// periods (a burst the detector missed leaves a gap of two): a clock or a counter keeps its
/// gaps within a few percent, while an unrelated burst between two periodic ones cuts a gap
/// into two pieces, each of which lands this close to a whole period only 20% of the time.
pub const ON_PERIOD_TOLERANCE: f64 = 0.2;

/// A period and how well the bursts keep to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fit {
    /// The period on both axes (the sharper one chosen).
    pub period: Period,
    /// Share of gaps on the chosen axis within [`ON_PERIOD_TOLERANCE`] of a whole number of
    /// periods.
    pub on_period: f64,
}

fn median_f64(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// Median gap, robust CV (1.4826·MAD / median) and share of gaps on the period, for
/// consecutive differences of `xs`.
fn gap_stats(xs: &[f64]) -> (f64, f64, f64) {
    let gaps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    let med = median_f64(&mut gaps.clone());
    if med <= 0.0 || gaps.is_empty() {
        return (med, f64::INFINITY, 0.0);
    }
    let on = gaps
        .iter()
        .filter(|&&g| {
            let k = (g / med).round();
            k >= 1.0 && (g / med - k).abs() <= ON_PERIOD_TOLERANCE
        })
        .count() as f64
        / gaps.len() as f64;
    let mut dev: Vec<f64> = gaps.iter().map(|g| (g - med).abs()).collect();
    (med, 1.4826 * median_f64(&mut dev) / med, on)
}

/// Gap statistics of the sharpest of several anchors of the same bursts: the lowest CV wins.
fn sharpest(anchors: &[Vec<f64>]) -> (f64, f64, f64) {
    anchors
        .iter()
        .map(|a| gap_stats(a))
        .reduce(|best, s| if s.1 < best.1 { s } else { best })
        .unwrap_or((0.0, f64::INFINITY, 0.0))
}

/// The period of `clusters` (in position order) on both axes; the one with the lower CV
/// wins. Each axis is read at three anchors of a burst and keeps the steadiest: its onset
/// (its first slow request), its release (where its slowest request completed) and its
/// silence (where completions stopped: see `quiet`). A counter is sharpest where the count is
/// exact, a clock where the time is, and an axis judged by a blurrier anchor would lose a
/// tie it should win; every anchor is read on both axes, so neither gains by it.
/// `None` below [`MIN_SPIKES`].
pub(crate) fn period(clusters: &[Cluster]) -> Option<Fit> {
    if clusters.len() < MIN_SPIKES {
        return None;
    }
    let anchors = |f: fn(&Cluster) -> f64| clusters.iter().map(f).collect::<Vec<f64>>();
    let (pi, cvi, oni) = sharpest(&[
        anchors(|c| c.first as f64),
        anchors(|c| c.release_index as f64),
        anchors(|c| c.quiet.index as f64),
    ]);
    let (pt, cvt, ont) = sharpest(&[
        anchors(|c| c.start_us as f64 / 1e6),
        anchors(|c| c.peak_end_us as f64 / 1e6),
        anchors(|c| c.quiet.at_us as f64 / 1e6),
    ]);
    let (by, cv, on_period) = if cvi <= cvt {
        (PeriodAxis::Requests, cvi, oni)
    } else {
        (PeriodAxis::Time, cvt, ont)
    };
    Some(Fit {
        period: Period {
            by,
            requests: pi,
            seconds: pt,
            cv,
            cv_requests: cvi,
            cv_seconds: cvt,
        },
        on_period,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spikes::quiet::Quiet;

    fn at(first: usize, t_s: f64) -> Cluster {
        Cluster {
            ratio: 5.0,
            first,
            last: first,
            start_us: (t_s * 1e6) as u64,
            end_us: (t_s * 1e6) as u64 + 1000,
            peak_us: 40_000,
            peak_end_us: (t_s * 1e6) as u64 + 1000,
            release_index: first + 10,
            quiet: Quiet {
                index: first + 5,
                at_us: (t_s * 1e6) as u64 + 500,
                len_us: 0,
            },
            size: 10,
            excess_us: 30_000,
        }
    }

    #[test]
    fn a_clock_is_periodic_by_time_and_a_counter_by_requests() {
        // Every 2 s while the rate grows: the gap in requests grows by 100 each time.
        let clock: Vec<Cluster> = (0..10usize)
            .map(|i| at(1000 * i + 50 * i * i.saturating_sub(1), 2.0 * i as f64))
            .collect();
        let f = period(&clock).expect("a period");
        assert_eq!(f.period.by, PeriodAxis::Time);
        assert!((f.period.seconds - 2.0).abs() < 1e-9, "{f:?}");
        assert_eq!(f.on_period, 1.0);
        // Every 1,000 requests while the rate falls: the gap in time grows by 50 ms.
        let counter: Vec<Cluster> = (0..10usize)
            .map(|i| {
                at(
                    i * 1000,
                    0.1 * i as f64 + 0.025 * (i * i.saturating_sub(1)) as f64,
                )
            })
            .collect();
        let f = period(&counter).expect("a period");
        assert_eq!(f.period.by, PeriodAxis::Requests);
        assert_eq!(f.period.requests, 1000.0);
        assert!(period(&clock[..4]).is_none());
    }

    #[test]
    fn each_axis_is_read_at_its_sharper_anchor() {
        // A stall every 1,000 requests holding most of the time: the onset's index wanders
        // with whichever request was in flight longest (±60), its time by ±2 ms in 140 ms;
        // the release is exact in requests. Read at the onset alone, time would win.
        let wander = [0i64, 60, -50, 70, -60, 40, -70, 55, -45, 65, -55, 50];
        let stall: Vec<Cluster> = wander
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let mut c = at(
                    (1000 * i as i64 + w) as usize,
                    0.14 * i as f64 + w as f64 / 30e3,
                );
                c.release_index = 1000 * i + 32;
                c.peak_end_us = c.start_us + 100_000;
                c
            })
            .collect();
        let onsets: Vec<f64> = stall.iter().map(|c| c.first as f64).collect();
        let times: Vec<f64> = stall.iter().map(|c| c.start_us as f64).collect();
        assert!(gap_stats(&onsets).1 > gap_stats(&times).1);
        let f = period(&stall).expect("a period");
        assert_eq!(f.period.by, PeriodAxis::Requests, "{f:?}");
        assert_eq!(f.period.requests, 1000.0);
        assert!(f.period.cv_requests < 1e-9, "{f:?}");
        // A clock whose bursts end at varying times: its onset keeps the time axis sharp.
        let clock: Vec<Cluster> = wander
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let mut c = at(1000 * i + 30 * i * i, 2.0 * i as f64);
                c.peak_end_us = c.start_us + (300_000 + 1000 * w) as u64;
                c.release_index = c.first + 50;
                c
            })
            .collect();
        let f = period(&clock).expect("a period");
        assert_eq!(f.period.by, PeriodAxis::Time, "{f:?}");
        assert!((f.period.seconds - 2.0).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn a_stall_under_a_wandering_onset_and_release_is_read_at_its_silence() {
        // A stall every 100 requests with 32 in flight on a loaded machine: the onset wanders
        // with the request in flight longest, the release with the queue draining after it
        // (each by ±15), the time by ±3 ms in 25 ms; the completions before the silence are
        // the server's count less the one in its handler.
        let onset = [0i64, 12, -9, 15, -14, 6, -11, 13, -8, 10, -15, 7];
        let drain = [5i64, -13, 11, -6, 14, -12, 9, -15, 8, -10, 13, -7];
        let stall: Vec<Cluster> = onset
            .iter()
            .zip(drain)
            .enumerate()
            .map(|(i, (&w, d))| {
                let mut c = at(
                    (100 * i as i64 + 50 + w) as usize,
                    0.025 * i as f64 + d as f64 / 5e3,
                );
                c.release_index = (100 * i as i64 + 80 + d) as usize;
                c.peak_end_us = (c.start_us as i64 + 20_000 + 200 * w) as u64;
                c.quiet = Quiet {
                    index: 100 * i + 99,
                    at_us: c.start_us + 100,
                    len_us: 20_000,
                };
                c
            })
            .collect();
        let f = period(&stall).expect("a period");
        assert_eq!(f.period.by, PeriodAxis::Requests, "{f:?}");
        assert_eq!(f.period.requests, 100.0);
        assert!(f.period.cv_requests < 1e-9, "{f:?}");
        // Without the silence, the onset's and release's wander would be all there is.
        let blurred: Vec<Cluster> = stall
            .iter()
            .map(|c| Cluster {
                quiet: Quiet {
                    index: c.first,
                    ..c.quiet
                },
                ..*c
            })
            .collect();
        let f = period(&blurred).expect("a period");
        assert!(f.period.cv_requests > 0.1, "{f:?}");
    }

    #[test]
    fn a_missed_burst_stays_on_the_period_an_intruder_does_not() {
        let mut c: Vec<Cluster> = (0..12).map(|i| at(i * 1000, 2.0 * i as f64)).collect();
        c.remove(6);
        let f = period(&c).expect("a period");
        assert_eq!(f.on_period, 1.0, "{f:?}");
        // Two unrelated bursts cut two gaps: four of 12 gaps are off the period, yet the
        // robust CV does not notice.
        c.insert(3, at(2300, 4.6));
        c.insert(8, at(7700, 15.4));
        let f = period(&c).expect("a period");
        assert!((f.on_period - 8.0 / 12.0).abs() < 1e-9, "{f:?}");
        assert!(f.period.cv <= PERIOD_MAX_CV, "{f:?}");
    }
}
