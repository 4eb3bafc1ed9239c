//! `grafana/emitted-metrics.txt`: the metric names (and their attributes) our programs
//! really emit, taken from real runs, and the Prometheus series and labels they become.
//!
//! Regenerate it with `cargo build -p observer && cargo build -p satlab-tests --bin
//! emitted-metrics && compose/emitted-metrics.sh > grafana/emitted-metrics.txt` (a served
//! run on loopback with every instrument reporting, then the `emitted-metrics` tool).
//!
//! Format, one entry a line (`#` starts a comment):
//!
//! ```text
//! otlp   SERVICE  OTEL_NAME  [ATTR,ATTR...]   # seen by the observer's OTLP receiver
//! scrape JOB      PROM_NAME  [LABEL,LABEL...] # on a /metrics page Prometheus scrapes
//! ```

use crate::instruments;
use crate::prom_names::{self, MetricKind};
use std::collections::{BTreeMap, BTreeSet};

/// Series Prometheus makes itself: `up` for every scrape target, `target_info` for
/// every OTLP resource.
pub const PROMETHEUS_BUILTIN: &[&str] = &["up", "target_info"];

/// Labels every series carries: the target (scrape) or the resource (`service.name` →
/// `job`, `service.instance.id` → `instance`) it came from.
pub const TARGET_LABELS: &[&str] = &["job", "instance"];

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

/// A metric as seen: where, and its name there.
pub type Key = (Source, String);

/// The list: each metric with the attribute (OTLP) or label (scrape) names seen on it.
pub type Emitted = BTreeMap<Key, BTreeSet<String>>;

/// Errors reading or translating the list.
#[derive(Debug, thiserror::Error)]
pub enum EmittedError {
    /// A line is not `otlp|scrape WHO NAME [LABELS]`.
    #[error(
        "line {line}: expected `otlp SERVICE NAME [ATTRS]` or `scrape JOB NAME [LABELS]`, got {text:?}"
    )]
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
pub fn parse(text: &str) -> Result<Emitted, EmittedError> {
    let mut out = Emitted::new();
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
        let (kind, who, name, labels) = match fields.as_slice() {
            [k, w, n] => (*k, *w, *n, ""),
            [k, w, n, l] => (*k, *w, *n, *l),
            _ => return Err(syntax()),
        };
        let source = match kind {
            "otlp" => Source::Otlp {
                service: who.to_string(),
            },
            "scrape" => Source::Scrape {
                job: who.to_string(),
            },
            _ => return Err(syntax()),
        };
        out.entry((source, name.to_string())).or_default().extend(
            labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    Ok(out)
}

/// Render the list in its format, with a header naming where it came from.
pub fn render(entries: &Emitted, header: &str) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    for ((source, name), labels) in entries {
        let (kind, who) = match source {
            Source::Otlp { service } => ("otlp", service),
            Source::Scrape { job } => ("scrape", job),
        };
        s.push_str(&format!("{kind} {who} {name}"));
        if !labels.is_empty() {
            s.push(' ');
            s.push_str(&labels.iter().cloned().collect::<Vec<_>>().join(","));
        }
        s.push('\n');
    }
    s
}

/// Merge `more` into `into` (labels united).
pub fn merge(into: &mut Emitted, more: Emitted) {
    for (k, labels) in more {
        into.entry(k).or_default().extend(labels);
    }
}

/// The OTLP metrics of a run's `otlp/received.json` (`{"services": {SERVICE:
/// {"metrics": [NAME, ...], ...}}, ...}`, satlab-record's `ReceivedSummary`).
pub fn from_received(received: &serde_json::Value) -> Emitted {
    let mut out = Emitted::new();
    let Some(services) = received.get("services").and_then(|s| s.as_object()) else {
        return out;
    };
    for (service, names) in services {
        let metrics = names.get("metrics").and_then(|m| m.as_array());
        for name in metrics.into_iter().flatten().filter_map(|n| n.as_str()) {
            let source = Source::Otlp {
                service: service.clone(),
            };
            out.entry((source, name.to_string())).or_default();
        }
    }
    out
}

/// The attribute names on the data points of a run's `otlp/metrics.jsonl` (one
/// satlab-record `MetricPoint` a line: `service`, `name`, `attributes`).
pub fn from_points(jsonl: &str) -> Emitted {
    let mut out = Emitted::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(p) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(service), Some(name)) = (p["service"].as_str(), p["name"].as_str()) else {
            continue;
        };
        let source = Source::Otlp {
            service: service.to_string(),
        };
        let attrs = p["attributes"].as_object().into_iter().flatten();
        out.entry((source, name.to_string()))
            .or_default()
            .extend(attrs.map(|(k, _)| k.clone()));
    }
    out
}

/// Metrics of a real run that the committed list lacks (by source and name).
pub fn missing_from(list: &Emitted, seen: &Emitted) -> Vec<Key> {
    seen.keys()
        .filter(|k| !list.contains_key(*k))
        .cloned()
        .collect()
}

/// The metric families and their labels in a Prometheus text exposition.
pub fn from_exposition(job: &str, text: &str) -> Emitted {
    let mut out = Emitted::new();
    let source = || Source::Scrape {
        job: job.to_string(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                out.entry((source(), name.to_string())).or_default();
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        let labels = out.entry((source(), name.to_string())).or_default();
        if let Some(body) = line.split_once('{').and_then(|(_, r)| r.split_once('}')) {
            labels.extend(exposition_label_names(body.0));
        }
    }
    out
}

/// Label names in `a="x",b="y,z"` (values may hold commas and escaped quotes).
fn exposition_label_names(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = body;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().trim_start_matches(',').trim();
        if !name.is_empty() {
            names.push(name.to_string());
        }
        let after = &rest[eq + 1..];
        let Some(value) = after.strip_prefix('"') else {
            break;
        };
        let mut end = None;
        let mut escaped = false;
        for (i, c) in value.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else { break };
        rest = &value[end + 1..];
    }
    names
}

