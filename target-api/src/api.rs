//! The service's one API, `POST /api/vector/add`: admission (load shedding), the
//! stop-the-world safepoints, the request's work (CPU, I/O, downstream pool), then the sum.

use crate::body::{is_json, json, read_body};
use crate::decode::{add, decode, encode};
use crate::error::ApiError;
use crate::observe::{PoolWaited, RequestCx};
use crate::profile::Work;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opentelemetry::trace::SpanContext;
use satlab_record::EventKind;
use std::sync::Arc;

/// `POST /api/vector/add`.
pub async fn vector_add(State(app): State<Arc<AppState>>, req: Request) -> Response {
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
    let mut pool_wait = None;
    let result = handle_add(&app, req, cx.as_ref(), &mut pool_wait).await;
    app.gate.safepoint();
    drop(admitted);
    let mut resp = match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => e.into_response(),
    };
    if let Some(wait) = pool_wait {
        resp.extensions_mut().insert(PoolWaited(wait));
    }
    resp
}

async fn handle_add(
    app: &AppState,
    req: Request,
    cx: Option<&SpanContext>,
    pool_wait: &mut Option<std::time::Duration>,
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
    std::hint::black_box(work.cpu.run(|| app.gate.safepoint()));
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
        *pool_wait = Some(used.wait);
    }
    Ok(encode(&add(&request)?))
}
