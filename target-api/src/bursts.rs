//! The periodic CPU burst: a cron job or log rotation inside the process, competing for
//! its CPUs on a fixed time grid.

use crate::events::EventHub;
use crate::live::Live;
use satlab_common::cpu_work::{SPIN_CHUNK, spin_rounds};
use satlab_record::EventKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run the periodic CPU burst until `stop` fires: every `burst_every` (read live, so the
/// admin API can change it), spin a blocking-pool thread for `burst_duration`, like a cron
/// job or log rotation inside the process competing for its CPUs. A burst running when
/// `stop` fires ends there and is recorded as it ran, so a run's last burst has its event.
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
        let stopped = stop.clone();
        let spun = tokio::task::spawn_blocking(move || {
            let t0 = Instant::now();
            let mut x = 1u64;
            while t0.elapsed() < d && !*stopped.borrow() {
                x ^= spin_rounds(SPIN_CHUNK, || {});
            }
            std::hint::black_box(x);
            (t0, t0.elapsed())
        })
        .await;
        if let Ok((t0, took)) = spun {
            let start_ns = satlab_record::unix_ns_of(t0);
            hub.record(EventKind::CpuBurst, start_ns, took, None, None);
        }
        let now = tokio::time::Instant::now();
        if next < now {
            next = now + every;
        }
    }
}
