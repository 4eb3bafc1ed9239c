//! A distributed run: several loadgens driving one target under one run id, their records
//! merged by the observer (`observer serve`).
//!
//! The observer holds the plan and splits it; a loadgen joins with the run's URL, gets its
//! id, its share (loadgen plan flags) and the common start instant ([`JoinReply`]), runs,
//! and uploads its record tagged with [`DistributedPart`]. The merged run keeps
//! [`DistributedRecord`] in `loadgen/distributed.json` and each part under
//! `loadgen/parts/<id>/`.

use serde::{Deserialize, Serialize};

/// What a joining loadgen is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinReply {
    /// The run id.
    pub run: String,
    /// This loadgen's id, from 0.
    pub loadgen: u32,
    /// How many loadgens run.
    pub of: u32,
    /// The share as loadgen plan flags (e.g. `["--stages", "10:5s", "--settle", "1s"]`).
    pub args: Vec<String>,
    /// The share's plan spec: the uploaded summary's `plan` must equal it.
    pub spec: String,
    /// When to send the first request, Unix ns (wall clock).
    pub start_unix_ns: u64,
}

/// The tag on a distributed part's `summary.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributedPart {
    /// The run id.
    pub run: String,
    /// This loadgen's id.
    pub loadgen: u32,
    /// How many loadgens ran.
    pub of: u32,
    /// The announced start instant, Unix ns.
    pub start_unix_ns: u64,
}

/// One loadgen of a merged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Its id.
    pub loadgen: u32,
    /// Its share's plan spec.
    pub spec: String,
    /// Whether its record was merged.
    pub merged: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// Its first actual send minus the announced start, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_send_ms: Option<f64>,
    /// Requests it completed (measured windows).
    #[serde(default)]
    pub requests: u64,
    /// Its own CPU per step, 0-1 of its capacity.
    #[serde(default)]
    pub client_cpu: Vec<f64>,
    /// Its own scheduler lag per step, p99 µs.
    #[serde(default)]
    pub sched_lag_p99_us: Vec<u64>,
}

/// `loadgen/distributed.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedRecord {
    /// Schema id, [`DistributedRecord::SCHEMA`].
    pub schema: String,
    /// The run id.
    pub run: String,
    /// The whole plan's spec.
    pub plan: String,
    /// Loadgens the run was set up for.
    pub planned: u32,
    /// Loadgens that joined and ran (the plan was split among these).
    pub ran: u32,
    /// The announced start, Unix ns.
    pub start_unix_ns: u64,
    /// Largest first-send skew among the merged loadgens, ms.
    pub start_skew_ms: f64,
    /// What the merge assumes of clocks.
    pub clock: String,
    /// Each loadgen.
    pub parts: Vec<PartRecord>,
}

impl DistributedRecord {
    /// Schema id of this version.
    pub const SCHEMA: &'static str = "satlab.distributed/1";
    /// The clock assumption every merge records.
    pub const CLOCK: &'static str = "loadgens and the target read one wall clock (one host, or \
        hosts synchronised by NTP/PTP): request times are rebased on each loadgen's own start \
        and compared with the target's events as read";

    /// The loadgens that did not make it into the merge.
    pub fn missing(&self) -> impl Iterator<Item = &PartRecord> {
        self.parts.iter().filter(|p| !p.merged)
    }
}
