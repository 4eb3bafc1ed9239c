//! Test helpers: a small HTTP client and the OTLP sink.

#![allow(dead_code)]

pub mod otlp_sink;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use target_api::{Config, ServerHandle, TelemetryConfig};

/// A response: status, headers, body text.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Resp {
    /// The JSON error code, if the body is an error.
    pub fn code(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// A keep-alive HTTP/1 client.
pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// A new client.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Send one request.
pub async fn send(
    client: &HttpClient,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Resp {
    let mut b = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(body.into())).expect("request");
    let resp = client.request(req).await.expect("HTTP request failed");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// POST JSON to the API with an optional query.
pub async fn add(client: &HttpClient, addr: SocketAddr, query: &str, body: &str) -> Resp {
    let path = if query.is_empty() {
        "/api/vector/add".to_string()
    } else {
        format!("/api/vector/add?{query}")
    };
    send(
        client,
        addr,
        "POST",
        &path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// A config listening on an ephemeral loopback port.
pub fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

/// Start a server on its own runtime (2 workers) without telemetry.
pub fn start(config: Config) -> ServerHandle {
    ServerHandle::start(config, TelemetryConfig::default(), 2).expect("server starts")
}

/// The server's recent events.
pub async fn events(client: &HttpClient, addr: SocketAddr) -> Vec<serde_json::Value> {
    let r = send(client, addr, "GET", "/admin/events", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["events"].as_array().cloned().unwrap_or_default()
}
