//! Errors: JSON error bodies for HTTP clients, and typed errors for the library's callers
//! (settings, serving, telemetry). Every module takes its errors from here, so no child
//! imports its parent for an error type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A client-facing error: an HTTP status, a stable machine-readable code and a message.
/// Rendered as `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `malformed_json`.
    pub code: &'static str,
    /// Human explanation with the fix where there is one.
    pub message: String,
    /// Seconds for a `Retry-After` header (shedding with 503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `malformed_json`.
    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    /// 400 `invalid_query`.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message)
    }

    /// 413 `body_too_large`.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body is larger than the limit of {limit} bytes (--max-body)"),
        )
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with the header 'content-type: application/json'",
        )
    }

    /// 422 with the given code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// A setting failed validation: which one (as the admin API's field name) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSetting {
    /// Field name, e.g. `pause_duration` (the flag is `--pause-duration`).
    pub field: &'static str,
    /// What is wrong and the allowed range.
    pub message: String,
}

impl InvalidSetting {
    /// A new validation error.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        InvalidSetting {
            field,
            message: message.into(),
        }
    }

    /// The command-line flag for the field.
    pub fn flag(&self) -> String {
        format!("--{}", self.field.replace('_', "-"))
    }
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid.
    #[error("invalid setting {}: {}", .0.flag(), .0.message)]
    Invalid(#[from] InvalidSetting),
    /// The listen socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Telemetry could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(#[from] TelemetryError),
}

/// Errors setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An `OTEL_*` variable has a value we cannot use (the message names it and the
    /// accepted values).
    #[error(transparent)]
    Env(#[from] satlab_common::otel_env::OtelEnvError),
    /// An exporter could not be built.
    #[error("building the OTLP {signal} exporter: {message}")]
    Build {
        /// traces, metrics or logs.
        signal: &'static str,
        /// The exporter's error.
        message: String,
    },
}

/// Target flags that cannot be turned into admin-API settings.
#[derive(Debug, thiserror::Error)]
pub enum FlagsError {
    /// target-api's command line refuses them (clap's message names the flag).
    #[error("target-api refuses these flags: {0}")]
    Parse(String),
    /// They parse, but a value is outside its range.
    #[error("invalid value for {}: {}", .0.flag(), .0.message)]
    Invalid(#[from] InvalidSetting),
}
