//! OpenTelemetry: server spans, metrics and event log records exported over OTLP.
//!
//! Configured by the standard variables ([`TelemetryConfig::from_env`]):
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (none set: no exporter at all), `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`grpc`, the default, or `http/protobuf`), `OTEL_SERVICE_NAME` (default `target-api`),
//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_METRIC_EXPORT_INTERVAL` (ms,
//! default 5000 here: a lab wants short intervals), `OTEL_SDK_DISABLED=true`. Spans and
//! log records go through batch processors with bounded queues (`OTEL_BSP_MAX_QUEUE_SIZE`,
//! `OTEL_BLRP_MAX_QUEUE_SIZE`, default 2048): when the collector is slow or dead, new items
//! are dropped, never waited for, and the drops are counted ([`Telemetry::dropped`]).

use crate::limits;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, ObservableGauge};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use satlab_record::ServerEvent;
use satlab_record::telemetry as names;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Histogram boundaries (s) for request and wait durations: the semantic-convention advice
/// (5 ms … 10 s) with finer buckets below 5 ms, since this service answers in microseconds.
pub const DURATION_BUCKETS: [f64; 22] = [
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1,
    0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0,
];

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC (port 4317 by convention).
    Grpc,
    /// HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

/// Telemetry settings, normally read from the `OTEL_*` environment.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Base OTLP endpoint with a scheme; `None` disables export entirely.
    pub endpoint: Option<String>,
    /// Transport.
    pub protocol: Protocol,
    /// `service.name`.
    pub service_name: String,
    /// Sampler for server spans.
    pub sampler: Sampler,
    /// Metric export interval.
    pub metric_interval: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            endpoint: None,
            protocol: Protocol::Grpc,
            service_name: names::SERVICE_TARGET.to_string(),
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            metric_interval: Duration::from_secs(5),
        }
    }
}

/// Errors in the telemetry settings.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An `OTEL_*` variable has a value we cannot use.
    #[error("{var}={value:?}: {message}")]
    BadEnv {
        /// Variable name.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// An exporter could not be built.
    #[error("building the OTLP {signal} exporter: {message}")]
    Build {
        /// traces, metrics or logs.
        signal: &'static str,
        /// The exporter's error.
        message: String,
    },
}

fn bad_env(var: &'static str, value: &str, message: &str) -> TelemetryError {
    TelemetryError::BadEnv {
        var,
        value: value.to_string(),
        message: message.to_string(),
    }
}

/// Parse `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
pub fn parse_sampler(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, TelemetryError> {
    let ratio = || -> Result<f64, TelemetryError> {
        match arg {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    bad_env(
                        "OTEL_TRACES_SAMPLER_ARG",
                        a,
                        "write a ratio between 0 and 1, e.g. 0.01",
                    )
                }),
        }
    };
    Ok(
        match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" | "" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "parentbased_traceidratio" => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
            }
            other => {
                return Err(bad_env(
                    "OTEL_TRACES_SAMPLER",
                    other,
                    "use always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio",
                ));
            }
        },
    )
}

