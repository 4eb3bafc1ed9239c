//! The telemetry settings: built once from the parsed `OTEL_*` environment
//! (`satlab_common::otel_env::OtelEnv`), with the sampler mapped to the SDK's.

use crate::error::TelemetryError;
use opentelemetry_sdk::trace::Sampler;
use satlab_common::otel_env::{
    DEFAULT_METRIC_INTERVAL, ExportSettings, OtelEnv, Protocol, SamplerSpec, Signal, SpanBatching,
};
use satlab_record::telemetry as names;
use std::time::Duration;

/// Telemetry settings, normally read from the `OTEL_*` environment.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Base OTLP endpoint with a scheme (`OTEL_EXPORTER_OTLP_ENDPOINT`). Code may set it;
    /// a per-signal endpoint still wins for its signal.
    pub endpoint: Option<String>,
    /// Per-signal endpoints with a scheme, used as they are (traces, metrics, logs: see
    /// [`Signal::index`]).
    pub signal_endpoints: [Option<String>; 3],
    /// Transport.
    pub protocol: Protocol,
    /// `service.name`.
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded, without `service.name`.
    pub resource_attributes: Vec<(String, String)>,
    /// Sampler for server spans.
    pub sampler: SamplerSpec,
    /// Metric export interval.
    pub metric_interval: Duration,
    /// How span export requests are made (headers, timeout, gzip). Metrics and logs use
    /// opentelemetry-otlp's exporters, which read their own `OTEL_EXPORTER_OTLP_*`.
    pub trace_export: ExportSettings,
    /// How spans are batched (`OTEL_BSP_*`).
    pub span_batching: SpanBatching,
}

impl Default for TelemetryConfig {
    /// Nothing exported.
    fn default() -> Self {
        TelemetryConfig {
            endpoint: None,
            signal_endpoints: Default::default(),
            protocol: Protocol::Grpc,
            service_name: names::SERVICE_TARGET.to_string(),
            resource_attributes: Vec::new(),
            sampler: SamplerSpec::ParentBasedAlwaysOn,
            metric_interval: DEFAULT_METRIC_INTERVAL,
            trace_export: ExportSettings::default(),
            span_batching: SpanBatching::default(),
        }
    }
}

impl From<OtelEnv> for TelemetryConfig {
    /// `OTEL_SDK_DISABLED=true` keeps no endpoint at all.
    fn from(env: OtelEnv) -> Self {
        let (endpoint, signal_endpoints) = if env.disabled {
            (None, Default::default())
        } else {
            (env.endpoint, env.signal_endpoints)
        };
        TelemetryConfig {
            endpoint,
            signal_endpoints,
            protocol: env.protocol,
            service_name: env.service_name,
            resource_attributes: env.resource_attributes,
            sampler: env.sampler,
            metric_interval: env.metric_interval,
            trace_export: env.exports[Signal::Traces.index()].clone(),
            span_batching: env.span_batching,
        }
    }
}

impl TelemetryConfig {
    /// Read the standard `OTEL_*` variables through `get` (normally `std::env::var`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        Ok(OtelEnv::from_lookup(names::SERVICE_TARGET, get)?.into())
    }

    /// Read the process environment.
    pub fn from_env() -> Result<Self, TelemetryError> {
        Ok(OtelEnv::from_env(names::SERVICE_TARGET)?.into())
    }

    /// Where `signal` is exported, or `None` when it is not: its own endpoint wins over
    /// the base one.
    pub fn endpoint_for(&self, signal: Signal) -> Option<String> {
        self.protocol.signal_endpoint(
            signal,
            self.signal_endpoints[signal.index()].as_deref(),
            self.endpoint.as_deref(),
        )
    }
}

/// The SDK sampler for an `OTEL_TRACES_SAMPLER` setting.
pub fn sdk_sampler(spec: SamplerSpec) -> Sampler {
    match spec {
        SamplerSpec::AlwaysOn => Sampler::AlwaysOn,
        SamplerSpec::AlwaysOff => Sampler::AlwaysOff,
        SamplerSpec::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerSpec::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerSpec::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerSpec::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Telemetry;

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

    #[test]
    fn per_signal_endpoints_win_even_over_a_base_endpoint_set_in_code() {
        let mut cfg = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "t:4318/custom/traces"),
        ]))
        .unwrap();
        assert_eq!(
            cfg.endpoint_for(Signal::Traces).as_deref(),
            Some("http://t:4318/custom/traces")
        );
        assert_eq!(cfg.endpoint_for(Signal::Metrics), None);
        assert_eq!(cfg.endpoint_for(Signal::Logs), None);
        cfg.endpoint = Some("http://collector:4318".into());
        assert_eq!(
            cfg.endpoint_for(Signal::Traces).as_deref(),
            Some("http://t:4318/custom/traces")
        );
        assert_eq!(
            cfg.endpoint_for(Signal::Metrics).as_deref(),
            Some("http://collector:4318/v1/metrics")
        );
        assert_eq!(
            cfg.endpoint_for(Signal::Logs).as_deref(),
            Some("http://collector:4318/v1/logs")
        );
        // Disabled: no signal goes anywhere, per-signal endpoints included.
        let off = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:4317"),
            ("OTEL_SDK_DISABLED", "true"),
        ]))
        .unwrap();
        assert_eq!(off.endpoint_for(Signal::Logs), None);
    }

    #[test]
    fn service_name_from_resource_attributes_unless_named_explicitly() {
        let cfg = TelemetryConfig::from_lookup(lookup(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=fromres,deployment.environment.name=lab",
        )]))
        .unwrap();
        assert_eq!(cfg.service_name, "fromres");
        assert_eq!(
            cfg.resource_attributes,
            vec![("deployment.environment.name".into(), "lab".into())]
        );
        let cfg = TelemetryConfig::from_lookup(lookup(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=fromres"),
            ("OTEL_SERVICE_NAME", "explicit"),
        ]))
        .unwrap();
        assert_eq!(cfg.service_name, "explicit");
    }

    #[test]
    fn samplers_map_to_the_sdk() {
        for (spec, want) in [
            (SamplerSpec::AlwaysOn, "AlwaysOn"),
            (SamplerSpec::AlwaysOff, "AlwaysOff"),
            (SamplerSpec::TraceIdRatio(0.25), "TraceIdRatioBased(0.25)"),
            (SamplerSpec::ParentBasedAlwaysOff, "ParentBased(AlwaysOff)"),
            (
                SamplerSpec::ParentBasedTraceIdRatio(0.5),
                "ParentBased(TraceIdRatioBased(0.5))",
            ),
        ] {
            assert_eq!(format!("{:?}", sdk_sampler(spec)), want);
        }
    }
}
