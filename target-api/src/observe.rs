//! The telemetry middleware around every route: starts the request's span and metrics,
//! hands its context to the handlers, and ends them with the status and the server events
//! the request overlapped.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use std::sync::Arc;

/// The request's telemetry context (holds the server span), for handlers.
#[derive(Clone, Debug)]
pub struct RequestCx(pub Context);

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
