//! SIGINT and SIGTERM to the observer during a run, each an [`Ending`].

use super::ending::Ending;
use crate::error::LabError;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The run's handlers for SIGINT and SIGTERM (installed for its whole length).
#[derive(Debug)]
pub struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    /// Install both handlers (inside the runtime).
    pub fn install() -> Result<Self, LabError> {
        let int = signal(SignalKind::interrupt())
            .map_err(|e| LabError::Env(format!("cannot handle SIGINT: {e}")))?;
        let term = signal(SignalKind::terminate())
            .map_err(|e| LabError::Env(format!("cannot handle SIGTERM: {e}")))?;
        Ok(Signals { int, term })
    }

    /// Wait for either signal; the ending it means. Cancel-safe.
    pub async fn recv(&mut self) -> Ending {
        tokio::select! {
            _ = self.int.recv() => Ending::Signal("SIGINT"),
            _ = self.term.recv() => Ending::Signal("SIGTERM"),
        }
    }
}
