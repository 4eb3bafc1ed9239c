//! Write a synthetic run directory for benchmarks and demos:
//! `cargo run --release -p satlab-testkit --example gen_run -- DIR [REQUESTS]`.
//!
//! Six closed-loop steps whose throughput plateaus, a stop-the-world pause every 20,000
//! requests reported as `gc_pause` events, server CPU samples, and the per-step latency
//! histograms a loadgen record holds.

use satlab_diagnosis::RequestSource;
use satlab_record::histogram::{self, HistogramsFile, StepHistogram};
use satlab_record::{EventKind, RunDir, fsio};
use satlab_testkit::synth::{Schedule, SeriesPlan, series_run, write_run};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: gen_run DIR [REQUESTS] (REQUESTS defaults to 10000000)")
    })?;
    let requests: f64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| anyhow::anyhow!("REQUESTS must be a number of requests, got '{s}'"))?,
        None => 1e7,
    };
    // (concurrency, req/s) per step; durations chosen so the total is `requests`.
    let shape = [
        (8u32, 20_000.0),
        (16, 38_000.0),
        (32, 55_000.0),
        (64, 60_000.0),
        (128, 61_000.0),
        (256, 59_000.0),
    ];
    let per_step = requests / shape.len() as f64;
    let mut plan = SeriesPlan::new(shape.iter().map(|&(c, r)| (c, r, per_step / r)).collect());
    plan.little = true;
    plan.schedule = Schedule::EveryRequests(20_000);
    plan.pause_us = 20_000;
    plan.event = Some(EventKind::GcPause);
    let input = series_run(&plan);
    write_run(std::path::Path::new(&dir), &input)?;
    if let RequestSource::Memory(v) = &input.requests {
        let steps = &input.summary.steps;
        let mut hs: Vec<_> = steps
            .iter()
            .map(|_| histogram::new_latency_histogram())
            .collect();
        for r in v {
            if let Some(h) = hs.get_mut(usize::from(r.step)) {
                histogram::record_clamped(h, u64::from(r.latency_us));
            }
        }
        let mut all = histogram::new_latency_histogram();
        for h in &hs {
            all.add(h).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let file = HistogramsFile {
            schema: HistogramsFile::SCHEMA.into(),
            unit: "us".into(),
            significant_digits: histogram::SIGFIG,
            steps: steps
                .iter()
                .zip(&hs)
                .map(|(s, h)| {
                    Ok(StepHistogram {
                        step: s.index,
                        latency: histogram::encode(h)?,
                    })
                })
                .collect::<Result<_, satlab_record::RecordError>>()?,
            overall: histogram::encode(&all)?,
        };
        fsio::write_json(&RunDir::new(&dir).loadgen().histograms(), &file)?;
    }
    println!("wrote {dir}");
    Ok(())
}
