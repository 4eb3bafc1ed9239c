//! OpenTelemetry → Prometheus name translation, as Prometheus 3's OTLP receiver does it
//! with `otlp.translation_strategy: UnderscoreEscapingWithSuffixes` (the strategy set in
//! `compose/prometheus.yml`).
//!
//! The rules follow Prometheus's `otlptranslator` (`normalizeName`): the name is split on
//! every character outside `[a-zA-Z0-9:]` and re-joined with `_` (so runs of separators
//! collapse); the unit is mapped (`s` → `seconds`, `By` → `bytes`, `1` → nothing,
//! `{request}` → nothing, `a/s` → `a_per_second`) and appended unless the name already
//! holds that token; monotonic sums get `_total`; gauges with unit `1` get `_ratio`.

/// The OTLP metric kinds that matter for naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A gauge (e.g. an observable gauge).
    Gauge,
    /// A monotonic sum (a counter).
    Counter,
    /// A non-monotonic sum (an up-down counter): a Prometheus gauge.
    UpDownCounter,
    /// An explicit-bucket histogram: `_bucket`, `_sum`, `_count` series.
    Histogram,
}

impl MetricKind {
    /// Parse `gauge`, `counter`, `updowncounter` or `histogram`.
    pub fn parse(s: &str) -> Option<MetricKind> {
        match s {
            "gauge" => Some(MetricKind::Gauge),
            "counter" => Some(MetricKind::Counter),
            "updowncounter" => Some(MetricKind::UpDownCounter),
            "histogram" => Some(MetricKind::Histogram),
            _ => None,
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

fn unit_main(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn unit_per(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// Replace every character outside `[a-zA-Z0-9:]` by `_`, collapse runs of `_`, and
/// drop a leading `_` (the translator's `cleanUpUnit`).
fn clean_unit(unit: &str) -> String {
    let mapped: String = unit
        .chars()
        .map(|c| if is_name_char(c) { c } else { '_' })
        .collect();
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_start_matches('_').to_string()
}

/// The (main, per) unit suffixes of an OTel unit, before clean-up.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    let per = parts.next().unwrap_or("").trim();
    let main = if main.is_empty() || main.contains(['{', '}']) {
        String::new()
    } else {
        unit_main(main).to_string()
    };
    let per = if per.is_empty() || per.contains(['{', '}']) {
        String::new()
    } else {
        format!("per_{}", unit_per(per))
    };
    (main, per)
}

/// The Prometheus metric name of an OTLP metric (the base name: histograms add
/// `_bucket`, `_sum` and `_count` to it, see [`series_names`]).
pub fn metric_name(name: &str, unit: &str, kind: MetricKind) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !is_name_char(c))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (main, per) = unit_suffixes(unit);
    let mut main = clean_unit(&main);
    let mut per = clean_unit(&per);
    if tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        per = per.trim_end_matches('_').to_string();
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty() {
        main = main.trim_end_matches('_').to_string();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == MetricKind::Counter {
        tokens.retain(|t| t != "total");
        tokens.push("total".to_string());
    }
    if unit == "1" && kind == MetricKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".to_string());
    }
    let joined = tokens.join("_");
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{joined}")
    } else {
        joined
    }
}

/// Every series name Prometheus stores for the metric (histograms: `_bucket`, `_sum`,
/// `_count`; everything else: the base name).
pub fn series_names(name: &str, unit: &str, kind: MetricKind) -> Vec<String> {
    let base = metric_name(name, unit, kind);
    match kind {
        MetricKind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|s| format!("{base}{s}"))
            .collect(),
        _ => vec![base],
    }
}

/// The Prometheus label name of an OTLP attribute (`satlab.event.name` →
/// `satlab_event_name`).
pub fn label_name(attribute: &str) -> String {
    let mapped: String = attribute
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if mapped.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{mapped}")
    } else {
        mapped
    }
}

#[cfg(test)]
mod tests {
    use super::MetricKind::*;
    use super::*;

    #[test]
    fn histogram_in_seconds_gets_the_unit_and_three_series() {
        assert_eq!(
            series_names("http.server.request.duration", "s", Histogram),
            [
                "http_server_request_duration_seconds_bucket",
                "http_server_request_duration_seconds_sum",
                "http_server_request_duration_seconds_count",
            ]
        );
    }

    #[test]
    fn counters_get_total_and_annotation_units_vanish() {
        assert_eq!(
            metric_name("satlab.shed.requests", "{request}", Counter),
            "satlab_shed_requests_total"
        );
        // `_total` is moved to the end, never doubled.
        assert_eq!(metric_name("jobs.total", "", Counter), "jobs_total");
        assert_eq!(
            metric_name("http.server.active_requests", "{request}", UpDownCounter),
            "http_server_active_requests"
        );
    }

    #[test]
    fn unit_one_is_ratio_for_gauges_only() {
        assert_eq!(
            metric_name("process.cpu.utilization", "1", Gauge),
            "process_cpu_utilization_ratio"
        );
        assert_eq!(metric_name("items.seen", "1", Counter), "items_seen_total");
        assert_eq!(metric_name("queue.fill", "1", UpDownCounter), "queue_fill");
    }

    #[test]
    fn per_units_and_existing_unit_tokens() {
        assert_eq!(
            metric_name("net.rate", "By/s", Gauge),
            "net_rate_bytes_per_second"
        );
        // The unit token is not appended twice.
        assert_eq!(metric_name("wait.seconds", "s", Gauge), "wait_seconds");
        assert_eq!(
            metric_name("cpu.time", "ms", Counter),
            "cpu_time_milliseconds_total"
        );
    }

    #[test]
    fn separators_collapse_and_digits_are_prefixed() {
        assert_eq!(metric_name("a..b-c", "", Gauge), "a_b_c");
        assert_eq!(metric_name("2xx.count", "", Gauge), "_2xx_count");
    }

    #[test]
    fn labels() {
        assert_eq!(label_name("satlab.event.name"), "satlab_event_name");
        assert_eq!(
            label_name("http.response.status_code"),
            "http_response_status_code"
        );
        assert_eq!(label_name("1x"), "key_1x");
    }
}
