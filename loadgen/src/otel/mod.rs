//! Optional OTLP export of sampled client spans, the `http.client.request.duration`
//! metric (per request class: method, status or `error.type`, step; see
//! [`crate::record::classes`] for how it stays off the request path) and the loadgen's own
//! `process.cpu.utilization` gauge (the per-second value of `seconds.jsonl`).
//!
//! - [`config`]: where to export, from the standard `OTEL_*` variables;
//! - [`spans`]: the bounded queue workers hand finished, sampled requests to, and the
//!   client span each becomes;
//! - [`target`]: the target's attributes (`server.address`, `server.port`, `url.scheme`),
//!   computed once from the URL;
//! - [`metrics`]: the duration metric's attributes per request class;
//! - [`export`]: the export thread, with its own runtime, so export never runs on, or
//!   blocks, the request path.

pub mod config;
pub mod export;
pub mod metrics;
pub mod spans;
pub mod target;
