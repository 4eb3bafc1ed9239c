//! OTLP over gRPC: the trace, metrics and logs collector services (tonic), gzip accepted.

use super::config::ReceiverConfig;
use super::signal::Signal;
use super::store::Store;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// The three collector services over one store.
#[derive(Debug, Clone)]
pub struct Collector {
    store: Arc<Store>,
    limit: Arc<Semaphore>,
}

impl Collector {
    /// Services writing into `store`, at most `limit` requests at once.
    pub fn new(store: Arc<Store>, limit: Arc<Semaphore>) -> Self {
        Collector { store, limit }
    }

    async fn permit(&self, signal: Signal) -> Result<tokio::sync::SemaphorePermit<'_>, Status> {
        self.limit.try_acquire().map_err(|_| {
            self.store.count_rejected_request(signal, "busy");
            Status::unavailable("observer busy: too many export requests at once; retry")
        })
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let _p = self.permit(Signal::Traces).await?;
        let r = self.store.ingest_traces(request.get_ref());
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (r.rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: r.rejected as i64,
                error_message: r.message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let _p = self.permit(Signal::Metrics).await?;
        let r = self.store.ingest_metrics(request.get_ref());
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (r.rejected > 0).then_some(ExportMetricsPartialSuccess {
                rejected_data_points: r.rejected as i64,
                error_message: r.message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let _p = self.permit(Signal::Logs).await?;
        let r = self.store.ingest_logs(request.get_ref());
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (r.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: r.rejected as i64,
                error_message: r.message,
            }),
        }))
    }
}

/// Serve the collector services on `listener` until `cancel`.
pub async fn serve(
    store: Arc<Store>,
    listener: tokio::net::TcpListener,
    cfg: ReceiverConfig,
    limit: Arc<Semaphore>,
    cancel: CancellationToken,
) {
    let c = Collector::new(store, limit);
    let max = cfg.max_message_bytes;
    let traces = TraceServiceServer::new(c.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let metrics = MetricsServiceServer::new(c.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let logs = LogsServiceServer::new(c)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    // Requests are decoded before a handler sees them, so bound the streams each
    // connection may have open at once as well (memory ≈ streams × message limit).
    let result = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(cfg.max_concurrent.clamp(1, 16))
        .max_concurrent_streams(Some(cfg.max_concurrent.clamp(1, 16) as u32))
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs)
        .serve_with_incoming_shutdown(incoming, async move { cancel.cancelled().await })
        .await;
    if let Err(e) = result {
        tracing::warn!("OTLP gRPC receiver stopped: {e}");
    }
}
