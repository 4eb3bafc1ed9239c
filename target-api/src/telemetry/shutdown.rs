//! Shutdown: flush and stop every exporter in parallel, within a deadline, so a dead or
//! hung collector never holds up the exit.

use super::handle::Telemetry;
use std::time::{Duration, Instant};

impl Telemetry {
    /// Flush and stop every exporter, waiting at most `limit` (a dead collector must not
    /// hold up the exit). Blocks: call it from a blocking thread, never from an async task.
    /// Returns whether everything finished in time.
    pub fn shutdown(&self, limit: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut jobs: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
        if let Some(q) = self.span_queue.clone() {
            jobs.push(Box::new(move || {
                q.shutdown(limit);
            }));
        }
        if let Some(p) = self.logger_provider.clone() {
            jobs.push(Box::new(move || drop(p.shutdown_with_timeout(limit))));
        }
        if let Some(p) = self.meter_provider.clone() {
            jobs.push(Box::new(move || drop(p.shutdown_with_timeout(limit))));
        }
        let n = jobs.len();
        for job in jobs {
            let tx = tx.clone();
            // A thread per signal: they flush in parallel, and one stuck on a hung
            // collector is abandoned at the deadline instead of blocking the others.
            let spawned = std::thread::Builder::new()
                .name("otel-shutdown".into())
                .spawn(move || {
                    job();
                    let _ = tx.send(());
                });
            if spawned.is_err() {
                return false;
            }
        }
        let deadline = Instant::now() + limit;
        let mut done = 0;
        while done < n {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(()) => done += 1,
                Err(_) => break,
            }
        }
        let (spans, logs) = self.dropped();
        if spans + logs > 0 {
            tracing::warn!(
                spans,
                logs,
                "telemetry items not exported (queue full or collector unreachable)"
            );
        }
        if done < n {
            tracing::warn!(?limit, "telemetry flush did not finish in time; giving up");
        }
        done == n
    }
}
