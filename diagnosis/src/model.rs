//! The diagnosis as written to `diagnosis.json` (schema [`SCHEMA`]).

use crate::time_model::WhereTimeWent;
use satlab_record::summary::{ConnectionMode, LoadMode};
use satlab_record::{EventKind, EventScope, Failure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Schema id of `diagnosis.json`.
pub const SCHEMA: &str = "satlab.diagnosis/1";

/// The whole diagnosis of one run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// What was run.
    pub run: RunInfo,
    /// The run's verdict.
    pub verdict: Verdict,
    /// Where throughput stopped growing.
    pub plateau: Plateau,
    /// The Universal Scalability Law fit.
    pub usl: Usl,
    /// The per-step table.
    pub steps: Vec<StepRow>,
    /// Periodic latency spikes and their cause.
    pub spikes: Spikes,
    /// Latency clusters at SYN-retransmit timeouts (≈1 s, 3 s, 7 s).
    pub syn_retransmit_modes: Vec<LatencyMode>,
    /// Failures over the run by kind or error status (written `connect_refused`, `http_503`).
    pub errors: BTreeMap<Failure, u64>,
    /// Latency over time, downsampled, with server events.
    pub timeline: Timeline,
    /// Where each request's time went: client and server spans joined, the latency split
    /// into parts per step, and the requests inside the handler.
    #[serde(default)]
    pub where_time_went: WhereTimeWent,
    /// What the data could not support, and why.
    pub limitations: Vec<String>,
}

/// What was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Scenario name, when known.
    pub scenario: Option<String>,
    /// `closed` or `open`.
    pub mode: LoadMode,
    /// The offered-load axis: `concurrency` (closed loop) or `rate` (open loop).
    pub load_axis: LoadAxis,
    /// `keep_alive` or `new_connection`.
    pub connection: ConnectionMode,
    /// HTTP method.
    pub method: String,
    /// Target URL.
    pub url: String,
    /// The load plan as given.
    pub plan: String,
    /// Requests in the per-request log (0 when absent).
    pub requests: u64,
    /// Run length, s.
    pub duration_s: f64,
    /// True when the run stopped early.
    pub interrupted: bool,
}

/// The axis offered load is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadAxis {
    /// Closed loop: workers.
    Concurrency,
    /// Open loop: offered requests/s.
    Rate,
}

/// Which side limits throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// The load generator cannot send faster.
    Client,
    /// Requests queue in the server.
    Server,
    /// Connections fail or wait in the kernel.
    Socket,
    /// No plateau in the tested range.
    Scaling,
    /// The machine's CPUs are saturated while client and server share them: the load
    /// generator competes with the server.
    Machine,
    /// Other processes crowded the lab's processes off their CPUs: the figures describe the
    /// machine's other load as much as the system under test.
    Disturbed,
    /// The data does not support a verdict.
    Inconclusive,
}

impl VerdictKind {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Client => "client",
            VerdictKind::Server => "server",
            VerdictKind::Socket => "socket",
            VerdictKind::Scaling => "scaling",
            VerdictKind::Machine => "machine",
            VerdictKind::Disturbed => "disturbed",
            VerdictKind::Inconclusive => "inconclusive",
        }
    }
}

/// What bounds a server verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerBound {
    /// The server's CPU is at capacity.
    Cpu,
    /// The server waits (a pool, I/O) with CPU to spare.
    PoolIo,
    /// The server refuses work (429/503).
    Shedding,
    /// Server events (pauses, recycles) stall it for most of the time: their implied cap is
    /// the plateau.
    Stall,
    /// The server's CPU is flat at a whole number of cores below its capacity: one hot
    /// thread (an event loop, one worker) or a global lock.
    CoreCeiling,
}

impl ServerBound {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ServerBound::Cpu => "cpu",
            ServerBound::PoolIo => "pool_io",
            ServerBound::Shedding => "shedding",
            ServerBound::Stall => "stall",
            ServerBound::CoreCeiling => "core_ceiling",
        }
    }

    /// How people say it: `CPU`, `pool/I/O`, `shedding`, `stall`, `core ceiling`.
    pub fn title(self) -> &'static str {
        match self {
            ServerBound::Cpu => "CPU",
            ServerBound::PoolIo => "pool/I/O",
            ServerBound::Shedding => "shedding",
            ServerBound::Stall => "stall",
            ServerBound::CoreCeiling => "core ceiling",
        }
    }
}

