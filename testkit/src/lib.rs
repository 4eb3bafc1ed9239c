//! Test-only helpers shared by satlab's test suites and benchmarks, kept out of the
//! shipped libraries: crates take this one as a dev-dependency only.

#![warn(missing_docs)]

pub mod alloc_count;
pub mod child;
pub mod cpu_cost;
pub mod http_server;
pub mod synth;
pub mod synth_spans;
