//! Verdict rules as small named signals, after tokio-console's warnings: each type owns its
//! thresholds (named constants with the reason for their value), checks one step in its
//! context, and words the [`Evidence`](crate::model::Evidence) it found. [`classify`] only combines the signals that
//! fired, by a documented precedence; [`advice`] says what would confirm each verdict.

pub mod advice;
pub mod before_handler;
pub mod classify;
pub mod client;
pub mod context;
pub mod core_ceiling;
pub mod disturbed;
pub mod levels;
pub mod machine;
pub mod no_success;
pub mod pool_wait;
pub mod queueing;
pub mod scaling;
pub mod server_cpu;
pub mod shedding;
pub mod signal;
pub mod socket;
pub mod stall_bound;
#[cfg(test)]
pub(crate) mod test_rows;

pub use levels::{CPU_BUSY, CPU_CONTENDED, CPU_HEADROOM, CPU_SATURATED};
pub use signal::{Ctx, Finding, Growth, Position, Signal};
