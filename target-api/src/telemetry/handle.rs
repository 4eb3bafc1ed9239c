//! The process's telemetry: its providers, tracer, logger and metric instruments, each
//! present only when its signal is exported, so a disabled signal costs nothing.

use super::counting::Flow;
use super::instruments::Instruments;
use super::sampling::Shortcuts;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use satlab_record::telemetry as names;
use std::sync::Arc;

/// The process's telemetry: a no-op when export is disabled.
pub struct Telemetry {
    pub(super) service: String,
    pub(super) tracer: Option<SdkTracer>,
    pub(super) logger: Option<SdkLogger>,
    pub(super) inst: Option<Instruments>,
    pub(super) tracer_provider: Option<SdkTracerProvider>,
    pub(super) meter_provider: Option<SdkMeterProvider>,
    pub(super) logger_provider: Option<SdkLoggerProvider>,
    pub(super) propagator: TraceContextPropagator,
    /// What the sampler decides without being asked.
    pub(super) sampling: Shortcuts,
    /// The first local address a request came to, as a span attribute value, made once.
    pub(super) server_address: std::sync::OnceLock<(std::net::IpAddr, opentelemetry::StringValue)>,
    pub(super) spans: Arc<Flow>,
    pub(super) logs: Arc<Flow>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service", &self.service)
            .field("enabled", &self.enabled())
            .finish()
    }
}

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
            sampling: Shortcuts::default(),
            server_address: std::sync::OnceLock::new(),
            spans: Arc::default(),
            logs: Arc::default(),
        }
    }

    /// Whether anything is exported.
    pub fn enabled(&self) -> bool {
        self.tracer_provider.is_some()
            || self.meter_provider.is_some()
            || self.logger_provider.is_some()
    }

    /// `service.name`.
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// Spans and log records that reached a processor but were not exported (queue full,
    /// or export failed), as `(spans, logs)`. Exact after [`Telemetry::shutdown`].
    pub fn dropped(&self) -> (u64, u64) {
        (self.spans.unexported(), self.logs.unexported())
    }
}