impl TelemetryConfig {
    /// Read the standard `OTEL_*` variables through `get` (normally `std::env::var`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        let mut cfg = TelemetryConfig::default();
        let disabled =
            get("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if let Some(ep) = get("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.trim().is_empty())
            && !disabled
        {
            let ep = ep.trim().trim_end_matches('/').to_string();
            // Newer exporters default to https without a scheme: make plain endpoints explicit.
            cfg.endpoint = Some(if ep.contains("://") {
                ep
            } else {
                format!("http://{ep}")
            });
        }
        if let Some(p) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            cfg.protocol = match p.trim() {
                "grpc" | "" => Protocol::Grpc,
                "http/protobuf" => Protocol::HttpProtobuf,
                _ => {
                    return Err(bad_env(
                        "OTEL_EXPORTER_OTLP_PROTOCOL",
                        &p,
                        "use grpc or http/protobuf",
                    ));
                }
            };
        }
        if let Some(name) = get("OTEL_SERVICE_NAME").filter(|v| !v.trim().is_empty()) {
            cfg.service_name = name.trim().to_string();
        }
        cfg.sampler = parse_sampler(
            get("OTEL_TRACES_SAMPLER").as_deref(),
            get("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
        if let Some(ms) = get("OTEL_METRIC_EXPORT_INTERVAL") {
            let v: u64 = ms
                .trim()
                .parse()
                .ok()
                .filter(|v| *v >= 100)
                .ok_or_else(|| {
                    bad_env(
                        "OTEL_METRIC_EXPORT_INTERVAL",
                        &ms,
                        "write milliseconds, at least 100, e.g. 5000",
                    )
                })?;
            cfg.metric_interval = Duration::from_millis(v);
        }
        Ok(cfg)
    }

    /// Read the process environment.
    pub fn from_env() -> Result<Self, TelemetryError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct Instruments {
    request_duration: Histogram<f64>,
    /// Active requests per method slot ([`ACTIVE_METHODS`]): plain atomics on the request
    /// path, read by an observable up-down counter at export time.
    active: Arc<[AtomicI64; ACTIVE_METHODS.len()]>,
    _active_requests: opentelemetry::metrics::ObservableUpDownCounter<i64>,
    pool_wait: Histogram<f64>,
    event_duration: Histogram<f64>,
    shed: Counter<u64>,
    _cpu: ObservableGauge<f64>,
    _dropped: opentelemetry::metrics::ObservableCounter<u64>,
}

/// Items handed to the exporter vs. items that reached the processor (for drop counting).
#[derive(Debug, Default)]
struct Flow {
    ended: AtomicU64,
    exported: AtomicU64,
}

/// The process's telemetry: a no-op when export is disabled.
pub struct Telemetry {
    service: String,
    tracer: Option<SdkTracer>,
    logger: Option<SdkLogger>,
    inst: Option<Instruments>,
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    propagator: TraceContextPropagator,
    spans: Arc<Flow>,
    logs: Arc<Flow>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service", &self.service)
            .field("enabled", &self.enabled())
            .finish()
    }
}

mod counting;
use counting::{CountingLogExporter, CountingSpanProcessor};

impl Telemetry {
    /// Telemetry that records and exports nothing.
    pub fn disabled() -> Self {
        Telemetry {
            service: names::SERVICE_TARGET.to_string(),
            tracer: None,
            logger: None,
            inst: None,
            tracer_provider: None,
            meter_provider: None,
            logger_provider: None,
            propagator: TraceContextPropagator::new(),
            spans: Arc::default(),
            logs: Arc::default(),
        }
    }

    /// Set up export per `cfg`. Must run inside a multi-thread tokio runtime (the gRPC
    /// exporter's connection lives on it).
    pub fn init(cfg: &TelemetryConfig) -> Result<Self, TelemetryError> {
        let mut t = Telemetry::disabled();
        t.service = cfg.service_name.clone();
        let Some(endpoint) = cfg.endpoint.clone() else {
            return Ok(t);
        };
        let resource = Resource::builder()
            .with_service_name(cfg.service_name.clone())
            .build();
        let signal_url = |path: &str| match cfg.protocol {
            Protocol::Grpc => endpoint.clone(),
            Protocol::HttpProtobuf => format!("{endpoint}/v1/{path}"),
        };
        let build_err = |signal: &'static str| {
            move |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Build {
                signal,
                message: e.to_string(),
            }
        };

        // Traces.
        let span_exporter = match cfg.protocol {
            Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(signal_url("traces"))
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(signal_url("traces"))
                .with_headers(Default::default())
                .build(),
        }
        .map_err(build_err("traces"))?;
        let processor = CountingSpanProcessor::new(span_exporter, t.spans.clone());
        let tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(clone_sampler(&cfg.sampler))
            .with_resource(resource.clone())
            .build();
        t.tracer = Some(tracer_provider.tracer("target-api"));
        t.tracer_provider = Some(tracer_provider);

