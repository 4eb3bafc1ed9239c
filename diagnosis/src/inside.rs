//! Inside the server's handler over one step's window: how many requests were in it on
//! average (Little's law on the server spans, scaled by the sampling ratio, else the
//! `http.server.active_requests` metric), how many were outside it (N_eff − that), and how
//! long a request waited for a pool permit (the server spans' figure, else the
//! `satlab.pool.wait.duration` histogram). Each figure says where it came from.

use crate::metric_window::{histogram_increase, time_average};
use crate::time_model::{InsideHandler, InsideSource};
use satlab_record::telemetry::{HTTP_SERVER_ACTIVE_REQUESTS, POOL_WAIT_DURATION};
use satlab_record::{MetricPoint, SpanTiming};

/// Server spans a window needs for the span estimate of handler concurrency to be
/// preferred to the metric: the estimate is a sampled count, whose relative error is about
/// 1/√n; from 30 spans on it is within ~20%, about what a metric exported once a second
/// gives over a short window.
pub const MIN_SPANS_FOR_CONCURRENCY: u64 = 30;

/// What the figures of one window are computed from.
#[derive(Debug, Clone, Copy)]
pub struct WindowInput<'a> {
    /// Window start, Unix ns.
    pub from: u64,
    /// Window end, Unix ns.
    pub to: u64,
    /// Server spans of traced requests (the whole run's; those overlapping the window
    /// count).
    pub handler_spans: &'a [&'a SpanTiming],
    /// True when the run has server spans of traced requests at all (a window without any
    /// then truly had none in its handler).
    pub traced: bool,
    /// The effective sampling ratio (client × store), when known.
    pub effective_ratio: Option<f64>,
    /// Pool waits of the step's joined server spans that carry one, ns.
    pub pool_waits_ns: &'a [u64],
    /// The run's metric points.
    pub metrics: &'a [MetricPoint],
    /// N_eff the client measured.
    pub n_eff: f64,
}

