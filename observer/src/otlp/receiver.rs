//! Starting and stopping the receiver: both listeners bound, served over one store and one
//! concurrency limit, and shut down together.

use super::config::ReceiverConfig;
use super::grpc;
use super::http;
use super::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Errors starting the receiver.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// A listening address could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}; pick another address or free the port")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Which listener.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// The gRPC listener's address.
    pub grpc_addr: SocketAddr,
    /// The HTTP listener's address.
    pub http_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
) -> Result<tokio::net::TcpListener, ReceiverError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ReceiverError::Bind { addr, what, source })
}

/// Start the gRPC and HTTP receivers (port 0 picks a free port; see the returned addresses).
pub async fn start(
    store: Arc<Store>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    cfg: ReceiverConfig,
) -> Result<Receiver, ReceiverError> {
    let grpc_l = bind(grpc_addr, "OTLP gRPC").await?;
    let http_l = bind(http_addr, "OTLP HTTP").await?;
    let grpc_addr = grpc_l.local_addr().unwrap_or(grpc_addr);
    let http_addr = http_l.local_addr().unwrap_or(http_addr);
    let cancel = CancellationToken::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(cfg.max_concurrent.max(1)));
    let g = tokio::spawn(grpc::serve(
        store.clone(),
        grpc_l,
        cfg,
        limit.clone(),
        cancel.clone(),
    ));
    let router = http::router(store, cfg, limit);
    let c = cancel.clone();
    let h = tokio::spawn(async move {
        let _ = axum::serve(http_l, router)
            .with_graceful_shutdown(async move { c.cancelled().await })
            .await;
    });
    Ok(Receiver {
        grpc_addr,
        http_addr,
        cancel,
        tasks: vec![g, h],
    })
}

impl Receiver {
    /// Stop listening and wait (bounded) for the servers to finish.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), t).await;
        }
    }
}