        // Logs (server events).
        let log_exporter = match cfg.protocol {
            Protocol::Grpc => opentelemetry_otlp::LogExporter::builder()
                .with_tonic()
                .with_endpoint(signal_url("logs"))
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(signal_url("logs"))
                .build(),
        }
        .map_err(build_err("logs"))?;
        let logger_provider = SdkLoggerProvider::builder()
            .with_batch_exporter(CountingLogExporter::new(log_exporter, t.logs.clone()))
            .with_resource(resource.clone())
            .build();
        t.logger = Some(logger_provider.logger("target-api"));
        t.logger_provider = Some(logger_provider);

        // Metrics.
        let metric_exporter = match cfg.protocol {
            Protocol::Grpc => opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(signal_url("metrics"))
                .build(),
            Protocol::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(signal_url("metrics"))
                .build(),
        }
        .map_err(build_err("metrics"))?;
        let reader = PeriodicReader::builder(metric_exporter)
            .with_interval(cfg.metric_interval)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let meter = meter_provider.meter("target-api");
        t.inst = Some(instruments(&meter, t.spans.clone(), t.logs.clone()));
        t.meter_provider = Some(meter_provider);
        Ok(t)
    }

    /// Whether anything is exported.
    pub fn enabled(&self) -> bool {
        self.tracer.is_some()
    }

    /// `service.name`.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// Spans and log records that reached a processor but were not exported (queue full,
    /// or export failed), as `(spans, logs)`. Exact after [`Telemetry::shutdown`].
    pub fn dropped(&self) -> (u64, u64) {
        let d = |f: &Flow| {
            f.ended
                .load(Ordering::Relaxed)
                .saturating_sub(f.exported.load(Ordering::Relaxed))
        };
        (d(&self.spans), d(&self.logs))
    }

    /// Start the server span of a request (child of the caller's `traceparent`) and count it
    /// as active.
    pub fn start_request(
        &self,
        method: &http::Method,
        route: Option<&str>,
        path: &str,
        headers: &http::HeaderMap,
        local: Option<std::net::SocketAddr>,
    ) -> RequestTelemetry {
        let started = Instant::now();
        let method_kv = KeyValue::new("http.request.method", static_method(method));
        let route_kv = route.map(|r| KeyValue::new("http.route", static_route(r)));
        let mut cx = None;
        if let Some(tracer) = &self.tracer {
            let parent = self.propagator.extract(&HeaderExtractor(headers));
            let name: std::borrow::Cow<'static, str> = match route {
                Some(crate::api::VECTOR_ADD) if method == http::Method::POST => {
                    "POST /api/vector/add".into()
                }
                Some(r) => format!("{} {r}", method.as_str()).into(),
                None => method.as_str().to_string().into(),
            };
            // The sampler sees method and route; the rest is added only to recorded spans,
            // so unsampled requests (ratio sampling) cost little.
            let mut attrs = Vec::with_capacity(2);
            attrs.push(method_kv.clone());
            if let Some(r) = &route_kv {
                attrs.push(r.clone());
            }
            let span = tracer
                .span_builder(name)
                .with_kind(SpanKind::Server)
                .with_attributes(attrs)
                .start_with_context(tracer, &parent);
            let cx_span = parent.with_span(span);
            {
                let span = cx_span.span();
                if span.is_recording() {
                    span.set_attribute(KeyValue::new("url.path", path.to_string()));
                    span.set_attribute(KeyValue::new("url.scheme", "http"));
                    if let Some(local) = local {
                        span.set_attribute(KeyValue::new("server.address", local.ip().to_string()));
                        span.set_attribute(KeyValue::new("server.port", i64::from(local.port())));
                    }
                }
            }
            cx = Some(cx_span);
        }
        if let Some(inst) = &self.inst {
            inst.active[method_slot(method)].fetch_add(1, Ordering::Relaxed);
        }
        RequestTelemetry {
            started,
            start_unix_ns: satlab_record::now_unix_ns(),
            cx,
            method_kv,
            method_slot: method_slot(method),
            route_kv,
        }
    }

    /// End the request's span and record its duration.
    pub fn finish_request(&self, req: RequestTelemetry, status: u16, events: &[ServerEvent]) {
        let elapsed = req.started.elapsed().as_secs_f64();
        let status_kv = KeyValue::new("http.response.status_code", i64::from(status));
        if let Some(cx) = &req.cx {
            let span = cx.span();
            span.set_attribute(status_kv.clone());
            if status >= 500 {
                span.set_attribute(KeyValue::new("error.type", status.to_string()));
                span.set_status(Status::error(""));
            }
            for e in events {
                span.add_event_with_timestamp(
                    e.kind.event_name(),
                    UNIX_EPOCH + Duration::from_nanos(e.start_unix_ns),
                    event_attributes(e),
                );
            }
            span.end();
        }
        if let Some(inst) = &self.inst {
            inst.active[req.method_slot].fetch_sub(1, Ordering::Relaxed);
            let mut attrs = vec![
                req.method_kv,
                status_kv,
                KeyValue::new("url.scheme", "http"),
            ];
            if let Some(r) = req.route_kv {
                attrs.push(r);
            }
            inst.request_duration.record(elapsed, &attrs);
        }
    }

    /// Record time spent waiting for a pool permit.
    pub fn pool_wait(&self, wait: Duration) {
        if let Some(inst) = &self.inst {
            inst.pool_wait.record(wait.as_secs_f64(), &[]);
        }
    }

    /// Count a shed request.
    pub fn shed(&self, status: u16) {
        if let Some(inst) = &self.inst {
            inst.shed.add(
                1,
                &[KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                )],
            );
        }
    }

    /// Export one server event: an OTLP log record (event name `satlab.gc_pause`, ...) in the
    /// trace of the request that triggered it, and the `satlab.event.duration` histogram.
    pub fn server_event(&self, e: &ServerEvent, cx: Option<&Context>) {
        if let Some(inst) = &self.inst {
            inst.event_duration.record(
                e.duration_ns as f64 / 1e9,
                &[KeyValue::new(names::ATTR_EVENT_NAME, e.kind.name())],
            );
        }
        if let Some(logger) = &self.logger {
            let mut rec = logger.create_log_record();
            rec.set_event_name(e.kind.event_name());
            rec.set_timestamp(UNIX_EPOCH + Duration::from_nanos(e.start_unix_ns));
            rec.set_observed_timestamp(SystemTime::now());
            rec.set_severity_number(Severity::Info);
            rec.set_severity_text("INFO");
            rec.set_body(AnyValue::from(format!(
                "{} #{} lasted {:.3} ms",
                e.kind.name(),
                e.seq,
                e.duration_ns as f64 / 1e6
            )));
            rec.add_attributes(
                event_attributes(e)
                    .into_iter()
                    .map(|kv| (kv.key, kv_any(kv.value))),
            );
            if let Some(cx) = cx {
                let sc = cx.span().span_context().clone();
                if sc.is_valid() {
                    rec.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
                }
            }
            self.logs.ended.fetch_add(1, Ordering::Relaxed);
            logger.emit(rec);
        }
    }

    /// Flush and stop every exporter, waiting at most `limit` (a dead collector must not
    /// hold up the exit). Blocks: call it from a blocking thread, never from an async task.
    /// Returns whether everything finished in time.
    pub fn shutdown(&self, limit: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut jobs: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        if let Some(p) = self.tracer_provider.clone() {
            jobs.push(Box::new(move || drop(p.shutdown_with_timeout(limit))));
        }
        if let Some(p) = self.logger_provider.clone() {
            jobs.push(Box::new(move || drop(p.shutdown_with_timeout(limit))));
        }
        if let Some(p) = self.meter_provider.clone() {
            jobs.push(Box::new(move || drop(p.shutdown_with_timeout(limit))));
        }
        let n = jobs.len();
        for job in jobs {
            let tx = tx.clone();
            // A thread per signal: they flush in parallel, and one stuck on a hung
            // collector is abandoned at the deadline instead of blocking the others.
            let spawned = std::thread::Builder::new()
                .name("otel-shutdown".into())
                .spawn(move || {
                    job();
                    let _ = tx.send(());
                });
            if spawned.is_err() {
                return false;
            }
        }
        let deadline = Instant::now() + limit;
        let mut done = 0;
        while done < n {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(()) => done += 1,
                Err(_) => break,
            }
        }
        let (spans, logs) = self.dropped();
        if spans + logs > 0 {
            tracing::warn!(
                spans,
                logs,
                "telemetry items not exported (queue full or collector unreachable)"
            );
        }
        if done < n {
            tracing::warn!(?limit, "telemetry flush did not finish in time; giving up");
        }
        done == n
    }
}

