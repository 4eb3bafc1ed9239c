//! What satlab's three programs share beyond the run-directory schema (`satlab-record`):
//! one parser or reader for each notion, so `target-api`, `loadgen` and `observer` cannot
//! disagree about it.
//!
//! - [`duration`]: human durations (`250ms`, `30s`, `1m30s`, `1h`), parsing and formatting;
//! - [`capacity`]: the CPUs a process may use (affinity, cgroup v2 and v1 quotas);
//! - [`otel_env`]: the standard `OTEL_*` variables, parsed (no OpenTelemetry dependency);
//! - [`rng`]: SplitMix64, the small seeded generator;
//! - [`cpu_work`]: the synthetic CPU work loop, spun on the calling thread's CPU clock;
//! - [`exit`]: exit codes and the clap-error path every binary takes.
//!
//! `satlab-record` stays the schema of the run directory (its files, and the JSON-lines
//! reader and writer that define their torn-line rule); this crate holds the conventions of
//! the processes that write it.

#![warn(missing_docs)]

pub mod capacity;
pub mod cpu_work;
pub mod duration;
pub mod exit;
pub mod otel_env;
pub mod rng;
