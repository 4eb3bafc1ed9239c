//! The export thread: builds the OTLP exporters, exports the queued client spans in
//! batches and replays each second's latencies by class into the duration histogram. It
//! runs on a thread of its own (gRPC with its own small runtime), so export never runs
//! on, or blocks, the request path.

use crate::error::LoadgenError;
use crate::otel::config::OtelConfig;
use crate::otel::metrics::Durations;
use crate::otel::spans::{SPAN_QUEUE, SpanRecord, method_name, span_data};
use crate::otel::target::TargetAttrs;
use crate::record::classes::{ClassAgg, DURATION_BOUNDARIES};
use crate::record::tick::SecondHook;
use satlab_common::otel_env::Protocol;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// One second for the metrics: latencies by request class and the loadgen's CPU.
struct MetricBatch {
    classes: Vec<ClassAgg>,
    /// CPU used in the second, 0–1 of the CPUs the loadgen may use.
    cpu: f64,
}

/// The export thread and its queues.
pub struct Exporter {
    thread: Option<std::thread::JoinHandle<()>>,
    metrics: Option<SyncSender<MetricBatch>>,
    stop: Arc<AtomicBool>,
}

/// Spans sent per export call.
const BATCH: usize = 512;

/// How often the thread drains the queues. It polls rather than waits on the span queue,
/// so a worker's `offer` never has a thread to wake: no futex call on the request path.
/// At [`SPAN_QUEUE`] spans a poll, the queue holds 160,000 spans/s before it drops.
const POLL: Duration = Duration::from_millis(50);

/// The longest a partial batch waits: spans are exported in batches of [`BATCH`], not
/// each poll's few (at 1% of 100,000 req/s, an export call per span otherwise).
const EXPORT_DELAY: Duration = Duration::from_millis(500);

