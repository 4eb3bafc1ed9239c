//! target-api: the satlab sample service.
//!
//! `POST /api/vector/add` with a selectable bottleneck ([`profile`]: CPU, I/O, downstream
//! [`pool`]), server events ([`events`]: stop-the-world pauses, pool recycling, CPU bursts,
//! shedding), socket limits ([`server`], [`limits`]), a run-time [`admin`] API, and
//! OpenTelemetry export ([`telemetry`]). [`cli::run`] is the binary; [`server::serve`] and
//! [`server::ServerHandle`] run the service in-process.

#![warn(missing_docs)]

pub mod admin;
pub mod api;
pub mod cli;
pub mod config;
pub mod decode;
pub mod error;
pub mod events;
pub mod limits;
pub mod live;
pub mod pool;
pub mod profile;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod units;

pub use config::{Config, Settings};
pub use error::{ApiError, ServeError};
pub use server::{ServeReport, ServerHandle, bind, serve};
pub use telemetry::{Telemetry, TelemetryConfig};
