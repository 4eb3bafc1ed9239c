//! satlab's load generator: closed-loop concurrency stages and open-loop arrival rates,
//! HdrHistogram latencies in µs, errors by kind from the OS errno, W3C `traceparent` on
//! every request, its own CPU and scheduler lag, and a run record others can merge.
//!
//! The binary is a thin wrapper around [`cli::run`]; programs embed it through
//! [`run`] with a [`Plan`] and [`Options`].
//!
//! A request's path: [`closed`] or [`open`] decides when it is due, [`exec`] sends it
//! through [`client`] and places it in its step, and [`record`] takes it from there (the
//! recorder's shards, the per-second tick, the request log, the run record); [`otel`]
//! exports what was recorded, [`table`] prints it.

pub mod classify;
pub mod cli;
pub mod client;
pub mod client_work;
pub mod closed;
pub mod cpu;
pub mod error;
pub mod exec;
pub mod http1;
pub mod io_driver;
pub mod join;
pub mod lag;
pub mod limits;
pub mod observer_client;
pub mod open;
pub mod otel;
pub mod pace;
pub mod plan;
pub mod progress;
pub mod record;
pub mod runner;
pub mod share;
pub mod table;
pub mod threshold;
pub mod trace;
#[cfg(target_os = "linux")]
pub mod uring;

pub use client::{ClientConfig, RequestSpec};
pub use error::LoadgenError;
pub use plan::{Load, Plan, PlanError};
pub use runner::{Options, RunOutcome, run};
pub use tokio_util::sync::CancellationToken;