/// Methods `http.server.active_requests` is split by (`_OTHER` for the rest).
const ACTIVE_METHODS: [&str; 5] = ["GET", "POST", "PUT", "HEAD", "_OTHER"];

fn method_slot(m: &http::Method) -> usize {
    use http::Method;
    match *m {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::HEAD => 3,
        _ => 4,
    }
}

fn static_method(m: &http::Method) -> opentelemetry::StringValue {
    use http::Method;
    let s: &'static str = match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        // Semantic conventions: unknown methods are reported as _OTHER.
        _ => "_OTHER",
    };
    s.into()
}

fn static_route(r: &str) -> opentelemetry::StringValue {
    match r {
        crate::api::VECTOR_ADD => crate::api::VECTOR_ADD.into(),
        "/healthz" => "/healthz".into(),
        "/readyz" => "/readyz".into(),
        "/admin/config" => "/admin/config".into(),
        "/admin/events" => "/admin/events".into(),
        other => other.to_string().into(),
    }
}

fn kv_any(v: opentelemetry::Value) -> AnyValue {
    match v {
        opentelemetry::Value::I64(i) => AnyValue::Int(i),
        opentelemetry::Value::F64(f) => AnyValue::Double(f),
        opentelemetry::Value::Bool(b) => AnyValue::Boolean(b),
        other => AnyValue::String(other.to_string().into()),
    }
}

