//! Writing the run record's last files: `histograms.json`, then, atomically and last,
//! `summary.json` (its presence means the record is complete). `seconds.jsonl` and
//! `requests.bin` are streamed during the run.

use crate::record::tally::Tally;
use hdrhistogram::Histogram;
use satlab_record::histogram::{HistogramsFile, StepHistogram, encode};
use satlab_record::layout::LoadgenFiles;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{RecordError, fsio};

/// Write `histograms.json` then `summary.json` (atomically, last).
pub fn write_record(
    files: &LoadgenFiles,
    summary: &LoadgenSummary,
    steps: &[Tally],
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