impl Exporter {
    /// Start exporting spans from `rx` (when `cfg` exports traces; requests `method url`)
    /// and the metric batches given to [`Exporter::metrics_hook`] (when it exports
    /// metrics).
    pub fn start(
        cfg: OtelConfig,
        rx: Option<Receiver<SpanRecord>>,
        method: &str,
        url: &str,
    ) -> Result<Exporter, LoadgenError> {
        let target = TargetAttrs::new(method_name(method), url);
        let (mtx, mrx) = sync_channel(64);
        let metrics = cfg.metrics.is_some().then_some(mtx);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("loadgen-otlp".into())
            .spawn(move || export_thread(cfg, target, rx, mrx, stop2, ready_tx))
            .map_err(|e| LoadgenError::Telemetry(format!("thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Exporter {
                thread: Some(thread),
                metrics,
                stop,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(LoadgenError::Telemetry(e))
            }
            Err(_) => Err(LoadgenError::Telemetry("the exporter thread died".into())),
        }
    }

    /// A per-second callback for the tick, when metrics are exported: hands the second's
    /// latencies by request class (see
    /// [`Recorder::with_classes`](crate::record::recorder::Recorder::with_classes)) and its
    /// CPU utilisation to the export thread (dropped if its queue is full).
    pub fn metrics_hook(&self) -> Option<SecondHook> {
        let tx = self.metrics.clone()?;
        Some(Box::new(move |s, tally| {
            let _ = tx.try_send(MetricBatch {
                classes: tally.classes.iter().copied().collect(),
                cpu: s.cpu,
            });
        }))
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

/// The span exporter for `endpoint`.
fn span_exporter(
    protocol: Protocol,
    endpoint: String,
) -> Result<opentelemetry_otlp::SpanExporter, String> {
    use opentelemetry_otlp::WithExportConfig;
    let b = opentelemetry_otlp::SpanExporter::builder();
    match protocol {
        Protocol::Grpc => b.with_tonic().with_endpoint(endpoint).build(),
        Protocol::HttpProtobuf => b.with_http().with_endpoint(endpoint).build(),
    }
    .map_err(|e| format!("OTLP span exporter: {e}"))
}

/// The metric exporter for `endpoint`.
fn metric_exporter(
    protocol: Protocol,
    endpoint: String,
) -> Result<opentelemetry_otlp::MetricExporter, String> {
    use opentelemetry_otlp::WithExportConfig;
    let b = opentelemetry_otlp::MetricExporter::builder();
    match protocol {
        Protocol::Grpc => b.with_tonic().with_endpoint(endpoint).build(),
        Protocol::HttpProtobuf => b.with_http().with_endpoint(endpoint).build(),
    }
    .map_err(|e| format!("OTLP metric exporter: {e}"))
}

/// The metric side: the provider and the two instruments.
struct Instruments {
    provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    duration: opentelemetry::metrics::Histogram<f64>,
    cpu: opentelemetry::metrics::Gauge<f64>,
}

fn instruments(
    exporter: opentelemetry_otlp::MetricExporter,
    resource: opentelemetry_sdk::Resource,
    interval: Duration,
) -> Instruments {
    use opentelemetry::metrics::MeterProvider;
    use satlab_record::telemetry::{HTTP_CLIENT_REQUEST_DURATION, PROCESS_CPU_UTILIZATION};
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
        .with_interval(interval)
        .build();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader)
        .build();
    let duration = provider
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
    Instruments {
        provider,
        duration,
        cpu,
    }
}

/// The resource both signals carry, from the parsed settings only (plus the SDK's
/// `telemetry.sdk.*`), so the SDK does not read `OTEL_*` a second time.
fn resource(cfg: &OtelConfig) -> opentelemetry_sdk::Resource {
    use opentelemetry::KeyValue;
    opentelemetry_sdk::Resource::builder_empty()
        .with_detector(Box::new(
            opentelemetry_sdk::resource::TelemetryResourceDetector,
        ))
        .with_attributes(
            cfg.resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(cfg.service_name.clone())
        .build()
}

/// The export loop. gRPC (tonic) needs a live tokio runtime, which this thread enters;
/// the HTTP exporter uses a blocking client and must run outside any runtime.
fn export_thread(
    cfg: OtelConfig,
    target: TargetAttrs,
    rx: Option<Receiver<SpanRecord>>,
    mrx: Receiver<MetricBatch>,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    use opentelemetry_sdk::trace::SpanExporter as _;
    let rt = if cfg.protocol == Protocol::Grpc {
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
    let resource = resource(&cfg);
    let built = (|| -> Result<_, String> {
        let spans = match (&cfg.traces, &rx) {
            (Some(ep), Some(_)) => Some(span_exporter(cfg.protocol, ep.clone())?),
            _ => None,
        };
        let metrics = match &cfg.metrics {
            Some(ep) => Some(metric_exporter(cfg.protocol, ep.clone())?),
            None => None,
        };
        Ok((spans, metrics))
    })();
    let (mut spans, metrics) = match built {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if let Some(s) = &mut spans {
        s.set_resource(&resource);
    }
    let inst = metrics.map(|m| instruments(m, resource, cfg.metric_interval));
    let mut durations = inst
        .as_ref()
        .map(|i| Durations::new(i.duration.clone(), target.clone()));
    let _ = ready.send(Ok(()));
    let mut batch = Vec::with_capacity(BATCH);
    // When the batch's first span was queued: a partial batch waits at most EXPORT_DELAY.
    let mut first = std::time::Instant::now();
    let mut export = |batch: &mut Vec<_>| {
        if let Some(s) = &mut spans {
            let b = std::mem::replace(batch, Vec::with_capacity(BATCH));
            let _ = futures::executor::block_on(s.export(b));
        }
    };
    loop {
        // Read before draining: every span offered before the stop is then in the queue.
        let stopping = stop.load(Ordering::Acquire);
        let mut closed = false;
        if let Some(rx) = &rx {
            // At most a queue's worth a poll: spans arriving faster than they export
            // do not keep the metrics (or the stop) waiting.
            for _ in 0..SPAN_QUEUE {
                match rx.try_recv() {
                    Ok(r) => {
                        if batch.is_empty() {
                            first = std::time::Instant::now();
                        }
                        batch.push(span_data(&r, &target));
                        if batch.len() >= BATCH {
                            export(&mut batch);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
        }
        while let Ok(m) = mrx.try_recv() {
            let (Some(inst), Some(durations)) = (&inst, &mut durations) else {
                continue;
            };
            // One `record` per request (the API has no weights): see `record::classes`.
            for class in &m.classes {
                durations.record(class);
            }
            inst.cpu.record(m.cpu.clamp(0.0, 1.0), &[]);
        }
        if !batch.is_empty() && (stopping || closed || first.elapsed() >= EXPORT_DELAY) {
            export(&mut batch);
        }
        if stopping || closed {
            break;
        }
        std::thread::sleep(POLL);
    }
    if let Some(s) = &mut spans {
        let _ = s.shutdown();
    }
    if let Some(inst) = inst {
        let _ = inst.provider.shutdown();
    }
    drop(guard);
    if let Some(rt) = rt {
        rt.shutdown_timeout(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_comes_from_the_parsed_settings_alone() {
        let cfg = OtelConfig::from_lookup(|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://c:4317".into()),
            "OTEL_RESOURCE_ATTRIBUTES" => {
                Some("service.name=from-res,deployment.environment.name=lab".into())
            }
            _ => None,
        })
        .unwrap()
        .unwrap();
        let r = resource(&cfg);
        let get = |k: &'static str| {
            r.get(&opentelemetry::Key::from_static_str(k))
                .map(|v| v.to_string())
        };
        assert_eq!(get("service.name").as_deref(), Some("from-res"));
        assert_eq!(get("deployment.environment.name").as_deref(), Some("lab"));
        assert_eq!(get("telemetry.sdk.name").as_deref(), Some("opentelemetry"));
    }
}
