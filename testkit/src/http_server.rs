//! A small in-process HTTP server (HTTP/1.1 and h2c) with scripted behaviour, for the
//! loadgen's tests, examples and benchmarks: a fixed delay, a fixed status (or another one every N
//! requests), or a stop-the-world pause every N requests (the GC analogue). Binds
//! loopback only.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How many `traceparent` headers the server keeps for inspection.
pub const KEEP_TRACEPARENTS: usize = 10_000;

/// What the server does with each request.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Wait this long before answering.
    pub delay: Duration,
    /// Answer with this status (default 200).
    pub status: Option<u16>,
    /// Every `pause_every`-th request starts a pause of `pause` during which no request
    /// is answered (all in-flight work stalls).
    pub pause_every: u64,
    /// Length of each pause.
    pub pause: Duration,
    /// Every `other_status_every`-th request is answered with `other_status` instead.
    pub other_status_every: u64,
    /// The status of those requests.
    pub other_status: u16,
}

struct State {
    b: Behaviour,
    count: AtomicU64,
    traceparents: std::sync::Mutex<Vec<String>>,
    start: Instant,
    paused_until_us: AtomicU64,
}

/// A running server; stops when dropped.
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    stop: CancellationToken,
    state: Arc<State>,
}

impl TestServer {
    /// Start on 127.0.0.1 with an ephemeral port.
    pub async fn start(b: Behaviour) -> std::io::Result<TestServer> {
        Self::bind("127.0.0.1:0".parse().expect("static address"), b).await
    }

    /// Start on `addr`.
    pub async fn bind(addr: SocketAddr, b: Behaviour) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let state = Arc::new(State {
            b,
            count: AtomicU64::new(0),
            traceparents: std::sync::Mutex::new(Vec::new()),
            start: Instant::now(),
            paused_until_us: AtomicU64::new(0),
        });
        let (s2, st2) = (stop.clone(), state.clone());
        tokio::spawn(async move { serve(listener, st2, s2).await });
        Ok(TestServer { addr, stop, state })
    }

    /// Requests answered or in progress so far.
    pub fn requests(&self) -> u64 {
        self.state.count.load(Ordering::Relaxed)
    }

    /// The `traceparent` headers of the first [`KEEP_TRACEPARENTS`] requests ("" if absent).
    pub fn traceparents(&self) -> Vec<String> {
        self.state
            .traceparents
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serve `listener` until `stop` fires.
async fn serve(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                // EMFILE and the like: back off briefly instead of spinning.
                Err(_) => { tokio::time::sleep(Duration::from_millis(5)).await; continue; }
            },
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, state.clone()));
            let conn = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .into_owned();
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    {
        let tp = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if let Ok(mut v) = state.traceparents.lock()
            && v.len() < KEEP_TRACEPARENTS
        {
            v.push(tp);
        }
    }
    let _ = req.into_body().collect().await;
    let n = state.count.fetch_add(1, Ordering::Relaxed) + 1;
    let b = &state.b;
    if b.pause_every > 0 && n.is_multiple_of(b.pause_every) {
        let until = state.start.elapsed() + b.pause;
        state
            .paused_until_us
            .fetch_max(until.as_micros() as u64, Ordering::Relaxed);
    }
    if !b.delay.is_zero() {
        tokio::time::sleep(b.delay).await;
    }
    loop {
        let until = Duration::from_micros(state.paused_until_us.load(Ordering::Relaxed));
        let now = state.start.elapsed();
        if now >= until {
            break;
        }
        tokio::time::sleep(until - now).await;
    }
    let mut resp = Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
    let status = if b.other_status_every > 0 && n.is_multiple_of(b.other_status_every) {
        Some(b.other_status)
    } else {
        b.status
    };
    if let Some(s) = status.and_then(|s| hyper::StatusCode::from_u16(s).ok()) {
        *resp.status_mut() = s;
    }
    Ok(resp)
}

/// A thread-per-connection HTTP/1.1 server whose delay is a precise `thread::sleep`
/// (no async timer rounding): the reference for latency-accuracy tests.
pub struct ThreadedServer {
    /// Its address.
    pub addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

/// Largest request head or body the threaded server reads.
const MAX_REQUEST_BYTES: usize = 1 << 20;

impl ThreadedServer {
    /// Start on 127.0.0.1 with an ephemeral port, answering 200 after `delay`.
    pub fn start(delay: Duration) -> std::io::Result<ThreadedServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s3 = s2.clone();
                        std::thread::spawn(move || {
                            let _ = serve_blocking(stream, delay, &s3);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(ThreadedServer { addr, stop })
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for ThreadedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_blocking(
    stream: std::net::TcpStream,
    delay: Duration,
    stop: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Read, Write};
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let mut content_length = 0usize;
        let mut head = 0usize;
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) => return Ok(()),
                Ok(n) => head += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            if head > MAX_REQUEST_BYTES {
                return Ok(());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0).min(MAX_REQUEST_BYTES);
            }
        }
        let mut body = vec![0u8; content_length];
        r.read_exact(&mut body)?;
        std::thread::sleep(delay);
        w.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        )?;
    }
    Ok(())
}
