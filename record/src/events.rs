//! `otlp/events.jsonl`: server events received as OTLP log records.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kinds of server event the target emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Stop-the-world pause every N requests: the GC analogue.
    GcPause,
    /// The downstream pool is recycled every N uses: reconnect cost.
    PoolRecycle,
    /// A periodic CPU burst every T seconds: cron, log rotation.
    CpuBurst,
}

impl EventKind {
    /// All kinds.
    pub const ALL: [EventKind; 3] = [
        EventKind::GcPause,
        EventKind::PoolRecycle,
        EventKind::CpuBurst,
    ];

    /// True for events that stop the whole process while they last (a stop-the-world pause
    /// freezes every runtime thread: nothing is read, handled or written); the others reach
    /// part of the server (a pool recycle its pool's users, a CPU burst the handlers' CPU).
    pub fn stops_the_process(self) -> bool {
        matches!(self, EventKind::GcPause)
    }

    /// Short name: `gc_pause`, `pool_recycle`, `cpu_burst` (the `satlab.event.name` attribute).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::GcPause => "gc_pause",
            EventKind::PoolRecycle => "pool_recycle",
            EventKind::CpuBurst => "cpu_burst",
        }
    }

    /// The OTLP log record's event name: `satlab.gc_pause`, ...
    pub fn event_name(self) -> &'static str {
        match self {
            EventKind::GcPause => "satlab.gc_pause",
            EventKind::PoolRecycle => "satlab.pool_recycle",
            EventKind::CpuBurst => "satlab.cpu_burst",
        }
    }

    /// Parse either the short or the event name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.name() == s || k.event_name() == s)
    }
}

/// One occurrence of a server event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEvent {
    /// What happened.
    pub kind: EventKind,
    /// Sequence number of this kind of event, from 1.
    pub seq: u64,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
    /// Duration, ns.
    pub duration_ns: u64,
    /// For count-driven events: the server's request (or pool use) count that fired it.
    pub request_index: Option<u64>,
    /// The emitting service (`service.name`).
    pub service: String,
    /// Other attributes as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// One selected server metric data point (`otlp/metrics.jsonl`), as received over OTLP.
///
/// Gauges and sums carry `value`; histograms carry `count`, `sum`, `bounds` and
/// `bucket_counts` (one more count than bounds). Temporality is as the emitter sent it:
/// `cumulative` points repeat the running totals since `start_unix_ns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// The point's time, Unix ns.
    pub t_unix_ns: u64,
    /// Start of the accumulation window, Unix ns (0 for gauges).
    pub start_unix_ns: u64,
    /// The emitting service (`service.name`).
    pub service: String,
    /// Metric name, e.g. `http.server.request.duration`.
    pub name: String,
    /// `gauge`, `sum` or `histogram`.
    pub kind: String,
    /// `cumulative`, `delta` or empty for gauges.
    #[serde(default)]
    pub temporality: String,
    /// The point's attributes as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Gauge or sum value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Histogram: number of recorded values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Histogram: sum of recorded values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    /// Histogram: explicit bucket upper bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<f64>,
    /// Histogram: counts per bucket (`bounds.len() + 1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bucket_counts: Vec<u64>,
}

/// Spans received from one service (`otlp/spans.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpans {
    /// Spans received.
    pub spans: u64,
    /// Spans whose status was error.
    pub errors: u64,
    /// Spans by name (bounded; names past the bound are counted under `other`).
    pub by_name: BTreeMap<String, u64>,
}

/// `otlp/spans.json`: span counts and the trace ids seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanSummary {
    /// Per service.
    pub services: BTreeMap<String, ServiceSpans>,
    /// Trace ids seen (hex), the first ones up to a bound.
    pub trace_ids: Vec<String>,
    /// True when more trace ids were seen than kept.
    pub trace_ids_truncated: bool,
    /// What the span store kept for `otlp/spans.jsonl`.
    #[serde(default)]
    pub timings: crate::spans::SpanTimingStats,
}

/// `otlp/received.json`: what each service sent, by name, so dashboards and diagnosis can
/// check the telemetry names they rely on against what was really emitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceivedSummary {
    /// Per service: the names seen.
    pub services: BTreeMap<String, ReceivedNames>,
    /// Export requests accepted, by signal (`traces`, `metrics`, `logs`).
    pub requests: BTreeMap<String, u64>,
    /// Items (spans, data points, log records) dropped or rejected, by signal.
    pub dropped: BTreeMap<String, u64>,
}

/// Names one service sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceivedNames {
    /// Metric names.
    pub metrics: std::collections::BTreeSet<String>,
    /// Span names.
    pub spans: std::collections::BTreeSet<String>,
    /// Log event names (`event_name` or the `event.name` attribute).
    pub log_events: std::collections::BTreeSet<String>,
}
