//! The one error type of the run-directory files.

/// Errors reading or writing run-directory files.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's content did not match its schema.
    #[error("{path}: {message}")]
    Format {
        /// The file involved.
        path: std::path::PathBuf,
        /// What was wrong, with the line number where it applies.
        message: String,
    },
    /// A line of a JSON-lines file did not match its schema.
    #[error("{path}: line {line}: {message}")]
    Line {
        /// The file involved.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A histogram could not be encoded or decoded.
    #[error("histogram: {0}")]
    Histogram(String),
}

impl RecordError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        RecordError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        RecordError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
