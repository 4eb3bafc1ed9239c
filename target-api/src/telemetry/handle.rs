//! The process's telemetry: its span queue, logger and metric instruments, each present
//! only when its signal is exported, so a disabled signal costs nothing.

use super::counting::Flow;
use super::instruments::Instruments;
use super::sampling::Shortcuts;
use super::span_queue::SpanQueue;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{RandomIdGenerator, Sampler};
use satlab_record::telemetry as names;
use std::sync::Arc;

/// The process's telemetry: a no-op when export is disabled.
pub struct Telemetry {
    pub(super) service: String,
    /// Where finished server spans go, when spans are exported.
    pub(super) span_queue: Option<SpanQueue>,
    pub(super) logger: Option<SdkLogger>,
    pub(super) inst: Option<Instruments>,
    pub(super) meter_provider: Option<SdkMeterProvider>,
    pub(super) logger_provider: Option<SdkLoggerProvider>,
    pub(super) propagator: TraceContextPropagator,
    /// The configured sampler, asked when its decision is not known beforehand.
    pub(super) sampler: Sampler,
    /// What the sampler decides without being asked.
    pub(super) sampling: Shortcuts,
    /// Trace and span ids.
    pub(super) ids: RandomIdGenerator,
    /// The first local address a request came to, and its IP as a span attribute value,
    /// made once.
    pub(super) server_address: std::sync::OnceLock<(std::net::SocketAddr, std::sync::Arc<str>)>,
    /// Per method and route ([`super::durations::attribute_slot`]): a span's start
    /// attributes encoded once, for requests to that route's own path on the first local
    /// address.
    pub(super) encoded_attributes: Box<[std::sync::OnceLock<std::sync::Arc<[u8]>>]>,
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
            span_queue: None,
            logger: None,
            inst: None,
            meter_provider: None,
            logger_provider: None,
            propagator: TraceContextPropagator::new(),
            sampler: Sampler::AlwaysOff,
            sampling: Shortcuts::default(),
            ids: RandomIdGenerator::default(),
            server_address: std::sync::OnceLock::new(),
            encoded_attributes: (0..super::durations::ATTRIBUTE_SLOTS)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            spans: Arc::default(),
            logs: Arc::default(),
        }
    }

    /// Whether anything is exported.
    pub fn enabled(&self) -> bool {
        self.span_queue.is_some() || self.meter_provider.is_some() || self.logger_provider.is_some()
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
