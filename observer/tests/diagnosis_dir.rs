//! Diagnosing run directories: missing and empty files degrade with a stated limitation,
//! malformed files name the file and line, `diagnose_and_write` writes all three outputs,
//! and the `observer diagnose` command prints text, JSON and HTML.

use observer::analysis::diagnose_and_write;
use satlab_diagnosis::{DiagnosisError, diagnose_dir};
use satlab_testkit::synth::{Schedule, SeriesPlan, SynthStep, series_run, steps_run, write_run};
use std::process::Command;

fn cpu_run() -> Vec<SynthStep> {
    [1.0, 2.0, 4.0, 8.0, 16.0]
        .iter()
        .map(|&n: &f64| {
            let x = (1000.0 * n).min(4000.0);
            SynthStep::new(n, x, n / x * 1000.0).server_cpu(Some((x / 4000.0).min(0.97)))
        })
        .collect()
}

#[test]
fn loadgen_record_alone_still_diagnoses() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = steps_run(&cpu_run(), false);
    input.processes.clear();
    input.kernel.clear();
    write_run(dir.path(), &input).unwrap();
    std::fs::remove_file(dir.path().join("samples/processes.jsonl")).unwrap();
    std::fs::write(dir.path().join("samples/kernel.jsonl"), "").unwrap();
    let d = diagnose_dir(dir.path()).unwrap();
    assert_eq!(d.verdict.kind.name(), "server");
    assert_eq!(d.verdict.server_bound, None);
    let lim = d.limitations.join("\n");
    assert!(lim.contains("no server CPU samples"), "{lim}");
    assert!(lim.contains("requests.bin is missing"), "{lim}");
    assert!(lim.contains("no kernel counter samples"), "{lim}");
}

#[test]
fn malformed_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &steps_run(&cpu_run(), false)).unwrap();
    let p = dir.path().join("samples/kernel.jsonl");
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.push_str("{\"not\": \"a sample\"}\n");
    std::fs::write(&p, text).unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err();
    assert!(
        matches!(e, DiagnosisError::Malformed { line: 6, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("kernel.jsonl: line 6"), "{e}");

    // A torn last line (the writer was killed mid-line) is skipped with a note.
    let mut text = std::fs::read_to_string(&p).unwrap();
    text.truncate(text.trim_end().rfind('\n').unwrap() + 1);
    text.push_str("{\"t_unix_ns\": 12");
    std::fs::write(&p, text).unwrap();
    let d = diagnose_dir(dir.path()).unwrap();
    assert!(
        d.limitations.iter().any(|l| l.contains("incomplete")),
        "{:?}",
        d.limitations
    );

    std::fs::write(dir.path().join("loadgen/summary.json"), "{\"schema\": 1}").unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("summary.json"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = diagnose_dir(empty.path()).unwrap_err().to_string();
    assert!(
        e.contains("not a run directory") && e.contains("summary.json"),
        "{e}"
    );
}

#[test]
fn bad_request_log_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &steps_run(&cpu_run(), false)).unwrap();
    std::fs::write(dir.path().join("loadgen/requests.bin"), b"garbage!garbage!").unwrap();
    let e = diagnose_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("requests.bin") && e.contains("SATREQ01"), "{e}");
}

#[test]
fn diagnose_and_write_and_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = SeriesPlan::new(vec![(4, 2000.0, 2.0), (8, 3000.0, 2.0)]);
    plan.schedule = Schedule::EveryRequests(500);
    write_run(dir.path(), &series_run(&plan)).unwrap();
    let d = diagnose_and_write(dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("diagnosis.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], "satlab.diagnosis/1");
    for key in [
        "verdict",
        "plateau",
        "usl",
        "steps",
        "spikes",
        "syn_retransmit_modes",
        "limitations",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert!(json["verdict"]["evidence"].is_array());
    assert!(json["spikes"]["period"]["by"].is_string());
    assert!(dir.path().join("report.txt").is_file() && dir.path().join("report.html").is_file());

    let bin = env!("CARGO_BIN_EXE_observer");
    let out = Command::new(bin)
        .args(["diagnose", dir.path().to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: satlab_diagnosis::Diagnosis = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again.verdict.kind, d.verdict.kind);
    assert_eq!(again.spikes.count, d.spikes.count);

    let out = Command::new(bin)
        .args(["diagnose", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("VERDICT"));
    let html = dir.path().join("x.html");
    let out = Command::new(bin)
        .args([
            "diagnose",
            dir.path().to_str().unwrap(),
            "--format",
            "html",
            "--output",
        ])
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    let out = Command::new(bin)
        .args(["diagnose", "/nonexistent/run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory"), "{err}");
}
