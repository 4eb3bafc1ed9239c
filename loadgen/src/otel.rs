//! Optional OTLP export of sampled client spans, the `http.client.request.duration`
//! metric (per request class: method, status or `error.type`, step; see
//! [`crate::classes`] for how it stays off the request path) and the loadgen's own
//! `process.cpu.utilization` gauge (the per-second value of `seconds.jsonl`). Configured by the standard `OTEL_*` variables; with no endpoint there is no
//! exporter. Workers only `try_send` finished-span records into a bounded queue (dropped
//! and counted when full); a separate thread with its own runtime builds and exports
//! the spans in batches, so export never runs on, or blocks, the request path.

use crate::classes::{ClassAgg, ClassKey};
use satlab_record::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

/// Span records that may wait for the exporter.
pub const SPAN_QUEUE: usize = 8192;

/// A finished, sampled request: enough to build its client span after the fact.
#[derive(Debug, Clone, Copy)]
pub struct SpanRecord {
    /// Trace id sent in `traceparent`.
    pub trace_id: u128,
    /// Span id sent in `traceparent` (the server span's parent).
    pub span_id: u64,
    /// Send time, Unix ns.
    pub start_unix_ns: u64,
    /// End of the response, Unix ns.
    pub end_unix_ns: u64,
    /// HTTP status, 0 when none.
    pub status: u16,
    /// Failure kind.
    pub error: ErrorKind,
    /// Load step.
    pub step: u32,
}

/// The workers' side of the span queue.
#[derive(Clone)]
pub struct SpanSink {
    tx: SyncSender<SpanRecord>,
    dropped: Arc<AtomicU64>,
}

