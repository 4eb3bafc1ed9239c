//! Span latency histograms with exemplars: every server span of the target and every client
//! span of loadgen the receiver takes lands in a fixed-bucket histogram per side and
//! service, and each bucket keeps its latest span (trace id, span id, duration, end time)
//! as the exemplar Grafana links to its trace.
//!
//! Memory is bounded: a fixed bucket layout, two sides and at most
//! [`MAX_SERVICES_PER_SIDE`] service names per side (later ones fold into
//! [`OTHER_SERVICE`]).

use std::collections::BTreeMap;

/// Upper bounds of the finite buckets, seconds (100 µs … 10 s); a last `+Inf` bucket
/// follows.
pub const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Buckets per histogram, `+Inf` included.
const BUCKETS: usize = BOUNDS.len() + 1;

/// Distinct `service` values kept per side.
pub const MAX_SERVICES_PER_SIDE: usize = 8;

/// The `service` value services past [`MAX_SERVICES_PER_SIDE`] are counted under.
pub const OTHER_SERVICE: &str = "_other";

/// Which end of the wire a span measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// A server span (the target's handling of a request).
    Server,
    /// A client span (loadgen's request, as the client saw it).
    Client,
}

impl Side {
    /// The `side` label value.
    pub fn name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// One span kept as a bucket's exemplar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// Trace id.
    pub trace_id: u128,
    /// Span id.
    pub span_id: u64,
    /// The span's duration, seconds.
    pub seconds: f64,
    /// The span's end, Unix ns.
    pub end_unix_ns: u64,
}

/// One side and service's histogram: counts per bucket (not cumulative), the sum, and
/// each bucket's latest exemplar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    sum: f64,
    exemplars: [Option<Exemplar>; BUCKETS],
}

/// One bucket as exposed: its upper bound, the cumulative count, its exemplar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Upper bound, seconds (`f64::INFINITY` for the last).
    pub le: f64,
    /// Observations at or below `le`.
    pub cumulative: u64,
    /// The latest span that fell in this bucket (not below the previous bound).
    pub exemplar: Option<Exemplar>,
}

impl Histogram {
    fn observe(&mut self, e: Exemplar) {
        let i = BOUNDS
            .iter()
            .position(|&b| e.seconds <= b)
            .unwrap_or(BOUNDS.len());
        self.counts[i] += 1;
        self.sum += e.seconds;
        // Latest by end time, so a late-arriving older span never replaces a newer one
        // (Prometheus refuses an exemplar older than the series' last).
        if self.exemplars[i].is_none_or(|old| old.end_unix_ns <= e.end_unix_ns) {
            self.exemplars[i] = Some(e);
        }
    }

    /// The buckets, cumulative, the `+Inf` one last.
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut total = 0;
        (0..BUCKETS)
            .map(|i| {
                total += self.counts[i];
                Bucket {
                    le: BOUNDS.get(i).copied().unwrap_or(f64::INFINITY),
                    cumulative: total,
                    exemplar: self.exemplars[i],
                }
            })
            .collect()
    }

    /// Observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sum of the observations, seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }
}

/// The histograms by side and service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanLatency {
    by: BTreeMap<(Side, String), Histogram>,
}

impl SpanLatency {
    /// Record one span of `service` on `side` that ran from `start_unix_ns` to
    /// `end_unix_ns` (an end before the start counts as 0 s).
    pub fn record(
        &mut self,
        side: Side,
        service: &str,
        trace_id: u128,
        span_id: u64,
        start_unix_ns: u64,
        end_unix_ns: u64,
    ) {
        let known = self.by.contains_key(&(side, service.to_string()));
        let services = self.by.keys().filter(|(s, _)| *s == side).count();
        let service = if known || services < MAX_SERVICES_PER_SIDE {
            service
        } else {
            OTHER_SERVICE
        };
        let seconds = end_unix_ns.saturating_sub(start_unix_ns) as f64 / 1e9;
        self.by
            .entry((side, service.to_string()))
            .or_default()
            .observe(Exemplar {
                trace_id,
                span_id,
                seconds,
                end_unix_ns,
            });
    }

    /// Each side and service's histogram, servers first, services by name.
    pub fn series(&self) -> impl Iterator<Item = (Side, &str, &Histogram)> {
        self.by
            .iter()
            .map(|((side, svc), h)| (*side, svc.as_str(), h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn buckets_are_cumulative_and_keep_the_latest_exemplar() {
        let mut l = SpanLatency::default();
        l.record(Side::Server, "target-api", 1, 11, 0, 3 * MS);
        l.record(Side::Server, "target-api", 2, 22, 10 * MS, 14 * MS);
        // An older span arriving late does not replace the bucket's newer exemplar.
        l.record(Side::Server, "target-api", 3, 33, 0, 2 * MS);
        l.record(Side::Server, "target-api", 4, 44, 0, 20_000 * MS);
        let (side, svc, h) = l.series().next().unwrap();
        assert_eq!((side, svc), (Side::Server, "target-api"));
        assert_eq!(h.count(), 4);
        assert!((h.sum() - (0.003 + 0.004 + 0.002 + 20.0)).abs() < 1e-9);
        let b = h.buckets();
        assert_eq!(b.len(), BOUNDS.len() + 1);
        let at = |le: f64| b.iter().find(|x| x.le == le).unwrap();
        assert_eq!(at(0.0025).cumulative, 1);
        assert_eq!(at(0.005).cumulative, 3);
        let e = at(0.005).exemplar.unwrap();
        assert_eq!((e.trace_id, e.span_id), (2, 22));
        assert!((e.seconds - 0.004).abs() < 1e-12);
        assert_eq!(at(0.0025).exemplar.unwrap().trace_id, 3);
        assert_eq!(at(0.001).exemplar, None);
        let inf = b.last().unwrap();
        assert!(inf.le.is_infinite());
        assert_eq!(inf.cumulative, 4);
        assert_eq!(
            inf.exemplar.unwrap().trace_id,
            4,
            "past 10 s: the +Inf bucket"
        );
    }

    #[test]
    fn services_are_capped_per_side() {
        let mut l = SpanLatency::default();
        for i in 0..MAX_SERVICES_PER_SIDE + 3 {
            l.record(Side::Client, &format!("svc{i}"), 1, 1, 0, MS);
        }
        l.record(Side::Server, "target-api", 1, 1, 0, MS);
        l.record(Side::Client, "svc0", 1, 1, 0, MS);
        let clients: Vec<_> = l.series().filter(|(s, ..)| *s == Side::Client).collect();
        assert_eq!(clients.len(), MAX_SERVICES_PER_SIDE + 1);
        let other = clients
            .iter()
            .find(|(_, s, _)| *s == OTHER_SERVICE)
            .unwrap();
        assert_eq!(other.2.count(), 3);
        let svc0 = clients.iter().find(|(_, s, _)| *s == "svc0").unwrap();
        assert_eq!(
            svc0.2.count(),
            2,
            "a known service is still counted under its name"
        );
        assert_eq!(l.series().next().unwrap().0, Side::Server);
    }
}
