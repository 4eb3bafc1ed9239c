//! The span-timing store: a compact timing record of each received span, bounded by the
//! run's one sampling rule ([`satlab_record::trace_sampling`]) so that what it keeps is an
//! unbiased sample of whole traces over the whole run.
//!
//! A span is kept iff its trace's rank is below the store's threshold (at first every
//! trace). When the store is full, the threshold is lowered (the ratio halved) and the kept
//! spans now above it are evicted, as many times as needed; spans arriving above the
//! threshold are dropped and counted. The decision is a function of the trace id alone, so
//! a client span and its server span share it whenever each arrives, and the kept set is
//! exactly what the final ratio keeps of everything received: early traces are thinned as
//! much as late ones.

use satlab_record::spans::{SpanKind, SpanTiming, SpanTimingStats};
use satlab_record::trace_sampling;

/// Default most span timings held: a packed record is 80 bytes, so about 16 MB at the cap;
/// 200,000 spans are 100,000 joined requests, enough for per-step percentiles to p99.9 over
/// tens of steps.
pub const DEFAULT_MAX_SPANS: usize = 200_000;

/// Most distinct service names interned; later ones are recorded as [`OTHER_SERVICE`] (the
/// receiver already bounds services far below this, so it only guards the index width).
const MAX_SERVICES: usize = 1024;

/// The service name recorded for services past [`MAX_SERVICES`].
const OTHER_SERVICE: &str = "other";

/// One span's timing as received, before the store packs it (the service is given apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Trace id.
    pub trace_id: u128,
    /// Span id.
    pub span_id: u64,
    /// Parent span id (`None` for a root span).
    pub parent_span_id: Option<u64>,
    /// Kind.
    pub kind: SpanKind,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
    /// End, Unix ns.
    pub end_unix_ns: u64,
    /// Status error.
    pub error: bool,
    /// `http.response.status_code`.
    pub status: Option<u16>,
    /// `satlab.step`.
    pub step: Option<u32>,
    /// `satlab.intended_start_unix_nano`.
    pub intended_unix_ns: Option<u64>,
    /// `satlab.pool.wait_ns`.
    pub pool_wait_ns: Option<u64>,
}

/// Marks an absent 64-bit value in [`Packed`].
const NONE64: u64 = u64::MAX;
/// Marks an absent step in [`Packed`].
const NONE32: u32 = u32::MAX;

/// A kept span, packed: absent values are sentinels, the service an interned index.
#[derive(Debug, Clone, Copy)]
struct Packed {
    trace_id: u128,
    span_id: u64,
    /// 0: none (a span id is never 0).
    parent_span_id: u64,
    start_unix_ns: u64,
    end_unix_ns: u64,
    intended_unix_ns: u64,
    pool_wait_ns: u64,
    step: u32,
    /// 0: none.
    status: u16,
    service: u16,
    kind: SpanKind,
    error: bool,
}

fn some64(v: u64) -> Option<u64> {
    (v != NONE64).then_some(v)
}

impl Packed {
    fn new(t: &Timing, service: u16) -> Packed {
        Packed {
            trace_id: t.trace_id,
            span_id: t.span_id,
            parent_span_id: t.parent_span_id.unwrap_or(0),
            start_unix_ns: t.start_unix_ns,
            end_unix_ns: t.end_unix_ns,
            intended_unix_ns: t.intended_unix_ns.unwrap_or(NONE64),
            // A wait of u64::MAX ns (585 years) is recorded as one ns shorter.
            pool_wait_ns: t.pool_wait_ns.map_or(NONE64, |w| w.min(NONE64 - 1)),
            step: t.step.unwrap_or(NONE32),
            status: t.status.unwrap_or(0),
            service,
            kind: t.kind,
            error: t.error,
        }
    }