fn event_attributes(e: &ServerEvent) -> Vec<KeyValue> {
    let i = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut attrs = vec![
        KeyValue::new(names::ATTR_EVENT_NAME, e.kind.name()),
        KeyValue::new(names::ATTR_EVENT_SEQ, i(e.seq)),
        KeyValue::new(names::ATTR_EVENT_START, i(e.start_unix_ns)),
        KeyValue::new(names::ATTR_EVENT_DURATION_NS, i(e.duration_ns)),
    ];
    if let Some(idx) = e.request_index {
        attrs.push(KeyValue::new(names::ATTR_EVENT_REQUEST_INDEX, i(idx)));
    }
    attrs
}

fn clone_sampler(s: &Sampler) -> Sampler {
    s.clone()
}

fn instruments(meter: &Meter, spans: Arc<Flow>, logs: Arc<Flow>) -> Instruments {
    let active: Arc<[AtomicI64; ACTIVE_METHODS.len()]> = Arc::new(Default::default());
    let active_cb = active.clone();
    let capacity = limits::cpu_capacity();
    let last = Mutex::new((Instant::now(), limits::process_cpu_seconds()));
    let cpu = meter
        .f64_observable_gauge(names::PROCESS_CPU_UTILIZATION)
        .with_unit("1")
        .with_description(
            "CPU used by the process, 0-1 of the CPUs it may use (affinity, cgroup quota)",
        )
        .with_callback(move |obs| {
            let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
            let (now, cpu) = (Instant::now(), limits::process_cpu_seconds());
            let wall = now.duration_since(last.0).as_secs_f64();
            if wall > 0.0 {
                obs.observe(((cpu - last.1) / wall / capacity).clamp(0.0, 1.0), &[]);
            }
            *last = (now, cpu);
        })
        .build();
    let dropped = meter
        .u64_observable_counter(names::TELEMETRY_DROPPED)
        .with_unit("{item}")
        .with_description("Spans and log records not exported (queue full or export failed), lower bound while running")
        .with_callback(move |obs| {
            for (signal, flow, queue) in [("spans", &spans, 2048u64), ("logs", &logs, 2048u64)] {
                // Items still queued are not lost yet: count only what cannot be in the queue.
                let gap = flow.ended.load(Ordering::Relaxed).saturating_sub(flow.exported.load(Ordering::Relaxed));
                obs.observe(gap.saturating_sub(queue), &[KeyValue::new("signal", signal)]);
            }
        })
        .build();
    Instruments {
        request_duration: meter
            .f64_histogram(names::HTTP_SERVER_REQUEST_DURATION)
            .with_unit("s")
            .with_description("Duration of HTTP server requests")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
        _active_requests: meter
            .i64_observable_up_down_counter(names::HTTP_SERVER_ACTIVE_REQUESTS)
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests")
            .with_callback(move |obs| {
                for (m, n) in ACTIVE_METHODS.iter().zip(active_cb.iter()) {
                    obs.observe(
                        n.load(Ordering::Relaxed),
                        &[
                            KeyValue::new("http.request.method", *m),
                            KeyValue::new("url.scheme", "http"),
                        ],
                    );
                }
            })
            .build(),
        active,
        pool_wait: meter
            .f64_histogram(names::POOL_WAIT_DURATION)
            .with_unit("s")
            .with_description("Time spent waiting for a downstream-pool permit")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
        event_duration: meter
            .f64_histogram(names::EVENT_DURATION)
            .with_unit("s")
            .with_description("Duration of server events (gc_pause, pool_recycle, cpu_burst)")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
        shed: meter
            .u64_counter(names::SHED_REQUESTS)
            .with_unit("{request}")
            .with_description("Requests refused by load shedding")
            .build(),
        _cpu: cpu,
        _dropped: dropped,
    }
}

