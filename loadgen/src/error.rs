//! Why a run could not start or finish: the crate's shared error, at the bottom of the
//! module graph so no module imports its parent for it.

use crate::client::TargetError;
use crate::io_driver::IoDriverError;
use crate::limits::FdLimitError;
use crate::plan::PlanError;

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The URL, method or a header is invalid, or the host does not resolve.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The plan does not fit the file-descriptor limit.
    #[error(transparent)]
    FdLimit(#[from] FdLimitError),
    /// `--io` asked for a driver that cannot run here.
    #[error(transparent)]
    IoDriver(#[from] IoDriverError),
    /// The run record could not be written.
    #[error("writing the run record: {0}")]
    Record(#[from] satlab_record::RecordError),
    /// The OTLP exporter could not start.
    #[error("OpenTelemetry export: {0}")]
    Telemetry(String),
    /// The record could not be handed to the distributed run's observer.
    #[error("uploading the record: {0}")]
    Upload(String),
    /// An internal task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl LoadgenError {
    /// True when the command line asked for something impossible (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            LoadgenError::Plan(_) | LoadgenError::FdLimit(_) | LoadgenError::IoDriver(_) => true,
            LoadgenError::Target(t) => !matches!(t, TargetError::Resolve { .. }),
            _ => false,
        }
    }
}
