//! The run record's figures: per step and overall, from the tick's per-step totals, the
//! recorder's dropped and late sends, and the CPU, lag and in-flight samples.

use crate::plan::StepWindow;
use crate::record::recorder::Recorder;
use crate::record::tally::Tally;
use crate::record::tick::Ticker;
use hdrhistogram::Histogram;
use satlab_record::histogram::new_latency_histogram;
use satlab_record::summary::{LagSummary, LatencySummary, SendLateness, StepSummary};

/// Figures of one measured window.
pub fn step_summary(
    index: u32,
    w: &StepWindow,
    tally: &Tally,
    recorder: &Recorder,
    col: &Ticker,
    stop_us: u64,
) -> StepSummary {
    let end = w.end_us.min(stop_us);
    let window_s = end.saturating_sub(w.measure_start_us) as f64 / 1e6;
    let c = &tally.counts;
    let rate = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let latency = LatencySummary::from_histogram(&tally.hist);
    let rps = rate(c.requests);
    StepSummary {
        index,
        concurrency: w.concurrency,
        target_rate: w.rate,
        start_us: w.start_us,
        measure_start_us: w.measure_start_us,
        end_us: end,
        requests: c.requests,
        ok: c.ok,
        rps,
        ok_rps: rate(c.ok),
        n_eff: rps * latency.mean_us / 1e6,
        latency,
        errors: c.error_map(),
        status: c.status_map(),
        dropped: recorder.dropped(index as usize),
        late: recorder.late(index as usize),
        send_lateness: tally.lateness.as_ref().map(SendLateness::from_histogram),
        in_flight_mean: col.in_flight_mean(w.measure_start_us, end),
        client_cpu: col.cpu.utilisation(w.measure_start_us, end, col.capacity()),
        sched_lag: col.lag().step_summary(index as usize),
    }
}

/// The overall figures: every measured window together.
pub fn overall_summary(
    steps: &[StepSummary],
    hist: &Histogram<u64>,
    tallies: &[Tally],
    lag: LagSummary,
) -> StepSummary {
    let mut all = Tally::default();
    for a in tallies {
        all.merge(a);
    }
    let window_s: f64 = steps
        .iter()
        .map(|s| s.end_us.saturating_sub(s.measure_start_us) as f64 / 1e6)
        .sum();
    let rate = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let latency = LatencySummary::from_histogram(hist);
    let rps = rate(all.counts.requests);
    let weighted = |f: fn(&StepSummary) -> f64| {
        if window_s <= 0.0 {
            return 0.0;
        }
        steps
            .iter()
            .map(|s| f(s) * s.end_us.saturating_sub(s.measure_start_us) as f64 / 1e6)
            .sum::<f64>()
            / window_s
    };
    StepSummary {
        index: u32::MAX,
        concurrency: None,
        target_rate: None,
        start_us: steps.first().map(|s| s.start_us).unwrap_or(0),
        measure_start_us: steps.first().map(|s| s.measure_start_us).unwrap_or(0),
        end_us: steps.last().map(|s| s.end_us).unwrap_or(0),
        requests: all.counts.requests,
        ok: all.counts.ok,
        rps,
        ok_rps: rate(all.counts.ok),
        n_eff: rps * latency.mean_us / 1e6,
        latency,
        errors: all.counts.error_map(),
        status: all.counts.status_map(),
        dropped: steps.iter().map(|s| s.dropped).sum(),
        late: steps.iter().map(|s| s.late).sum(),
        send_lateness: all.lateness.as_ref().map(SendLateness::from_histogram),
        in_flight_mean: weighted(|s| s.in_flight_mean),
        client_cpu: weighted(|s| s.client_cpu),
        sched_lag: lag,
    }
}

/// Merge the per-step histograms into the overall one.
pub fn merge_all(tallies: &[Tally]) -> Histogram<u64> {
    let mut h = new_latency_histogram();
    for a in tallies {
        let _ = h.add(&a.hist);
    }
    h
}