/// One figure that decided a verdict, and the threshold it crossed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured, e.g. `server_cpu`.
    pub signal: String,
    /// Its value (`null` in JSON when unknown).
    #[serde(deserialize_with = "nullable_f64")]
    pub value: f64,
    /// The threshold (a named constant).
    pub threshold: f64,
    /// How `value` compares to `threshold`: `>=`, `<`, ...
    pub comparison: String,
    /// One readable sentence.
    pub text: String,
}

/// The run's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Which side limits throughput.
    pub kind: VerdictKind,
    /// For server verdicts: what bounds the server.
    pub server_bound: Option<ServerBound>,
    /// 0–1.
    pub confidence: f64,
    /// One line, e.g. `server (CPU): throughput plateaus at 1,234 req/s from N = 32`.
    pub headline: String,
    /// The figures that decided it.
    pub evidence: Vec<Evidence>,
    /// What would confirm it.
    pub confirm: String,
}

/// Where throughput stopped growing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// True when a plateau was found.
    pub detected: bool,
    /// The step where throughput reached its plateau (the knee).
    pub step: Option<u32>,
    /// Its concurrency (closed loop).
    pub concurrency: Option<u32>,
    /// Its offered rate (open loop), requests/s.
    pub target_rate: Option<f64>,
    /// Its achieved successful throughput, requests/s.
    pub rps: Option<f64>,
    /// One readable sentence.
    pub text: String,
}

/// The Universal Scalability Law fit, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usl {
    /// Contention σ.
    pub sigma: Option<f64>,
    /// Coherency κ.
    pub kappa: Option<f64>,
    /// Throughput of one unit of load, λ.
    pub lambda: Option<f64>,
    /// The peak √((1−σ)/κ); `None` when κ = 0 (no peak).
    pub n_star: Option<f64>,
    /// Predicted throughput at the peak (or λ/σ when κ = 0).
    pub x_max: Option<f64>,
    /// Goodness of fit, R².
    pub r2: Option<f64>,
    /// Points fitted.
    pub points: usize,
    /// Why no fit was made.
    pub reason: Option<String>,
}

/// A step's per-step verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepVerdict {
    /// The kind.
    pub kind: VerdictKind,
    /// For server: what bounds it.
    pub server_bound: Option<ServerBound>,
    /// Short label for tables, e.g. `server/cpu`.
    pub label: String,
    /// Other processes crowded the client or the server off their CPUs in this step: its
    /// figures are the machine's other load as much as the system's (see the limitations).
    #[serde(default)]
    pub disturbed: bool,
}

/// Kernel counters over one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelStep {
    /// Samples inside the step's window.
    pub samples: usize,
    /// Counter increases summed over the window.
    pub deltas: BTreeMap<String, u64>,
    /// Largest TIME_WAIT count seen.
    pub tw_max: Option<u64>,
    /// Width of the ephemeral port range.
    pub port_range_width: Option<u64>,
}

/// One loadgen's CPU over a step of a distributed run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadgenCpu {
    /// The loadgen's id.
    pub loadgen: u32,
    /// Its CPU, 0–1 of its capacity.
    pub cpu: f64,
}

