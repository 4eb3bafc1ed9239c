//! The standard `OTEL_*` environment variables, parsed once for `target-api` and `loadgen`
//! (parsing only: building exporters is each program's business, so this crate needs no
//! OpenTelemetry dependency).
//!
//! Precedence follows the specification:
//! - `OTEL_SDK_DISABLED=true` turns every signal off;
//! - a per-signal endpoint (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `…_METRICS_…`, `…_LOGS_…`)
//!   is used as it is; otherwise `OTEL_EXPORTER_OTLP_ENDPOINT` is the base (gRPC: as it is;
//!   HTTP: `/v1/traces`, `/v1/metrics`, `/v1/logs` appended); an endpoint without a scheme
//!   gets `http://` (newer exporters would assume https);
//! - `service.name`: `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
//!   then the program's default;
//! - an unknown `OTEL_EXPORTER_OTLP_PROTOCOL` or sampler is an error naming the variable
//!   and the accepted values, in both programs.

use std::time::Duration;

/// The metric export interval when `OTEL_METRIC_EXPORT_INTERVAL` is unset: a lab wants
/// short intervals (the specification's default is 60 s).
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(5);

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC (port 4317 by convention).
    Grpc,
    /// HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

/// One OTLP signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric points.
    Metrics,
    /// Log records (satlab's server events).
    Logs,
}

impl Signal {
    /// The signal's per-signal endpoint variable.
    pub fn endpoint_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            Signal::Logs => "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        }
    }

    /// The path OTLP/HTTP appends to a base endpoint.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "v1/traces",
            Signal::Metrics => "v1/metrics",
            Signal::Logs => "v1/logs",
        }
    }

    /// The signal's own variable for `setting`, e.g. `OTEL_EXPORTER_OTLP_TRACES_HEADERS`.
    fn own_var(self, setting: Setting) -> &'static str {
        use Setting::*;
        match (self, setting) {
            (Signal::Traces, Headers) => "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            (Signal::Traces, Timeout) => "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            (Signal::Traces, Compression) => "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            (Signal::Metrics, Headers) => "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            (Signal::Metrics, Timeout) => "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            (Signal::Metrics, Compression) => "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            (Signal::Logs, Headers) => "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            (Signal::Logs, Timeout) => "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            (Signal::Logs, Compression) => "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
        }
    }

    /// The signal's place in [`OtelEnv::signal_endpoints`] (traces, metrics, logs).
    pub fn index(self) -> usize {
        match self {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        }
    }
}

impl Protocol {
    /// Where `signal` goes, given its own endpoint and the base one: its own as it is,
    /// else the base (gRPC: as it is; HTTP: with `/v1/<signal>` appended), else nowhere.
    /// [`OtelEnv::endpoint_for`] is this rule; a program that lets code set the base
    /// endpoint applies it here, so a per-signal variable still wins.
    pub fn signal_endpoint(
        self,
        signal: Signal,
        own: Option<&str>,
        base: Option<&str>,
    ) -> Option<String> {
        if let Some(ep) = own {
            return Some(ep.to_string());
        }
        base.map(|base| match self {
            Protocol::Grpc => base.to_string(),
            Protocol::HttpProtobuf => format!("{base}/{}", signal.http_path()),
        })
    }
}

/// `OTEL_TRACES_SAMPLER` with its argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSpec {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default).
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with its ratio.
    ParentBasedTraceIdRatio(f64),
}

/// An export request setting with a base and a per-signal variable.
#[derive(Debug, Clone, Copy)]
enum Setting {
    Headers,
    Timeout,
    Compression,
}

impl Setting {
    /// The base variable, for every signal.
    fn base_var(self) -> &'static str {
        match self {
            Setting::Headers => "OTEL_EXPORTER_OTLP_HEADERS",
            Setting::Timeout => "OTEL_EXPORTER_OTLP_TIMEOUT",
            Setting::Compression => "OTEL_EXPORTER_OTLP_COMPRESSION",
        }
    }
}

/// The OTLP export timeout when neither `OTEL_EXPORTER_OTLP_TIMEOUT` nor the signal's own
/// is set (the specification's default).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How one signal's OTLP requests are made: `OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS`,
/// `…_TIMEOUT` and `…_COMPRESSION`, each falling back to `OTEL_EXPORTER_OTLP_HEADERS`,
/// `…_TIMEOUT`, `…_COMPRESSION`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    /// Headers (gRPC metadata) on every export request, values decoded.
    pub headers: Vec<(String, String)>,
    /// The time one export may take.
    pub timeout: Duration,
    /// `gzip` compression (else none).
    pub gzip: bool,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            headers: Vec::new(),
            timeout: DEFAULT_EXPORT_TIMEOUT,
            gzip: false,
        }
    }
}

