//! The span exporter: a batch of spans encoded beforehand ([`super::span_queue`]) is
//! wrapped by [`SpanEncoder`] into one request and sent as one OTLP call, over gRPC (tonic,
//! the bytes passed through as they are) or HTTP/protobuf (hyper), with the headers,
//! timeout and compression of `OTEL_EXPORTER_OTLP_*`. It runs on the service's tokio
//! runtime, where its connection lives. Spans the collector accepted (the batch less a
//! partial success's `rejected_spans`) are counted as exported.

use super::counting::Flow;
use super::span_proto::{SpanEncoder, rejected_spans};
use bytes::{Buf, BufMut, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use satlab_common::otel_env::ExportSettings;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::Channel;

/// The OTLP trace service's export method.
const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Exports encoded spans as OTLP/protobuf.
#[derive(Debug)]
pub(super) struct OtlpSpanExporter {
    encoder: SpanEncoder,
    transport: Transport,
    timeout: Duration,
    flow: Arc<Flow>,
}

#[derive(Debug, Clone)]
enum Transport {
    Grpc {
        client: tonic::client::Grpc<Channel>,
        metadata: MetadataMap,
    },
    Http {
        client: Box<Client<HttpConnector, Full<Bytes>>>,
        uri: http::Uri,
        headers: http::HeaderMap,
        gzip: bool,
    },
}

impl OtlpSpanExporter {
    /// Export spans wrapped by `encoder` over gRPC to `endpoint` (`http://host:port`),
    /// counting what the collector accepted into `flow`. Connects on first use.
    pub(super) fn grpc(
        endpoint: &str,
        encoder: SpanEncoder,
        settings: &ExportSettings,
        flow: Arc<Flow>,
    ) -> Result<Self, String> {
        let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| format!("'{endpoint}' is not a gRPC endpoint: {e}"))?
            .connect_lazy();
        let mut client = tonic::client::Grpc::new(channel);
        if settings.gzip {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let mut metadata = MetadataMap::new();
        for (k, v) in &settings.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("'{k}' cannot be a gRPC metadata key"))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| format!("the value of '{k}' cannot be gRPC metadata"))?;
            metadata.append(key, value);
        }
        Ok(OtlpSpanExporter {
            encoder,
            transport: Transport::Grpc { client, metadata },
            timeout: settings.timeout,
            flow,
        })
    }

    /// Export spans wrapped by `encoder` over HTTP/protobuf, POSTing to `url`
    /// (`http://host:port/v1/traces`), counting what the collector accepted into `flow`.
    pub(super) fn http(
        url: &str,
        encoder: SpanEncoder,
        settings: &ExportSettings,
        flow: Arc<Flow>,
    ) -> Result<Self, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("'{url}' is not an HTTP URL: {e}"))?;
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return Err(format!(
                "'{url}': OTLP/HTTP export here speaks plain http:// only"
            ));
        }
        let mut headers = http::HeaderMap::new();
        for (k, v) in &settings.headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("'{k}' cannot be an HTTP header name"))?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| format!("the value of '{k}' cannot be an HTTP header value"))?;
            headers.append(name, value);
        }
        Ok(OtlpSpanExporter {
            encoder,
            transport: Transport::Http {
                client: Box::new(Client::builder(TokioExecutor::new()).build_http()),
                uri,
                headers,
                gzip: settings.gzip,
            },
            timeout: settings.timeout,
            flow,
        })
    }
}

impl OtlpSpanExporter {
    /// Send `n` spans encoded back to back in `spans` as one export request, within the
    /// export timeout.
    pub(super) async fn export(&self, spans: &[u8], n: u64) -> Result<(), String> {
        let body = Bytes::from(self.encoder.request(spans));
        let send = self.transport.clone().send(body);
        let sent = match tokio::time::timeout(self.timeout, send).await {
            Ok(sent) => sent,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        let rejected = sent.inspect_err(|_| {
            self.flow.lost.fetch_add(n, Ordering::Relaxed);
        })?;
        let rejected = rejected.min(n);
        self.flow
            .exported
            .fetch_add(n - rejected, Ordering::Relaxed);
        self.flow.lost.fetch_add(rejected, Ordering::Relaxed);
        if rejected > 0 {
            return Err(format!("the collector rejected {rejected} of {n} spans"));
        }
        Ok(())
    }
}

impl Transport {
    /// Send one encoded request; the spans the collector rejected (a partial success).
    async fn send(self, body: Bytes) -> Result<u64, String> {
        match self {
            Transport::Grpc {
                mut client,
                metadata,
            } => {
                client
                    .ready()
                    .await
                    .map_err(|e| format!("OTLP/gRPC connection: {e}"))?;
                let path = http::uri::PathAndQuery::from_static(GRPC_EXPORT);
                let mut req = tonic::Request::new(body);
                *req.metadata_mut() = metadata;
                let resp = client
                    .unary(req, path, RawCodec)
                    .await
                    .map_err(|status| format!("OTLP/gRPC export: {status}"))?;
                Ok(rejected_spans(resp.get_ref()))
            }
            Transport::Http {
                client,
                uri,
                headers,
                gzip,
            } => {
                let body = if gzip { gzipped(&body)? } else { body };
                let mut req = http::Request::post(uri)
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Full::new(body))
                    .map_err(|e| format!("OTLP/HTTP request: {e}"))?;
                req.headers_mut().extend(headers);
                if gzip {
                    req.headers_mut().insert(
                        http::header::CONTENT_ENCODING,
                        http::HeaderValue::from_static("gzip"),
                    );
                }
                let resp = client
                    .request(req)
                    .await
                    .map_err(|e| format!("OTLP/HTTP export: {e}"))?;
                let status = resp.status();
                // Read the body whole: it may hold a partial success, and a connection
                // whose response was left unread is not reused.
                let answer = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| format!("OTLP/HTTP response: {e}"))?
                    .to_bytes();
                if !status.is_success() {
                    return Err(format!("OTLP/HTTP export: HTTP {status}"));
                }
                Ok(rejected_spans(&answer))
            }
        }
    }
}

fn gzipped(body: &[u8]) -> Result<Bytes, String> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    enc.write_all(body)
        .and_then(|()| enc.finish())
        .map(Bytes::from)
        .map_err(|e| format!("gzip: {e}"))
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
