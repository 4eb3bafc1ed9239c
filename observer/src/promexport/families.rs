//! The observer's metrics as one model, rendered by both formats.
//!
//! Names (kept stable; the dashboards query them), as Prometheus stores them:
//! `satlab_observer_otlp_received_total{signal}`,
//! `satlab_observer_otlp_rejected_total{signal,reason}`,
//! `satlab_observer_server_events_total{event}`,
//! `satlab_observer_last_event_duration_seconds{event}`,
//! `satlab_observer_verdict{run,verdict}` (1 per diagnosed run),
//! `satlab_observer_runs` (run directories known, a gauge: they can be deleted),
//! `satlab_observer_span_duration_seconds{side,service}` (a histogram of every server
//! and client span received, with exemplars in OpenMetrics).

use super::model::{Exemplar, Family, Kind, Sample};
use crate::exemplars::{self, SpanLatency};
use crate::otlp::stats::Stats;

/// The span-latency histogram's family name.
pub const SPAN_DURATION: &str = "satlab_observer_span_duration_seconds";

/// A diagnosed run for `satlab_observer_verdict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVerdict {
    /// Run id.
    pub run: String,
    /// Verdict (`client`, `server`, `socket`, `scaling`).
    pub verdict: String,
}

fn family(name: &'static str, kind: Kind, help: &'static str, samples: Vec<Sample>) -> Family {
    Family {
        name,
        kind,
        help,
        samples,
    }
}