/// How finished spans are batched for export: `OTEL_BSP_SCHEDULE_DELAY`,
/// `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, with the
/// specification's defaults (5000 ms, 2048, 512). A batch is at most the queue's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanBatching {
    /// The longest a finished span waits before a partial batch is sent.
    pub schedule_delay: Duration,
    /// Spans held at most (queued and being filled); more are dropped and counted.
    pub max_queue_size: usize,
    /// Spans in one export request at most.
    pub max_export_batch_size: usize,
}

impl Default for SpanBatching {
    fn default() -> Self {
        SpanBatching {
            schedule_delay: Duration::from_millis(5000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// An `OTEL_*` variable whose value cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{var}={value:?}: {message}")]
pub struct OtelEnvError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong and what to write instead.
    pub message: &'static str,
}

/// The OpenTelemetry settings of one program.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelEnv {
    /// `OTEL_SDK_DISABLED=true`.
    pub disabled: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, with a scheme and no trailing slash.
    pub endpoint: Option<String>,
    /// Per-signal endpoints, with a scheme: traces, metrics, logs.
    pub signal_endpoints: [Option<String>; 3],
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (default gRPC).
    pub protocol: Protocol,
    /// `service.name` by the specification's precedence.
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded, without `service.name`.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: SamplerSpec,
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds in the variable).
    pub metric_interval: Duration,
    /// Per-signal request settings: traces, metrics, logs (see [`Signal::index`]).
    pub exports: [ExportSettings; 3],
    /// `OTEL_BSP_*`: how spans are batched.
    pub span_batching: SpanBatching,
}

fn bad(var: &'static str, value: &str, message: &'static str) -> OtelEnvError {
    OtelEnvError {
        var,
        value: value.to_string(),
        message,
    }
}

fn with_scheme(ep: &str) -> String {
    let ep = ep.trim().trim_end_matches('/');
    if ep.contains("://") {
        ep.to_string()
    } else {
        format!("http://{ep}")
    }
}

impl OtelEnv {
    /// Read the variables through `get` (normally `std::env::var`); `default_service` is
    /// the program's own `service.name`.
    pub fn from_lookup(
        default_service: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, OtelEnvError> {
        let val = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let disabled =
            val("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let endpoint = val("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| with_scheme(&e));
        let signal_endpoints = [Signal::Traces, Signal::Metrics, Signal::Logs]
            .map(|s| val(s.endpoint_var()).map(|e| with_scheme(&e)));
        let protocol = match val("OTEL_EXPORTER_OTLP_PROTOCOL") {
            None => Protocol::Grpc,
            Some(p) => match p.trim() {
                "grpc" => Protocol::Grpc,
                "http/protobuf" => Protocol::HttpProtobuf,
                _ => {
                    return Err(bad(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        &p,
                        "use grpc or http/protobuf (http/json is not supported)",
                    ));
                }
            },
        };
        let mut resource_attributes = match val("OTEL_RESOURCE_ATTRIBUTES") {
            None => Vec::new(),
            Some(text) => parse_resource_attributes(&text).ok_or_else(|| {
                bad(
                    "OTEL_RESOURCE_ATTRIBUTES",
                    &text,
                    "write comma-separated key=value pairs, values percent-encoded, \
                     e.g. service.namespace=lab,deployment.environment.name=dev",
                )
            })?,
        };
        let from_resource = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = val("OTEL_SERVICE_NAME")
            .map(|s| s.trim().to_string())
            .or(from_resource)
            .unwrap_or_else(|| default_service.to_string());
        let sampler = parse_sampler(
            val("OTEL_TRACES_SAMPLER").as_deref(),
            val("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
        let metric_interval = match val("OTEL_METRIC_EXPORT_INTERVAL") {
            None => DEFAULT_METRIC_INTERVAL,
            Some(ms) => ms
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|v| *v >= 100)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    bad(
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        &ms,
                        "write milliseconds, at least 100, e.g. 5000",
                    )
                })?,
        };
        let mut exports: [ExportSettings; 3] = Default::default();
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            exports[signal.index()] = export_settings(signal, &val)?;
        }
        let span_batching = span_batching(&val)?;
        Ok(OtelEnv {
            disabled,
            endpoint,
            signal_endpoints,
            protocol,
            service_name,
            resource_attributes,
            sampler,
            metric_interval,
            exports,
            span_batching,
        })
    }

    /// Read the process environment.
    pub fn from_env(default_service: &str) -> Result<Self, OtelEnvError> {
        Self::from_lookup(default_service, |k| std::env::var(k).ok())
    }

