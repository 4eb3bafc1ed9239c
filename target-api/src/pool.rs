//! The downstream pool: K permits ("connections"), each held for the pool hold time, and
//! recycled every N uses (every permit taken back and held for the reconnect cost).

use crate::events::EventHub;
use crate::live::Live;
use opentelemetry::trace::SpanContext;
use satlab_record::EventKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A pool of K permits.
#[derive(Debug)]
pub struct Pool {
    permits: Semaphore,
    size: u32,
    uses: AtomicU64,
}

/// What one pool use measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Time spent waiting for a permit (including any recycle it waited for or ran).
    pub wait: Duration,
    /// 1-based use index.
    pub index: u64,
}

impl Pool {
    /// A pool of `size` permits (0 = no pool).
    pub fn new(size: u32) -> Self {
        Pool {
            permits: Semaphore::new(size as usize),
            size,
            uses: AtomicU64::new(0),
        }
    }

    /// Pool size K.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Use the pool once: on every `recycle_every`th use first recycle it, then wait for a
    /// permit and hold it for `hold`. `after_await` runs after every await (the STW safepoint).
    pub async fn use_once(
        &self,
        live: &Live,
        hold: Duration,
        hub: &EventHub,
        cx: Option<&SpanContext>,
        after_await: impl Fn(),
    ) -> PoolUse {
        let index = self.uses.fetch_add(1, Ordering::AcqRel) + 1;
        let t0 = Instant::now();
        let every = live.recycle_every();
        if every > 0 && index.is_multiple_of(every) && self.size > 0 {
            // The semaphore is fair: taking every permit also blocks later arrivals.
            if let Ok(all) = self.permits.acquire_many(self.size).await {
                after_await();
                let r0 = Instant::now();
                tokio::time::sleep(live.recycle_cost()).await;
                let took = r0.elapsed();
                drop(all);
                let start_ns = satlab_record::unix_ns_of(r0);
                hub.record(EventKind::PoolRecycle, start_ns, took, Some(index), cx);
            }
        }
        let permit = self.permits.acquire().await;
        after_await();
        let wait = t0.elapsed();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
            after_await();
        }
        drop(permit);
        PoolUse { wait, index }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::telemetry::Telemetry;
    use std::sync::Arc;

    #[tokio::test]
    async fn recycles_on_every_nth_use_exactly() {
        let mut s = Settings::default();
        s.events.recycle_every = 3;
        s.events.recycle_cost = Duration::from_millis(20);
        let live = Live::new(&s);
        let hub = EventHub::new(Arc::new(Telemetry::disabled()));
        let pool = Pool::new(2);
        let mut waits = Vec::new();
        for _ in 0..7 {
            waits.push(
                pool.use_once(&live, Duration::ZERO, &hub, None, || {})
                    .await,
            );
        }
        let ev = hub.recent(10);
        assert_eq!(
            ev.iter().map(|e| e.request_index).collect::<Vec<_>>(),
            vec![Some(3), Some(6)]
        );
        assert!(ev.iter().all(|e| e.duration_ns >= 20_000_000));
        assert!(waits[2].wait >= Duration::from_millis(20));
        assert!(waits[3].wait < Duration::from_millis(20));
    }
}
