//! `/metrics` in the Prometheus text exposition format, for Grafana.
//!
//! Names (kept stable; the dashboards query them):
//! `satlab_observer_otlp_received_total{signal}`,
//! `satlab_observer_otlp_rejected_total{signal,reason}`,
//! `satlab_observer_server_events_total{event}`,
//! `satlab_observer_last_event_duration_seconds{event}`,
//! `satlab_observer_verdict{run,verdict}` (1 per diagnosed run),
//! `satlab_observer_runs_total`.

use crate::otlp::stats::Stats;
use std::fmt::Write;

/// Metric names exported, in order.
pub const NAMES: [&str; 6] = [
    "satlab_observer_otlp_received_total",
    "satlab_observer_otlp_rejected_total",
    "satlab_observer_server_events_total",
    "satlab_observer_last_event_duration_seconds",
    "satlab_observer_verdict",
    "satlab_observer_runs_total",
];

/// Escape a label value (backslash, double quote, newline).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A diagnosed run for `satlab_observer_verdict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVerdict {
    /// Run id.
    pub run: String,
    /// Verdict (`client`, `server`, `socket`, `scaling`).
    pub verdict: String,
}

/// Render the exposition text.
pub fn render(stats: &Stats, verdicts: &[RunVerdict], runs_total: usize) -> String {
    let mut o = String::new();
    let head = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
    };
    head(
        &mut o,
        NAMES[0],
        "counter",
        "OTLP items (spans, data points, log records) accepted, by signal.",
    );
    for signal in ["traces", "metrics", "logs"] {
        let v = stats.received.get(signal).copied().unwrap_or(0);
        let _ = writeln!(o, "{}{{signal=\"{signal}\"}} {v}", NAMES[0]);
    }
    head(
        &mut o,
        NAMES[1],
        "counter",
        "OTLP items or requests rejected, by signal and reason.",
    );
    for ((signal, reason), v) in &stats.rejected {
        let _ = writeln!(
            o,
            "{}{{signal=\"{signal}\",reason=\"{}\"}} {v}",
            NAMES[1],
            escape(reason)
        );
    }
    head(
        &mut o,
        NAMES[2],
        "counter",
        "Server events received, by event.",
    );
    for kind in satlab_record::EventKind::ALL {
        let v = stats.events.get(kind.name()).copied().unwrap_or(0);
        let _ = writeln!(o, "{}{{event=\"{}\"}} {v}", NAMES[2], kind.name());
    }
    head(
        &mut o,
        NAMES[3],
        "gauge",
        "Duration of the last server event of each kind, seconds.",
    );
    for (event, v) in &stats.last_event_duration_s {
        let _ = writeln!(o, "{}{{event=\"{event}\"}} {v}", NAMES[3]);
    }
    head(
        &mut o,
        NAMES[4],
        "gauge",
        "1 for each diagnosed run, labelled with its verdict.",
    );
    for rv in verdicts {
        let _ = writeln!(
            o,
            "{}{{run=\"{}\",verdict=\"{}\"}} 1",
            NAMES[4],
            escape(&rv.run),
            escape(&rv.verdict)
        );
    }
    head(
        &mut o,
        NAMES[5],
        "gauge",
        "Run directories known to the observer.",
    );
    let _ = writeln!(o, "{} {runs_total}", NAMES[5]);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_name_with_labels() {
        let mut s = Stats::default();
        s.received.insert("logs", 5);
        s.rejected.insert(("traces", "malformed".into()), 2);
        s.events.insert("gc_pause", 3);
        s.last_event_duration_s.insert("gc_pause", 0.04);
        let text = render(
            &s,
            &[RunVerdict {
                run: "r\"1".into(),
                verdict: "server".into(),
            }],
            1,
        );
        for n in NAMES {
            assert!(text.contains(&format!("# TYPE {n} ")), "{n} in\n{text}");
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
        assert!(text.contains("satlab_observer_runs_total 1"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
