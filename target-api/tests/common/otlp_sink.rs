//! A minimal OTLP/gRPC receiver (traces, logs, metrics) that keeps what it receives:
//! used by the integration tests and by `examples/otlp_sink.rs` for the benchmark. When it
//! only counts (the benchmark), spans are counted without being decoded, so the sink's
//! own cost stays small beside the load generator it shares a CPU with.

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

/// `ExportTraceServiceRequest` read only as far as counting its spans needs: each span
/// is skipped as bytes, not decoded.
#[derive(Clone, PartialEq, prost::Message)]
struct SpanCount {
    #[prost(message, repeated, tag = "1")]
    resource_spans: Vec<ResourceSpanCount>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResourceSpanCount {
    #[prost(message, repeated, tag = "2")]
    scope_spans: Vec<ScopeSpanCount>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ScopeSpanCount {
    #[prost(bytes = "bytes", repeated, tag = "2")]
    spans: Vec<prost::bytes::Bytes>,
}

/// The trace service, counting only.
#[derive(Clone)]
struct CountingTraces(Arc<Received>);

impl tonic::server::NamedService for CountingTraces {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl tonic::server::UnaryService<SpanCount> for CountingTraces {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<Response<Self::Response>, Status>>;
    fn call(&mut self, req: Request<SpanCount>) -> Self::Future {
        let spans: usize = req
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.0.span_count.fetch_add(spans as u64, Ordering::Relaxed);
        std::future::ready(Ok(Response::new(ExportTraceServiceResponse::default())))
    }
}

impl<B> tonic::codegen::Service<http::Request<B>> for CountingTraces
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
                .apply_compression_config(
                    tonic::codec::EnabledCompressionEncodings::default(),
                    tonic::codec::EnabledCompressionEncodings::default(),
                );
            Ok(grpc.unary(method, req).await)
        })
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
    let traces = (!keep).then(|| CountingTraces(received.clone()));
    tokio::spawn(async move {
        let mut server = tonic::transport::Server::builder();
        let router = match traces {
            Some(counting) => server.add_service(counting),
            None => server.add_service(
                TraceServiceServer::new(sink.clone()).accept_compressed(CompressionEncoding::Gzip),
            ),
        };
        let _ = router
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
