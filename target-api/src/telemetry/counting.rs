//! Drop counting: wrappers that count items reaching the batch processors and items the
//! exporters accepted, so `ended - exported` is what the bounded queues dropped (or a
//! failed export lost, or the collector rejected). Spans are counted as exported by their
//! exporter itself, which reads the collector's partial success.

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Items that reached the processor vs. items handed to the exporter, for one signal.
#[derive(Debug, Default)]
pub(super) struct Flow {
    /// Items that reached the processor (sampled spans ended, log records emitted).
    pub(super) ended: AtomicU64,
    /// Items the exporter accepted.
    pub(super) exported: AtomicU64,
}

impl Flow {
    /// Items not exported (yet): queued, dropped, or lost by a failed export.
    pub(super) fn unexported(&self) -> u64 {
        self.ended
            .load(Ordering::Relaxed)
            .saturating_sub(self.exported.load(Ordering::Relaxed))
    }
}

/// A batch span processor that counts the sampled spans handed to it.
#[derive(Debug)]
pub(super) struct CountingSpanProcessor {
    inner: BatchSpanProcessor,
    flow: Arc<Flow>,
}

impl CountingSpanProcessor {
    /// `exporter` counts what it exported into the same `flow`
    /// ([`super::span_export::OtlpSpanExporter`] does).
    pub(super) fn new<E: SpanExporter + 'static>(exporter: E, flow: Arc<Flow>) -> Self {
        CountingSpanProcessor {
            inner: BatchSpanProcessor::builder(exporter).build(),
            flow,
        }
    }
}

impl SpanProcessor for CountingSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx)
    }
    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.flow.ended.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.on_end(span)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}

/// Counts log records the exporter accepted (records handed over are counted at emit).
#[derive(Debug)]
pub(super) struct CountingLogExporter<E> {
    inner: E,
    flow: Arc<Flow>,
}

impl<E> CountingLogExporter<E> {
    pub(super) fn new(inner: E, flow: Arc<Flow>) -> Self {
        CountingLogExporter { inner, flow }
    }
}

impl<E: LogExporter> LogExporter for CountingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count() as u64;
        let r = self.inner.export(batch).await;
        if r.is_ok() {
            self.flow.exported.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}
