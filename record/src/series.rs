//! `loadgen/seconds.jsonl`: one line per second of the run.

use crate::failure::Failure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What happened in one second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    /// Seconds since the run start (the second that ends at `t_s + 1`).
    pub t_s: u32,
    /// The step running at the end of this second.
    pub step: u32,
    /// Requests completed in this second.
    pub requests: u64,
    /// Of those, responses with status < 400.
    pub ok: u64,
    /// Failures by kind or error status (written `connect_refused`, `http_503`).
    pub errors: BTreeMap<Failure, u64>,
    /// Median latency of this second's completions, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Maximum, µs.
    pub max_us: u64,
    /// Requests in flight at the end of the second.
    pub in_flight: u64,
    /// Loadgen CPU in this second, 0–1 of its capacity.
    pub cpu: f64,
    /// Largest scheduler lag in this second, µs.
    pub sched_lag_max_us: u64,
    /// Open loop: sends due in this second that were dropped (no free slot).
    #[serde(default)]
    pub dropped: u64,
}
