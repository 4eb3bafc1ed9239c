//! Server events: the stop-the-world pause gate, admission (request counting and load
//! shedding), the periodic CPU burst, and the hub that records every occurrence (recent
//! ring for `GET /admin/events`, OTLP log record, histogram, span events).
//!
//! **Stop-the-world.** Request N (N = pause_every, 2N, ...) takes the write side of a
//! process-wide `std::sync::RwLock` and sleeps for the pause *on its runtime worker
//! thread*. Every request passes safepoints (on entry, between compute-loop chunks, after
//! every await, before answering): a safepoint reads an atomic flag and, only while a
//! pause is on, blocks *its worker thread* on the read side. So, like a real STW collector,
//! the pause freezes runtime workers, not just tasks: in-flight requests stall at their
//! next safepoint and new ones stall on entry, and none resumes before the pause ends.

use crate::live::Live;
use crate::telemetry::Telemetry;
use opentelemetry::Context;
use satlab_record::{EventKind, ServerEvent};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How many recent events `GET /admin/events` can return.
pub const RECENT_EVENTS: usize = 4096;

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
        let start_ns = satlab_record::now_unix_ns();
        let t0 = Instant::now();
        std::thread::sleep(d);
        let took = t0.elapsed();
        self.paused.store(false, Ordering::Release);
        drop(guard);
        (start_ns, took)
    }
}

/// Records server events and fans them out to telemetry.
#[derive(Debug)]
pub struct EventHub {
    ring: Mutex<VecDeque<ServerEvent>>,
    generation: AtomicU64,
    seqs: [AtomicU64; 3],
    telemetry: Arc<Telemetry>,
    service: String,
}

fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::GcPause => 0,
        EventKind::PoolRecycle => 1,
        EventKind::CpuBurst => 2,
    }
}

impl EventHub {
    /// A hub exporting through `telemetry`.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        EventHub {
            ring: Mutex::new(VecDeque::with_capacity(64)),
            generation: AtomicU64::new(0),
            seqs: Default::default(),
            service: telemetry.service_name().to_string(),
            telemetry,
        }
    }

    /// Bumped on every recorded event: requests compare it at start and end to learn cheaply
    /// whether any event may have affected them.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Record one occurrence; `cx` is the context of the request that triggered it, if any.
    pub fn record(
        &self,
        kind: EventKind,
        start_unix_ns: u64,
        duration: Duration,
        request_index: Option<u64>,
        cx: Option<&Context>,
    ) -> ServerEvent {
        let seq = self.seqs[kind_slot(kind)].fetch_add(1, Ordering::Relaxed) + 1;
        let event = ServerEvent {
            kind,
            seq,
            start_unix_ns,
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            request_index,
            service: self.service.clone(),
            attributes: BTreeMap::new(),
        };
        {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if ring.len() == RECENT_EVENTS {
                ring.pop_front();
            }
            ring.push_back(event.clone());
        }
        self.generation.fetch_add(1, Ordering::Release);
        self.telemetry.server_event(&event, cx);
        tracing::debug!(
            kind = kind.name(),
            seq,
            ?duration,
            ?request_index,
            "server event"
        );
        event
    }

    /// Events whose interval overlaps `[start_ns, end_ns]`.
    pub fn overlapping(&self, start_ns: u64, end_ns: u64) -> Vec<ServerEvent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .rev()
            .take_while(|e| {
                e.start_unix_ns.saturating_add(e.duration_ns)
                    >= start_ns.saturating_sub(10_000_000_000)
            })
            .filter(|e| e.start_unix_ns <= end_ns && e.start_unix_ns + e.duration_ns >= start_ns)
            .cloned()
            .collect()
    }

    /// The most recent events (oldest first), at most `limit`.
    pub fn recent(&self, limit: usize) -> Vec<ServerEvent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let skip = ring.len().saturating_sub(limit);
        ring.iter().skip(skip).cloned().collect()
    }
}

