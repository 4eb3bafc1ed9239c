//! `loadgen/summary.json`: what the load generator did and measured, per step and overall.

use crate::error_kind::ErrorKind;
use crate::failure::Failure;
use crate::threshold::ThresholdResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether workers wait for responses (closed) or requests follow a schedule (open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// N workers, each sends its next request when the previous one ends.
    Closed,
    /// Requests are sent at a target arrival rate; latency counts from the intended send time.
    Open,
}

/// How connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    /// One shared keep-alive pool.
    KeepAlive,
    /// A new TCP connection per request, closed after it.
    NewConnection,
}

/// Latency figures of one window, µs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Mean.
    pub mean_us: f64,
    /// Standard deviation.
    pub stdev_us: f64,
    /// Minimum.
    pub min_us: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
}

impl LatencySummary {
    /// Summarise a histogram (zeros when empty).
    pub fn from_histogram(h: &hdrhistogram::Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            mean_us: h.mean(),
            stdev_us: h.stdev(),
            min_us: h.min(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Scheduler lag: how late a periodic timer in the load generator fired, µs.
/// High lag means the client itself is starved of CPU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    /// Mean lateness.
    pub mean_us: f64,
    /// 99th percentile lateness.
    pub p99_us: u64,
    /// Largest lateness.
    pub max_us: u64,
}

/// Open loop: how late sends started after their intended time, µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SendLateness {
    /// Median lateness.
    pub p50_us: u64,
    /// 99th percentile lateness.
    pub p99_us: u64,
    /// Largest lateness.
    pub max_us: u64,
}

impl SendLateness {
    /// The figures of a lateness histogram (µs).
    pub fn from_histogram(h: &hdrhistogram::Histogram<u64>) -> Self {
        SendLateness {
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}

/// Figures of one load step (or of the whole run), over its measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// Step index, from 0. The whole run uses `u32::MAX`.
    pub index: u32,
    /// Configured concurrency (closed loop): workers.
    pub concurrency: Option<u32>,
    /// Configured arrival rate (open loop), requests/s.
    pub target_rate: Option<f64>,
    /// Step start, µs since the run start.
    pub start_us: u64,
    /// End of the settle time: statistics cover `[measure_start_us, end_us)`.
    pub measure_start_us: u64,
    /// Step end, µs since the run start.
    pub end_us: u64,
    /// Requests completed in the measured window (any outcome).
    pub requests: u64,
    /// Requests with a response status below 400.
    pub ok: u64,
    /// Achieved throughput over the measured window, completed requests/s.
    pub rps: f64,
    /// Successful throughput, responses < 400 per second.
    pub ok_rps: f64,
    /// Latency over the measured window (all outcomes that got a response or timed out).
    pub latency: LatencySummary,
    /// Effective concurrency by Little's law: `rps × mean latency`.
    pub n_eff: f64,
    /// Failures without a response by kind (no entry for [`ErrorKind::None`]), written under
    /// the kind's name in name order ([`ErrorKind`]'s `Ord`).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Responses by HTTP status code, written as strings (`"200"`, `"429"`); for the
    /// three-digit codes HTTP has, numeric order is the strings' order.
    pub status: BTreeMap<u16, u64>,
    /// Open loop: sends that could not start on time (no free slot), and were skipped.
    pub dropped: u64,
    /// Open loop: sends that started later than `late_threshold_us` after their intended time.
    pub late: u64,
    /// Open loop: how late the sends started (absent in closed loop and older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lateness: Option<SendLateness>,
    /// Mean in-flight requests sampled each second.
    pub in_flight_mean: f64,
    /// The load generator's CPU over the window, 0–1 of the CPUs it may use.
    pub client_cpu: f64,
    /// Scheduler lag over the window.
    pub sched_lag: LagSummary,
}

impl StepSummary {
    /// Failed requests: no response (every [`ErrorKind`]) or a status of 400 or more
    /// (429 included: the server refused the request). Open-loop dropped sends were never
    /// sent and are not counted.
    pub fn failed(&self) -> u64 {
        let no_response: u64 = self.errors.values().sum();
        let statuses: u64 = self
            .status
            .iter()
            .filter(|(code, _)| Failure::status(**code).is_some())
            .map(|(_, n)| n)
            .sum();
        no_response + statuses
    }

    /// The error share: [`StepSummary::failed`] over completed requests; `None` when
    /// none completed.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failed() as f64 / self.requests as f64)
    }
}

/// `loadgen/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadgenSummary {
    /// Schema id, [`LoadgenSummary::SCHEMA`].
    pub schema: String,
    /// The loadgen version.
    pub tool_version: String,
    /// The loadgen's PID.
    pub pid: u32,
    /// Target URL.
    pub url: String,
    /// HTTP method.
    pub method: String,
    /// Closed or open loop.
    pub mode: LoadMode,
    /// Keep-alive pool or a connection per request.
    pub connection: ConnectionMode,
    /// `"http1"` or `"http2"`.
    pub http_version: String,
    /// The I/O driver of the requests: `"io_uring"` (the closed loop's HTTP/1.1 keep-alive
    /// workers, where the kernel offers it) or `"tokio"`; records from before the choice
    /// existed were all tokio.
    #[serde(default = "tokio_driver")]
    pub io_driver: String,
    /// The plan as given on the command line (e.g. `10:30s,100:30s`).
    pub plan: String,
    /// Settle time excluded at the start of each step, ms.
    pub settle_ms: u64,
    /// Wall-clock start, Unix ns: the zero of every `*_us` offset.
    pub started_unix_ns: u64,
    /// Wall-clock end, Unix ns.
    pub ended_unix_ns: u64,
    /// True when the run was stopped early (Ctrl-C, a fatal error).
    pub interrupted: bool,
    /// Why the run ended early, when it did.
    pub interrupt_reason: Option<String>,
    /// CPUs the loadgen may use (affinity and cgroup quota).
    pub cpu_capacity: f64,
    /// Trace sampling ratio for `traceparent` (sampled flag) and client spans.
    pub trace_sample_ratio: f64,
    /// Open loop: the cap on outstanding requests (sends beyond it are dropped).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// Open loop: a send starting more than this after its intended time counts as late, µs.
    #[serde(default)]
    pub late_threshold_us: u64,
    /// Client-side CPU time spent per request before sending (`--client-work`, on the
    /// sending thread's CPU clock), µs.
    #[serde(default)]
    pub client_work_us: u64,
    /// Records written to `requests.bin`.
    #[serde(default)]
    pub request_log_records: u64,
    /// Records not written because the log writer fell behind (memory stays bounded).
    #[serde(default)]
    pub request_log_dropped: u64,
    /// Requests still in flight when the bounded end-of-run wait expired (not recorded).
    #[serde(default)]
    pub abandoned_in_flight: u64,
    /// Sampled client spans dropped because the export queue was full.
    #[serde(default)]
    pub spans_dropped: u64,
    /// Per step.
    pub steps: Vec<StepSummary>,
    /// All measured windows together.
    pub overall: StepSummary,
    /// The distributed run this record is a part of (absent for a run of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<crate::distributed::DistributedPart>,
    /// The `--threshold`s, judged at the end of the run (absent when none were given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
}

impl LoadgenSummary {
    /// Schema id of this version.
    pub const SCHEMA: &'static str = "satlab.loadgen.summary/1";
}

fn tokio_driver() -> String {
    "tokio".into()
}
