//! Where and how to export, converted once from the standard `OTEL_*` variables as
//! [`satlab_common::otel_env`] reads them (the same rules as `target-api`):
//! `OTEL_SDK_DISABLED`, per-signal endpoints before the base one, and an unknown protocol
//! refused with the accepted values.

use satlab_common::otel_env::{OtelEnv, OtelEnvError, Protocol, Signal};
use satlab_record::telemetry::SERVICE_LOADGEN;
use std::time::Duration;

/// The loadgen's OTLP export settings; built only when something is exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// `service.name`: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, default `loadgen`.
    pub service_name: String,
    /// The other `OTEL_RESOURCE_ATTRIBUTES`, decoded, without `service.name`.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`: gRPC (default) or HTTP/protobuf.
    pub protocol: Protocol,
    /// Where client spans go; `None`: not exported.
    pub traces: Option<String>,
    /// Where the duration and CPU metrics go; `None`: not exported.
    pub metrics: Option<String>,
    /// Metric export interval (`OTEL_METRIC_EXPORT_INTERVAL` ms, default 5 s).
    pub metric_interval: Duration,
}

impl OtelConfig {
    /// The loadgen's part of `env`, or `None` when it exports neither spans nor metrics.
    pub fn from_otel_env(env: &OtelEnv) -> Option<OtelConfig> {
        let traces = env.endpoint_for(Signal::Traces);
        let metrics = env.endpoint_for(Signal::Metrics);
        if traces.is_none() && metrics.is_none() {
            return None;
        }
        Some(OtelConfig {
            service_name: env.service_name.clone(),
            resource_attributes: env.resource_attributes.clone(),
            protocol: env.protocol,
            traces,
            metrics,
            metric_interval: env.metric_interval,
        })
    }

    /// The configuration from `get` (variable → value); `Ok(None)` when nothing is
    /// exported, an error naming the variable when one cannot be used.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtelConfig>, OtelEnvError> {
        Ok(Self::from_otel_env(&OtelEnv::from_lookup(
            SERVICE_LOADGEN,
            get,
        )?))
    }

    /// The configuration from the process environment.
    pub fn from_env() -> Result<Option<OtelConfig>, OtelEnvError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}
