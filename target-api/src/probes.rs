//! The probes: `GET /healthz` (200 while the process runs) and `GET /readyz` (200 once
//! listening, 503 while draining).

use crate::body::json;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `GET /healthz`.
pub async fn healthz() -> Response {
    json(StatusCode::OK, r#"{"status":"ok"}"#.to_string())
}

/// `GET /readyz`.
pub async fn readyz(State(app): State<Arc<AppState>>) -> Response {
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
