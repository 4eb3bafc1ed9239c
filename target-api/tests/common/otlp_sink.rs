//! A minimal OTLP/gRPC receiver (traces, logs, metrics) that keeps what it receives:
//! used by the integration tests and by `examples/otlp_sink.rs` for the benchmark.

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// What the sink received.
#[derive(Debug, Default)]
pub struct Received {
    /// Keep full items (tests) or only count them (benchmark).
    pub keep: bool,
    /// Spans.
    pub spans: Mutex<Vec<Span>>,
    /// Log records.
    pub logs: Mutex<Vec<LogRecord>>,
    /// Metric names seen.
    pub metric_names: Mutex<std::collections::BTreeSet<String>>,
    /// String attributes of the resources spans came with (`service.name`, ...).
    pub span_resources: Mutex<std::collections::BTreeSet<(String, String)>>,
    /// Span count.
    pub span_count: AtomicU64,
    /// Log record count.
    pub log_count: AtomicU64,
}

#[derive(Clone)]
struct Sink(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for rs in req.into_inner().resource_spans {
            if let Some(r) = &rs.resource {
                let mut seen = self.0.span_resources.lock().unwrap();
                for kv in &r.attributes {
                    if let Some(any_value::Value::StringValue(v)) =
                        kv.value.as_ref().and_then(|v| v.value.as_ref())
                    {
                        seen.insert((kv.key.clone(), v.clone()));
                    }
                }
            }
            for ss in rs.scope_spans {
                self.0
                    .span_count
                    .fetch_add(ss.spans.len() as u64, Ordering::Relaxed);
                if self.0.keep {
                    self.0.spans.lock().unwrap().extend(ss.spans);
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        for rl in req.into_inner().resource_logs {
            for sl in rl.scope_logs {
                self.0
                    .log_count
                    .fetch_add(sl.log_records.len() as u64, Ordering::Relaxed);
                if self.0.keep {
                    self.0.logs.lock().unwrap().extend(sl.log_records);
                }
            }
        }
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let mut names = self.0.metric_names.lock().unwrap();
        for rm in req.into_inner().resource_metrics {
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    names.insert(m.name);
                }
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// Start a sink on `addr` (port 0 for any) in the current tokio runtime.
pub async fn start(addr: SocketAddr, keep: bool) -> (SocketAddr, Arc<Received>) {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind OTLP sink");
    let local = listener.local_addr().expect("sink address");
    let received = Arc::new(Received {
        keep,
        ..Received::default()
    });
    let sink = Sink(received.clone());
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(
                TraceServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip),
            )
            .add_service(
                LogsServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip),
            )
            .add_service(
                MetricsServiceServer::new(sink).accept_compressed(CompressionEncoding::Gzip),
            )
            .serve_with_incoming(incoming)
            .await;
    });
    (local, received)
}
