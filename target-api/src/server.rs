//! The listener and the server's life: bind with a chosen backlog (socket2), an accept loop
//! that can be slowed down and survives `EMFILE`, graceful shutdown with a bounded drain,
//! and [`ServerHandle`] to run a server on its own runtime (tests, embedding).

use crate::config::Config;
use crate::error::ServeError;
use crate::live::Live;
use crate::state::AppState;
use crate::telemetry::{Telemetry, TelemetryConfig};
use socket2::{Domain, Protocol, Socket, Type};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Bind `addr` with `listen(backlog)`, non-blocking, `SO_REUSEADDR`.
pub fn bind(addr: SocketAddr, backlog: u32) -> Result<std::net::TcpListener, ServeError> {
    let err = |source| ServeError::Listen { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket
        .listen(backlog.min(i32::MAX as u32) as i32)
        .map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    Ok(socket.into())
}

/// Longest wait at shutdown for a CPU burst in progress to stop and record its event.
const BURST_STOP_LIMIT: Duration = Duration::from_secs(1);

/// Longest wait for telemetry to flush at shutdown.
pub const SHUTDOWN_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Accept errors seen (e.g. `EMFILE` when the fd limit is reached).
pub static ACCEPT_ERRORS: AtomicU64 = AtomicU64::new(0);

/// A listener whose accept loop sleeps `accept_delay` (live) after each accept and backs
/// off on errors such as `EMFILE` instead of spinning.
pub struct SlowAcceptListener {
    inner: TcpListener,
    live: Arc<Live>,
}

impl axum::serve::Listener for SlowAcceptListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let delay = self.live.accept_delay();
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    return (stream, peer);
                }
                Err(e) => {
                    let n = ACCEPT_ERRORS.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() || n == 0 {
                        tracing::warn!(error = %e, count = n + 1, "accept failed");
                    }
                    // Connection-level errors (reset before accept) need no pause; resource
                    // exhaustion does, or the loop would spin.
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                    ) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// How the server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeReport {
    /// Requests admitted to the API handler.
    pub admitted: u64,
    /// Whether every in-flight request finished within the drain timeout.
    pub drained: bool,
}

/// Serve on `listener` until `shutdown` completes, then stop accepting, answer `/readyz`
/// with 503, and wait up to `drain_timeout` for in-flight requests. Must run on a
/// multi-thread runtime. Does not shut telemetry down (the caller owns it).
pub async fn serve(
    config: Config,
    telemetry: Arc<Telemetry>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<ServeReport, ServeError> {
    config.validate()?;
    let local = listener.local_addr().map_err(|source| ServeError::Io {
        context: "reading the listen address".into(),
        source,
    })?;
    let listener = TcpListener::from_std(listener).map_err(|source| ServeError::Io {
        context: "registering the listener".into(),
        source,
    })?;
    let drain_timeout = config.drain_timeout;
    let app = Arc::new(AppState::new(config, telemetry, local));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut bursts = tokio::spawn(crate::bursts::run_bursts(
        app.live.clone(),
        app.hub.clone(),
        stop_rx.clone(),
    ));
    let listener = SlowAcceptListener {
        inner: listener,
        live: app.live.clone(),
    };
    let mut graceful_rx = stop_rx.clone();
    let server = axum::serve(listener, crate::router::router(app.clone())).with_graceful_shutdown(
        async move {
            let _ = graceful_rx.wait_for(|s| *s).await;
        },
    );
    let mut server = std::pin::pin!(server.into_future());
    tracing::info!(listen = %local, "target-api listening");
    let drained = tokio::select! {
        r = &mut server => {
            r.map_err(|source| ServeError::Io { context: "serving".into(), source })?;
            true
        }
        _ = shutdown => {
            app.set_draining();
            let _ = stop_tx.send(true);
            tracing::info!(in_flight = app.admission.in_flight(), "shutting down: draining in-flight requests");
            match tokio::time::timeout(drain_timeout, &mut server).await {
                Ok(r) => {
                    r.map_err(|source| ServeError::Io { context: "serving".into(), source })?;
                    true
                }
                Err(_) => {
                    tracing::warn!(in_flight = app.admission.in_flight(), ?drain_timeout, "drain timed out");
                    false
                }
            }
        }
    };
    let _ = stop_tx.send(true);
    // A burst in progress stops at its next chunk and records its event; the bound only
    // guards against a blocking pool that cannot run it.
    if tokio::time::timeout(BURST_STOP_LIMIT, &mut bursts)
        .await
        .is_err()
    {
        bursts.abort();
    }
    Ok(ServeReport {
        admitted: app.admission.admitted(),
        drained,
    })
}

/// A server running on its own multi-thread runtime in a background thread.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<ServeReport, ServeError>>>,
}

impl ServerHandle {
    /// Bind and start serving `config` with `workers` runtime threads and telemetry per
    /// `telemetry` (built on the server's runtime). Returns once the socket is listening.
    pub fn start(
        config: Config,
        telemetry: TelemetryConfig,
        workers: usize,
    ) -> Result<ServerHandle, ServeError> {
        config.validate()?;
        let listener = bind(config.listen, config.backlog)?;
        let addr = listener.local_addr().map_err(|source| ServeError::Io {
            context: "reading the listen address".into(),
            source,
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .enable_all()
            .build()
            .map_err(|source| ServeError::Io {
                context: "starting the runtime".into(),
                source,
            })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("target-api".into())
            .spawn(move || {
                rt.block_on(async move {
                    let telemetry = Arc::new(Telemetry::init(&telemetry)?);
                    let report = serve(config, telemetry.clone(), listener, async move {
                        let _ = rx.await;
                    })
                    .await;
                    let _ = tokio::task::spawn_blocking(move || {
                        telemetry.shutdown(SHUTDOWN_FLUSH_LIMIT)
                    })
                    .await;
                    report
                })
            })
            .map_err(|source| ServeError::Io {
                context: "starting the server thread".into(),
                source,
            })?;
        Ok(ServerHandle {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shut down gracefully (drain, flush telemetry) and wait for the end.
    pub fn stop(mut self) -> Result<ServeReport, ServeError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<ServeReport, ServeError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(ServeError::Io {
                    context: "server thread".into(),
                    source: std::io::Error::other("panicked"),
                })
            }),
            None => Ok(ServeReport {
                admitted: 0,
                drained: true,
            }),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