/// The counter sample of a family (`_total`).
fn total(labels: Vec<(&'static str, String)>, v: u64) -> Sample {
    Sample::new("_total", labels, v as f64)
}

/// Every family, in exposition order.
pub fn families(
    stats: &Stats,
    verdicts: &[RunVerdict],
    runs: usize,
    latency: &SpanLatency,
) -> Vec<Family> {
    let received = ["traces", "metrics", "logs"]
        .into_iter()
        .map(|signal| {
            let v = stats.received.get(signal).copied().unwrap_or(0);
            total(vec![("signal", signal.into())], v)
        })
        .collect();
    let rejected = stats
        .rejected
        .iter()
        .map(|((signal, reason), v)| {
            total(
                vec![("signal", (*signal).into()), ("reason", reason.clone())],
                *v,
            )
        })
        .collect();
    // The built-in kinds always (a zero is a statement), reported ones once seen.
    let mut names: std::collections::BTreeSet<&str> = satlab_record::EventKind::ALL
        .iter()
        .map(|k| k.name())
        .collect();
    names.extend(stats.events.keys().copied());
    let events = names
        .into_iter()
        .map(|name| {
            let v = stats.events.get(name).copied().unwrap_or(0);
            total(vec![("event", name.into())], v)
        })
        .collect();
    let last_event = stats
        .last_event_duration_s
        .iter()
        .map(|(event, v)| Sample::new("", vec![("event", (*event).into())], *v))
        .collect();
    let verdict = verdicts
        .iter()
        .map(|rv| {
            let labels = vec![("run", rv.run.clone()), ("verdict", rv.verdict.clone())];
            Sample::new("", labels, 1.0)
        })
        .collect();
    vec![
        family(
            "satlab_observer_otlp_received",
            Kind::Counter,
            "OTLP items (spans, data points, log records) accepted, by signal.",
            received,
        ),
        family(
            "satlab_observer_otlp_rejected",
            Kind::Counter,
            "OTLP items or requests rejected, by signal and reason.",
            rejected,
        ),
        family(
            "satlab_observer_server_events",
            Kind::Counter,
            "Server events received, by event.",
            events,
        ),
        family(
            "satlab_observer_last_event_duration_seconds",
            Kind::Gauge,
            "Duration of the last server event of each kind, seconds.",
            last_event,
        ),
        family(
            "satlab_observer_verdict",
            Kind::Gauge,
            "1 for each diagnosed run, labelled with its verdict.",
            verdict,
        ),
        family(
            "satlab_observer_runs",
            Kind::Gauge,
            "Run directories known to the observer.",
            vec![Sample::new("", vec![], runs as f64)],
        ),
        family(
            SPAN_DURATION,
            Kind::Histogram,
            "Duration of the server and client spans received, seconds; each bucket's \
             exemplar is its latest span.",
            span_samples(latency),
        ),
    ]
}

/// The histogram's samples: per side and service, the buckets (with exemplars), sum, count.
fn span_samples(latency: &SpanLatency) -> Vec<Sample> {
    let mut out = Vec::new();
    for (side, service, h) in latency.series() {
        let labels = || {
            vec![
                ("side", side.name().to_string()),
                ("service", service.into()),
            ]
        };
        for b in h.buckets() {
            let mut l = labels();
            l.push(("le", super::model::number(b.le)));
            out.push(Sample {
                suffix: "_bucket",
                labels: l,
                value: b.cumulative as f64,
                exemplar: b.exemplar.map(exemplar),
            });
        }
        out.push(Sample::new("_sum", labels(), h.sum()));
        out.push(Sample::new("_count", labels(), h.count() as f64));
    }
    out
}

fn exemplar(e: exemplars::Exemplar) -> Exemplar {
    Exemplar {
        trace_id: format!("{:032x}", e.trace_id),
        span_id: format!("{:016x}", e.span_id),
        value: e.seconds,
        unix_ns: e.end_unix_ns,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::text;
    use super::*;
    use crate::exemplars::Side;

    /// Stats, a verdict and one server span: every family has something to show.
    pub(crate) fn sample_families() -> Vec<Family> {
        let mut s = Stats::default();
        s.received.insert("logs", 5);
        s.rejected.insert(("traces", "malformed".into()), 2);
        s.events.insert("gc_pause", 3);
        s.last_event_duration_s.insert("gc_pause", 0.04);
        let mut l = SpanLatency::default();
        l.record(
            Side::Server,
            "target-api",
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            0xfeed_beef_0000_0001,
            1_700_000_000_000_000_000,
            1_700_000_000_012_300_000,
        );
        let verdicts = [RunVerdict {
            run: "r\"1".into(),
            verdict: "server".into(),
        }];
        families(&s, &verdicts, 1, &l)
    }

    #[test]
    fn prometheus_text_names_every_family_with_its_labels() {
        let text = text::render(&sample_families());
        for n in [
            "satlab_observer_otlp_received_total counter",
            "satlab_observer_otlp_rejected_total counter",
            "satlab_observer_server_events_total counter",
            "satlab_observer_last_event_duration_seconds gauge",
            "satlab_observer_verdict gauge",
            "satlab_observer_runs gauge",
            "satlab_observer_span_duration_seconds histogram",
        ] {
            assert!(text.contains(&format!("# TYPE {n}\n")), "{n} in\n{text}");
        }
        assert!(text.contains("satlab_observer_otlp_received_total{signal=\"logs\"} 5"));
        assert!(text.contains(
            "satlab_observer_otlp_rejected_total{signal=\"traces\",reason=\"malformed\"} 2"
        ));
        assert!(text.contains("satlab_observer_server_events_total{event=\"gc_pause\"} 3"));
        assert!(
            text.contains("satlab_observer_last_event_duration_seconds{event=\"gc_pause\"} 0.04")
        );
        assert!(text.contains("satlab_observer_verdict{run=\"r\\\"1\",verdict=\"server\"} 1"));
        assert!(text.contains("\nsatlab_observer_runs 1\n"));
        assert!(!text.contains("runs_total"), "the run count is a gauge");
        assert!(text.contains(
            "satlab_observer_span_duration_seconds_bucket{side=\"server\",service=\"target-api\",le=\"0.025\"} 1\n"
        ));
        assert!(text.contains(
            "satlab_observer_span_duration_seconds_count{side=\"server\",service=\"target-api\"} 1\n"
        ));
        assert!(
            !text.contains("trace_id"),
            "no exemplars in the 0.0.4 format"
        );
        assert!(!text.contains("# EOF"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn no_spans_no_histogram_series() {
        let f = families(&Stats::default(), &[], 0, &SpanLatency::default());
        let h = f.iter().find(|f| f.name == SPAN_DURATION).unwrap();
        assert!(h.samples.is_empty());
        assert_eq!(
            f.iter()
                .find(|f| f.name == "satlab_observer_runs")
                .unwrap()
                .samples[0]
                .value,
            0.0
        );
    }
}
