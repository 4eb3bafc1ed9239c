//! target-api: the satlab sample service.
//!
//! `POST /api/vector/add` ([`api`]) with a selectable bottleneck ([`profile`]: CPU, I/O,
//! downstream [`pool`]), server events recorded by the [`events`] hub (stop-the-world
//! [`pause`]s, pool recycling, CPU [`bursts`]), load shedding ([`admission`]), socket
//! limits ([`server`], [`limits`]), probes ([`probes`]), a run-time [`admin`] API, and
//! OpenTelemetry export ([`telemetry`], wrapped around every route by [`observe`]).
//! [`cli::run`] is the binary; [`server::serve`] and [`server::ServerHandle`] run the
//! service in-process. Shared notions (durations, CPU capacity, `OTEL_*`, exit codes)
//! come from `satlab_common`.

#![warn(missing_docs)]

pub mod admin;
pub mod admission;
pub mod api;
pub mod body;
pub mod bursts;
pub mod cli;
pub mod config;
pub mod count;
pub mod decode;
pub mod error;
pub mod events;
pub mod limits;
pub mod live;
pub mod observe;
pub mod pause;
pub mod pool;
pub mod probes;
pub mod profile;
pub mod router;
pub mod routes;
pub mod runtime_flags;
pub mod server;
pub mod state;
pub mod telemetry;

pub use config::{Config, Settings};
pub use error::{ApiError, FlagsError, ServeError, TelemetryError};
pub use server::{ServeReport, ServerHandle, bind, serve};
pub use telemetry::{Telemetry, TelemetryConfig};
