//! The span exporter: each batch encoded by [`SpanEncoder`] into one buffer and sent as one
//! OTLP call, over gRPC (tonic, the bytes passed through as they are) or HTTP/protobuf
//! (hyper). The batch processor calls `export` on its own thread; the call itself runs on
//! the service's tokio runtime, where its connection lives.

use super::span_proto::SpanEncoder;
use bytes::{Buf, BufMut, Bytes};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use std::time::Duration;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// The OTLP default export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`'s default).
const TIMEOUT: Duration = Duration::from_secs(10);

/// The OTLP trace service's export method.
const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Exports spans as OTLP/protobuf, encoded straight from `SpanData`.
#[derive(Debug)]
pub(super) struct OtlpSpanExporter {
    encoder: SpanEncoder,
    transport: Transport,
    runtime: tokio::runtime::Handle,
}

#[derive(Debug, Clone)]
enum Transport {
    Grpc(tonic::client::Grpc<Channel>),
    Http {
        client: Box<Client<HttpConnector, Full<Bytes>>>,
        uri: http::Uri,
    },
}

impl OtlpSpanExporter {
    /// Export over gRPC to `endpoint` (`http://host:port`). Connects on first use; must be
    /// called inside the tokio runtime the calls will run on.
    pub(super) fn grpc(endpoint: &str) -> Result<Self, String> {
        let runtime = runtime()?;
        let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("'{endpoint}' is not a gRPC endpoint: {e}"))?
            .connect_lazy();
        Ok(OtlpSpanExporter {
            encoder: SpanEncoder::default(),
            transport: Transport::Grpc(tonic::client::Grpc::new(channel)),
            runtime,
        })
    }

    /// Export over HTTP/protobuf, POSTing to `url` (`http://host:port/v1/traces`). Must be
    /// called inside the tokio runtime the calls will run on.
    pub(super) fn http(url: &str) -> Result<Self, String> {
        let runtime = runtime()?;
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("'{url}' is not an HTTP URL: {e}"))?;
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return Err(format!(
                "'{url}': OTLP/HTTP export here speaks plain http:// only"
            ));
        }
        Ok(OtlpSpanExporter {
            encoder: SpanEncoder::default(),
            transport: Transport::Http {
                client: Box::new(Client::builder(TokioExecutor::new()).build_http()),
                uri,
            },
            runtime,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Handle, String> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| "span export must be set up inside a tokio runtime".to_string())
}

impl SpanExporter for OtlpSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut body = Vec::with_capacity(256 + batch.len() * 512);
        self.encoder.encode(&batch, &mut body);
        drop(batch);
        let send = self.transport.clone().send(Bytes::from(body));
        match self
            .runtime
            .spawn(async move { tokio::time::timeout(TIMEOUT, send).await })
            .await
        {
            Ok(Ok(sent)) => sent,
            Ok(Err(_)) => Err(OTelSdkError::Timeout(TIMEOUT)),
            Err(e) => Err(OTelSdkError::InternalFailure(format!(
                "span export task: {e}"
            ))),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = SpanEncoder::new(resource);
    }
}

impl Transport {
    async fn send(self, body: Bytes) -> OTelSdkResult {
        let fail = |what: String| Err(OTelSdkError::InternalFailure(what));
        match self {
            Transport::Grpc(mut grpc) => {
                if let Err(e) = grpc.ready().await {
                    return fail(format!("OTLP/gRPC connection: {e}"));
                }
                let path = http::uri::PathAndQuery::from_static(GRPC_EXPORT);
                match grpc.unary(tonic::Request::new(body), path, RawCodec).await {
                    Ok(_) => Ok(()),
                    Err(status) => fail(format!("OTLP/gRPC export: {status}")),
                }
            }
            Transport::Http { client, uri } => {
                let req = http::Request::post(uri)
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(body));
                let req = match req {
                    Ok(r) => r,
                    Err(e) => return fail(format!("OTLP/HTTP request: {e}")),
                };
                match client.request(req).await {
                    Ok(resp) if resp.status().is_success() => Ok(()),
                    Ok(resp) => fail(format!("OTLP/HTTP export: HTTP {}", resp.status())),
                    Err(e) => fail(format!("OTLP/HTTP export: {e}")),
                }
            }
        }
    }
}

/// A gRPC codec for bytes encoded beforehand: the request goes out as it is, the response
/// (`ExportTraceServiceResponse`) is read as bytes and not looked into.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