/// One row of the per-step table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Step index.
    pub index: u32,
    /// Configured concurrency (closed loop).
    pub concurrency: Option<u32>,
    /// Offered rate (open loop), requests/s.
    pub target_rate: Option<f64>,
    /// The offered load on the run's axis (concurrency or rate).
    pub load: f64,
    /// Completed requests/s (any outcome).
    pub rps: f64,
    /// Successful requests/s: the throughput X used for the plateau and the USL.
    pub ok_rps: f64,
    /// Requests in the measured window.
    pub requests: u64,
    /// Mean latency R, ms.
    pub mean_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Little's law N_eff = X·R.
    pub n_eff: f64,
    /// N_eff/N (closed loop) or achieved/offered rate (open loop).
    pub load_ratio: Option<f64>,
    /// Client CPU, 0–1 of its capacity.
    pub client_cpu: Option<f64>,
    /// Server CPU, 0–1 of its capacity (`None` without samples).
    pub server_cpu: Option<f64>,
    /// Machine-wide CPU busy, 0–1 (`None` without samples).
    #[serde(default)]
    pub system_cpu: Option<f64>,
    /// Client scheduler lag p99, ms.
    pub sched_lag_p99_ms: f64,
    /// Failures by kind or error status (written `connect_refused`, `http_503`).
    pub errors: BTreeMap<Failure, u64>,
    /// Failed share of requests.
    pub error_share: f64,
    /// Connection-phase failures' share of requests.
    pub socket_error_share: f64,
    /// 429/503 share of requests.
    pub shed_share: f64,
    /// Open loop: late or dropped sends' share of requests.
    pub late_share: f64,
    /// Kernel counters over the window.
    pub kernel: KernelStep,
    /// Mean requests inside the server's handler: Little's law on the server spans (scaled
    /// by the sampling ratio), else `http.server.active_requests`; `None` without either.
    #[serde(default)]
    pub handler_concurrency: Option<f64>,
    /// Mean time a request waited for a pool permit, ms: the server spans' pool-wait part,
    /// else the `satlab.pool.wait.duration` histogram; `None` without either.
    #[serde(default)]
    pub pool_wait_mean_ms: Option<f64>,
    /// Share of the joined requests' time spent before the server's handler (connect, the
    /// kernel's queues, the accept loop, the runtime's queue), from the split by trace;
    /// `None` without enough joined requests.
    #[serde(default)]
    pub before_handler_share: Option<f64>,
    /// The load generator's CPU over the step, by process and hottest threads (`None` without
    /// samples).
    #[serde(default)]
    pub client_process: Option<ProcessCpu>,
    /// The server's CPU over the step, by process and hottest threads (`None` without
    /// samples).
    #[serde(default)]
    pub server_process: Option<ProcessCpu>,
    /// CPUs of the machine the observer sampled (`None` without system samples).
    #[serde(default)]
    pub machine_cpus: Option<u32>,
    /// Busy cores of the machine not used by the sampled processes (client, server, observer
    /// when sampled): other programs. `None` unless the machine and both client and server
    /// were sampled.
    #[serde(default)]
    pub other_cores: Option<f64>,
    /// Share of the machine's CPU time the hypervisor gave to other guests (steal), 0–1:
    /// each CPU delivered `1 − steal` of a core. `None` when none was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal: Option<f64>,
    /// A distributed run: each loadgen's own CPU over the step, 0–1 of its capacity
    /// (`client_cpu` is the busiest one's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loadgen_cpu: Vec<LoadgenCpu>,
    /// Server events over the step's window, one entry per kind that occurred: how much of
    /// the window they stalled and the throughput cap that implies.
    #[serde(default)]
    pub stalls: Vec<StepStall>,
    /// The step's own verdict.
    pub verdict: StepVerdict,
}

impl StepRow {
    /// The share of a core each CPU delivered over the step: 1 less the steal.
    pub fn delivered_core(&self) -> f64 {
        1.0 - self.steal.unwrap_or(0.0).clamp(0.0, 1.0)
    }
}

/// One process's CPU over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCpu {
    /// Mean CPU in cores (1.0 = one core busy).
    pub cores: f64,
    /// CPUs it may use (affinity and cgroup quota).
    pub capacity: f64,
    /// Mean thread-seconds per second its threads spent runnable but waiting for a CPU
    /// (`None` where the kernel gave no schedstat).
    pub run_queue_wait: Option<f64>,
    /// Its hottest threads, by mean cores over the step, hottest first (at most
    /// [`crate::process_cpu::MAX_HOT_THREADS`]); empty without per-thread samples.
    pub threads: Vec<ThreadLoad>,
    /// Threads that averaged at least [`crate::process_cpu::BUSY_THREAD_CORES`] over the
    /// step (0 without per-thread samples).
    pub busy_threads: u32,
}

/// One thread's mean CPU over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadLoad {
    /// Thread id.
    pub tid: u32,
    /// Its name (`comm`, e.g. `tokio-runtime-w`).
    pub name: String,
    /// Mean cores over the step (1.0 = it ran all the time).
    pub cores: f64,
}

/// What a kind of server event stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StallScope {
    /// The whole server stops (`gc_pause`: a stop-the-world pause).
    Everything,
    /// Requests that need the downstream pool stop (`pool_recycle`).
    PoolUsers,
    /// A CPU is taken from the handlers, which slow down but do not stop (`cpu_burst`).
    HandlerCpu,
    /// Part of the server stops: a reported event of scope `part`.
    Part,
}

impl StallScope {
    /// The scope of an event kind.
    pub fn of(kind: EventKind) -> StallScope {
        match kind {
            EventKind::GcPause => StallScope::Everything,
            EventKind::PoolRecycle => StallScope::PoolUsers,
            EventKind::CpuBurst => StallScope::HandlerCpu,
            EventKind::Reported(r) => match r.scope() {
                EventScope::Process => StallScope::Everything,
                EventScope::Part => StallScope::Part,
            },
        }
    }

