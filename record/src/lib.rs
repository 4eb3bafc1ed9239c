//! The satlab run directory: one schema shared by `loadgen`, `target-api` and `observer`.
//!
//! A run leaves a directory (see [`layout::RunDir`]) whose files are defined here. Every
//! timestamp is Unix nanoseconds from the wall clock, so client requests and server events
//! line up. Files are written atomically ([`fsio::write_atomic`]).

pub mod error_kind;
pub mod events;
pub mod fsio;
pub mod histogram;
pub mod layout;
pub mod manifest;
pub mod request_log;
pub mod samples;
pub mod series;
pub mod summary;
pub mod telemetry;

pub use error_kind::ErrorKind;
pub use events::{EventKind, MetricPoint, ServerEvent};
pub use layout::RunDir;
pub use request_log::{RequestLogReader, RequestLogWriter, RequestRecord};

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

/// Current Unix time in nanoseconds.
pub fn now_unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
