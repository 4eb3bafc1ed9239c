//! The HTTP client: the request template, keep-alive or per-request TCP connections
//! (connect timeout, errno classification) and HTTP/1.1 or prior-knowledge HTTP/2.
//!
//! HTTP/1.1 (keep-alive and `--new-connection` alike): [`crate::http1`]'s exchange, each
//! worker with its own connection, preformatted request and read buffer, as wrk does, so
//! the hot path shares no lock or pool with other workers and allocates nothing. A
//! connection the server closes or asks to close, a close-delimited body or a failed
//! exchange drops the connection; the next request reconnects. HTTP/2 (hyper): workers
//! share a few multiplexed connections. `--new-connection`: a fresh TCP connection per
//! request, closed by the client afterwards (so TIME_WAIT accumulates on the client).

use crate::classify;
use crate::http1::exchange::Exchange;
use crate::http1::request::RequestTemplate;
use crate::trace::TraceContext;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use satlab_record::ErrorKind;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// The `traceparent` header name.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// A target URL that cannot be used, or a header that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse or is not `http://host[:port]/path`.
    #[error("invalid URL '{url}': {why}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong and how to fix it.
        why: String,
    },
    /// A `-H` header is not `name: value`.
    #[error("invalid header '{0}': expected 'Name: value' (e.g. -H 'x-api-key: 123')")]
    Header(String),
    /// A `-H` header that frames the body, which loadgen does itself.
    #[error(
        "header '{0}' is not allowed: loadgen frames the body itself (a content-length computed from --body); drop this -H"
    )]
    Framing(String),
    /// `-m` is not an HTTP method.
    #[error("invalid method '{0}': expected e.g. GET, POST, PUT")]
    Method(String),
    /// The host did not resolve.
    #[error("cannot resolve '{host}': {source}")]
    Resolve {
        /// host:port.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
}

/// What to send: method, URL, headers and body, fixed for the run.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// The URL as given.
    pub url: String,
    /// HTTP method.
    pub method: Method,
    /// Extra headers.
    pub headers: HeaderMap,
    /// Body (empty for none).
    pub body: Bytes,
}

impl RequestSpec {
    /// Build a spec from command-line strings. A body without a `content-type` header
    /// gets `application/json`.
    pub fn new(
        url: &str,
        method: &str,
        headers: &[String],
        body: Bytes,
    ) -> Result<Self, TargetError> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| TargetError::Method(method.into()))?;
        let mut map = HeaderMap::new();
        for h in headers {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| TargetError::Header(h.clone()))?;
            let name = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| TargetError::Header(h.clone()))?;
            if name == TRANSFER_ENCODING {
                return Err(TargetError::Framing(h.clone()));
            }
            let value =
                HeaderValue::from_str(v.trim()).map_err(|_| TargetError::Header(h.clone()))?;
            map.append(name, value);
        }
        if !body.is_empty() && !map.contains_key(CONTENT_TYPE) {
            map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(RequestSpec {
            url: url.into(),
            method,
            headers: map,
            body,
        })
    }
}

/// How connections are made and used.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Timeout of the TCP connect.
    pub connect_timeout: Duration,
    /// Timeout from sending the request to the end of the response body.
    pub request_timeout: Duration,
    /// A new TCP connection per request instead of keep-alive.
    pub new_connection: bool,
    /// Prior-knowledge HTTP/2 (h2c).
    pub http2: bool,
    /// HTTP/2: how many connections the workers share.
    pub h2_connections: usize,
}

/// The resolved target and request template, shared by all workers.
pub struct Client {
    addr: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    cfg: ClientConfig,
    /// HTTP/1.1: the request's bytes, copied into each worker.
    template: Option<RequestTemplate>,
    h2_slots: Vec<tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>>,
}

/// The outcome of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// HTTP status, 0 when no response arrived.
    pub status: u16,
    /// Why no response arrived, or `None`.
    pub error: ErrorKind,
}

impl Outcome {
    /// No response, for this reason.
    pub fn err(error: ErrorKind) -> Self {
        Outcome { status: 0, error }
    }
}

