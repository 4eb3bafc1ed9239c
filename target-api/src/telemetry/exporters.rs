//! Setting the pipelines up: one OTLP exporter per exported signal (each to
//! [`TelemetryConfig::endpoint_for`] that signal; spans through satlab's own queue and
//! encoder, [`super::span_queue`], metrics and logs by opentelemetry-otlp's exporters and
//! the providers around them), and the resource (`service.name` and `OTEL_RESOURCE_ATTRIBUTES` as
//! `satlab_common` parsed them).

use super::config::{TelemetryConfig, sdk_sampler};
use super::counting::CountingLogExporter;
use super::handle::Telemetry;
use super::instruments::Instruments;
use super::sampling::Shortcuts;
use super::span_export::OtlpSpanExporter;
use super::span_proto::SpanEncoder;
use super::span_queue::SpanQueue;
use crate::error::TelemetryError;
use opentelemetry::KeyValue;
use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use satlab_common::otel_env::{Protocol, Signal};

/// The instrumentation scope of everything the service records.
const SCOPE: &str = "target-api";

fn build_err(signal: &'static str) -> impl Fn(ExporterBuildError) -> TelemetryError {
    move |e| TelemetryError::Build {
        signal,
        message: e.to_string(),
    }
}

/// The resource every signal carries. Built from the parsed settings only (plus the SDK's
/// `telemetry.sdk.*`), so the SDK does not read `OTEL_*` a second time.
fn resource(cfg: &TelemetryConfig) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            cfg.resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(cfg.service_name.clone())
        .build()
}

impl Telemetry {
    /// Set up export per `cfg`: each signal with an endpoint gets its pipeline, the others
    /// stay off. Must run inside a multi-thread tokio runtime (the gRPC exporter's
    /// connection lives on it).
    pub fn init(cfg: &TelemetryConfig) -> Result<Self, TelemetryError> {
        let mut t = Telemetry::disabled();
        t.service = cfg.service_name.clone();
        let resource = resource(cfg);

        if let Some(url) = cfg.endpoint_for(Signal::Traces) {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::Build {
                    signal: "traces",
                    message: "span export must be set up inside a tokio runtime".into(),
                })?;
            let encoder = SpanEncoder::new(&resource, SCOPE);
            let (export, flow) = (&cfg.trace_export, t.spans.clone());
            let exporter = match cfg.protocol {
                Protocol::Grpc => OtlpSpanExporter::grpc(&url, encoder, export, flow),
                Protocol::HttpProtobuf => OtlpSpanExporter::http(&url, encoder, export, flow),
            }
            .map_err(|message| TelemetryError::Build {
                signal: "traces",
                message,
            })?;
            t.span_queue = Some(SpanQueue::start(
                exporter,
                cfg.span_batching,
                t.spans.clone(),
                &runtime,
            ));
            t.sampler = sdk_sampler(cfg.sampler);
            t.sampling = Shortcuts::of(cfg.sampler);
        }

        // Logs (server events).
        if let Some(url) = cfg.endpoint_for(Signal::Logs) {
            let exporter = match cfg.protocol {
                Protocol::Grpc => opentelemetry_otlp::LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(url)
                    .build(),
                Protocol::HttpProtobuf => opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(url)
                    .build(),
            }
            .map_err(build_err("logs"))?;
            let provider = SdkLoggerProvider::builder()
                .with_batch_exporter(CountingLogExporter::new(exporter, t.logs.clone()))
                .with_resource(resource.clone())
                .build();
            t.logger = Some(provider.logger(SCOPE));
            t.logger_provider = Some(provider);
        }

        if let Some(url) = cfg.endpoint_for(Signal::Metrics) {
            let exporter = match cfg.protocol {
                Protocol::Grpc => opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(url)
                    .build(),
                Protocol::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(url)
                    .build(),
            }
            .map_err(build_err("metrics"))?;
            let reader = PeriodicReader::builder(exporter)
                .with_interval(cfg.metric_interval)
                .build();
            let provider = SdkMeterProvider::builder()
                .with_reader(reader)
                .with_resource(resource)
                .build();
            let meter = provider.meter(SCOPE);
            t.inst = Some(Instruments::new(&meter, t.spans.clone(), t.logs.clone()));
            t.meter_provider = Some(provider);
        }
        Ok(t)
    }
}
