//! The run-time settings as atomics: the request path reads them without taking a lock;
//! the admin API stores a whole validated [`Settings`] at once.

use crate::config::{Events, Profile, Settings};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Lock-free view of the active [`Settings`].
#[derive(Debug, Default)]
pub struct Live {
    cpu_cost_ns: AtomicU64,
    cpu_iterations: AtomicU64,
    io_delay_ns: AtomicU64,
    pool_hold_ns: AtomicU64,
    pause_every: AtomicU64,
    pause_duration_ns: AtomicU64,
    recycle_every: AtomicU64,
    recycle_cost_ns: AtomicU64,
    burst_every_ns: AtomicU64,
    burst_duration_ns: AtomicU64,
    shed_above: AtomicU64,
    shed_status: AtomicU64,
    accept_delay_ns: AtomicU64,
    /// Serialises writers so the stored values always come from one [`Settings`].
    writer: Mutex<()>,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn dur(a: &AtomicU64) -> Duration {
    Duration::from_nanos(a.load(Relaxed))
}

impl Live {
    /// Live settings initialised from `s`.
    pub fn new(s: &Settings) -> Self {
        let live = Live::default();
        live.store(s);
        live
    }

    /// Replace every value (the caller validated `s`).
    pub fn store(&self, s: &Settings) {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let (p, e) = (&s.profile, &s.events);
        self.cpu_cost_ns.store(ns(p.cpu_cost), Relaxed);
        self.cpu_iterations.store(p.cpu_iterations, Relaxed);
        self.io_delay_ns.store(ns(p.io_delay), Relaxed);
        self.pool_hold_ns.store(ns(p.pool_hold), Relaxed);
        self.pause_every.store(e.pause_every, Relaxed);
        self.pause_duration_ns.store(ns(e.pause_duration), Relaxed);
        self.recycle_every.store(e.recycle_every, Relaxed);
        self.recycle_cost_ns.store(ns(e.recycle_cost), Relaxed);
        self.burst_every_ns.store(ns(e.burst_every), Relaxed);
        self.burst_duration_ns.store(ns(e.burst_duration), Relaxed);
        self.shed_above.store(e.shed_above, Relaxed);
        self.shed_status.store(u64::from(e.shed_status), Relaxed);
        self.accept_delay_ns.store(ns(e.accept_delay), Relaxed);
    }

    /// The current values as [`Settings`].
    pub fn snapshot(&self) -> Settings {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Settings {
            profile: Profile {
                cpu_cost: dur(&self.cpu_cost_ns),
                cpu_iterations: self.cpu_iterations.load(Relaxed),
                io_delay: dur(&self.io_delay_ns),
                pool_hold: dur(&self.pool_hold_ns),
            },
            events: Events {
                pause_every: self.pause_every.load(Relaxed),
                pause_duration: dur(&self.pause_duration_ns),
                recycle_every: self.recycle_every.load(Relaxed),
                recycle_cost: dur(&self.recycle_cost_ns),
                burst_every: dur(&self.burst_every_ns),
                burst_duration: dur(&self.burst_duration_ns),
                shed_above: self.shed_above.load(Relaxed),
                shed_status: self.shed_status.load(Relaxed) as u16,
                accept_delay: dur(&self.accept_delay_ns),
            },
        }
    }

    /// Default CPU cost per request.
    pub fn cpu_cost(&self) -> Duration {
        dur(&self.cpu_cost_ns)
    }
    /// Default compute-loop iterations per request (0 = use the cost).
    pub fn cpu_iterations(&self) -> u64 {
        self.cpu_iterations.load(Relaxed)
    }
    /// Default I/O delay.
    pub fn io_delay(&self) -> Duration {
        dur(&self.io_delay_ns)
    }
    /// Default pool hold time.
    pub fn pool_hold(&self) -> Duration {
        dur(&self.pool_hold_ns)
    }
    /// Pause period in requests (0 = off).
    pub fn pause_every(&self) -> u64 {
        self.pause_every.load(Relaxed)
    }
    /// Pause length.
    pub fn pause_duration(&self) -> Duration {
        dur(&self.pause_duration_ns)
    }
    /// Recycle period in pool uses (0 = off).
    pub fn recycle_every(&self) -> u64 {
        self.recycle_every.load(Relaxed)
    }
    /// Recycle cost.
    pub fn recycle_cost(&self) -> Duration {
        dur(&self.recycle_cost_ns)
    }
    /// Burst period (zero = off).
    pub fn burst_every(&self) -> Duration {
        dur(&self.burst_every_ns)
    }
    /// Burst length.
    pub fn burst_duration(&self) -> Duration {
        dur(&self.burst_duration_ns)
    }
    /// In-flight bound for shedding (0 = off).
    pub fn shed_above(&self) -> u64 {
        self.shed_above.load(Relaxed)
    }
    /// Status of shed requests (429 or 503).
    pub fn shed_status(&self) -> u16 {
        self.shed_status.load(Relaxed) as u16
    }
    /// Delay between accepts.
    pub fn accept_delay(&self) -> Duration {
        dur(&self.accept_delay_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_and_snapshot_round_trip() {
        let mut s = Settings::default();
        s.profile.io_delay = Duration::from_millis(5);
        s.events.pause_every = 7;
        s.events.pause_duration = Duration::from_millis(30);
        s.events.shed_status = 503;
        let live = Live::new(&Settings::default());
        live.store(&s);
        assert_eq!(live.snapshot(), s);
        assert_eq!(live.pause_every(), 7);
    }
}
