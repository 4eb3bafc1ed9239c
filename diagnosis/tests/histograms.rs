//! `loadgen/histograms.json`, the loadgen's exact per-step record, is what the per-step
//! percentiles are read from when a run has it; a broken one is an error naming it.

use satlab_diagnosis::{DiagnosisError, diagnose_dir};
use satlab_record::fsio::write_json;
use satlab_record::histogram::{
    HistogramsFile, StepHistogram, encode, new_latency_histogram, record_clamped,
};
use satlab_record::{RecordError, RunDir};
use satlab_testkit::synth::{SynthStep, steps_run, write_run};
use std::path::Path;

fn run(dir: &Path) {
    let steps: Vec<SynthStep> = [1.0, 2.0, 4.0, 8.0]
        .iter()
        .map(|&n| SynthStep::new(n, 1000.0 * n, 1.0))
        .collect();
    write_run(dir, &steps_run(&steps, false)).unwrap();
}

/// Histograms where every request of step `i` took `(i + 1) × 7` ms.
fn histograms(steps: u32) -> HistogramsFile {
    let mut overall = new_latency_histogram();
    let steps = (0..steps)
        .map(|i| {
            let mut h = new_latency_histogram();
            for _ in 0..1000 {
                record_clamped(&mut h, u64::from(i + 1) * 7000);
            }
            overall.add(&h).unwrap();
            StepHistogram {
                step: i,
                latency: encode(&h).unwrap(),
            }
        })
        .collect();
    HistogramsFile {
        schema: HistogramsFile::SCHEMA.into(),
        unit: "us".into(),
        significant_digits: 3,
        steps,
        overall: encode(&overall).unwrap(),
    }
}

#[test]
fn per_step_percentiles_come_from_histograms_json() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let before = diagnose_dir(dir.path()).unwrap();
    // The synthetic summary says p50 = mean = 1 ms.
    assert_eq!(before.steps[2].p50_ms, 1.0);
    let lg = RunDir::new(dir.path()).loadgen();
    // Three of four steps recorded: the fourth keeps the summary's figures.
    write_json(&lg.histograms(), &histograms(3)).unwrap();
    let d = diagnose_dir(dir.path()).unwrap();
    for (i, r) in d.steps.iter().enumerate().take(3) {
        let want = (i + 1) as f64 * 7.0;
        for p in [r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms] {
            assert!((p - want).abs() / want < 0.001, "step {i}: {p} vs {want}");
        }
    }
    assert_eq!(d.steps[3].p99_ms, before.steps[3].p99_ms);
    // Latency modes can be looked for without the per-request log: the note says so.
    assert!(
        d.limitations
            .iter()
            .any(|l| l == "loadgen/requests.bin is missing: no spike analysis"),
        "{:?}",
        d.limitations
    );
}

#[test]
fn a_broken_histograms_json_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path());
    let path = RunDir::new(dir.path()).loadgen().histograms();
    let mut h = histograms(1);
    h.steps[0].latency = "not base64!".into();
    write_json(&path, &h).unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err();
    assert!(matches!(e, DiagnosisError::Histograms { .. }), "{e}");
    assert!(e.to_string().contains("histograms.json"), "{e}");
    let mut h = histograms(1);
    h.schema = "satlab.loadgen.histograms/9".into();
    write_json(&path, &h).unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("satlab.loadgen.histograms/1"), "{e}");
    std::fs::write(&path, "{").unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err();
    assert!(
        matches!(e, DiagnosisError::Record(RecordError::Format { .. })),
        "{e}"
    );
}
