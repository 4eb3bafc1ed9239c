//! The admin API, on the service's own listener: `GET /admin/config`, `PUT /admin/config`
//! (merge a partial update, validate, apply at once), `GET /admin/events?limit=N` (recent
//! server events). With `--admin-token` every call needs `Authorization: Bearer TOKEN`; a
//! non-loopback listen address cannot start without a token.

use crate::body::{json, read_body};
use crate::config::SettingsPatch;
use crate::error::ApiError;
use crate::events::RECENT_EVENTS;
use crate::routes::{ADMIN_CONFIG, ADMIN_EVENTS};
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// Largest accepted admin request body.
pub const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Admin routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(ADMIN_CONFIG, get(get_config).put(put_config))
        .route(ADMIN_EVENTS, get(get_events))
}

fn authorize(app: &AppState, headers: &http::HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &app.config.admin_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compare without an early exit so timing does not reveal the matching prefix.
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs the header 'Authorization: Bearer TOKEN' (the --admin-token value)",
        ))
    }
}

fn config_json(app: &AppState) -> Response {
    let settings = app.live.snapshot();
    let body = serde_json::json!({
        "profile": settings.profile,
        "events": settings.events,
        "fixed": app.config.fixed_view(),
    });
    json(StatusCode::OK, body.to_string())
}

async fn get_config(State(app): State<Arc<AppState>>, req: Request) -> Response {
    if let Err(e) = authorize(&app, req.headers()) {
        return e.into_response();
    }
    config_json(&app)
}

async fn put_config(State(app): State<Arc<AppState>>, req: Request) -> Response {
    match apply(&app, req).await {
        Ok(()) => config_json(&app),
        Err(e) => e.into_response(),
    }
}

async fn apply(app: &AppState, req: Request) -> Result<(), ApiError> {
    let (parts, body) = req.into_parts();
    authorize(app, &parts.headers)?;
    let bytes = read_body(&parts.headers, body, MAX_ADMIN_BODY).await?;
    let patch: SettingsPatch = serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(
            "invalid_settings",
            format!("{e}: see GET /admin/config for the fields and their format"),
        ),
        _ => ApiError::malformed_json(format!("body is not valid JSON: {e}")),
    })?;
    let next = app.live.snapshot().merged(&patch);
    next.validate(app.config.pool_size)
        .map_err(|e| ApiError::unprocessable("invalid_settings", e.to_string()))?;
    app.live.store(&next);
    tracing::info!(settings = ?next, "settings changed by the admin API");
    Ok(())
}

async fn get_events(State(app): State<Arc<AppState>>, req: Request) -> Response {
    if let Err(e) = authorize(&app, req.headers()) {
        return e.into_response();
    }
    let mut limit = RECENT_EVENTS;
    for pair in req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("limit", v)) => match v.parse::<usize>() {
                Ok(n) => limit = n.min(RECENT_EVENTS),
                Err(_) => {
                    return ApiError::invalid_query(format!("limit={v}: write a whole number"))
                        .into_response();
                }
            },
            _ => {
                return ApiError::invalid_query(format!(
                    "unknown query parameter '{pair}': use limit=N"
                ))
                .into_response();
            }
        }
    }
    let body = serde_json::json!({
        "admitted_requests": app.admission.admitted(),
        "events": app.hub.recent(limit),
    });
    json(StatusCode::OK, body.to_string())
}
