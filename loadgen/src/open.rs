//! Open loop: requests are due at a fixed arrival rate per step, whatever the server does.
//! Latency counts from the intended send time (wrk2's correction for coordinated
//! omission). A dispatcher hands each due send to an idle worker (each worker owns its
//! connection); with none idle and `max_in_flight` reached, the send is dropped and
//! counted (k6's dropped iterations); a send starting more than [`LATE_US`] after its
//! intended time is counted late.

use crate::exec::{Ctx, Worker};
use crate::plan::Placement;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

/// A send that starts more than this after its intended time counts as late, µs. Tokio's
/// timer ticks in 1 ms steps, so lateness below that is the timer's, not the client's.
pub const LATE_US: u64 = 2_000;

const IDLE: u64 = u64::MAX;

struct Slot {
    job: AtomicU64,
    exit: AtomicBool,
    notify: Notify,
}

/// Run the dispatcher of an open-loop plan until the schedule ends or `ctx.stop` fires.
/// Workers are spawned into `set` as needed, up to `max_in_flight`.
pub async fn dispatch(ctx: Arc<Ctx>, max_in_flight: usize, set: &mut JoinSet<()>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<usize>();
    let mut slots: Vec<Arc<Slot>> = Vec::new();
    let mut idle: Vec<usize> = Vec::new();
    let mut burst = 0u32;
    'steps: for (index, step) in ctx.schedule.steps.clone().into_iter().enumerate() {
        let Some(rate) = step.rate else { continue };
        let mut k = 0u64;
        loop {
            let intended_us = step.start_us + (k as f64 * 1e6 / rate) as u64;
            if intended_us >= step.end_us {
                break;
            }
            k += 1;
            let due = ctx.start + Duration::from_micros(intended_us);
            if Instant::now() < due {
                burst = 0;
                tokio::select! {
                    _ = ctx.stop.cancelled() => break 'steps,
                    _ = tokio::time::sleep_until(due.into()) => {}
                }
            } else {
                burst += 1;
                if burst.is_multiple_of(256) {
                    tokio::task::yield_now().await;
                    if ctx.stop.is_cancelled() {
                        break 'steps;
                    }
                }
            }
            while let Ok(i) = done_rx.try_recv() {
                idle.push(i);
            }
            let worker = match idle.pop() {
                Some(i) => Some(i),
                None if slots.len() < max_in_flight => {
                    let index = slots.len();
                    let slot = Arc::new(Slot {
                        job: AtomicU64::new(IDLE),
                        exit: AtomicBool::new(false),
                        notify: Notify::new(),
                    });
                    slots.push(slot.clone());
                    let ctx = ctx.clone();
                    let tx = done_tx.clone();
                    set.spawn(async move { worker(ctx, index, slot, tx).await });
                    Some(index)
                }
                None => None,
            };
            match worker {
                Some(i) => {
                    slots[i].job.store(intended_us, Ordering::Release);
                    slots[i].notify.notify_one();
                }
                None => ctx.recorder.count_dropped(Placement {
                    step: index,
                    measured: intended_us >= step.measure_start_us,
                }),
            }
        }
    }
    for s in &slots {
        // A busy worker exits after its request (and any job still handed to it).
        s.exit.store(true, Ordering::Release);
        s.notify.notify_one();
    }
}

async fn worker(ctx: Arc<Ctx>, index: usize, slot: Arc<Slot>, done: mpsc::UnboundedSender<usize>) {
    let mut w = Worker::new(&ctx, index);
    let shard = ctx.recorder.shard(index);
    loop {
        slot.notify.notified().await;
        let job = slot.job.swap(IDLE, Ordering::AcqRel);
        if job != IDLE {
            let intended = ctx.start + Duration::from_micros(job);
            let late = ctx.now_us() > job + LATE_US;
            w.exchange(&ctx, shard, Some(intended), late).await;
            // The dispatcher may be gone at the end of the run: nothing to report then.
            let _ = done.send(index);
        }
        if slot.exit.load(Ordering::Acquire) && slot.job.load(Ordering::Acquire) == IDLE {
            break;
        }
    }
}
