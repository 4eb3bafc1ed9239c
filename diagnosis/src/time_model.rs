//! Where each request's time went, as written to `diagnosis.json` (field
//! `where_time_went`): client and server spans joined per request, the latency split into
//! parts per step and run-wide, and the requests inside the server's handler.

use serde::{Deserialize, Serialize};

/// The parts of a request's latency, in one unit (ms, or a share of time 0–1). They add up
/// to the client's latency: from the intended send (open loop) or the actual send (closed
/// loop) to the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    /// Open loop: actual send − intended send (0 in closed loop).
    pub late: f64,
    /// Server span start − client send: connect, kernel queues, accept backlog, runtime
    /// scheduling.
    pub before_handler: f64,
    /// In the handler, waiting for a pool permit (the server span's own figure).
    pub pool_wait: f64,
    /// In the handler, overlapped by a server event (pause, recycle, burst), pool wait
    /// excluded.
    pub stalled: f64,
    /// The rest of the handler: its own work.
    pub handler: f64,
    /// Client end − server span end: the response's way back.
    pub after_handler: f64,
}

impl Parts {
    /// Part names in the order they happen (the JSON field names).
    pub const NAMES: [&'static str; 6] = [
        "late",
        "before_handler",
        "pool_wait",
        "stalled",
        "handler",
        "after_handler",
    ];

    /// The values in [`Parts::NAMES`] order.
    pub fn values(&self) -> [f64; 6] {
        [
            self.late,
            self.before_handler,
            self.pool_wait,
            self.stalled,
            self.handler,
            self.after_handler,
        ]
    }

    /// Built from values in [`Parts::NAMES`] order.
    pub fn from_values(v: [f64; 6]) -> Parts {
        Parts {
            late: v[0],
            before_handler: v[1],
            pool_wait: v[2],
            stalled: v[3],
            handler: v[4],
            after_handler: v[5],
        }
    }

    /// The sum of the parts.
    pub fn total(&self) -> f64 {
        self.values().iter().sum()
    }
}

/// The parts of the requests around one latency quantile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileParts {
    /// The quantile, e.g. 0.99.
    pub quantile: f64,
    /// The joined requests' latency at that quantile (nearest rank), ms.
    pub latency_ms: f64,
    /// Joined requests in the rank band averaged.
    pub band: u64,
    /// The band's lowest quantile (its first rank ÷ joined requests).
    pub band_from: f64,
    /// The band's highest quantile (its last rank + 1 ÷ joined requests).
    pub band_to: f64,
    /// Mean of each part over the band, ms (they add up to the band's mean latency).
    pub parts_ms: Parts,
}

/// The decomposition of a set of joined requests (one step's, or the run's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decomposition {
    /// Joined requests decomposed.
    pub joined: u64,
    /// Client spans expected: requests × the effective sampling ratio (`None` when the
    /// ratio is unknown).
    pub expected_client_spans: Option<f64>,
    /// `joined` ÷ `expected_client_spans`.
    pub joined_share_expected: Option<f64>,
    /// `joined` ÷ the client spans present.
    pub joined_share_present: Option<f64>,
    /// The joined requests' p99 latency, ms.
    pub joined_p99_ms: f64,
    /// The p99 the load generator recorded for the same window(s), ms (`None` when it
    /// recorded none).
    pub recorded_p99_ms: Option<f64>,
    /// The joined requests' mean latency, ms.
    pub mean_ms: f64,
    /// Σ part ÷ Σ latency over the joined requests (each 0–1; they add up to 1).
    pub share: Parts,
    /// The parts at p50, p99 and p99.9.
    pub at: Vec<QuantileParts>,
    /// Requests with a part clamped at 0 (a negative part: the clocks disagree).
    pub clamped: u64,
}

/// Spans counted by how they joined (never dropped silently).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanCounts {
    /// The load generator's client spans (kind client, with a load step).
    pub client: u64,
    /// Client spans joined with their server span.
    pub joined: u64,
    /// Client spans without a server span (failed before the handler, or its span lost).
    pub client_without_server: u64,
    /// Server spans with a parent that is no client span present.
    pub server_without_client: u64,
    /// Other spans: other kinds, root server spans (health checks), client spans without a
    /// step, a second server span under one client span. Counted, never joined.
    pub other: u64,
}

/// Where a figure inside the handler came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsideSource {
    /// The server spans.
    Spans,
    /// The `http.server.active_requests` metric (time-averaged over the window).
    ActiveRequestsMetric,
    /// The `satlab.pool.wait.duration` histogram (sum ÷ count of the window's increase).
    PoolWaitMetric,
}

impl InsideSource {
    /// Short name for reports.
    pub fn label(self) -> &'static str {
        match self {
            InsideSource::Spans => "spans",
            InsideSource::ActiveRequestsMetric => "active_requests",
            InsideSource::PoolWaitMetric => "pool.wait metric",
        }
    }
}

/// Requests inside the server's handler over one step's window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsideHandler {
    /// Mean requests inside the handler (Little's law on the server spans, scaled by the
    /// effective sampling ratio; else the time-average of `http.server.active_requests`).
    pub handler_concurrency: Option<f64>,
    /// Where `handler_concurrency` came from.
    pub handler_concurrency_source: Option<InsideSource>,
    /// Server spans that lay (at least partly) in the window.
    pub server_spans: u64,
    /// N_eff measured by the client (Little's law outside the server).
    pub n_eff: f64,
    /// N_eff − handler concurrency: requests on their way to the handler (and back). May
    /// come out slightly negative from sampling noise.
    pub waiting_before_handler: Option<f64>,
    /// Mean wait for a pool permit, ms.
    pub pool_wait_mean_ms: Option<f64>,
    /// Where `pool_wait_mean_ms` came from.
    pub pool_wait_source: Option<InsideSource>,
}

/// One step's part of the section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTime {
    /// Step index.
    pub index: u32,
    /// Spans of the step's measured window: client spans by their step and send time,
    /// others by their start.
    pub spans: SpanCounts,
    /// The decomposition of its joined requests (`None` when none joined).
    pub decomposition: Option<Decomposition>,
    /// Requests inside the handler.
    pub inside: InsideHandler,
}

/// The sampling that decides which requests have spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanSampling {
    /// The load generator's trace ratio (`traceparent` sampled flag).
    pub client_ratio: f64,
    /// The span store's final trace-id ratio (`None`: `otlp/spans.json` has no account).
    pub store_ratio: Option<f64>,
    /// client × store ratio: the share of requests whose trace was kept (`None` when not
    /// positive).
    pub effective_ratio: Option<f64>,
    /// Sampled client spans the load generator dropped (export queue full).
    pub client_queue_dropped: u64,
    /// Spans the store dropped by its ratio.
    pub store_dropped: u64,
}

/// Where each request's time went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WhereTimeWent {
    /// True when joined requests were decomposed.
    pub available: bool,
    /// Why there is no decomposition, when there is none (one sentence).
    pub reason: Option<String>,
    /// What the split assumes of the clocks (one line).
    pub clock: String,
    /// Which requests have spans.
    pub sampling: SpanSampling,
    /// Every span of the run, by how it joined.
    pub spans: SpanCounts,
    /// Client spans sent outside every step's measured window (settle time), not
    /// decomposed.
    pub outside_windows: u64,
    /// Per step.
    pub steps: Vec<StepTime>,
    /// All steps' measured windows together.
    pub run: Option<Decomposition>,
    /// The largest amount clamped off a part, ms (0 when none was).
    pub clamped_max_ms: f64,
    /// What limits these figures.
    pub notes: Vec<String>,
}