/// The figures of one window.
pub fn inside_handler(w: &WindowInput) -> InsideHandler {
    let len = w.to.saturating_sub(w.from);
    let mut busy: u128 = 0;
    let mut server_spans = 0u64;
    for s in w.handler_spans {
        let (a, b) = (s.start_unix_ns.max(w.from), s.end_unix_ns.min(w.to));
        if b > a {
            busy += u128::from(b - a);
            server_spans += 1;
        }
    }
    let from_spans = w
        .effective_ratio
        .filter(|r| *r > 0.0 && len > 0 && w.traced)
        .map(|r| busy as f64 / len as f64 / r);
    let from_metric = || time_average(w.metrics, HTTP_SERVER_ACTIVE_REQUESTS, w.from, w.to);
    let (concurrency, source) = match from_spans {
        Some(c) if server_spans >= MIN_SPANS_FOR_CONCURRENCY => {
            (Some(c), Some(InsideSource::Spans))
        }
        _ => match (from_metric(), from_spans) {
            (Some(c), _) => (Some(c), Some(InsideSource::ActiveRequestsMetric)),
            (None, Some(c)) => (Some(c), Some(InsideSource::Spans)),
            (None, None) => (None, None),
        },
    };
    let (pool_wait_mean_ms, pool_wait_source) = if w.pool_waits_ns.is_empty() {
        match histogram_increase(w.metrics, POOL_WAIT_DURATION, w.from, w.to).and_then(|i| i.mean())
        {
            Some(s) => (Some(s * 1e3), Some(InsideSource::PoolWaitMetric)),
            None => (None, None),
        }
    } else {
        let sum: u128 = w.pool_waits_ns.iter().map(|&n| u128::from(n)).sum();
        (
            Some(sum as f64 / w.pool_waits_ns.len() as f64 / 1e6),
            Some(InsideSource::Spans),
        )
    };
    InsideHandler {
        handler_concurrency: concurrency,
        handler_concurrency_source: source,
        server_spans,
        n_eff: w.n_eff,
        waiting_before_handler: concurrency.map(|c| w.n_eff - c),
        pool_wait_mean_ms,
        pool_wait_source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_record::SpanKind;

    const S: u64 = 1_000_000_000;

    fn server(start: u64, end: u64) -> SpanTiming {
        SpanTiming {
            trace_id: 1,
            span_id: 2,
            parent_span_id: Some(3),
            kind: SpanKind::Server,
            service: "target-api".into(),
            start_unix_ns: start,
            end_unix_ns: end,
            error: false,
            status: None,
            step: None,
            intended_unix_ns: None,
            pool_wait_ns: None,
        }
    }

    fn active(t: u64, v: f64) -> MetricPoint {
        MetricPoint {
            t_unix_ns: t,
            start_unix_ns: 0,
            service: "target-api".into(),
            name: HTTP_SERVER_ACTIVE_REQUESTS.into(),
            kind: "sum".into(),
            temporality: "cumulative".into(),
            attributes: Default::default(),
            value: Some(v),
            count: None,
            sum: None,
            bounds: Vec::new(),
            bucket_counts: Vec::new(),
        }
    }

    fn window<'a>(
        spans: &'a [&'a SpanTiming],
        ratio: Option<f64>,
        metrics: &'a [MetricPoint],
    ) -> WindowInput<'a> {
        WindowInput {
            from: 10 * S,
            to: 20 * S,
            handler_spans: spans,
            traced: !spans.is_empty(),
            effective_ratio: ratio,
            pool_waits_ns: &[],
            metrics,
            n_eff: 8.0,
        }
    }

    #[test]
    fn span_time_is_scaled_by_the_sampling_ratio() {
        // 40 spans of 0.5 s, one every 0.25 s from the window's start (the last one crosses
        // its end: 19.75 s inside), one straddling its start (0.5 s inside), one outside:
        // 20.25 s of handler time in a 10 s window at ratio 1/4 is 8.1 requests.
        let mut owned: Vec<SpanTiming> = (0..40)
            .map(|i| server(10 * S + i * S / 4, 10 * S + i * S / 4 + S / 2))
            .collect();
        owned.push(server(9 * S + S / 2, 10 * S + S / 2));
        owned.push(server(30 * S, 31 * S));
        let spans: Vec<&SpanTiming> = owned.iter().collect();
        let metrics = [active(10 * S, 100.0), active(20 * S, 100.0)];
        let i = inside_handler(&window(&spans, Some(0.25), &metrics));
        assert_eq!(i.server_spans, 41);
        assert!((i.handler_concurrency.unwrap() - 8.1).abs() < 1e-9, "{i:?}");
        assert_eq!(i.handler_concurrency_source, Some(InsideSource::Spans));
        assert!((i.waiting_before_handler.unwrap() + 0.1).abs() < 1e-9);
    }

    #[test]
    fn the_metric_stands_in_for_missing_or_few_spans() {
        let metrics = [active(9 * S, 2.0), active(15 * S, 4.0), active(21 * S, 4.0)];
        // No spans: the active-requests metric, time-averaged (2 for 5 s, 4 for 5 s).
        let i = inside_handler(&window(&[], Some(1.0), &metrics));
        assert_eq!(i.handler_concurrency, Some(3.0));
        assert_eq!(
            i.handler_concurrency_source,
            Some(InsideSource::ActiveRequestsMetric)
        );
        assert_eq!(i.waiting_before_handler, Some(5.0));
        // Too few spans: the metric still wins; without it, the spans are used.
        let few = [server(11 * S, 12 * S)];
        let spans: Vec<&SpanTiming> = few.iter().collect();
        let i = inside_handler(&window(&spans, Some(1.0), &metrics));
        assert_eq!(
            i.handler_concurrency_source,
            Some(InsideSource::ActiveRequestsMetric)
        );
        let i = inside_handler(&window(&spans, Some(1.0), &[]));
        assert_eq!(i.handler_concurrency, Some(0.1));
        assert_eq!(i.handler_concurrency_source, Some(InsideSource::Spans));
        // An unknown ratio cannot scale spans.
        let i = inside_handler(&window(&spans, None, &[]));
        assert_eq!(
            (i.handler_concurrency, i.handler_concurrency_source),
            (None, None)
        );
    }

    #[test]
    fn pool_wait_from_spans_else_from_the_histogram() {
        let hist = |t: u64, count: u64, sum: f64| MetricPoint {
            name: POOL_WAIT_DURATION.into(),
            kind: "histogram".into(),
            count: Some(count),
            sum: Some(sum),
            value: None,
            ..active(t, 0.0)
        };
        let metrics = [hist(10 * S, 100, 1.0), hist(20 * S, 300, 3.0)];
        let mut w = window(&[], None, &metrics);
        let i = inside_handler(&w);
        assert!((i.pool_wait_mean_ms.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(i.pool_wait_source, Some(InsideSource::PoolWaitMetric));
        let waits = [2_000_000, 4_000_000];
        w.pool_waits_ns = &waits;
        let i = inside_handler(&w);
        assert_eq!(i.pool_wait_mean_ms, Some(3.0));
        assert_eq!(i.pool_wait_source, Some(InsideSource::Spans));
        w.pool_waits_ns = &[];
        w.metrics = &[];
        assert_eq!(inside_handler(&w).pool_wait_mean_ms, None);
    }
}
