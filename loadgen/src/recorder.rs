//! The run record: builds the summary from the collector's totals and writes
//! `histograms.json` and, last and atomically, `summary.json` (its presence means the
//! record is complete). `seconds.jsonl` and `requests.bin` are streamed during the run.

use crate::collector::Collector;
use crate::plan::StepWindow;
use crate::stats::{Acc, Stats};
use hdrhistogram::Histogram;
use satlab_record::histogram::{HistogramsFile, StepHistogram, encode, new_latency_histogram};
use satlab_record::layout::LoadgenFiles;
use satlab_record::summary::{LagSummary, LatencySummary, LoadgenSummary, StepSummary};
use satlab_record::{RecordError, fsio};

/// Figures of one measured window.
pub fn step_summary(
    index: u32,
    w: &StepWindow,
    acc: &Acc,
    stats: &Stats,
    col: &Collector,
    stop_us: u64,
) -> StepSummary {
    let end = w.end_us.min(stop_us);
    let window_s = end.saturating_sub(w.measure_start_us) as f64 / 1e6;
    let c = &acc.counts;
    let rate = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    let latency = LatencySummary::from_histogram(&acc.hist);
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
        dropped: stats.dropped(index as usize),
        late: stats.late(index as usize),
        in_flight_mean: col.in_flight_mean(w.measure_start_us, end),
        client_cpu: col.cpu.utilisation(w.measure_start_us, end, col.capacity()),
        sched_lag: col.lag().step_summary(index as usize),
    }
}

/// The overall figures: every measured window together.
pub fn overall_summary(
    steps: &[StepSummary],
    hist: &Histogram<u64>,
    accs: &[Acc],
    lag: LagSummary,
) -> StepSummary {
    let mut all = Acc::default();
    for a in accs {
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
        in_flight_mean: weighted(|s| s.in_flight_mean),
        client_cpu: weighted(|s| s.client_cpu),
        sched_lag: lag,
    }
}

/// Merge the per-step histograms into the overall one.
pub fn merge_all(accs: &[Acc]) -> Histogram<u64> {
    let mut h = new_latency_histogram();
    for a in accs {
        let _ = h.add(&a.hist);
    }
    h
}

/// Write `histograms.json` then `summary.json` (atomically, last).
pub fn write(
    files: &LoadgenFiles,
    summary: &LoadgenSummary,
    steps: &[Acc],
    overall: &Histogram<u64>,
) -> Result<(), RecordError> {
    let hist = HistogramsFile {
        schema: HistogramsFile::SCHEMA.into(),
        unit: "us".into(),
        significant_digits: satlab_record::histogram::SIGFIG,
        steps: steps
            .iter()
            .enumerate()
            .map(|(i, a)| {
                Ok(StepHistogram {
                    step: i as u32,
                    latency: encode(&a.hist)?,
                })
            })
            .collect::<Result<_, RecordError>>()?,
        overall: encode(overall)?,
    };
    fsio::write_json(&files.histograms(), &hist)?;
    fsio::write_json(&files.summary(), summary)
}
