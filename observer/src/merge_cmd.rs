//! `observer merge`: merge a distributed run's parts again, offline (what `observer serve`
//! does before it diagnoses a distributed run), e.g. after copying a run directory away.

use crate::distributed::{coordinator, merge};
use clap::Args;
use satlab_record::RunDir;
use std::path::PathBuf;

/// `observer merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The distributed run's directory (holds loadgen/distributed.json and loadgen/parts/).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Merge the parts into `DIR/loadgen/` and update `distributed.json`; prints what merged.
pub fn run(a: &MergeArgs) -> anyhow::Result<()> {
    let dir = RunDir::new(&a.dir);
    let Some(mut record) = coordinator::read_record(&dir).map_err(anyhow::Error::msg)? else {
        anyhow::bail!(
            "{}: no loadgen/distributed.json: not a distributed run (observer serve writes it \
             when the run starts)",
            a.dir.display()
        );
    };
    let merged = merge::merge(&coordinator::parts_dir(&dir), &dir.loadgen(), &mut record);
    coordinator::write_record(&dir, &record).map_err(anyhow::Error::msg)?;
    let summary = merged?;
    let missing: Vec<String> = record.missing().map(|p| p.loadgen.to_string()).collect();
    eprintln!(
        "merged {} of {} loadgens: {} requests, start skew {:.1} ms{}",
        record.parts.len() - missing.len(),
        record.ran,
        summary.overall.requests,
        record.start_skew_ms,
        if missing.is_empty() {
            String::new()
        } else {
            format!("; missing: {}", missing.join(", "))
        }
    );
    Ok(())
}
