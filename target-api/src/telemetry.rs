//! OpenTelemetry: server spans, metrics and event log records exported over OTLP.
//!
//! Configured by the standard `OTEL_*` variables, parsed once by
//! `satlab_common::otel_env` ([`TelemetryConfig::from_env`]): no endpoint set, no exporter
//! at all; a per-signal endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, …) exports that
//! signal there. Spans and log records go through batch processors with bounded queues
//! (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`, default 2048): when the collector
//! is slow or dead, new items are dropped, never waited for, and the drops are counted
//! ([`Telemetry::dropped`]).
//!
//! One file per job: `config` (the settings), `handle` (the [`Telemetry`] value),
//! `exporters` (setting the pipelines up), `instruments` and `process_cpu` (the metric
//! instruments), `durations` (the request-duration histogram, bound per series), `request`
//! (the per-request hot path), `server_events` (event export),
//! `shutdown` (the bounded flush), `counting` (drop counting).

mod config;
mod counting;
mod durations;
mod exporters;
mod handle;
mod instruments;
mod process_cpu;
mod request;
mod sampling;
mod server_events;
mod shutdown;
mod span_export;
mod span_proto;
mod traceparent;

pub use crate::error::TelemetryError;
pub use config::{TelemetryConfig, sdk_sampler};
pub use durations::{METHODS, method_index};
pub use handle::Telemetry;
pub use instruments::DURATION_BUCKETS;
pub use request::RequestTelemetry;
pub use satlab_common::otel_env::{Protocol, Signal};
