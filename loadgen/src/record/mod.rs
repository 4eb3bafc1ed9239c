//! The recording path: what happens to a measured request once [`crate::exec`] has sent
//! it and placed it in its step. One file per job:
//!
//! - [`recorder`]: the sharded tallies the workers record into (the hot path);
//! - [`tally`] and [`counts`]: what a window holds (latency histogram in µs, outcomes);
//! - [`classes`]: latencies by request class, for the OTel duration metric's attributes;
//! - [`log`]: the per-request log (`requests.bin`), written by its own thread;
//! - [`tick`]: once a second, the shards drained into the per-step totals and the
//!   per-second series (`seconds.jsonl`), with CPU, scheduler lag and in-flight samples;
//! - [`summary`]: the per-step and overall figures of the run record;
//! - [`write`]: `histograms.json` and, last, `summary.json`.

pub mod classes;
pub mod counts;
pub mod log;
pub mod recorder;
pub mod summary;
pub mod tally;
pub mod tick;
pub mod write;
