//! The server-event hub: records every pause, recycle and burst (numbered per kind) in a
//! ring of recent events for `GET /admin/events` and for the requests they overlapped,
//! and fans each out to telemetry (OTLP log record, histogram).

use crate::telemetry::Telemetry;
use opentelemetry::trace::SpanContext;
use satlab_record::{EventKind, ServerEvent};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many recent events `GET /admin/events` can return.
pub const RECENT_EVENTS: usize = 4096;

/// Records server events and fans them out to telemetry.
#[derive(Debug)]
pub struct EventHub {
    ring: Mutex<VecDeque<ServerEvent>>,
    generation: AtomicU64,
    /// Sequence numbers per built-in kind, and one shared by any other.
    seqs: [AtomicU64; 4],
    telemetry: Arc<Telemetry>,
    service: String,
}

fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::GcPause => 0,
        EventKind::PoolRecycle => 1,
        EventKind::CpuBurst => 2,
        EventKind::Reported(_) => 3,
    }
}

impl EventHub {
    /// A hub exporting through `telemetry`.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        EventHub {
            ring: Mutex::new(VecDeque::with_capacity(64)),
            generation: AtomicU64::new(0),
            seqs: Default::default(),
            service: telemetry.service_name().to_string(),
            telemetry,
        }
    }

    /// Bumped on every recorded event: requests compare it at start and end to learn cheaply
    /// whether any event may have affected them.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Record one occurrence; `cx` is the context of the request that triggered it, if any.
    pub fn record(
        &self,
        kind: EventKind,
        start_unix_ns: u64,
        duration: Duration,
        request_index: Option<u64>,
        cx: Option<&SpanContext>,
    ) -> ServerEvent {
        let seq = self.seqs[kind_slot(kind)].fetch_add(1, Ordering::Relaxed) + 1;
        let event = ServerEvent {
            kind,
            seq,
            start_unix_ns,
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            request_index,
            service: self.service.clone(),
            attributes: BTreeMap::new(),
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if ring.len() == RECENT_EVENTS {
                ring.pop_front();
            }
            ring.push_back(event.clone());
        }
        self.generation.fetch_add(1, Ordering::Release);
        self.telemetry.server_event(&event, cx);
        tracing::debug!(
            kind = kind.name(),
            seq,
            ?duration,
            ?request_index,
            "server event"
        );
        event
    }

    /// Events whose interval overlaps `[start_ns, end_ns]`.
    pub fn overlapping(&self, start_ns: u64, end_ns: u64) -> Vec<ServerEvent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .rev()
            .take_while(|e| {
                e.start_unix_ns.saturating_add(e.duration_ns)
                    >= start_ns.saturating_sub(10_000_000_000)
            })
            .filter(|e| e.start_unix_ns <= end_ns && e.start_unix_ns + e.duration_ns >= start_ns)
            .cloned()
            .collect()
    }

    /// The most recent events (oldest first), at most `limit`.
    pub fn recent(&self, limit: usize) -> Vec<ServerEvent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let skip = ring.len().saturating_sub(limit);
        ring.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_numbers_events_per_kind_and_finds_overlaps() {
        let hub = EventHub::new(Arc::new(Telemetry::disabled()));
        let ms = 1_000_000;
        let a = hub.record(
            EventKind::GcPause,
            100 * ms,
            Duration::from_millis(10),
            Some(5),
            None,
        );
        let b = hub.record(
            EventKind::GcPause,
            200 * ms,
            Duration::from_millis(10),
            Some(10),
            None,
        );
        let c = hub.record(
            EventKind::CpuBurst,
            300 * ms,
            Duration::from_millis(10),
            None,
            None,
        );
        assert_eq!((a.seq, b.seq, c.seq), (1, 2, 1));
        assert_eq!(hub.generation(), 3);
        let hit = hub.overlapping(205 * ms, 250 * ms);
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].request_index, Some(10));
        assert!(hub.overlapping(120 * ms, 190 * ms).is_empty());
        assert_eq!(hub.recent(2), vec![b, c]);
    }
}