impl SpanSink {
    /// A sink and the receiver the exporter drains.
    pub fn channel(capacity: usize) -> (SpanSink, Receiver<SpanRecord>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        (
            SpanSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Queue a span without waiting; counts it as dropped when the queue is full.
    pub fn offer(&self, r: SpanRecord) {
        if self.tx.try_send(r).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Where and how to export, from the standard `OTEL_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// `OTEL_SERVICE_NAME`, default `loadgen`.
    pub service_name: String,
    /// gRPC (default) or HTTP/protobuf (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`).
    pub grpc: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (HTTP: `/v1/traces` and `/v1/metrics` are appended);
    /// `None` leaves the signal-specific variables to the exporter.
    pub endpoint: Option<String>,
    /// Metric export interval (`OTEL_METRIC_EXPORT_INTERVAL` ms, default 5 s).
    pub metric_interval: Duration,
}

impl OtelConfig {
    /// The configuration from `get` (variable → value), or `None` when no OTLP endpoint is set.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Option<OtelConfig> {
        let val = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let endpoint = val("OTEL_EXPORTER_OTLP_ENDPOINT");
        if endpoint.is_none()
            && val("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
            && val("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_none()
        {
            return None;
        }
        let protocol = val("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_default();
        Some(OtelConfig {
            service_name: val("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| satlab_record::telemetry::SERVICE_LOADGEN.into()),
            grpc: !protocol.trim().starts_with("http"),
            endpoint,
            metric_interval: val("OTEL_METRIC_EXPORT_INTERVAL")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis)
                .unwrap_or(Duration::from_secs(5)),
        })
    }

    /// The configuration from the process environment.
    pub fn from_env() -> Option<OtelConfig> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    fn signal_endpoint(&self, path: &str) -> Option<String> {
        self.endpoint.as_ref().map(|e| {
            if self.grpc {
                e.clone()
            } else {
                format!("{}/{path}", e.trim_end_matches('/'))
            }
        })
    }
}

/// One second for the metrics: latencies by request class and the loadgen's CPU.
struct MetricBatch {
    classes: Vec<ClassAgg>,
    /// CPU used in the second, 0–1 of the CPUs the loadgen may use.
    cpu: f64,
}

/// The export thread and its queues.
pub struct Exporter {
    thread: Option<std::thread::JoinHandle<()>>,
    metrics: SyncSender<MetricBatch>,
    stop: Arc<AtomicBool>,
}

/// Semantic-convention boundaries for HTTP durations, seconds.
pub const DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Spans sent per export call.
const BATCH: usize = 512;

impl Exporter {
    /// Start exporting spans from `rx` (requests `method url`) and the metric batches
    /// given to [`Exporter::metrics_hook`].
    pub fn start(
        cfg: OtelConfig,
        rx: Receiver<SpanRecord>,
        method: &str,
        url: &str,
    ) -> Result<Exporter, crate::LoadgenError> {
        let name = method_name(method);
        let url = url.to_string();
        let (mtx, mrx) = sync_channel(64);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("loadgen-otlp".into())
            .spawn(move || export_thread(cfg, (name, url), rx, mrx, stop2, ready_tx))
            .map_err(|e| crate::LoadgenError::Telemetry(format!("thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Exporter {
                thread: Some(thread),
                metrics: mtx,
                stop,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(crate::LoadgenError::Telemetry(e))
            }
            Err(_) => Err(crate::LoadgenError::Telemetry(
                "the exporter thread died".into(),
            )),
        }
    }

    /// A per-second callback for the collector: hands the second's latencies by request
    /// class (see [`crate::stats::Stats::with_classes`]) and its CPU utilisation to the
    /// export thread (dropped if its queue is full).
    pub fn metrics_hook(&self) -> crate::collector::SecondHook {
        let tx = self.metrics.clone();
        Box::new(move |s, acc| {
            let _ = tx.try_send(MetricBatch {
                classes: acc.classes.iter().copied().collect(),
                cpu: s.cpu,
            });
        })
    }

    /// Flush and stop (bounded: at most ~6 s).
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = tokio::time::timeout(
                Duration::from_secs(6),
                tokio::task::spawn_blocking(move || t.join()),
            )
            .await;
        }
    }
}

/// The duration metric's attributes for a request class (semantic conventions:
/// `error.type` is the failure kind when no response arrived, the status code for
/// statuses >= 400, and `_OTHER` for the classes folded together).
fn class_attributes(key: ClassKey, method: &'static str) -> Vec<opentelemetry::KeyValue> {
    use opentelemetry::KeyValue;
    use satlab_record::telemetry::ATTR_STEP;
    // `method_name` gives "HTTP" (the span name) for methods semconv does not know.
    let method = if method == "HTTP" { "_OTHER" } else { method };
    let mut attrs = vec![KeyValue::new("http.request.method", method)];
    match key {
        ClassKey::Request {
            status,
            error,
            step,
        } => {
            if status > 0 {
                attrs.push(KeyValue::new("http.response.status_code", status as i64));
            }
            if error != ErrorKind::None {
                attrs.push(KeyValue::new("error.type", error.name()));
            } else if status >= 400 {
                attrs.push(KeyValue::new("error.type", status.to_string()));
            } else if status == 0 {
                attrs.push(KeyValue::new("error.type", "_OTHER"));
            }
            attrs.push(KeyValue::new(ATTR_STEP, step as i64));
        }
        ClassKey::Overflow => attrs.push(KeyValue::new("error.type", "_OTHER")),
    }
    attrs
}

fn span_data(r: &SpanRecord, name: &'static str, url: &str) -> opentelemetry_sdk::trace::SpanData {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use satlab_record::telemetry::ATTR_STEP;
    let t = |ns: u64| std::time::UNIX_EPOCH + Duration::from_nanos(ns);
    let mut attributes = vec![
        KeyValue::new("http.request.method", name),
        KeyValue::new("url.full", url.to_string()),
        KeyValue::new(ATTR_STEP, r.step as i64),
    ];
    if r.status > 0 {
        attributes.push(KeyValue::new("http.response.status_code", r.status as i64));
    }
    let failed = r.error != ErrorKind::None || r.status >= 500;
    if r.error != ErrorKind::None {
        attributes.push(KeyValue::new("error.type", r.error.name()));
    } else if r.status >= 400 {
        attributes.push(KeyValue::new("error.type", r.status.to_string()));
    }
    opentelemetry_sdk::trace::SpanData {
        span_context: SpanContext::new(
            TraceId::from(r.trace_id),
            SpanId::from(r.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name: name.into(),
        start_time: t(r.start_unix_ns),
        end_time: t(r.end_unix_ns),
        attributes,
        dropped_attributes_count: 0,
        events: Default::default(),
        links: Default::default(),
        status: if failed {
            Status::error("")
        } else {
            Status::Unset
        },
        instrumentation_scope: opentelemetry::InstrumentationScope::builder("loadgen").build(),
    }
}

/// Span names are the HTTP method (semantic conventions for clients without a route).
fn method_name(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "HTTP",
    }
}

type Built = (
    opentelemetry_otlp::SpanExporter,
    opentelemetry_otlp::MetricExporter,
);

fn build(cfg: &OtelConfig) -> Result<Built, String> {
    use opentelemetry_otlp::WithExportConfig;
    let traces = cfg.signal_endpoint("v1/traces");
    let metrics = cfg.signal_endpoint("v1/metrics");
    let spans = if cfg.grpc {
        let b = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        match traces {
            Some(e) => b.with_endpoint(e).build(),
            None => b.build(),
        }
    } else {
        let b = opentelemetry_otlp::SpanExporter::builder().with_http();
        match traces {
            Some(e) => b.with_endpoint(e).build(),
            None => b.build(),
        }
    }
    .map_err(|e| format!("OTLP span exporter: {e}"))?;
    let m = if cfg.grpc {
        let b = opentelemetry_otlp::MetricExporter::builder().with_tonic();
        match metrics {
            Some(e) => b.with_endpoint(e).build(),
            None => b.build(),
        }
    } else {
        let b = opentelemetry_otlp::MetricExporter::builder().with_http();
        match metrics {
            Some(e) => b.with_endpoint(e).build(),
            None => b.build(),
        }
    }
    .map_err(|e| format!("OTLP metric exporter: {e}"))?;
    Ok((spans, m))
}

/// The export loop. gRPC (tonic) needs a live tokio runtime, which this thread enters;
/// the HTTP exporter uses a blocking client and must run outside any runtime.
fn export_thread(
    cfg: OtelConfig,
    (name, url): (&'static str, String),
    rx: Receiver<SpanRecord>,
    mrx: Receiver<MetricBatch>,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::trace::SpanExporter as _;
    use satlab_record::telemetry::{HTTP_CLIENT_REQUEST_DURATION, PROCESS_CPU_UTILIZATION};
    let rt = if cfg.grpc {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("loadgen-otlp-rt")
            .enable_all()
            .build()
        {
            Ok(rt) => Some(rt),
            Err(e) => {
                let _ = ready.send(Err(format!("runtime: {e}")));
                return;
            }
        }
    } else {
        None
    };
    let guard = rt.as_ref().map(|rt| rt.enter());
    let (mut spans, metrics) = match build(&cfg) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .build();
    spans.set_resource(&resource);
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(metrics)
        .with_interval(cfg.metric_interval)
        .build();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader)
        .build();
    let hist = provider
        .meter("loadgen")
        .f64_histogram(HTTP_CLIENT_REQUEST_DURATION)
        .with_unit("s")
        .with_description("Duration of HTTP client requests, from the intended send time")
        .with_boundaries(DURATION_BOUNDARIES.to_vec())
        .build();
    let cpu = provider
        .meter("loadgen")
        .f64_gauge(PROCESS_CPU_UTILIZATION)
        .with_unit("1")
        .with_description(
            "CPU used by the load generator, 0-1 of the CPUs it may use (affinity, cgroup quota)",
        )
        .build();
    let _ = ready.send(Ok(()));
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let closed = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => {
                batch.push(span_data(&r, name, &url));
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(r) => batch.push(span_data(&r, name, &url)),
                        Err(_) => break,
                    }
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        while let Ok(m) = mrx.try_recv() {
            // One `record` per request (the API has no weights): see `crate::classes`.
            for class in &m.classes {
                let attrs = class_attributes(class.key, name);
                for (v, n) in class.replay() {
                    for _ in 0..n {
                        hist.record(v, &attrs);
                    }
                }
            }
            cpu.record(m.cpu.clamp(0.0, 1.0), &[]);
        }
        if stopping || closed {
            while let Ok(r) = rx.try_recv() {
                batch.push(span_data(&r, name, &url));
                if batch.len() >= BATCH {
                    let b = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let _ = futures::executor::block_on(spans.export(b));
                }
            }
        }
        if !batch.is_empty() {
            let b = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let _ = futures::executor::block_on(spans.export(b));
        }
        if stopping || closed {
            break;
        }
    }
    let _ = spans.shutdown();
    let _ = provider.shutdown();
    drop(guard);
    if let Some(rt) = rt {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
}
