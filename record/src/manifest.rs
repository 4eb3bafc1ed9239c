//! `manifest.json`: what wrote the run directory, when, and whether it is complete.

use serde::{Deserialize, Serialize};

/// The run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still being written.
    Running,
    /// Every step ran to its end.
    Complete,
    /// Stopped early: Ctrl-C, a child died, a fatal error.
    Interrupted,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema id, [`Manifest::SCHEMA`].
    pub schema: String,
    /// The program that wrote the directory (`observer lab`, `loadgen`, `observer serve`).
    pub created_by: String,
    /// Its version.
    pub version: String,
    /// Scenario name, when run from one.
    pub scenario: Option<String>,
    /// Start, Unix ns.
    pub started_unix_ns: u64,
    /// End, Unix ns (0 while running).
    pub ended_unix_ns: u64,
    /// Status.
    pub status: RunStatus,
    /// Why the run was interrupted, when it was.
    pub interrupt_reason: Option<String>,
    /// PIDs of the sampled processes: client, server.
    pub client_pid: Option<u32>,
    /// PID of the target service.
    pub server_pid: Option<u32>,
    /// The host's CPU count, for the reader's context.
    pub host_cpus: usize,
    /// Where the lab's traffic ran: `private` (a network namespace of its own, so the
    /// kernel counters count only the lab's sockets) or `host` (they are machine-wide and
    /// may include unrelated traffic). `None` when unknown.
    #[serde(default)]
    pub network: Option<String>,
}

impl Manifest {
    /// Schema id of this version.
    pub const SCHEMA: &'static str = "satlab.run/1";
}
