//! The satlab run directory: one schema shared by `loadgen`, `target-api` and `observer`.
//!
//! A run leaves a directory (see [`layout::RunDir`]) whose files are defined here. Every
//! timestamp is Unix nanoseconds from the wall clock, so client requests and server events
//! line up. Files are written atomically ([`fsio::write_atomic`]).

pub mod clock;
pub mod distributed;
pub mod error;
pub mod error_kind;
pub mod event_names;
pub mod events;
pub mod failure;
pub mod fsio;
pub mod histogram;
pub mod judge;
pub mod layout;
pub mod manifest;
pub mod request_log;
pub mod samples;
pub mod series;
pub mod spans;
pub mod summary;
pub mod telemetry;
pub mod threshold;
pub mod trace_sampling;

pub use clock::{WallClock, now_unix_ns, unix_ns_of};
pub use error::RecordError;
pub use error_kind::ErrorKind;
pub use events::{EventKind, EventScope, MetricPoint, ReportedEvent, ServerEvent};
pub use failure::{Failure, ParseFailureError};
pub use layout::RunDir;
pub use request_log::{RequestLogReader, RequestLogWriter, RequestRecord};
pub use spans::{SpanKind, SpanTiming, SpanTimingStats};
