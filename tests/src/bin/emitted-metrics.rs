//! Regenerate `grafana/emitted-metrics.txt` from real runs. `compose/emitted-metrics.sh`
//! makes a run with every instrument reporting and calls this tool on it:
//!
//! ```text
//! cargo build -p observer && cargo build -p satlab-tests --bin emitted-metrics
//! compose/emitted-metrics.sh > grafana/emitted-metrics.txt
//! ```
//!
//! or, on runs of your own:
//!
//! ```text
//! cargo run -p satlab-tests --bin emitted-metrics -- RUN_DIR... \
//!     [--scrape observer=observer-metrics.txt] > grafana/emitted-metrics.txt
//! ```
//!
//! Each RUN_DIR's `otlp/received.json` (written by the observer's OTLP receiver) gives
//! the metric names each service sent, and its `otlp/metrics.jsonl` the attributes on
//! their points; each `--scrape JOB=FILE` gives the families and labels of a saved
//! `/metrics` page (e.g. `curl -s localhost:9464/metrics > observer-metrics.txt`).

use clap::Parser;
use satlab_tests::emitted::{self, Emitted};
use std::path::PathBuf;
use std::process::ExitCode;

/// A `/metrics` page saved to a file, scraped as job JOB.
#[derive(Debug, Clone)]
struct Scrape {
    job: String,
    file: PathBuf,
}

fn parse_scrape(s: &str) -> Result<Scrape, String> {
    match s.split_once('=') {
        Some((job, file)) if !job.is_empty() && !file.is_empty() => Ok(Scrape {
            job: job.to_string(),
            file: PathBuf::from(file),
        }),
        _ => Err(format!(
            "expected JOB=FILE (e.g. observer=observer-metrics.txt), got {s:?}"
        )),
    }
}

/// Print the metric names real runs emitted, in grafana/emitted-metrics.txt's format.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Run directories holding otlp/received.json.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// A saved /metrics page of a scraped job, as JOB=FILE (repeatable).
    #[arg(long, value_parser = parse_scrape)]
    scrape: Vec<Scrape>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut all = Emitted::new();
    for run in &args.runs {
        let path = run.join("otlp/received.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "error: {}: {e} (is {} a run directory?)",
                    path.display(),
                    run.display()
                );
                return ExitCode::from(2);
            }
        };
        let value: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {}: invalid JSON: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        emitted::merge(&mut all, emitted::from_received(&value));
        // Attribute names on the points; a run without the file still gives the names.
        if let Ok(points) = std::fs::read_to_string(run.join("otlp/metrics.jsonl")) {
            emitted::merge(&mut all, emitted::from_points(&points));
        }
    }
    for s in &args.scrape {
        match std::fs::read_to_string(&s.file) {
            Ok(text) => emitted::merge(&mut all, emitted::from_exposition(&s.job, &text)),
            Err(e) => {
                eprintln!("error: --scrape {}={}: {e}", s.job, s.file.display());
                return ExitCode::from(2);
            }
        }
    }
    let runs: Vec<String> = args
        .runs
        .iter()
        .filter_map(|r| r.file_name().map(|n| n.to_string_lossy().to_string()))
        .collect();
    let header = format!(
        "The metric names satlab's programs emit, from real runs; the lab_config test checks\n\
         every dashboard query against them (translated by tests/src/prom_names.rs).\n\
         Regenerate: cargo build -p observer && cargo build -p satlab-tests --bin emitted-metrics\n\
         \x20          && compose/emitted-metrics.sh > grafana/emitted-metrics.txt\n\
         (it runs: emitted-metrics RUN_DIR... [--scrape JOB=FILE])\n\
         Runs: {}\n\
         otlp SERVICE OTEL_NAME [ATTRIBUTES] | scrape JOB PROMETHEUS_NAME [LABELS]",
        runs.join(", ")
    );
    print!("{}", emitted::render(&all, &header));
    ExitCode::SUCCESS
}
