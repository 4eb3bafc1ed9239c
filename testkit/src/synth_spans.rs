//! Synthetic spans for tests: a request's client span (the load generator's) and server
//! span (the target's, child of the client span) with chosen parts, ids from a seeded
//! generator; the metric points the handler figures fall back on; the span store's account.

use satlab_common::rng::SplitMix64;
use satlab_record::events::SpanSummary;
use satlab_record::telemetry::{
    HTTP_SERVER_ACTIVE_REQUESTS, POOL_WAIT_DURATION, SERVICE_LOADGEN, SERVICE_TARGET,
};
use satlab_record::{MetricPoint, SpanKind, SpanTiming, SpanTimingStats};

/// The parts of one synthetic request, ns (the latency is their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthParts {
    /// Open loop: actual send − intended send.
    pub late: u64,
    /// Client send → server span start.
    pub before_handler: u64,
    /// Pool wait at the start of the server span (`None`: no pool; the span carries none).
    pub pool_wait: Option<u64>,
    /// The rest of the server span.
    pub in_handler: u64,
    /// Server span end → client end.
    pub after_handler: u64,
}

impl SynthParts {
    /// A request with these parts (no lateness, no pool), ns.
    pub fn new(before_handler: u64, in_handler: u64, after_handler: u64) -> Self {
        SynthParts {
            before_handler,
            in_handler,
            after_handler,
            ..Default::default()
        }
    }

    /// The client's latency, ns.
    pub fn latency(&self) -> u64 {
        self.late
            + self.before_handler
            + self.pool_wait.unwrap_or(0)
            + self.in_handler
            + self.after_handler
    }
}

/// Trace and span ids from a seeded generator (random, so the trace-id sampling rule
/// treats them as real ones).
#[derive(Debug, Clone)]
pub struct SpanIds(SplitMix64);

impl SpanIds {
    /// A generator with this seed.
    pub fn new(seed: u64) -> Self {
        SpanIds(SplitMix64::new(seed))
    }

    /// A new trace id.
    pub fn trace(&mut self) -> u128 {
        (u128::from(self.0.next_u64()) << 64) | u128::from(self.0.next_u64())
    }

    /// A new span id (never 0).
    pub fn span(&mut self) -> u64 {
        self.0.next_u64().max(1)
    }
}

/// One request's client and server spans. Its latency's origin is `origin_ns`: the
/// intended send in open loop (recorded on the client span), else the actual send.
pub fn request_spans(
    ids: &mut SpanIds,
    step: u32,
    origin_ns: u64,
    open: bool,
    p: &SynthParts,
) -> (SpanTiming, SpanTiming) {
    let trace_id = ids.trace();
    let client_id = ids.span();
    let sent = origin_ns + p.late;
    let server_start = sent + p.before_handler;
    let server_end = server_start + p.pool_wait.unwrap_or(0) + p.in_handler;
    let client = SpanTiming {
        trace_id,
        span_id: client_id,
        parent_span_id: None,
        kind: SpanKind::Client,
        service: SERVICE_LOADGEN.into(),
        start_unix_ns: sent,
        end_unix_ns: server_end + p.after_handler,
        error: false,
        status: Some(200),
        step: Some(step),
        intended_unix_ns: open.then_some(origin_ns),
        pool_wait_ns: None,
    };
    let server = SpanTiming {
        trace_id,
        span_id: ids.span(),
        parent_span_id: Some(client_id),
        kind: SpanKind::Server,
        service: SERVICE_TARGET.into(),
        start_unix_ns: server_start,
        end_unix_ns: server_end,
        error: false,
        status: Some(200),
        step: None,
        intended_unix_ns: None,
        pool_wait_ns: p.pool_wait,
    };
    (client, server)
}

/// `count` requests with the same parts, their origins evenly spaced over
/// `[from_ns, to_ns)`: client and server spans, in that order per request.
pub fn spaced_requests(
    ids: &mut SpanIds,
    step: u32,
    (from_ns, to_ns): (u64, u64),
    count: u64,
    open: bool,
    p: &SynthParts,
) -> Vec<SpanTiming> {
    let gap = to_ns.saturating_sub(from_ns) / count.max(1);
    (0..count)
        .flat_map(|i| {
            let (c, s) = request_spans(ids, step, from_ns + i * gap, open, p);
            [c, s]
        })
        .collect()
}

fn point(t_unix_ns: u64, name: &str, kind: &str) -> MetricPoint {
    MetricPoint {
        t_unix_ns,
        start_unix_ns: 0,
        service: SERVICE_TARGET.into(),
        name: name.into(),
        kind: kind.into(),
        temporality: "cumulative".into(),
        attributes: Default::default(),
        value: None,
        count: None,
        sum: None,
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
    }
}

/// `http.server.active_requests` points (cumulative up-down counter): `(t, requests)`.
pub fn active_requests(points: &[(u64, f64)]) -> Vec<MetricPoint> {
    points
        .iter()
        .map(|&(t, v)| MetricPoint {
            value: Some(v),
            ..point(t, HTTP_SERVER_ACTIVE_REQUESTS, "sum")
        })
        .collect()
}

/// `satlab.pool.wait.duration` points (cumulative histogram, s): `(t, count, sum)`.
pub fn pool_wait_histogram(points: &[(u64, u64, f64)]) -> Vec<MetricPoint> {
    points
        .iter()
        .map(|&(t, count, sum)| MetricPoint {
            count: Some(count),
            sum: Some(sum),
            bounds: vec![0.001, 0.01, 0.1],
            bucket_counts: vec![0, count, 0, 0],
            ..point(t, POOL_WAIT_DURATION, "histogram")
        })
        .collect()
}

/// `otlp/spans.json` with the span store's account: it kept `kept` spans at `ratio`.
pub fn store_summary(ratio: f64, kept: u64) -> SpanSummary {
    SpanSummary {
        timings: SpanTimingStats {
            cap: 200_000,
            ratio,
            received: kept,
            kept,
            dropped_by_ratio: 0,
            outside_window: 0,
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_line_up_with_the_parts() {
        let mut ids = SpanIds::new(7);
        let p = SynthParts {
            late: 5,
            pool_wait: Some(7),
            ..SynthParts::new(10, 20, 30)
        };
        let (c, s) = request_spans(&mut ids, 2, 1_000, true, &p);
        assert_eq!(c.intended_unix_ns, Some(1_000));
        assert_eq!(c.start_unix_ns, 1_005);
        assert_eq!(s.start_unix_ns, 1_015);
        assert_eq!(s.end_unix_ns, 1_042);
        assert_eq!(c.end_unix_ns - 1_000, p.latency());
        assert_eq!(
            (s.trace_id, s.parent_span_id),
            (c.trace_id, Some(c.span_id))
        );
        let v = spaced_requests(&mut ids, 0, (0, 100), 4, false, &p);
        assert_eq!(v.len(), 8);
        assert_eq!(v[6].start_unix_ns, 75 + 5);
    }
}
