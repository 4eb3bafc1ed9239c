//! `otlp/events.jsonl`: server events received as OTLP log records.

use crate::event_names::{self, EventNameError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kinds of server event: the three target-api emits, and those any other service
/// reports by the event convention (`docs/events.md`).
///
/// On the wire a built-in kind is its short name (`"gc_pause"`); a reported one is
/// `{"name": "python.gc", "scope": "process"}` (a bare unknown name reads as scope `part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Stop-the-world pause every N requests: the GC analogue.
    GcPause,
    /// The downstream pool is recycled every N uses: reconnect cost.
    PoolRecycle,
    /// A periodic CPU burst every T seconds: cron, log rotation.
    CpuBurst,
    /// An event another service reported under its own name.
    Reported(ReportedEvent),
}

/// What a reported event stops while it lasts (`satlab.event.scope`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventScope {
    /// The whole process: nothing is read, handled or written (a stop-the-world GC).
    Process,
    /// Part of it: some requests or some CPU (the default).
    #[default]
    Part,
}

impl EventScope {
    /// Parse `process` or `part`.
    pub fn parse(s: &str) -> Option<EventScope> {
        match s {
            "process" => Some(EventScope::Process),
            "part" => Some(EventScope::Part),
            _ => None,
        }
    }
}

/// An event kind another service reported: its name (interned, see
/// [`crate::event_names`]) and what it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportedEvent {
    name: &'static str,
    scope: EventScope,
}

impl ReportedEvent {
    /// The event's name as the service reported it.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// What it stops.
    pub fn scope(self) -> EventScope {
        self.scope
    }
}

impl EventKind {
    /// The built-in kinds.
    pub const ALL: [EventKind; 3] = [
        EventKind::GcPause,
        EventKind::PoolRecycle,
        EventKind::CpuBurst,
    ];

    /// The kind of an event named `name`: a built-in one by its short or event name,
    /// else a reported one with `scope`.
    pub fn named(name: &str, scope: EventScope) -> Result<EventKind, EventNameError> {
        if let Some(k) = EventKind::parse(name) {
            return Ok(k);
        }
        let name = event_names::intern(name)?;
        Ok(EventKind::Reported(ReportedEvent { name, scope }))
    }

    /// The kinds present in `events`, each once: built-in ones first, in [`Self::ALL`]'s
    /// order, then reported ones by name.
    pub fn present(events: &[ServerEvent]) -> Vec<EventKind> {
        let set: std::collections::BTreeSet<EventKind> = events.iter().map(|e| e.kind).collect();
        set.into_iter().collect()
    }

    /// True for events that stop the whole process while they last (a stop-the-world pause
    /// freezes every runtime thread: nothing is read, handled or written); the others reach
    /// part of the server (a pool recycle its pool's users, a CPU burst the handlers' CPU).
    pub fn stops_the_process(self) -> bool {
        match self {
            EventKind::GcPause => true,
            EventKind::PoolRecycle | EventKind::CpuBurst => false,
            EventKind::Reported(r) => r.scope == EventScope::Process,
        }
    }

    /// Short name: `gc_pause`, `pool_recycle`, `cpu_burst` (the `satlab.event.name`
    /// attribute), or a reported event's own name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::GcPause => "gc_pause",
            EventKind::PoolRecycle => "pool_recycle",
            EventKind::CpuBurst => "cpu_burst",
            EventKind::Reported(r) => r.name,
        }
    }

    /// The OTLP log record's event name: `satlab.gc_pause`, ..., or a reported event's
    /// own name.
    pub fn event_name(self) -> &'static str {
        match self {
            EventKind::GcPause => "satlab.gc_pause",
            EventKind::PoolRecycle => "satlab.pool_recycle",
            EventKind::CpuBurst => "satlab.cpu_burst",
            EventKind::Reported(r) => r.name,
        }
    }

    /// Parse a built-in kind's short or event name.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.name() == s || k.event_name() == s)
    }
}

/// An event kind as written: a built-in kind's short name, or a reported one's name and
/// scope.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum KindWire<'a> {
    Short(std::borrow::Cow<'a, str>),
    Reported {
        name: std::borrow::Cow<'a, str>,
        #[serde(default)]
        scope: EventScope,
    },
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventKind::Reported(r) => KindWire::Reported {
                name: r.name.into(),
                scope: r.scope,
            },
            k => KindWire::Short(k.name().into()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (name, scope) = match KindWire::deserialize(d)? {
            KindWire::Short(n) => (n, EventScope::Part),
            KindWire::Reported { name, scope } => (name, scope),
        };
        EventKind::named(&name, scope).map_err(serde::de::Error::custom)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_in_the_old_and_the_new_form() {
        let builtin: EventKind = serde_json::from_str("\"gc_pause\"").unwrap();
        assert_eq!(builtin, EventKind::GcPause);
        assert_eq!(serde_json::to_string(&builtin).unwrap(), "\"gc_pause\"");
        let gc = EventKind::named("python.gc", EventScope::Process).unwrap();
        let text = serde_json::to_string(&gc).unwrap();
        assert_eq!(text, r#"{"name":"python.gc","scope":"process"}"#);
        assert_eq!(serde_json::from_str::<EventKind>(&text).unwrap(), gc);
        assert!(gc.stops_the_process());
        assert_eq!(gc.name(), "python.gc");
        let bare: EventKind = serde_json::from_str("\"vacuum\"").unwrap();
        assert!(!bare.stops_the_process());
        assert_eq!(
            EventKind::named("satlab.gc_pause", EventScope::Part).unwrap(),
            EventKind::GcPause
        );
        let e = serde_json::from_str::<EventKind>("\"bad name\"").unwrap_err();
        assert!(e.to_string().contains("bad name"), "{e}");
    }

    #[test]
    fn present_kinds_are_built_in_first_then_by_name() {
        let ev = |kind| ServerEvent {
            kind,
            seq: 0,
            start_unix_ns: 0,
            duration_ns: 1,
            request_index: None,
            service: "s".into(),
            attributes: BTreeMap::new(),
        };
        let z = EventKind::named("z.event", EventScope::Part).unwrap();
        let a = EventKind::named("a.event", EventScope::Part).unwrap();
        let events = [
            ev(z),
            ev(EventKind::CpuBurst),
            ev(a),
            ev(EventKind::GcPause),
            ev(z),
        ];
        assert_eq!(
            EventKind::present(&events),
            [EventKind::GcPause, EventKind::CpuBurst, a, z]
        );
    }
}