impl Client {
    /// Parse the URL, resolve its host once, and build the template.
    pub async fn new(spec: &RequestSpec, cfg: ClientConfig) -> Result<Client, TargetError> {
        let bad = |why: &str| TargetError::Url {
            url: spec.url.clone(),
            why: why.into(),
        };
        let uri: Uri = spec
            .url
            .parse()
            .map_err(|_| bad("expected http://HOST[:PORT]/PATH"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported; target the plain-HTTP port with http://",
                ));
            }
            _ => {
                return Err(bad(
                    "expected http://HOST[:PORT]/PATH (the scheme is required)",
                ));
            }
        }
        let authority = uri
            .authority()
            .ok_or_else(|| bad("no host; expected http://HOST[:PORT]/PATH"))?
            .clone();
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let hp = format!("{host}:{port}");
        let addr = tokio::net::lookup_host(&hp)
            .await
            .map_err(|source| TargetError::Resolve {
                host: hp.clone(),
                source,
            })?
            .next()
            .ok_or_else(|| TargetError::Resolve {
                host: hp.clone(),
                source: std::io::Error::other("no address"),
            })?;
        let mut headers = spec.headers.clone();
        let uri = if cfg.http2 {
            uri
        } else {
            if !headers.contains_key(HOST) {
                let v = HeaderValue::from_str(authority.as_str()).map_err(|_| bad("bad host"))?;
                headers.insert(HOST, v);
            }
            let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            pq.parse().map_err(|_| bad("bad path"))?
        };
        let template = (!cfg.http2).then(|| {
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            RequestTemplate::new(&spec.method, pq, &headers, &spec.body)
        });
        let slots = if cfg.http2 {
            cfg.h2_connections.max(1)
        } else {
            0
        };
        Ok(Client {
            addr,
            method: spec.method.clone(),
            uri,
            headers,
            body: spec.body.clone(),
            template,
            h2_slots: (0..slots).map(|_| tokio::sync::Mutex::new(None)).collect(),
            cfg,
        })
    }

    /// The resolved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// HTTP/1.1: the preformatted request each worker copies.
    pub fn template(&self) -> Option<&RequestTemplate> {
        self.template.as_ref()
    }

    fn build(&self, traceparent: HeaderValue) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req.headers_mut().insert(TRACEPARENT.clone(), traceparent);
        req
    }

    async fn connect(&self) -> Result<TcpStream, ErrorKind> {
        let sock = if self.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| classify::connect_io(&e))?;
        match tokio::time::timeout(self.cfg.connect_timeout, sock.connect(self.addr)).await {
            Err(_) => Err(ErrorKind::ConnectTimeout),
            Ok(Err(e)) => Err(classify::connect_io(&e)),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
        }
    }
}

