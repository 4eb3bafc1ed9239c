//! Why a diagnosis could not be made: the crate's one error type, at the bottom of the
//! module graph so every file can return it without importing its parent.

use satlab_record::RecordError;
use std::path::PathBuf;

/// Why a diagnosis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiagnosisError {
    /// The directory is not a run directory.
    #[error("{path} is not a run directory: {why}")]
    NotARunDir {
        /// The directory given.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A run file could not be read or parsed.
    #[error(transparent)]
    Record(RecordError),
    /// A JSON-lines file has a bad line.
    #[error("{path}: line {line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// `loadgen/histograms.json` cannot be used.
    #[error("{path}: {message}")]
    Histograms {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

impl From<RecordError> for DiagnosisError {
    /// A bad JSON line becomes [`DiagnosisError::Malformed`]; anything else stays a
    /// [`DiagnosisError::Record`].
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Line {
                path,
                line,
                message,
            } => DiagnosisError::Malformed {
                path,
                line,
                message,
            },
            e => DiagnosisError::Record(e),
        }
    }
}
