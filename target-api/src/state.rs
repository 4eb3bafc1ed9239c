//! The state shared by every request handler.

use crate::admission::Admission;
use crate::config::Config;
use crate::events::EventHub;
use crate::live::Live;
use crate::pause::PauseGate;
use crate::pool::Pool;
use crate::telemetry::Telemetry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// Fixed configuration.
    pub config: Config,
    /// Run-time settings.
    pub live: Arc<Live>,
    /// Stop-the-world gate.
    pub gate: PauseGate,
    /// Admission control and request counting.
    pub admission: Admission,
    /// The downstream pool.
    pub pool: Pool,
    /// Server events.
    pub hub: Arc<EventHub>,
    /// Telemetry.
    pub telemetry: Arc<Telemetry>,
    /// The bound address.
    pub local_addr: SocketAddr,
    ready: AtomicBool,
}

impl AppState {
    /// State for a server bound to `local_addr`.
    pub fn new(config: Config, telemetry: Arc<Telemetry>, local_addr: SocketAddr) -> Self {
        AppState {
            live: Arc::new(Live::new(&config.settings)),
            pool: Pool::new(config.pool_size),
            hub: Arc::new(EventHub::new(telemetry.clone())),
            gate: PauseGate::default(),
            admission: Admission::default(),
            telemetry,
            local_addr,
            config,
            ready: AtomicBool::new(true),
        }
    }

    /// Whether `/readyz` answers 200 (false while draining).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Mark the server as draining.
    pub fn set_draining(&self) {
        self.ready.store(false, Ordering::Release);
    }
}
