//! `grafana/emitted-metrics.txt`: the metric names our programs really emit, taken from
//! real runs, and the Prometheus names they become.
//!
//! Format, one entry a line (`#` starts a comment):
//!
//! ```text
//! otlp   SERVICE  OTEL_NAME     # seen by the observer's OTLP receiver (otlp/received.json)
//! scrape JOB      PROM_NAME     # exposed on a /metrics endpoint Prometheus scrapes
//! ```

use crate::instruments;
use crate::prom_names;
use std::collections::BTreeSet;

/// Series Prometheus makes itself: `up` for every scrape target, `target_info` for
/// every OTLP resource.
pub const PROMETHEUS_BUILTIN: &[&str] = &["up", "target_info"];

/// Where a name was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// Received over OTLP from a service (OTel name).
    Otlp {
        /// `service.name`.
        service: String,
    },
    /// Scraped from a job's `/metrics` (already a Prometheus name).
    Scrape {
        /// The Prometheus job.
        job: String,
    },
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Emitted {
    /// Where it was seen.
    pub source: Source,
    /// The name as seen there.
    pub name: String,
}

/// Errors reading or translating the list.
#[derive(Debug, thiserror::Error)]
pub enum EmittedError {
    /// A line is not `otlp|scrape WHO NAME`.
    #[error("line {line}: expected `otlp SERVICE NAME` or `scrape JOB NAME`, got {text:?}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// An OTLP name without a known kind and unit cannot be translated.
    #[error(
        "{name} (from {service}) is not in tests/src/instruments.rs: add its kind and unit there"
    )]
    UnknownInstrument {
        /// Service that sent it.
        service: String,
        /// OTel name.
        name: String,
    },
}

/// Parse the list.
pub fn parse(text: &str) -> Result<Vec<Emitted>, EmittedError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let syntax = || EmittedError::Syntax {
            line: n + 1,
            text: raw.to_string(),
        };
        let [kind, who, name] = fields.as_slice() else {
            return Err(syntax());
        };
        let source = match *kind {
            "otlp" => Source::Otlp {
                service: who.to_string(),
            },
            "scrape" => Source::Scrape {
                job: who.to_string(),
            },
            _ => return Err(syntax()),
        };
        out.push(Emitted {
            source,
            name: name.to_string(),
        });
    }
    Ok(out)
}

/// Render entries in the list's format, with a header naming where they came from.
pub fn render(entries: &BTreeSet<Emitted>, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    for e in entries {
        match &e.source {
            Source::Otlp { service } => s.push_str(&format!("otlp {service} {}\n", e.name)),
            Source::Scrape { job } => s.push_str(&format!("scrape {job} {}\n", e.name)),
        }
    }
    s
}

/// The OTLP entries of a run's `otlp/received.json` (`{"services": {SERVICE:
/// {"metrics": [NAME, ...], ...}}, ...}`, satlab-record's `ReceivedSummary`).
pub fn from_received(received: &serde_json::Value) -> BTreeSet<Emitted> {
    let mut out = BTreeSet::new();
    let Some(services) = received.get("services").and_then(|s| s.as_object()) else {
        return out;
    };
    for (service, names) in services {
        let metrics = names.get("metrics").and_then(|m| m.as_array());
        for name in metrics.into_iter().flatten().filter_map(|n| n.as_str()) {
            out.insert(Emitted {
                source: Source::Otlp {
                    service: service.clone(),
                },
                name: name.to_string(),
            });
        }
    }
    out
}

/// Entries of a real run (e.g. [`from_received`]) that the committed list lacks: names a
/// program emits that the dashboards test cannot know of until the list is regenerated.
pub fn missing_from(list: &[Emitted], seen: &BTreeSet<Emitted>) -> Vec<Emitted> {
    let have: BTreeSet<&Emitted> = list.iter().collect();
    seen.iter().filter(|e| !have.contains(e)).cloned().collect()
}

