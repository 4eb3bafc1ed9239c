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