    /// What it does, in words: `stops the whole server`, ...
    pub fn describe(self) -> &'static str {
        match self {
            StallScope::Everything => "stops the whole server",
            StallScope::PoolUsers => "stops the pool's users",
            StallScope::HandlerCpu => "takes a CPU from the handlers",
            StallScope::Part => "stops part of the server",
        }
    }
}

/// One kind of server event over one step's measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStall {
    /// The event kind.
    pub kind: EventKind,
    /// What it stops.
    pub scope: StallScope,
    /// Events starting in the window.
    pub events: u64,
    /// Events per second of the window.
    pub per_s: f64,
    /// Their mean duration, ms.
    pub mean_ms: f64,
    /// Share of the window covered by the union of the kind's event intervals (overlaps
    /// count once), 0–1.
    pub share: f64,
    /// True when the events fire by count (they carry a request index): stalls then grow
    /// with throughput.
    pub count_driven: bool,
    /// Count-driven events: the throughput at which they would fill all the time, X ÷
    /// share, requests/s (a pause of d every M requests caps throughput at M/d).
    /// `None` for time-driven events, which remove a fixed share of capacity instead.
    pub implied_cap_rps: Option<f64>,
}

/// The axis on which spikes are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodAxis {
    /// By request index: count-driven causes (GC, pool recycling).
    Requests,
    /// By time: timer-driven causes (cron).
    Time,
}

/// The period of the spikes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// The sharper axis.
    pub by: PeriodAxis,
    /// Median gap in requests.
    pub requests: f64,
    /// Median gap in seconds.
    pub seconds: f64,
    /// Robust coefficient of variation of the gaps on the chosen axis (infinite for gaps of
    /// zero: `null` in JSON, read back as NaN).
    #[serde(deserialize_with = "nullable_f64")]
    pub cv: f64,
    /// Robust CV of the gaps by request index.
    #[serde(deserialize_with = "nullable_f64")]
    pub cv_requests: f64,
    /// Robust CV of the gaps by time.
    #[serde(deserialize_with = "nullable_f64")]
    pub cv_seconds: f64,
}

/// The server events the spikes coincide with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    /// `gc_pause`, `pool_recycle` or `cpu_burst`.
    pub kind: EventKind,
    /// Share of spikes with an event of this kind within the match window, of those not
    /// the hypervisor's (see [`Spikes::hypervisor`]).
    pub matched_fraction: f64,
    /// Spikes matched.
    pub matched: usize,
    /// Events of this kind in the run.
    pub events: usize,
    /// Share of events that coincide with a spike.
    pub events_matched_fraction: f64,
    /// Circular-shift permutation p-value, re-alignments of the events with themselves left
    /// out of the null (see [`crate::cause`]).
    pub p_value: f64,
    /// True when `p_value` < the significance level.
    pub significant: bool,
    /// The plain circular-shift p-value, every shift in the null.
    #[serde(default)]
    pub p_all_shifts: f64,
    /// Share of shifts left out as re-alignments: the test's floor for this run (how often
    /// an unrelated process with the events' period could line up as well, at most).
    #[serde(default)]
    pub p_floor: f64,
    /// Shifts kept in the null (the smallest p is 1 / (1 + this)).
    #[serde(default)]
    pub null_shifts: usize,
}

/// How much of the tail the spikes explain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explains {
    /// Run p99, ms.
    pub p99_ms: f64,
    /// Run p99.9, ms.
    pub p999_ms: f64,
    /// Share of requests above p99 that lie in a spike (of the tier the spikes were drawn
    /// from; with a cause, those are the bursts its test was made on).
    pub p99: f64,
    /// Share of requests above p99.9 that lie in a spike.
    pub p999: f64,
}

/// The share of the tail one event kind explains: requests above the run's p99 and p99.9
/// that lie in a slow burst (of any severity tier) matched to an event of that kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CauseShare {
    /// `gc_pause`, `pool_recycle` or `cpu_burst`.
    pub kind: EventKind,
    /// Events of this kind in the run.
    pub events: usize,
    /// Slow bursts, of every tier, with such an event within the match window.
    pub bursts: usize,
    /// Share of the run's time within the match window of such an event: about the share of
    /// the tail an unrelated kind would hold by chance.
    pub time_share: f64,
    /// Share of requests above p99 inside those bursts.
    pub p99: f64,
    /// Share of requests above p99.9 inside those bursts.
    pub p999: f64,
}

