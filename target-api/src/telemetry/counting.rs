//! Drop counting: items reaching the bounded queues and items the exporters accepted, so
//! `ended - exported` is what the queues dropped (or a failed export lost, or the
//! collector rejected). Spans are counted by the span queue and their exporter itself
//! (which reads the collector's partial success); log records by the wrapper here.

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Items that reached the processor vs. items handed to the exporter, for one signal.
#[derive(Debug, Default)]
pub(super) struct Flow {
    /// Items that reached the queue (sampled spans ended, log records emitted).
    pub(super) ended: AtomicU64,
    /// Items the exporter accepted.
    pub(super) exported: AtomicU64,
    /// Items known lost as they were lost: dropped by a full queue, sent in a failed
    /// export, rejected by the collector. Counted by the span queue and its exporter
    /// (log records are counted only as `ended - exported`).
    pub(super) lost: AtomicU64,
}

impl Flow {
    /// Items not exported (yet): queued, dropped, or lost by a failed export.
    pub(super) fn unexported(&self) -> u64 {
        self.ended
            .load(Ordering::Relaxed)
            .saturating_sub(self.exported.load(Ordering::Relaxed))
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