    fn unpack(&self, services: &[String]) -> SpanTiming {
        SpanTiming {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: (self.parent_span_id != 0).then_some(self.parent_span_id),
            kind: self.kind,
            service: services
                .get(self.service as usize)
                .cloned()
                .unwrap_or_default(),
            start_unix_ns: self.start_unix_ns,
            end_unix_ns: self.end_unix_ns,
            error: self.error,
            status: (self.status != 0).then_some(self.status),
            step: (self.step != NONE32).then_some(self.step),
            intended_unix_ns: some64(self.intended_unix_ns),
            pool_wait_ns: some64(self.pool_wait_ns),
        }
    }
}

/// The span-timing store (see the module documentation for its rule).
#[derive(Debug)]
pub struct TimingStore {
    cap: usize,
    /// The current ratio: 1, or a power of two below it.
    ratio: f64,
    /// Ranks below this are kept.
    threshold: u64,
    kept: Vec<Packed>,
    services: Vec<String>,
    received: u64,
    dropped_by_ratio: u64,
}

impl TimingStore {
    /// An empty store holding at most `cap` spans (at least one).
    pub fn new(cap: usize) -> TimingStore {
        TimingStore {
            cap: cap.max(1),
            ratio: 1.0,
            threshold: trace_sampling::threshold(1.0),
            kept: Vec::new(),
            services: Vec::new(),
            received: 0,
            dropped_by_ratio: 0,
        }
    }

    /// Judge one received span from `service`: keep it (lowering the ratio first when the
    /// store is full) or drop it.
    pub fn offer(&mut self, t: &Timing, service: &str) {
        self.received += 1;
        let rank = trace_sampling::rank(t.trace_id);
        if rank >= self.threshold {
            self.dropped_by_ratio += 1;
            return;
        }
        while self.kept.len() >= self.cap {
            self.halve();
        }
        if rank >= self.threshold {
            self.dropped_by_ratio += 1;
            return;
        }
        let service = self.intern(service);
        self.kept.push(Packed::new(t, service));
    }

    /// Halve the ratio and evict the kept spans above the new threshold. Terminates: after
    /// at most 64 halvings the threshold is 0 and nothing is kept.
    fn halve(&mut self) {
        self.ratio /= 2.0;
        self.threshold = trace_sampling::threshold(self.ratio);
        let before = self.kept.len();
        let threshold = self.threshold;
        self.kept
            .retain(|p| trace_sampling::rank(p.trace_id) < threshold);
        self.dropped_by_ratio += (before - self.kept.len()) as u64;
    }

    fn intern(&mut self, service: &str) -> u16 {
        if let Some(i) = self.services.iter().position(|s| s == service) {
            return i as u16;
        }
        let name = if self.services.len() < MAX_SERVICES {
            service
        } else {
            OTHER_SERVICE
        };
        if let Some(i) = self.services.iter().position(|s| s == name) {
            return i as u16;
        }
        self.services.push(name.to_string());
        (self.services.len() - 1) as u16
    }

