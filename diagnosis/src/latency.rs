//! Latency histograms (µs): the loadgen's exact record, `loadgen/histograms.json` (one
//! histogram per step's measured window, and their merge), decoded once when the run is
//! loaded; without it, the run-wide histogram is rebuilt from the per-request log.

use crate::error::DiagnosisError;
use hdrhistogram::Histogram;
use satlab_record::histogram::{HistogramsFile, decode};
use std::collections::BTreeMap;
use std::path::Path;

/// `loadgen/histograms.json`, decoded.
#[derive(Debug, Clone)]
pub struct RecordedHistograms {
    /// Each step's measured window, by step index.
    pub steps: BTreeMap<u32, Histogram<u64>>,
    /// All steps' measured windows merged.
    pub overall: Histogram<u64>,
}

impl RecordedHistograms {
    /// Decode `file`, read from `path` (named in errors).
    pub fn decode(file: &HistogramsFile, path: &Path) -> Result<Self, DiagnosisError> {
        let bad = |message: String| DiagnosisError::Histograms {
            path: path.to_path_buf(),
            message,
        };
        if file.schema != HistogramsFile::SCHEMA || file.unit != "us" {
            return Err(bad(format!(
                "schema {:?} in unit {:?}; expected {:?} in \"us\"",
                file.schema,
                file.unit,
                HistogramsFile::SCHEMA
            )));
        }
        let one = |s: &str| decode(s).map_err(|e| bad(e.to_string()));
        Ok(RecordedHistograms {
            steps: file
                .steps
                .iter()
                .map(|h| Ok((h.step, one(&h.latency)?)))
                .collect::<Result<_, DiagnosisError>>()?,
            overall: one(&file.overall)?,
        })
    }
}
