//! OTLP over HTTP/protobuf (axum): `POST /v1/traces`, `/v1/metrics`, `/v1/logs`.
//!
//! Bodies are `application/x-protobuf`, optionally gzip-compressed. Malformed payloads get
//! 400, bodies over the limit (before or after decompression) 413, other media types or
//! encodings 415, all with a JSON error body. Success is the protobuf export response,
//! with `partial_success` when some items were refused.

use super::config::ReceiverConfig;
use super::signal::Signal;
use super::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
struct AppState {
    store: Arc<Store>,
    cfg: ReceiverConfig,
    limit: Arc<Semaphore>,
}

/// The OTLP/HTTP routes over `store`.
pub fn router(store: Arc<Store>, cfg: ReceiverConfig, limit: Arc<Semaphore>) -> Router {
    Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .with_state(AppState { store, cfg, limit })
}

/// A refused request: status, the `/metrics` reason label, and a message.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        reason,
        message: message.into(),
    }
}

fn error_response(signal: Signal, r: Refusal) -> Response {
    let body = serde_json::json!({
        "error": r.message,
        "code": r.status.as_u16(),
        "signal": signal.name(),
    });
    (r.status, axum::Json(body)).into_response()
}

/// Check the media type and encoding, read the body within the limit, and decompress.
async fn read_payload(headers: &HeaderMap, body: Body, max: usize) -> Result<Vec<u8>, Refusal> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/x-protobuf" && media != "application/protobuf" {
        let hint = if media == "application/json" {
            "OTLP/JSON is not supported; send application/x-protobuf"
        } else {
            "send Content-Type: application/x-protobuf"
        };
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("unsupported Content-Type {ctype:?}: {hint}"),
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let gzip = match encoding.as_str() {
        "" | "identity" => false,
        "gzip" => true,
        other => {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_encoding",
                format!("unsupported Content-Encoding {other:?}: use gzip or none"),
            ));
        }
    };
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body over the {max}-byte limit"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > max as u64
    {
        return Err(too_large());
    }
    let raw = http_body_util::Limited::new(body, max)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large()
            } else {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("cannot read body: {e}"),
                )
            }
        })?
        .to_bytes();
    if !gzip {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            refuse(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("invalid gzip body: {e}"),
            )
        })?;
    if out.len() > max {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("decompressed body over the {max}-byte limit"),
        ));
    }
    Ok(out)
}

fn protobuf(msg: impl Message) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        msg.encode_to_vec(),
    )
        .into_response()
}

async fn handle<Req: Message + Default>(
    st: &AppState,
    signal: Signal,
    headers: &HeaderMap,
    body: Body,
    ingest: impl FnOnce(&Store, &Req) -> Response,
) -> Response {
    let Ok(_permit) = st.limit.try_acquire() else {
        st.store.count_rejected_request(signal, "busy");
        return error_response(
            signal,
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "observer busy: too many export requests at once; retry",
            ),
        );
    };
    let payload = match read_payload(headers, body, st.cfg.max_message_bytes).await {
        Ok(p) => p,
        Err(r) => {
            st.store.count_rejected_request(signal, r.reason);
            return error_response(signal, r);
        }
    };
    match Req::decode(&payload[..]) {
        Ok(req) => ingest(&st.store, &req),
        Err(e) => {
            st.store.count_rejected_request(signal, "malformed");
            error_response(
                signal,
                refuse(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("malformed OTLP {} payload: {e}", signal.name()),
                ),
            )
        }
    }
}

async fn traces(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(
        &st,
        Signal::Traces,
        &headers,
        body,
        |s, req: &ExportTraceServiceRequest| {
            let r = s.ingest_traces(req);
            protobuf(ExportTraceServiceResponse {
                partial_success: (r.rejected > 0).then_some(ExportTracePartialSuccess {
                    rejected_spans: r.rejected as i64,
                    error_message: r.message,
                }),
            })
        },
    )
    .await
}

async fn metrics(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(
        &st,
        Signal::Metrics,
        &headers,
        body,
        |s, req: &ExportMetricsServiceRequest| {
            let r = s.ingest_metrics(req);
            protobuf(ExportMetricsServiceResponse {
                partial_success: (r.rejected > 0).then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: r.rejected as i64,
                    error_message: r.message,
                }),
            })
        },
    )
    .await
}

async fn logs(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    handle(
        &st,
        Signal::Logs,
        &headers,
        body,
        |s, req: &ExportLogsServiceRequest| {
            let r = s.ingest_logs(req);
            protobuf(ExportLogsServiceResponse {
                partial_success: (r.rejected > 0).then_some(ExportLogsPartialSuccess {
                    rejected_log_records: r.rejected as i64,
                    error_message: r.message,
                }),
            })
        },
    )
    .await
}
