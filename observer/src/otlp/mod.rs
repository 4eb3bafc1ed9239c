//! The OTLP receiver: gRPC (tonic) and HTTP/protobuf (axum) in front of one bounded store.
//!
//! - [`receiver`] binds both listeners and runs them ([`config`] holds their settings);
//! - [`grpc`] and [`http`] are the two transports;
//! - [`store`] is what they write into, with its bounds; [`traces`], [`metrics`] and
//!   [`logs`] convert each signal's export request once, at this boundary, into the run
//!   directory's types ([`attributes`], [`metric_points`], [`span_timing`] help);
//!   [`timings`] keeps a trace-id sample of span timings under its cap; [`ingest`] and
//!   [`stats`] count what was taken and refused; [`persist`] writes the `otlp/` files.

pub mod attributes;
pub mod config;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod logs;
pub mod metric_points;
pub mod metrics;
pub mod persist;
pub mod receiver;
pub mod signal;
pub mod span_timing;
pub mod stats;
pub mod store;
pub mod timings;
pub mod traces;

pub use config::{DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_MESSAGE_BYTES, ReceiverConfig};
pub use receiver::{Receiver, ReceiverError, start};
pub use signal::Signal;
pub use store::{Overflow, Store, StoreLimits};