/// Admission control: counts admitted requests (the index count-driven events use) and
/// sheds above the in-flight bound.
#[derive(Debug, Default)]
pub struct Admission {
    in_flight: AtomicU64,
    admitted: AtomicU64,
}

/// A request that was admitted; dropping it leaves the in-flight count.
#[derive(Debug)]
pub struct Admitted<'a> {
    admission: &'a Admission,
    /// 1-based index among admitted requests.
    pub index: u64,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.admission.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// Admit a request, or refuse it with the shed status when `shed_above` requests are
    /// already in flight (0 = never shed).
    pub fn admit(&self, live: &Live) -> Result<Admitted<'_>, u16> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let bound = live.shed_above();
        if bound > 0 && before >= bound {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(live.shed_status());
        }
        let index = self.admitted.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(Admitted {
            admission: self,
            index,
        })
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Requests admitted so far.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Acquire)
    }
}

/// Run the periodic CPU burst until `stop` fires: every `burst_every` (read live, so the
/// admin API can change it), spin a blocking-pool thread for `burst_duration`, like a cron
/// job or log rotation inside the process competing for its CPUs.
pub async fn run_bursts(
    live: Arc<Live>,
    hub: Arc<EventHub>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // Bursts start on a fixed grid (every T from the start), not T after the previous
    // burst ended, so the period stays T whatever the burst length.
    let first = match live.burst_every() {
        d if d.is_zero() => Duration::from_millis(100),
        d => d,
    };
    let mut next = tokio::time::Instant::now() + first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
        let (every, d) = (live.burst_every(), live.burst_duration());
        if every.is_zero() || d.is_zero() {
            next = tokio::time::Instant::now() + Duration::from_millis(100);
            continue;
        }
        next += every;
        let start_ns = satlab_record::now_unix_ns();
        let spun = tokio::task::spawn_blocking(move || {
            let t0 = Instant::now();
            let mut x = 1u64;
            while t0.elapsed() < d {
                x ^= crate::profile::spin(crate::profile::SPIN_CHUNK, || {});
            }
            std::hint::black_box(x);
            t0.elapsed()
        })
        .await;
        if let Ok(took) = spun {
            hub.record(EventKind::CpuBurst, start_ns, took, None, None);
        }
        let now = tokio::time::Instant::now();
        if next < now {
            next = now + every;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn admission_sheds_above_the_bound_and_counts_admitted() {
        let mut s = Settings::default();
        s.events.shed_above = 2;
        let live = Live::new(&s);
        let adm = Admission::default();
        let a = adm.admit(&live).unwrap();
        let b = adm.admit(&live).unwrap();
        assert_eq!((a.index, b.index), (1, 2));
        assert_eq!(adm.admit(&live).unwrap_err(), 429);
        drop(a);
        assert_eq!(adm.admit(&live).unwrap().index, 3);
        assert_eq!(adm.in_flight(), 1);
    }

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

    #[test]
    fn hub_numbers_events_per_kind_and_finds_overlaps() {
        let hub = EventHub::new(Arc::new(Telemetry::disabled()));
        let ms = 1_000_000;
        let a = hub.record(
            EventKind::GcPause,
            100 * ms,
            Duration::from_millis(10),
            Some(5),
            None,
        );
        let b = hub.record(
            EventKind::GcPause,
            200 * ms,
            Duration::from_millis(10),
            Some(10),
            None,
        );
        let c = hub.record(
            EventKind::CpuBurst,
            300 * ms,
            Duration::from_millis(10),
            None,
            None,
        );
        assert_eq!((a.seq, b.seq, c.seq), (1, 2, 1));
        assert_eq!(hub.generation(), 3);
        let hit = hub.overlapping(205 * ms, 250 * ms);
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].request_index, Some(10));
        assert!(hub.overlapping(120 * ms, 190 * ms).is_empty());
        assert_eq!(hub.recent(2), vec![b, c]);
    }
}
