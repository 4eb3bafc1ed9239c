//! A small HTTP/1.1 client for `observer serve`: `observer submit` uploads with it, and a
//! loadgen joining a distributed run joins and uploads with it.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::Path;

/// Errors talking to `observer serve`.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The URL is invalid.
    #[error("invalid URL {0:?}")]
    Url(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The request failed.
    #[error("{url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// An HTTP client.
#[derive(Debug, Clone)]
pub struct Client {
    inner: HyperClient<HttpConnector, Full<bytes::Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A plain-HTTP client.
    pub fn new() -> Self {
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Send a file's bytes with `method` to `url`; returns status and body text.
    pub async fn send_file(
        &self,
        method: &str,
        url: &str,
        path: &Path,
    ) -> Result<(u16, String), SubmitError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| SubmitError::Read {
                path: path.display().to_string(),
                source,
            })?;
        self.send_bytes(method, url, bytes).await
    }

    /// Send `body` with `method` to `url`; returns status and body text.
    pub async fn send_bytes(
        &self,
        method: &str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<(u16, String), SubmitError> {
        let uri: hyper::Uri = url.parse().map_err(|_| SubmitError::Url(url.to_string()))?;
        let req = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/octet-stream")
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| SubmitError::Http {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        let http = |e: String| SubmitError::Http {
            url: url.to_string(),
            message: e,
        };
        let resp = self
            .inner
            .request(req)
            .await
            .map_err(|e| http(format!("{e:?}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| http(e.to_string()))?
            .to_bytes();
        // Responses are small JSON documents; cap what is shown.
        let text = String::from_utf8_lossy(&body[..body.len().min(1 << 20)]).into_owned();
        Ok((status, text))
    }
}
