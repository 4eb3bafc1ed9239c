//! The stop-the-world pause gate.
//!
//! Request N (N = pause_every, 2N, ...) takes the write side of a process-wide
//! `std::sync::RwLock` and sleeps for the pause *on its runtime worker thread*. Every
//! request passes safepoints (on entry, between compute-loop chunks, after every await,
//! before answering): a safepoint reads an atomic flag and, only while a pause is on,
//! blocks *its worker thread* on the read side. So, like a real STW collector, the pause
//! freezes runtime workers, not just tasks: in-flight requests stall at their next
//! safepoint and new ones stall on entry, and none resumes before the pause ends.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The stop-the-world gate.
#[derive(Debug, Default)]
pub struct PauseGate {
    paused: AtomicBool,
    lock: RwLock<()>,
}

impl PauseGate {
    /// A safepoint: returns at once unless a pause is on, else blocks this thread until it ends.
    #[inline]
    pub fn safepoint(&self) {
        if self.paused.load(Ordering::Acquire) {
            drop(self.lock.read().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Stop the world for `d`, blocking the calling thread. Returns (start Unix ns, actual length).
    pub fn stop_the_world(&self, d: Duration) -> (u64, Duration) {
        let guard = self.lock.write().unwrap_or_else(|e| e.into_inner());
        self.paused.store(true, Ordering::Release);
        let t0 = Instant::now();
        std::thread::sleep(d);
        let took = t0.elapsed();
        self.paused.store(false, Ordering::Release);
        drop(guard);
        (satlab_record::unix_ns_of(t0), took)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn safepoint_blocks_while_the_world_is_stopped() {
        let gate = Arc::new(PauseGate::default());
        let g2 = gate.clone();
        let pauser = std::thread::spawn(move || g2.stop_the_world(Duration::from_millis(150)));
        while !gate.paused.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let t0 = Instant::now();
        gate.safepoint();
        let waited = t0.elapsed();
        let (_, took) = pauser.join().unwrap();
        assert!(took >= Duration::from_millis(150));
        assert!(
            waited >= Duration::from_millis(100),
            "waited only {waited:?}"
        );
    }
}
