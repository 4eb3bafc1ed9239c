//! The satlab diagnosis: why throughput plateaued (client, server or socket), the USL fit,
//! and periodic latency spikes tied to server events — a pure, deterministic function of a
//! run directory, with its reports.
//!
//! [`diagnose`] is the core over a [`DiagnosisInput`]; [`diagnose_dir`] loads a run
//! directory first ([`load_dir`]); [`report`] renders the typed [`Diagnosis`] as text, JSON
//! or HTML. Writing files into the run directory is the caller's business (the observer).

#![warn(missing_docs)]

pub mod breakdown;
pub mod cause;
pub mod decomposition;
pub mod diagnose;
pub mod error;
pub mod format;
pub mod input;
pub mod inside;
pub mod intervals;
pub mod join;
pub mod latency;
pub mod metric_window;
pub mod model;
pub mod modes;
pub mod parts;
pub mod plateau;
pub mod process_cpu;
pub mod report;
pub mod run_verdict;
pub mod signals;
pub mod spikes;
pub mod stall;
mod start_order;
pub mod steps;
pub mod telemetry_drops;
pub mod time_model;
pub mod usl;

pub use diagnose::{diagnose, diagnose_dir};
pub use error::DiagnosisError;
pub use format::fmt_num;
pub use input::{DiagnosisInput, RequestSource, load_dir};
pub use model::*;