/// The metric family names in a Prometheus text exposition (`# TYPE` lines and samples).
pub fn from_exposition(job: &str, text: &str) -> BTreeSet<Emitted> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let name = if let Some(rest) = line.strip_prefix("# TYPE ") {
            rest.split_whitespace().next()
        } else if line.starts_with('#') || line.trim().is_empty() {
            None
        } else {
            line.split(['{', ' ']).next()
        };
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            out.insert(Emitted {
                source: Source::Scrape {
                    job: job.to_string(),
                },
                name: name.to_string(),
            });
        }
    }
    out
}

/// Every series name Prometheus holds for these entries (plus [`PROMETHEUS_BUILTIN`]).
///
/// Scraped histogram and summary families are listed by their family name in `# TYPE`
/// lines, so `_bucket`, `_sum` and `_count` of a scraped name are accepted too.
pub fn prometheus_series(entries: &[Emitted]) -> Result<BTreeSet<String>, EmittedError> {
    let mut out: BTreeSet<String> = PROMETHEUS_BUILTIN.iter().map(|s| s.to_string()).collect();
    for e in entries {
        match &e.source {
            Source::Otlp { service } => {
                let inst =
                    instruments::find(&e.name).ok_or_else(|| EmittedError::UnknownInstrument {
                        service: service.clone(),
                        name: e.name.clone(),
                    })?;
                out.extend(prom_names::series_names(inst.name, inst.unit, inst.kind));
            }
            Source::Scrape { .. } => {
                out.insert(e.name.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_translates() {
        let list = parse(
            "# from a run\n\
             otlp target-api http.server.request.duration\n\
             otlp target-api process.cpu.utilization  # gauge\n\
             scrape observer satlab_observer_runs_total\n",
        )
        .unwrap();
        let series = prometheus_series(&list).unwrap();
        for want in [
            "http_server_request_duration_seconds_bucket",
            "http_server_request_duration_seconds_count",
            "process_cpu_utilization_ratio",
            "satlab_observer_runs_total",
            "up",
        ] {
            assert!(series.contains(want), "{want} missing from {series:?}");
        }
        assert!(!series.contains("http_server_request_duration_seconds"));
    }

    #[test]
    fn rejects_bad_lines_and_unknown_instruments() {
        assert!(matches!(
            parse("otlp only-two"),
            Err(EmittedError::Syntax { line: 1, .. })
        ));
        let list = parse("otlp x some.other.metric").unwrap();
        assert!(matches!(
            prometheus_series(&list),
            Err(EmittedError::UnknownInstrument { .. })
        ));
    }

    #[test]
    fn received_json_names() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"services": {"target-api": {"metrics": ["a.b", "c"], "spans": ["POST"]},
                "loadgen": {"metrics": ["d"]}}, "requests": {"metrics": 3}}"#,
        )
        .unwrap();
        let got: Vec<(String, String)> = from_received(&v)
            .into_iter()
            .map(|e| match e.source {
                Source::Otlp { service } => (service, e.name),
                Source::Scrape { job } => (job, e.name),
            })
            .collect();
        assert_eq!(
            got,
            [
                ("loadgen".to_string(), "d".to_string()),
                ("target-api".to_string(), "a.b".to_string()),
                ("target-api".to_string(), "c".to_string()),
            ]
        );
    }

    #[test]
    fn exposition_names() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\nb{x=\"1\"} 2\n";
        let names: Vec<String> = from_exposition("observer", text)
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a_total", "b"]);
    }

    #[test]
    fn missing_entries() {
        let list = parse("otlp a x.y\n").unwrap();
        let seen = parse("otlp a x.y\notlp a new.one\n")
            .unwrap()
            .into_iter()
            .collect();
        let missing = missing_from(&list, &seen);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].name, "new.one");
    }

    #[test]
    fn render_round_trips() {
        let list = parse("otlp a x.y\nscrape observer z_total\n").unwrap();
        let set: BTreeSet<Emitted> = list.iter().cloned().collect();
        let again = parse(&render(&set, "header")).unwrap();
        assert_eq!(again.into_iter().collect::<BTreeSet<_>>(), set);
    }
}