/// One request's telemetry state between [`Telemetry::start_request`] and
/// [`Telemetry::finish_request`].
#[derive(Debug)]
pub struct RequestTelemetry {
    started: Instant,
    /// Start, Unix ns.
    pub start_unix_ns: u64,
    /// The context holding the server span (when tracing is on).
    pub cx: Option<Context>,
    method_kv: KeyValue,
    method_slot: usize,
    route_kv: Option<KeyValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn no_endpoint_means_no_export() {
        let cfg = TelemetryConfig::from_lookup(lookup(&[])).unwrap();
        assert!(cfg.endpoint.is_none());
        assert_eq!(cfg.service_name, "target-api");
        assert_eq!(cfg.protocol, Protocol::Grpc);
        let t = Telemetry::init(&cfg).unwrap();
        assert!(!t.enabled());
    }

    #[test]
    fn reads_the_standard_variables() {
        let cfg = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "svc"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        ]))
        .unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("http://localhost:4318"));
        assert_eq!(cfg.protocol, Protocol::HttpProtobuf);
        assert_eq!(cfg.service_name, "svc");
        assert_eq!(cfg.metric_interval, Duration::from_secs(1));
        assert!(format!("{:?}", cfg.sampler).contains("0.01"));
        let off = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317"),
            ("OTEL_SDK_DISABLED", "true"),
        ]))
        .unwrap();
        assert!(off.endpoint.is_none());
    }

    #[test]
    fn bad_variables_are_named() {
        let e = TelemetryConfig::from_lookup(lookup(&[(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "carrier-pigeon",
        )]))
        .unwrap_err();
        assert!(e.to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"));
        let e = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("OTEL_TRACES_SAMPLER_ARG"));
    }
}
