//! satlab's load generator: closed-loop concurrency stages and open-loop arrival rates,
//! HdrHistogram latencies in µs, errors by kind from the OS errno, W3C `traceparent` on
//! every request, its own CPU and scheduler lag, and a run record others can merge.
//!
//! The binary is a thin wrapper around [`cli::run`]; programs embed it through
//! [`run`] with a [`Plan`] and [`Options`].

pub mod classes;
pub mod classify;
pub mod cli;
pub mod client;
pub mod closed;
pub mod collector;
pub mod cpu;
pub mod exec;
pub mod limits;
pub mod open;
pub mod otel;
pub mod plan;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod reqlog;
pub mod runner;
pub mod stats;
pub mod testserver;
pub mod trace;

pub use client::{ClientConfig, RequestSpec};
pub use plan::{Load, Plan, PlanError};
pub use runner::{Options, RunOutcome, run};
pub use tokio_util::sync::CancellationToken;

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The plan is invalid.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The URL, method or a header is invalid, or the host does not resolve.
    #[error(transparent)]
    Target(#[from] client::TargetError),
    /// The plan does not fit the file-descriptor limit.
    #[error(transparent)]
    FdLimit(#[from] limits::FdLimitError),
    /// The run record could not be written.
    #[error("writing the run record: {0}")]
    Record(#[from] satlab_record::RecordError),
    /// The OTLP exporter could not start.
    #[error("OpenTelemetry export: {0}")]
    Telemetry(String),
    /// An internal task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl LoadgenError {
    /// True when the command line asked for something impossible (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            LoadgenError::Plan(_) | LoadgenError::FdLimit(_) => true,
            LoadgenError::Target(t) => !matches!(t, client::TargetError::Resolve { .. }),
            _ => false,
        }
    }
}