enum Conn {
    H1(TcpStream),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// A worker's HTTP/1.1 state, kept across connections.
struct H1 {
    template: RequestTemplate,
    exchange: Exchange,
}

/// A kept-alive HTTP/1.1 connection is fit for a request when nothing arrived on it while
/// idle. An EOF, an error or unsolicited bytes (a `408` sent before a close) mean the server
/// is done with it: the request goes on a new connection instead of being blamed for the
/// old one's end, and stale bytes are never read as its response. Costs no extra `recv`:
/// the one that finds the socket empty here is the one the exchange's first read would
/// have made before waiting.
fn idle_and_open(stream: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(stream.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// One worker's connection state.
pub struct Session {
    client: Arc<Client>,
    conn: Option<Conn>,
    h1: Option<H1>,
    slot: usize,
    /// The request-timeout timer: re-armed only when it fires, not per request, so the
    /// hot path does no timer-wheel insertions (deadlines only grow within a worker).
    timer: Pin<Box<tokio::time::Sleep>>,
}

/// Await `fut` until `deadline`, using `timer` (whose deadline is at most `deadline`).
async fn with_deadline<F: Future>(
    fut: F,
    timer: &mut Pin<Box<tokio::time::Sleep>>,
    deadline: tokio::time::Instant,
) -> Option<F::Output> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            r = &mut fut => return Some(r),
            _ = timer.as_mut() => {
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

async fn read_body(resp: hyper::Response<hyper::body::Incoming>) -> Result<u16, hyper::Error> {
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

impl Session {
    /// A session for worker `index`.
    pub fn new(client: Arc<Client>, index: usize) -> Self {
        let slot = if client.h2_slots.is_empty() {
            0
        } else {
            index % client.h2_slots.len()
        };
        let first = tokio::time::Instant::now() + client.cfg.request_timeout;
        let h1 = client.template.clone().map(|template| H1 {
            template,
            exchange: Exchange::new(),
        });
        Session {
            client,
            conn: None,
            h1,
            slot,
            timer: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    async fn h2_sender(&self) -> Result<http2::SendRequest<Full<Bytes>>, ErrorKind> {
        let mut slot = self.client.h2_slots[self.slot].lock().await;
        if let Some(s) = slot.as_ref()
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        let stream = self.client.connect().await?;
        let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| classify::request_error(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        *slot = Some(sender.clone());
        Ok(sender)
    }

    /// Open the connection now (HTTP/1.1 keep-alive, or the shared HTTP/2 one) rather
    /// than at the first request.
    pub async fn open(&mut self) -> Result<(), ErrorKind> {
        self.ensure().await
    }

    async fn ensure(&mut self) -> Result<(), ErrorKind> {
        let alive = match &self.conn {
            Some(Conn::H1(_)) => true,
            Some(Conn::H2(s)) => !s.is_closed(),
            None => false,
        };
        if alive {
            return Ok(());
        }
        self.conn = None;
        if self.client.cfg.http2 {
            self.conn = Some(Conn::H2(self.h2_sender().await?));
        } else {
            self.conn = Some(Conn::H1(self.client.connect().await?));
        }
        Ok(())
    }

    /// Send one request with this trace context in its `traceparent` and read the whole
    /// response. The request timeout runs from `sent` (the caller's clock reading: the
    /// hot path reads the clock once less), or from the end of the connect if this request
    /// had to connect.
    ///
    /// Cancel-safe: the connection is out of the session while the exchange runs and goes
    /// back only after a complete response that leaves it reusable, so a dropped future
    /// never leaves half a response for the next request to read.
    pub async fn request(&mut self, tc: &TraceContext, sent: std::time::Instant) -> Outcome {
        if let Some(Conn::H1(stream)) = &self.conn
            && !idle_and_open(stream)
        {
            self.conn = None;
        }
        let connected = self.conn.is_some();
        if let Err(kind) = self.ensure().await {
            return Outcome::err(kind);
        }
        let start = if connected {
            tokio::time::Instant::from_std(sent)
        } else {
            tokio::time::Instant::now()
        };
        let deadline = start + self.client.cfg.request_timeout;
        let timer = &mut self.timer;
        let reuse = !self.client.cfg.new_connection;
        // Some(Ok(status)), the connection put back when it can carry the next request.
        let result = match (self.conn.take(), self.h1.as_mut()) {
            (Some(Conn::H1(mut stream)), Some(H1 { template, exchange })) => {
                let head = template.is_head();
                let request = template.with_trace(tc);
                let r =
                    with_deadline(exchange.run(&mut stream, request, head), timer, deadline).await;
                if reuse && matches!(&r, Some(Ok(resp)) if resp.keep_alive) {
                    self.conn = Some(Conn::H1(stream));
                }
                r.map(|r| {
                    r.map(|resp| resp.status)
                        .map_err(|e| classify::exchange_error(&e))
                })
            }
            (Some(Conn::H2(mut sender)), _) => {
                let req = self.client.build(tc.header());
                let exchange = async {
                    sender.ready().await?;
                    read_body(sender.send_request(req).await?).await
                };
                let r = with_deadline(exchange, timer, deadline).await;
                if reuse && matches!(r, Some(Ok(_))) {
                    self.conn = Some(Conn::H2(sender));
                }
                r.map(|r| r.map_err(|e| classify::request_error(&e)))
            }
            _ => return Outcome::err(ErrorKind::Other),
        };
        match result {
            // The connection was mid-exchange and is gone with it.
            None => Outcome::err(ErrorKind::RequestTimeout),
            Some(Err(kind)) => Outcome::err(kind),
            Some(Ok(status)) => Outcome {
                status,
                error: ErrorKind::None,
            },
        }
    }

    /// Close the connection (a parked worker keeps no socket open).
    pub fn close(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framing_header_is_refused_with_the_reason() {
        let headers = ["Transfer-Encoding: chunked".to_string()];
        let e = RequestSpec::new("http://127.0.0.1:1/", "POST", &headers, Bytes::from("x"))
            .expect_err("refused");
        let msg = e.to_string();
        assert!(matches!(e, TargetError::Framing(_)), "{msg}");
        assert!(
            msg.contains("Transfer-Encoding: chunked") && msg.contains("--body"),
            "{msg}"
        );
        let ok = ["x-api-key: 1".to_string()];
        assert!(RequestSpec::new("http://127.0.0.1:1/", "GET", &ok, Bytes::new()).is_ok());
    }
}