    /// Where to send `signal`, or `None` when it is not exported (disabled, or no endpoint).
    pub fn endpoint_for(&self, signal: Signal) -> Option<String> {
        if self.disabled {
            return None;
        }
        self.protocol.signal_endpoint(
            signal,
            self.signal_endpoints[signal.index()].as_deref(),
            self.endpoint.as_deref(),
        )
    }

    /// Whether any signal is exported.
    pub fn exports_anything(&self) -> bool {
        [Signal::Traces, Signal::Metrics, Signal::Logs]
            .into_iter()
            .any(|s| self.endpoint_for(s).is_some())
    }
}

/// Parse `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
pub fn parse_sampler(name: Option<&str>, arg: Option<&str>) -> Result<SamplerSpec, OtelEnvError> {
    let ratio = || -> Result<f64, OtelEnvError> {
        match arg {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    bad(
                        "OTEL_TRACES_SAMPLER_ARG",
                        a,
                        "write a ratio between 0 and 1, e.g. 0.01",
                    )
                }),
        }
    };
    Ok(
        match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => SamplerSpec::AlwaysOn,
            "always_off" => SamplerSpec::AlwaysOff,
            "traceidratio" => SamplerSpec::TraceIdRatio(ratio()?),
            "parentbased_always_on" | "" => SamplerSpec::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerSpec::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerSpec::ParentBasedTraceIdRatio(ratio()?),
            other => {
                return Err(bad(
                    "OTEL_TRACES_SAMPLER",
                    other,
                    "use always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                ));
            }
        },
    )
}

/// One signal's headers, timeout and compression: its own variable, else the base one.
fn export_settings(
    signal: Signal,
    val: &impl Fn(&str) -> Option<String>,
) -> Result<ExportSettings, OtelEnvError> {
    let pick = |setting: Setting| {
        let (own, base) = (signal.own_var(setting), setting.base_var());
        val(own)
            .map(|v| (own, v))
            .or_else(|| val(base).map(|v| (base, v)))
    };
    let mut out = ExportSettings::default();
    if let Some((var, text)) = pick(Setting::Headers) {
        out.headers = parse_resource_attributes(&text).ok_or_else(|| {
            bad(
                var,
                &text,
                "write comma-separated key=value pairs, values percent-encoded, \
                 e.g. authorization=Bearer%20abc,x-tenant=lab",
            )
        })?;
    }
    if let Some((var, ms)) = pick(Setting::Timeout) {
        out.timeout = ms
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| bad(var, &ms, "write milliseconds above 0, e.g. 10000"))?;
    }
    if let Some((var, c)) = pick(Setting::Compression) {
        out.gzip = match c.trim() {
            "gzip" => true,
            "none" => false,
            _ => return Err(bad(var, &c, "use gzip or none")),
        };
    }
    Ok(out)
}

fn span_batching(val: &impl Fn(&str) -> Option<String>) -> Result<SpanBatching, OtelEnvError> {
    let mut out = SpanBatching::default();
    let count = |var: &'static str, example: &'static str| -> Result<Option<u64>, OtelEnvError> {
        val(var)
            .map(|text| {
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| bad(var, &text, example))
            })
            .transpose()
    };
    if let Some(ms) = count(
        "OTEL_BSP_SCHEDULE_DELAY",
        "write milliseconds above 0, e.g. 5000",
    )? {
        out.schedule_delay = Duration::from_millis(ms);
    }
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    if let Some(n) = count(
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "write a span count above 0, e.g. 2048",
    )? {
        out.max_queue_size = size(n);
    }
    if let Some(n) = count(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "write a span count above 0, e.g. 512",
    )? {
        out.max_export_batch_size = size(n);
    }
    out.max_export_batch_size = out.max_export_batch_size.min(out.max_queue_size);
    Ok(out)
}

