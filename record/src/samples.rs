//! Observer samples: `samples/processes.jsonl`, `samples/system.jsonl`, `samples/kernel.jsonl`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which program a sampled process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The load generator.
    Client,
    /// The target service.
    Server,
    /// The observer itself.
    Observer,
}

/// One sample of one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// When, Unix ns.
    pub t_unix_ns: u64,
    /// Which program.
    pub role: Role,
    /// Its PID.
    pub pid: u32,
    /// CPU since the previous sample, in cores (1.0 = one core busy).
    pub cpu_cores: f64,
    /// CPUs the process may use: its affinity set, capped by its cgroup quota.
    pub cpu_capacity: f64,
    /// `cpu_cores / cpu_capacity`, 0–1.
    pub cpu_util: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u32,
    /// Open file descriptors.
    pub open_fds: u32,
    /// Soft RLIMIT_NOFILE.
    pub fd_limit: u64,
    /// The busiest threads since the previous sample (`/proc/PID/task/*/stat`), busiest
    /// first, at most [`MAX_THREAD_SAMPLES`]; threads below 1% of a core are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread_cpu: Vec<ThreadCpu>,
    /// Time its threads spent runnable but waiting for a CPU since the previous sample, in
    /// thread-seconds per second (`/proc/PID/task/*/schedstat`): a process others crowd off
    /// its CPUs reads high here whatever its own CPU use. `None` where schedstat is absent.
    /// Runs recorded before this field carry the same figure as `cpu_wait_cores`.
    #[serde(
        default,
        alias = "cpu_wait_cores",
        skip_serializing_if = "Option::is_none"
    )]
    pub run_queue_wait: Option<f64>,
}

/// Most threads a process sample lists.
pub const MAX_THREAD_SAMPLES: usize = 8;

/// One thread's CPU since the previous sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCpu {
    /// Thread id.
    pub tid: u32,
    /// Its name (`comm`, at most 15 bytes: `tokio-runtime-w`).
    pub name: String,
    /// CPU since the previous sample, in cores (1.0 = the thread ran all the time).
    pub cpu_cores: f64,
}

/// Machine-wide CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemSample {
    /// When, Unix ns.
    pub t_unix_ns: u64,
    /// Busy fraction of all CPUs, 0–1.
    pub cpu_util: f64,
    /// Busy fraction per CPU, 0–1.
    pub per_cpu: Vec<f64>,
    /// Share of all CPUs' time the hypervisor gave to other guests (steal), 0–1; it is
    /// part of `cpu_util`. 0 on bare metal and in records from before it was sampled.
    #[serde(default)]
    pub steal: f64,
}

/// Kernel TCP counters of the target's network namespace over one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelSample {
    /// End of the interval, Unix ns.
    pub t_unix_ns: u64,
    /// Interval length, s.
    pub interval_s: f64,
    /// Counter increases over the interval, by name: `ListenOverflows`, `ListenDrops`,
    /// `TCPSynRetrans`, `TCPTimeouts`, `AttemptFails`, `EstabResets`, `RetransSegs`.
    pub deltas: BTreeMap<String, u64>,
    /// Gauges at the end of the interval: `CurrEstab`, `tcp_inuse`, `tcp_tw`, `tcp_orphan`.
    pub gauges: BTreeMap<String, u64>,
    /// `net.ipv4.ip_local_port_range` (low, high).
    pub port_range: Option<(u32, u32)>,
}
