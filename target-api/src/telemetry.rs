//! OpenTelemetry: server spans, metrics and event log records exported over OTLP.
//!
//! Configured by the standard `OTEL_*` variables, parsed once by
//! `satlab_common::otel_env` ([`TelemetryConfig::from_env`]): no endpoint set, no exporter
//! at all; a per-signal endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, …) exports that
//! signal there. Spans go through satlab's own bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`,
//! default 2048), log records through the SDK's batch processor
//! (`OTEL_BLRP_MAX_QUEUE_SIZE`, default 2048): when the collector is slow or dead, new
//! items are dropped, never waited for, and the drops are counted ([`Telemetry::dropped`]).
//!
//! One file per job: `config` (the settings), `handle` (the [`Telemetry`] value),
//! `exporters` (setting the pipelines up), `instruments` and `process_cpu` (the metric
//! instruments), `durations` (the request-duration histogram, bound per series), `request`
//! (the per-request hot path), `event_attributes` (a server event's attributes),
//! `traceparent` and `sampling` (the parent and the sampler's
//! decision), `server_span` (a sampled span's record), `span_proto` (its OTLP encoding),
//! `span_queue` (batching, per thread), `span_export` (the OTLP call), `server_events`
//! (event export), `shutdown` (the bounded flush), `counting` (drop counting).

mod config;
mod counting;
mod durations;
mod event_attributes;
mod exporters;
mod handle;
mod instruments;
mod process_cpu;
mod request;
mod sampling;
mod server_events;
mod server_span;
mod shutdown;
mod span_export;
mod span_proto;
mod span_queue;
mod traceparent;

pub use crate::error::TelemetryError;
pub use config::{TelemetryConfig, sdk_sampler};
pub use durations::{METHODS, method_index};
pub use handle::Telemetry;
pub use instruments::DURATION_BUCKETS;
pub use request::RequestTelemetry;
pub use satlab_common::otel_env::{Protocol, Signal};
