//! The whole application: the API, the probes, the admin API and JSON 404/405 answers,
//! all under the telemetry middleware.

use crate::api::vector_add;
use crate::error::ApiError;
use crate::observe::observe;
use crate::probes::{healthz, readyz};
use crate::routes::{HEALTHZ, READYZ, VECTOR_ADD};
use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The application's router.
pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(VECTOR_ADD, post(vector_add))
        .route(HEALTHZ, get(healthz))
        .route(READYZ, get(readyz))
        .merge(crate::admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::telemetry::Telemetry;
    use axum::body::Body;
    use http_body_util::BodyExt;
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