    /// The current ratio (1 until the cap forced it down).
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Spans held now.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The held spans starting inside `window` (Unix ns, inclusive; all without one),
    /// sorted by start, and the store's account of them.
    pub fn snapshot(&self, window: Option<(u64, u64)>) -> (Vec<SpanTiming>, SpanTimingStats) {
        let inside = |t: u64| window.is_none_or(|(a, b)| t >= a && t <= b);
        let mut spans: Vec<SpanTiming> = self
            .kept
            .iter()
            .filter(|p| inside(p.start_unix_ns))
            .map(|p| p.unpack(&self.services))
            .collect();
        spans.sort_by_key(|s| (s.start_unix_ns, s.trace_id, s.span_id));
        let stats = SpanTimingStats {
            cap: self.cap as u64,
            ratio: self.ratio,
            received: self.received,
            kept: spans.len() as u64,
            dropped_by_ratio: self.dropped_by_ratio,
            outside_window: (self.kept.len() - spans.len()) as u64,
        };
        (spans, stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::rng::SplitMix64;
    use std::collections::{BTreeMap, HashSet};

    fn span(trace_id: u128, span_id: u64, kind: SpanKind, start: u64, end: u64) -> Timing {
        Timing {
            trace_id,
            span_id,
            parent_span_id: None,
            kind,
            start_unix_ns: start,
            end_unix_ns: end,
            error: false,
            status: Some(200),
            step: None,
            intended_unix_ns: None,
            pool_wait_ns: None,
        }
    }

    /// A request's two spans: the client's from `start` for 1 ms, the server's inside it.
    fn request(rng: &mut SplitMix64, start: u64) -> (Timing, Timing) {
        let trace_id = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
        let client_id = rng.next_u64().max(1);
        let mut client = span(
            trace_id,
            client_id,
            SpanKind::Client,
            start,
            start + 1_000_000,
        );
        client.step = Some(0);
        let mut server = span(
            trace_id,
            rng.next_u64().max(1),
            SpanKind::Server,
            start + 200_000,
            start + 800_000,
        );
        server.parent_span_id = Some(client_id);
        (client, server)
    }

    #[test]
    fn ten_times_the_cap_keeps_an_unbiased_sample_of_whole_traces() {
        const CAP: usize = 10_000;
        const TRACES: usize = 10 * CAP;
        /// Server spans arrive this many requests after their client span (exporters
        /// batch separately), so evictions fall between a trace's two halves.
        const LAG: usize = 700;
        const T0: u64 = 1_700_000_000_000_000_000;
        const EVERY_NS: u64 = 100_000;
        let mut rng = SplitMix64::new(11);
        let requests: Vec<(Timing, Timing)> = (0..TRACES)
            .map(|i| request(&mut rng, T0 + i as u64 * EVERY_NS))
            .collect();
        let mut store = TimingStore::new(CAP);
        for i in 0..TRACES + LAG {
            if i < TRACES {
                store.offer(&requests[i].0, "loadgen");
            }
            if i >= LAG {
                store.offer(&requests[i - LAG].1, "target-api");
            }
        }
        let (spans, stats) = store.snapshot(None);

        // The counts add up and the ratio is the largest power of two that fits.
        assert_eq!(stats.received, 2 * TRACES as u64);
        assert_eq!(stats.kept + stats.dropped_by_ratio, stats.received);
        assert_eq!(stats.outside_window, 0);
        assert!(stats.kept as usize <= CAP, "{stats:?}");
        assert!(stats.kept as usize >= CAP / 4, "{stats:?}");
        assert_eq!(stats.ratio.log2().fract(), 0.0, "{}", stats.ratio);
        assert!(stats.ratio < 1.0);

        // Exactly the traces the final ratio keeps, both halves of each.
        let want: HashSet<u128> = requests
            .iter()
            .map(|r| r.0.trace_id)
            .filter(|&t| trace_sampling::sampled(t, stats.ratio))
            .collect();
        let mut halves: BTreeMap<u128, (usize, usize)> = BTreeMap::new();
        for s in &spans {
            let h = halves.entry(s.trace_id).or_default();
            match s.kind {
                SpanKind::Client => h.0 += 1,
                SpanKind::Server => h.1 += 1,
                other => panic!("kind {other:?}"),
            }
        }
        assert_eq!(halves.len(), want.len());
        assert!(halves.keys().all(|t| want.contains(t)));
        assert!(
            halves.values().all(|&h| h == (1, 1)),
            "every kept trace is whole"
        );

        // Sorted by start; spread over the whole run: each tenth holds its share.
        assert!(
            spans
                .windows(2)
                .all(|w| w[0].start_unix_ns <= w[1].start_unix_ns)
        );
        let run_ns = TRACES as u64 * EVERY_NS;
        let mut tenths = [0usize; 10];
        for s in spans.iter().filter(|s| s.kind == SpanKind::Client) {
            tenths[((s.start_unix_ns - T0) * 10 / run_ns) as usize] += 1;
        }
        let mean = halves.len() as f64 / 10.0;
        for (i, n) in tenths.iter().enumerate() {
            // ~300 per tenth: ±25% is more than four standard deviations.
            assert!(
                (*n as f64 - mean).abs() <= 0.25 * mean,
                "tenth {i}: {n} kept, mean {mean}: {tenths:?}"
            );
        }
        // The attributes survive packing.
        let server = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
        let client = spans
            .iter()
            .find(|s| s.trace_id == server.trace_id && s.kind == SpanKind::Client)
            .unwrap();
        assert_eq!(server.parent_span_id, Some(client.span_id));
        assert_eq!((client.step, client.service.as_str()), (Some(0), "loadgen"));
        assert_eq!((server.step, server.service.as_str()), (None, "target-api"));
    }

    #[test]
    fn under_the_cap_everything_is_kept_as_sent() {
        let mut store = TimingStore::new(10);
        let mut t = span(5, 6, SpanKind::Server, 100, 250);
        t.parent_span_id = Some(9);
        t.pool_wait_ns = Some(0);
        t.error = true;
        t.status = Some(503);
        let mut c = span(5, 9, SpanKind::Client, 50, 300);
        c.intended_unix_ns = Some(40);
        c.step = Some(3);
        c.status = None;
        store.offer(&t, "target-api");
        store.offer(&c, "loadgen");
        let (spans, stats) = store.snapshot(None);
        assert_eq!(store.ratio(), 1.0);
        assert_eq!(
            (stats.received, stats.kept, stats.dropped_by_ratio),
            (2, 2, 0)
        );
        assert_eq!(stats.cap, 10);
        assert_eq!(spans[0].span_id, 9, "sorted by start");
        assert_eq!(spans[0].intended_unix_ns, Some(40));
        assert_eq!((spans[0].step, spans[0].status), (Some(3), None));
        assert_eq!(spans[1].pool_wait_ns, Some(0), "a zero wait is a wait");
        assert_eq!(spans[1].parent_span_id, Some(9));
        assert!(spans[1].error && spans[1].status == Some(503));
    }

    #[test]
    fn the_window_keeps_spans_starting_inside_it_and_counts_the_rest() {
        let mut store = TimingStore::new(100);
        for (i, start) in [100u64, 500, 900, 1_000, 1_001].into_iter().enumerate() {
            store.offer(
                &span(i as u128 + 1, 1, SpanKind::Server, start, start + 10_000),
                "s",
            );
        }
        let (spans, stats) = store.snapshot(Some((500, 1_000)));
        let starts: Vec<u64> = spans.iter().map(|s| s.start_unix_ns).collect();
        assert_eq!(
            starts,
            vec![500, 900, 1_000],
            "a span ending past the window is in"
        );
        assert_eq!((stats.kept, stats.outside_window), (3, 2));
        assert_eq!(
            stats.received,
            stats.kept + stats.dropped_by_ratio + stats.outside_window
        );
    }

    #[test]
    fn one_trace_id_past_the_cap_neither_loops_nor_panics() {
        let mut store = TimingStore::new(4);
        for i in 0..50 {
            store.offer(&span(u128::MAX, i + 1, SpanKind::Internal, i, i + 1), "s");
        }
        let (spans, stats) = store.snapshot(None);
        assert!(spans.len() <= 4);
        assert_eq!(stats.kept + stats.dropped_by_ratio, 50);
        let mut zero = TimingStore::new(0);
        zero.offer(&span(1, 1, SpanKind::Client, 1, 2), "s");
        zero.offer(&span(2, 1, SpanKind::Client, 1, 2), "s");
        assert!(zero.len() <= 1, "a cap of 0 holds one");
    }

    #[test]
    fn service_names_are_interned_and_bounded() {
        let mut store = TimingStore::new(10_000);
        for i in 0..(MAX_SERVICES + 10) {
            store.offer(
                &span(i as u128 + 1, 1, SpanKind::Server, 1, 2),
                &format!("svc-{i}"),
            );
        }
        store.offer(&span(1, 2, SpanKind::Server, 1, 2), "svc-0");
        let (spans, _) = store.snapshot(None);
        assert_eq!(store.services.len(), MAX_SERVICES + 1);
        assert_eq!(
            spans.iter().filter(|s| s.service == OTHER_SERVICE).count(),
            10
        );
        assert_eq!(spans.iter().filter(|s| s.service == "svc-0").count(), 2);
        assert_eq!(
            std::mem::size_of::<Packed>(),
            80,
            "the budget behind the cap"
        );
    }
}