/// The slow bursts above one natural break of severity (how far each one's slowest request
/// stood above the local median).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityTier {
    /// Slow bursts in the tier.
    pub count: usize,
    /// The least severe of its bursts, ms: its slowest request's latency above the local
    /// median.
    pub min_excess_ms: f64,
    /// Robust CV of the gaps on the sharper axis (`None` below five bursts or for gaps of
    /// zero).
    pub period_cv: Option<f64>,
    /// Share of gaps within 20% of a whole number of periods (`None` below five bursts).
    pub on_period: Option<f64>,
    /// True when the gaps' CV makes the tier periodic.
    pub periodic: bool,
}

/// A periodic train among unrelated slow bursts (`spikes::train`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeTrain {
    /// Bursts in the train.
    pub count: usize,
    /// Chance that bursts at random positions, as dense, make a chain as long (bounded
    /// over every period tried).
    pub chance: f64,
}

/// One spike, for charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeMark {
    /// Start, s since the run start.
    pub t_s: f64,
    /// Request index (in start order) of its first slow request.
    pub index: u64,
    /// Slowest latency in it, ms.
    pub peak_ms: f64,
    /// Slow requests in it.
    pub size: u64,
    /// True when a server event coincides.
    pub matched: bool,
    /// True when no server event but a burst of the hypervisor's CPU steal coincides.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hypervisor: bool,
}

/// Periodic latency spikes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spikes {
    /// True when spikes are periodic or tied to server events.
    pub detected: bool,
    /// Spikes: the slow bursts of the tier the verdict is drawn from.
    pub count: usize,
    /// Of them, those no server event explains that a burst of the hypervisor's CPU steal
    /// covers (a sampling interval with steal at least [`crate::spikes::STEAL_BURST`] and
    /// [`crate::spikes::STEAL_STANDS_OUT`] times the run's median): the machine's, left out
    /// of the cause's matched fraction.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hypervisor: usize,
    /// Slow requests (outliers) in all slow bursts.
    pub outliers: u64,
    /// Slow bursts (clusters of slow requests) of every severity.
    #[serde(default)]
    pub bursts: usize,
    /// Nested severity tiers: `tiers[0]` holds every burst, each next one the bursts above
    /// the next natural break of peak excess.
    #[serde(default)]
    pub tiers: Vec<SeverityTier>,
    /// Index in `tiers` of the tier the spikes, their period and cause come from.
    #[serde(default)]
    pub tier: usize,
    /// When no tier keeps a period: the periodic train found among all the bursts, which
    /// the spikes, their period and cause then come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<SpikeTrain>,
    /// Their period, when there are enough spikes.
    pub period: Option<Period>,
    /// The server events they coincide with.
    pub cause: Option<Cause>,
    /// How much of p99/p99.9 they explain.
    pub explains: Option<Explains>,
    /// For each event kind with events in the run, the share of the tail it explains.
    #[serde(default)]
    pub by_cause: Vec<CauseShare>,
    /// One readable sentence.
    pub text: String,
    /// The spikes (at most [`crate::spikes::MAX_MARKS`]).
    pub marks: Vec<SpikeMark>,
}

/// A latency cluster at a SYN-retransmit timeout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyMode {
    /// The timeout, s (1, 3, 7).
    pub at_s: f64,
    /// Requests in the window just above it.
    pub count: u64,
    /// Their share of all requests.
    pub share: f64,
    /// Density in the window over the density just below it.
    pub contrast: f64,
}

/// One bucket of the latency-over-time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Bucket start, s since the run start.
    pub t_s: f64,
    /// Requests started in it.
    pub count: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// Largest latency, ms.
    pub max_ms: f64,
}

/// A server event on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMark {
    /// Start, s since the run start.
    pub t_s: f64,
    /// `gc_pause`, `pool_recycle`, `cpu_burst`.
    pub kind: EventKind,
    /// Duration, ms.
    pub duration_ms: f64,
}

/// Latency over time, downsampled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Bucket width, s.
    pub bucket_s: f64,
    /// The buckets.
    pub points: Vec<TimelinePoint>,
    /// Server events (at most [`crate::spikes::MAX_MARKS`]).
    pub events: Vec<EventMark>,
    /// Step boundaries, s since the run start.
    pub step_starts_s: Vec<f64>,
}

/// Read a number that serde_json wrote as `null` (NaN) back as NaN.
fn nullable_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
