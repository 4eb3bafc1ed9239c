//! The hook from the lab, `observer serve` and `observer diagnose --write` to the diagnosis
//! of a finished run: diagnose it and write `diagnosis.json`, `report.txt` and
//! `report.html` into its directory.

use satlab_diagnosis::report::{html, json, text};
use satlab_diagnosis::{Diagnosis, DiagnosisError, diagnose_dir};
use satlab_record::{RecordError, RunDir, fsio};
use std::path::Path;

/// The outcome of diagnosing a run directory.
#[derive(Debug, Clone)]
pub enum Analysis {
    /// The diagnosis ran and its reports were written.
    Done {
        /// The diagnosis as written to `diagnosis.json`.
        diagnosis: Box<Diagnosis>,
        /// The terminal report (`report.txt`).
        summary: String,
    },
    /// The diagnosis failed.
    Failed(String),
}

/// Diagnose the run in `dir` and write its reports there (see [`diagnose_and_write`]).
pub fn diagnose(dir: &Path) -> Analysis {
    match diagnose_and_write(dir) {
        Ok(d) => Analysis::Done {
            summary: text::render(&d),
            diagnosis: Box::new(d),
        },
        Err(e) => Analysis::Failed(e.to_string()),
    }
}

/// Diagnose a run directory and write `diagnosis.json`, `report.txt` and `report.html`
/// into it (each atomically).
pub fn diagnose_and_write(dir: &Path) -> Result<Diagnosis, DiagnosisError> {
    let d = diagnose_dir(dir)?;
    let run = RunDir::new(dir);
    let body = json::render(&d).map_err(|e| RecordError::Format {
        path: run.diagnosis_json(),
        message: format!("cannot serialise: {e}"),
    })?;
    fsio::write_atomic(&run.diagnosis_json(), body.as_bytes())?;
    fsio::write_atomic(&run.report_txt(), text::render(&d).as_bytes())?;
    fsio::write_atomic(&run.report_html(), html::render(&d).as_bytes())?;
    Ok(d)
}
