//! The bounded in-memory store of what the diagnosis needs from OTLP, shared by the gRPC
//! and HTTP transports: server events (from log records), selected metric points, span
//! counts and trace ids, span timings (a trace-id sample, [`super::timings`]), span
//! latencies with exemplars ([`crate::exemplars`]), and the names each service sent.
//!
//! This file holds the store, its bounds and its read side; each signal's ingestion lives
//! in its own file ([`super::traces`], [`super::metrics`], [`super::logs`]), the counting
//! of what was refused in [`super::ingest`] and [`super::stats`], and the writing of the
//! `otlp/` files in [`super::persist`].

use super::stats::Stats;
use super::timings::{DEFAULT_MAX_SPANS, TimingStore};
use crate::exemplars::SpanLatency;
use satlab_record::events::{ReceivedSummary, SpanSummary};
use satlab_record::spans::{SpanTiming, SpanTimingStats};
use satlab_record::{MetricPoint, ServerEvent};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// What to do when a bounded list is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Refuse new items and report them as rejected (a lab run keeps its beginning).
    RejectNew,
    /// Drop the oldest items (a long-running consumer keeps the recent past).
    DropOldest,
}

/// Bounds on what the store holds.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Server events.
    pub max_events: usize,
    /// Metric points.
    pub max_points: usize,
    /// Distinct trace ids remembered.
    pub max_trace_ids: usize,
    /// Services tracked; later ones are counted under `other`.
    pub max_services: usize,
    /// Distinct names per service and kind (metrics, spans, log events).
    pub max_names: usize,
    /// Span timings held (`otlp/spans.jsonl`); past it the trace-id ratio is halved, in
    /// both overflow modes, so what is kept stays an unbiased sample of whole traces.
    pub max_spans: usize,
    /// What happens at the bound (events and metric points).
    pub overflow: Overflow,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_events: 100_000,
            max_points: 200_000,
            max_trace_ids: 2_000,
            max_services: 64,
            max_names: 512,
            max_spans: DEFAULT_MAX_SPANS,
            overflow: Overflow::RejectNew,
        }
    }
}

/// The key services and names beyond their bound are counted under.
pub(super) const OTHER: &str = "other";

/// What the store holds, behind its lock.
#[derive(Debug)]
pub(super) struct Contents {
    pub(super) events: VecDeque<ServerEvent>,
    pub(super) points: VecDeque<MetricPoint>,
    pub(super) spans: SpanSummary,
    pub(super) timings: TimingStore,
    pub(super) trace_ids: HashSet<Vec<u8>>,
    pub(super) received: ReceivedSummary,
    pub(super) stats: Stats,
    pub(super) latency: SpanLatency,
}

impl Contents {
    fn new(limits: &StoreLimits) -> Contents {
        Contents {
            events: VecDeque::new(),
            points: VecDeque::new(),
            spans: SpanSummary::default(),
            timings: TimingStore::new(limits.max_spans),
            trace_ids: HashSet::new(),
            received: ReceivedSummary::default(),
            stats: Stats::default(),
            latency: SpanLatency::default(),
        }
    }

    /// The service key to account under (bounded number of services).
    pub(super) fn service_key(&self, name: String, limits: &StoreLimits) -> String {
        if self.received.services.contains_key(&name)
            || self.received.services.len() < limits.max_services
        {
            name
        } else {
            OTHER.to_string()
        }
    }
}

/// Append to a bounded queue; `false` when the item was refused.
pub(super) fn push_bounded<T>(
    q: &mut VecDeque<T>,
    item: T,
    max: usize,
    overflow: Overflow,
) -> bool {
    if q.len() < max {
        q.push_back(item);
        return true;
    }
    match overflow {
        Overflow::RejectNew => false,
        Overflow::DropOldest => {
            q.pop_front();
            q.push_back(item);
            true
        }
    }
}

/// Insert into a name set unless it is full.
pub(super) fn note(set: &mut BTreeSet<String>, name: &str, max: usize) {
    if set.len() < max || set.contains(name) {
        set.insert(name.to_string());
    }
}

/// The store, shared by the gRPC and HTTP receivers.
#[derive(Debug)]
pub struct Store {
    pub(super) limits: StoreLimits,
    inner: Mutex<Contents>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(StoreLimits::default())
    }
}

impl Store {
    /// An empty store with these bounds.
    pub fn new(limits: StoreLimits) -> Self {
        Store {
            limits,
            inner: Mutex::new(Contents::new(&limits)),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Contents> {
        // A panic while holding the lock cannot leave the store inconsistent beyond one
        // half-counted request; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Server events received so far.
    pub fn events(&self) -> Vec<ServerEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// Selected metric points received so far.
    pub fn points(&self) -> Vec<MetricPoint> {
        self.lock().points.iter().cloned().collect()
    }

    /// Span counts and trace ids, with the span-timing store's account.
    pub fn spans(&self) -> SpanSummary {
        let g = self.lock();
        let mut s = g.spans.clone();
        s.timings = g.timings.snapshot(None).1;
        s
    }

    /// The span timings held (sorted by start) and the store's account of them.
    pub fn span_timings(&self) -> (Vec<SpanTiming>, SpanTimingStats) {
        self.lock().timings.snapshot(None)
    }

    /// The names each service sent.
    pub fn received(&self) -> ReceivedSummary {
        self.lock().received.clone()
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Server and client span latencies with their exemplars, for `/metrics`.
    pub fn span_latency(&self) -> SpanLatency {
        self.lock().latency.clone()
    }
}