/// Every series name Prometheus holds for the list, with the label names it may carry
/// (plus [`PROMETHEUS_BUILTIN`]).
///
/// OTLP metrics are translated by kind and unit ([`instruments`]); attributes become
/// labels the Prometheus way, histograms' `_bucket` series add `le`. Scraped histogram
/// and summary families are listed by family name, so their names are kept as given.
pub fn prometheus_series(
    entries: &Emitted,
) -> Result<BTreeMap<String, BTreeSet<String>>, EmittedError> {
    let target: BTreeSet<String> = TARGET_LABELS.iter().map(|s| s.to_string()).collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = PROMETHEUS_BUILTIN
        .iter()
        .map(|s| (s.to_string(), target.clone()))
        .collect();
    for ((source, name), labels) in entries {
        match source {
            Source::Otlp { service } => {
                let inst =
                    instruments::find(name).ok_or_else(|| EmittedError::UnknownInstrument {
                        service: service.clone(),
                        name: name.clone(),
                    })?;
                let mut prom: BTreeSet<String> =
                    labels.iter().map(|a| prom_names::label_name(a)).collect();
                prom.extend(target.iter().cloned());
                for series in prom_names::series_names(inst.name, inst.unit, inst.kind) {
                    let mut l = prom.clone();
                    if inst.kind == MetricKind::Histogram && series.ends_with("_bucket") {
                        l.insert("le".to_string());
                    }
                    out.entry(series).or_default().extend(l);
                }
            }
            Source::Scrape { .. } => {
                let l = out.entry(name.clone()).or_default();
                l.extend(labels.iter().cloned());
                l.extend(target.iter().cloned());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otlp(service: &str, name: &str) -> Key {
        (
            Source::Otlp {
                service: service.into(),
            },
            name.into(),
        )
    }

    #[test]
    fn parses_and_translates_names_and_labels() {
        let list = parse(
            "# from a run\n\
             otlp target-api http.server.request.duration http.response.status_code,http.route\n\
             otlp target-api process.cpu.utilization  # gauge, no attributes\n\
             scrape observer satlab_observer_verdict run,verdict\n",
        )
        .unwrap();
        let series = prometheus_series(&list).unwrap();
        let bucket = &series["http_server_request_duration_seconds_bucket"];
        for l in [
            "le",
            "http_response_status_code",
            "http_route",
            "job",
            "instance",
        ] {
            assert!(bucket.contains(l), "{l} missing from {bucket:?}");
        }
        assert!(!series["http_server_request_duration_seconds_count"].contains("le"));
        assert!(series.contains_key("process_cpu_utilization_ratio"));
        assert!(series["satlab_observer_verdict"].contains("verdict"));
        assert!(series.contains_key("up"));
        assert!(!series.contains_key("http_server_request_duration_seconds"));
    }

    #[test]
    fn rejects_bad_lines_and_unknown_instruments() {
        assert!(matches!(
            parse("otlp only-two"),
            Err(EmittedError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            parse("otlp a b c d"),
            Err(EmittedError::Syntax { line: 1, .. })
        ));
        let list = parse("otlp x some.other.metric").unwrap();
        assert!(matches!(
            prometheus_series(&list),
            Err(EmittedError::UnknownInstrument { .. })
        ));
    }

    #[test]
    fn received_json_and_point_attributes() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"services": {"target-api": {"metrics": ["a.b", "c"], "spans": ["POST"]},
                "loadgen": {"metrics": ["d"]}}, "requests": {"metrics": 3}}"#,
        )
        .unwrap();
        let mut list = from_received(&v);
        assert_eq!(
            list.keys().cloned().collect::<Vec<_>>(),
            [
                otlp("loadgen", "d"),
                otlp("target-api", "a.b"),
                otlp("target-api", "c")
            ]
        );
        merge(
            &mut list,
            from_points(
                "{\"service\":\"target-api\",\"name\":\"a.b\",\"attributes\":{\"x.y\":\"1\"}}\n\
                 {\"service\":\"target-api\",\"name\":\"a.b\",\"attributes\":{\"z\":\"2\"}}\n",
            ),
        );
        let labels: Vec<_> = list[&otlp("target-api", "a.b")].iter().cloned().collect();
        assert_eq!(labels, ["x.y", "z"]);
    }

    #[test]
    fn exposition_names_and_labels() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
                    b{x=\"1,2\",y=\"q\\\"r\"} 2\n";
        let list = from_exposition("observer", text);
        let scrape = |n: &str| {
            (
                Source::Scrape {
                    job: "observer".into(),
                },
                n.to_string(),
            )
        };
        assert!(list[&scrape("a_total")].is_empty());
        let b: Vec<_> = list[&scrape("b")].iter().cloned().collect();
        assert_eq!(b, ["x", "y"]);
    }

    #[test]
    fn missing_entries_and_render_round_trip() {
        let list = parse("otlp a x.y k1\n").unwrap();
        let seen = parse("otlp a x.y\notlp a new.one\n").unwrap();
        assert_eq!(missing_from(&list, &seen), [otlp("a", "new.one")]);
        let both = parse("otlp a x.y k1,k2\nscrape observer z_total\n").unwrap();
        assert_eq!(parse(&render(&both, "header")).unwrap(), both);
    }
}
