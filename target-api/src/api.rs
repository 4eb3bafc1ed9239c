//! HTTP handlers: `POST /api/vector/add`, `/healthz`, `/readyz`, JSON 404/405, and the
//! telemetry middleware that wraps every route.

use crate::decode::{add, decode, encode};
use crate::error::ApiError;
use crate::profile::{Work, spin};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use satlab_record::EventKind;
use std::sync::Arc;

/// The route of the service's one API.
pub const VECTOR_ADD: &str = "/api/vector/add";

/// The request's telemetry context (holds the server span), for handlers.
#[derive(Clone, Debug)]
pub struct RequestCx(pub Context);

/// The whole application: API, probes, admin API and the telemetry middleware.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(VECTOR_ADD, post(vector_add))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn observe(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let rt = app.telemetry.start_request(
        req.method(),
        route.as_deref(),
        req.uri().path(),
        req.headers(),
        Some(app.local_addr),
    );
    let generation = app.hub.generation();
    if let Some(cx) = &rt.cx {
        req.extensions_mut().insert(RequestCx(cx.clone()));
    }
    let resp = next.run(req).await;
    let recording = rt.cx.as_ref().is_some_and(|cx| cx.span().is_recording());
    let events = if recording && app.hub.generation() != generation {
        app.hub
            .overlapping(rt.start_unix_ns, satlab_record::now_unix_ns())
    } else {
        Vec::new()
    };
    app.telemetry
        .finish_request(rt, resp.status().as_u16(), &events);
    resp
}

fn json(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn healthz() -> Response {
    json(StatusCode::OK, r#"{"status":"ok"}"#.to_string())
}

async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    if app.is_ready() {
        json(StatusCode::OK, r#"{"status":"ready"}"#.to_string())
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the server is shutting down",
        )
        .into_response()
    }
}

async fn not_found(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route for {}: the API is POST {VECTOR_ADD}",
            req.uri().path()
        ),
    )
    .into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
    .into_response()
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Read a body of at most `limit` bytes (413 beyond it, checked on `Content-Length` first).
pub async fn read_body(
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::body_too_large(limit))
        }
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "body_read",
            format!("could not read the request body: {e}"),
        )),
    }
}

async fn vector_add(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let admitted = match app.admission.admit(&app.live) {
        Ok(a) => a,
        Err(status) => {
            app.telemetry.shed(status);
            let mut e = ApiError::new(
                StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
                "overloaded",
                format!(
                    "more than {} requests in flight: retry later",
                    app.live.shed_above()
                ),
            );
            if status == 503 {
                e.retry_after = Some(1);
            }
            return e.into_response();
        }
    };
    let cx = req.extensions().get::<RequestCx>().map(|c| c.0.clone());
    let every = app.live.pause_every();
    if every > 0 && admitted.index.is_multiple_of(every) {
        let (start_ns, took) = app.gate.stop_the_world(app.live.pause_duration());
        app.hub.record(
            EventKind::GcPause,
            start_ns,
            took,
            Some(admitted.index),
            cx.as_ref(),
        );
    } else {
        app.gate.safepoint();
    }
    let result = handle_add(&app, req, cx.as_ref()).await;
    app.gate.safepoint();
    drop(admitted);
    match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

async fn handle_add(
    app: &AppState,
    req: Request,
    cx: Option<&Context>,
) -> Result<String, ApiError> {
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let work = Work::resolve(&app.live, parts.uri.query(), app.pool.size())?;
    let bytes = read_body(&parts.headers, body, app.config.max_body).await?;
    app.gate.safepoint();
    let request = decode(&bytes, app.config.max_len)?;
    drop(bytes);
    if work.cpu_iterations > 0 {
        std::hint::black_box(spin(work.cpu_iterations, || app.gate.safepoint()));
    }
    if !work.io_delay.is_zero() {
        tokio::time::sleep(work.io_delay).await;
        app.gate.safepoint();
    }
    if work.use_pool {
        let used = app
            .pool
            .use_once(&app.live, work.pool_hold, &app.hub, cx, || {
                app.gate.safepoint()
            })
            .await;
        app.telemetry.pool_wait(used.wait);
    }
    Ok(encode(&add(&request)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::telemetry::Telemetry;
    use tower::ServiceExt;

    async fn get(app: &Arc<AppState>, path: &str) -> (u16, String) {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let resp = router(app.clone()).oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readyz_turns_503_while_draining_and_healthz_stays_200() {
        let app = Arc::new(AppState::new(
            Config::default(),
            Arc::new(Telemetry::disabled()),
            "127.0.0.1:1".parse().unwrap(),
        ));
        assert_eq!(get(&app, "/readyz").await.0, 200);
        app.set_draining();
        let (status, body) = get(&app, "/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("draining"));
        assert_eq!(get(&app, "/healthz").await.0, 200);
    }
}
