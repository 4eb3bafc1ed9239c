//! The telemetry middleware around every route: starts the request's span and metrics,
//! hands its context to the handlers, and ends them with the status, the pool wait the
//! handler reported ([`PoolWaited`]) and the server events the request overlapped.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::SpanContext;
use std::sync::Arc;
use std::time::Duration;

/// The context of the request's sampled server span, for handlers.
#[derive(Clone, Debug)]
pub struct RequestCx(pub SpanContext);

/// How long the request waited for a pool permit: a handler that used the pool puts it in
/// its response's extensions, and the request's span gets it at its end.
#[derive(Clone, Copy, Debug)]
pub struct PoolWaited(pub Duration);

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn observe(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    // The route's index among ours: no copy of the path per request.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| crate::routes::ALL.iter().position(|r| *r == m.as_str()));
    let rt = app.telemetry.start_request(
        req.method(),
        route,
        req.uri().path(),
        req.headers(),
        Some(app.local_addr),
    );
    let generation = app.hub.generation();
    if let Some(cx) = rt.span_context() {
        req.extensions_mut().insert(RequestCx(cx.clone()));
    }
    let resp = next.run(req).await;
    let recording = rt.span_context().is_some();
    let events = if recording && app.hub.generation() != generation {
        app.hub
            .overlapping(rt.start_unix_ns, satlab_record::now_unix_ns())
    } else {
        Vec::new()
    };
    let pool_wait = resp.extensions().get::<PoolWaited>().map(|w| w.0);
    app.telemetry
        .finish_request(rt, resp.status().as_u16(), pool_wait, &events);
    resp
}
