//! The children's log files under `logs/`: created for their stdout and stderr, and read
//! back (their last lines) for messages.

use crate::error::LabError;
use satlab_record::RunDir;
use std::path::Path;
use std::process::Stdio;

/// Create `logs/NAME` and return it twice, for a child's stdout and stderr.
pub fn log_file(dir: &RunDir, name: &str) -> Result<(Stdio, Stdio), LabError> {
    let logs = dir.logs();
    std::fs::create_dir_all(&logs)
        .map_err(|e| LabError::Env(format!("{}: {e}", logs.display())))?;
    let path = logs.join(name);
    let f = std::fs::File::create(&path)
        .map_err(|e| LabError::Env(format!("{}: {e}", path.display())))?;
    let f2 = f
        .try_clone()
        .map_err(|e| LabError::Env(format!("{}: {e}", path.display())))?;
    Ok((Stdio::from(f), Stdio::from(f2)))
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
