//! Golden outputs: saved run directories from real lab runs (`tests/fixtures/runs/NAME`)
//! diagnose to the files in `tests/fixtures/expected/NAME`, byte for byte, so every change
//! of a verdict, a figure or a report's wording shows as a diff of those files.
//!
//! A deliberate change is recorded with `SATLAB_BLESS=1 cargo test -p satlab-diagnosis
//! --test fixtures_unchanged`, which rewrites the expected files; review their diff.
//!
//! One named difference: `spikes.explains.p99_ms` and `p999_ms` in `diagnosis.json` now come
//! from `loadgen/histograms.json` (the loadgen's exact record of the measured windows, equal
//! to its summary's overall p99/p99.9) instead of from every request in `requests.bin`
//! (settle windows included); the expected files carry the new values.

use satlab_diagnosis::diagnose_dir;
use satlab_diagnosis::report::{html, json, text};
use std::path::{Path, PathBuf};

const RUNS: [&str; 3] = ["gc-spikes", "new-connection", "pool-bound"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The first differing line, for a readable failure.
fn first_difference(want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    format!(
        "line {}:\n  expected: {}\n  got:      {}",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>")
    )
}

#[test]
fn saved_runs_diagnose_as_before() {
    for name in RUNS {
        let d = diagnose_dir(&fixtures().join("runs").join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (file, got) in [
            ("diagnosis.json", json::render(&d).unwrap()),
            ("report.txt", text::render(&d)),
            ("report.html", html::render(&d)),
        ] {
            let path = fixtures().join("expected").join(name).join(file);
            if std::env::var_os("SATLAB_BLESS").is_some() {
                std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                continue;
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                got == want,
                "{name}/{file} differs from {}: {}",
                path.display(),
                first_difference(&want, &got)
            );
        }
    }
}