/// `key=value,key=value` with percent-encoded values; `None` when an entry is malformed.
fn parse_resource_attributes(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (k, v) = entry.split_once('=')?;
        let k = k.trim();
        if k.is_empty() {
            return None;
        }
        out.push((k.to_string(), percent_decode(v.trim())?));
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<OtelEnv, OtelEnvError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OtelEnv::from_lookup("prog", move |k| {
            owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_exports_nothing() {
        let e = env(&[]).unwrap();
        assert!(!e.exports_anything());
        assert_eq!(e.service_name, "prog");
        assert_eq!(e.protocol, Protocol::Grpc);
        assert_eq!(e.sampler, SamplerSpec::ParentBasedAlwaysOn);
        assert_eq!(e.metric_interval, DEFAULT_METRIC_INTERVAL);
    }

    #[test]
    fn base_endpoint_per_protocol() {
        let e = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317/")]).unwrap();
        assert_eq!(
            e.endpoint_for(Signal::Traces).as_deref(),
            Some("http://collector:4317")
        );
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap();
        assert_eq!(
            e.endpoint_for(Signal::Metrics).as_deref(),
            Some("http://c:4318/v1/metrics")
        );
        assert_eq!(
            e.endpoint_for(Signal::Logs).as_deref(),
            Some("http://c:4318/v1/logs")
        );
    }

    #[test]
    fn per_signal_endpoints_win_and_are_used_as_they_are() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9999/custom"),
        ])
        .unwrap();
        assert_eq!(
            e.endpoint_for(Signal::Traces).as_deref(),
            Some("http://t:9999/custom")
        );
        assert_eq!(
            e.endpoint_for(Signal::Metrics).as_deref(),
            Some("http://c:4318/v1/metrics")
        );
        // A per-signal endpoint alone exports that signal only.
        let e = env(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "m:4317")]).unwrap();
        assert!(e.exports_anything());
        assert_eq!(e.endpoint_for(Signal::Traces), None);
        assert_eq!(
            e.endpoint_for(Signal::Metrics).as_deref(),
            Some("http://m:4317")
        );
    }

    #[test]
    fn disabled_turns_everything_off() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])
        .unwrap();
        assert!(!e.exports_anything());
    }

    #[test]
    fn service_name_precedence() {
        let e = env(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=fromres,team=a%2Cb",
        )])
        .unwrap();
        assert_eq!(e.service_name, "fromres");
        assert_eq!(
            e.resource_attributes,
            vec![("team".to_string(), "a,b".to_string())]
        );
        let e = env(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=fromres"),
            ("OTEL_SERVICE_NAME", "explicit"),
        ])
        .unwrap();
        assert_eq!(e.service_name, "explicit");
    }

    #[test]
    fn bad_values_name_the_variable_and_the_accepted_values() {
        for (var, value, hint) in [
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "http/json",
                "grpc or http/protobuf",
            ),
            ("OTEL_TRACES_SAMPLER", "sometimes", "always_on"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "5s", "milliseconds"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "10", "at least 100"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue", "key=value"),
            ("OTEL_RESOURCE_ATTRIBUTES", "k=%zz", "percent-encoded"),
        ] {
            let e = env(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(hint), "{var}={value}: {e}");
        }
        let e = env(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "OTEL_TRACES_SAMPLER_ARG");
    }

    #[test]
    fn samplers() {
        assert_eq!(
            parse_sampler(Some("parentbased_traceidratio"), Some("0.01")).unwrap(),
            SamplerSpec::ParentBasedTraceIdRatio(0.01)
        );
        assert_eq!(
            parse_sampler(Some("always_off"), None).unwrap(),
            SamplerSpec::AlwaysOff
        );
        assert_eq!(
            parse_sampler(Some("traceidratio"), None).unwrap(),
            SamplerSpec::TraceIdRatio(1.0)
        );
    }

    #[test]
    fn export_settings_per_signal_fall_back_to_the_base() {
        let e = env(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20abc,x-tenant=lab",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-only=traces"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip"),
        ])
        .unwrap();
        let [traces, metrics, logs] = &e.exports;
        assert_eq!(traces.headers, vec![("x-only".into(), "traces".into())]);
        assert_eq!(
            metrics.headers,
            vec![
                ("authorization".into(), "Bearer abc".into()),
                ("x-tenant".into(), "lab".into())
            ]
        );
        assert_eq!(traces.timeout, Duration::from_millis(2500));
        assert!(!traces.gzip && !metrics.gzip && logs.gzip);
        assert_eq!(env(&[]).unwrap().exports[0], ExportSettings::default());
        assert_eq!(ExportSettings::default().timeout, Duration::from_secs(10));
    }

    #[test]
    fn bad_export_settings_name_their_variable() {
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "no-equals-sign"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"),
        ] {
            let err = env(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert_eq!(err.value, value);
        }
    }

    #[test]
    fn span_batching_reads_the_bsp_variables_and_names_a_bad_one() {
        assert_eq!(env(&[]).unwrap().span_batching, SpanBatching::default());
        let b = env(&[
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
        ])
        .unwrap()
        .span_batching;
        assert_eq!(b.schedule_delay, Duration::from_millis(200));
        assert_eq!(b.max_queue_size, 100);
        assert_eq!(b.max_export_batch_size, 100, "a batch is at most the queue");
        for (var, value) in [
            ("OTEL_BSP_SCHEDULE_DELAY", "5s"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-1"),
        ] {
            let err = env(&[(var, value)]).unwrap_err();
            assert_eq!((err.var, err.value.as_str()), (var, value));
        }
    }
}
