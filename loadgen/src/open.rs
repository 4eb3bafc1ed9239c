//! Open loop: requests are due at a fixed arrival rate per step, whatever the server does.
//! Latency counts from the intended send time (wrk2's correction for coordinated
//! omission). A dispatcher hands each due send to an idle worker (each worker owns its
//! connection); with none idle and `max_in_flight` reached, the send is dropped and
//! counted (k6's dropped iterations); a send starting more than [`LATE_US`] after its
//! intended time is counted late.
//!
//! The dispatcher sleeps on a [`Pacer`] (a `timerfd`), not on tokio's 1 ms timer, so
//! sends start within [`QUANTUM`] of their time.
//!
//! Workers for the first sends are made, and their connections opened, before the run's
//! zero ([`warm`]), as wrk2 opens its connections first: opening them on demand at the
//! start costs a connect per send just when sends are due fastest, and the backlog that
//! follows only opens more.

use crate::client::{Client, Session};
pub use crate::exec::LATE_US;
use crate::exec::{Ctx, Worker};
use crate::pace::Pacer;
use crate::plan::Placement;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

/// The warm workers cover this much of the plan's highest rate: the sends due during a
/// server's stall this long find an idle worker rather than a connect (which costs
/// several requests' CPU just when the client is behind). At 2 ms, runs at 50,000 req/s
/// still made 600–1,000 workers on demand, in the stalls, and 1.5–5% of the sends were
/// late or dropped; at 20 ms, 0.1–0.8% and none dropped.
const WARM_WINDOW_S: f64 = 0.020;

/// The dispatcher wakes at most once per quantum ([`Pacer`]'s timer is exact, and each
/// wake costs system calls and, on a VM, an idle vCPU's wake-up): a send may start up to
/// this late by design, a quarter of [`LATE_US`]; at 50,000 req/s a wake hands out 25
/// sends. At 100 µs the client spent ~0.8 of its core at 50,000 req/s, at 500 µs ~0.55.
const QUANTUM: Duration = Duration::from_micros(500);

/// A send this far past its due time finds the dispatcher behind schedule.
const BEHIND: Duration = Duration::from_millis(1);

/// Most workers opening their connection at once. With none idle and this many
/// connecting, a due send is dropped rather than a connect queued behind them (a server
/// that stops accepting would otherwise get a connect per due send).
const MAX_CONNECTING: usize = 256;

/// Fewest warm workers of an open-loop plan.
const MIN_WARM: usize = 8;

const IDLE: u64 = u64::MAX;

struct Slot {
    job: AtomicU64,
    exit: AtomicBool,
    notify: Notify,
}

impl Slot {
    fn new() -> Self {
        Slot {
            job: AtomicU64::new(IDLE),
            exit: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }
}

/// How many workers to make before an open-loop run starts: 20 ms of its highest rate, at
/// least [`MIN_WARM`], at most `max_in_flight` (1,000 connections at 50,000 req/s: a
/// server with a lower connection limit needs a lower `--max-in-flight`).
pub fn warm_count(peak_rate: f64, max_in_flight: usize) -> usize {
    ((peak_rate * WARM_WINDOW_S).ceil() as usize)
        .max(MIN_WARM)
        .min(max_in_flight)
}

/// Sessions for the first `n` workers, their keep-alive connections opened
/// [`MAX_CONNECTING`] at a time (a failed connect is left to the first request, which
/// reports it; each is bounded by the connect timeout).
pub async fn warm(client: &Arc<Client>, n: usize) -> Vec<Session> {
    use futures::StreamExt;
    let keep_alive = !client.config().new_connection;
    futures::stream::iter(0..n)
        .map(|i| async move {
            let mut s = Session::new(client.clone(), i);
            if keep_alive {
                let _ = s.open().await;
            }
            s
        })
        .buffered(MAX_CONNECTING)
        .collect()
        .await
}

/// Run the dispatcher of an open-loop plan until the schedule ends or `ctx.stop` fires;
/// returns its workers, still finishing their last requests. The `warm` sessions' workers
/// start idle; more are made as needed, up to `max_in_flight`.
///
/// Spawn it on the runtime, beside its workers: a hand-off is then a task's wake on the
/// same thread, not a wake of another thread.
pub async fn dispatch(ctx: Arc<Ctx>, max_in_flight: usize, warm: Vec<Session>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<usize>();
    let connecting = Arc::new(AtomicUsize::new(0));
    let mut turnaround = Turnaround::default();
    let mut slots: Vec<Arc<Slot>> = Vec::new();
    let mut idle: Vec<usize> = Vec::new();
    for session in warm.into_iter().take(max_in_flight) {
        let index = slots.len();
        let slot = Arc::new(Slot::new());
        slots.push(slot.clone());
        let (ctx, tx) = (ctx.clone(), done_tx.clone());
        set.spawn(async move { worker(ctx, index, Fresh::Warm(session), slot, tx).await });
        idle.push(index);
    }
    // The last made is handed the first send: it is the first to be idle.
    idle.reverse();
    // Tokio's 1 ms timer when no timerfd can be had.
    let pacer = Pacer::new().ok();
    let mut woke = Instant::now();
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
            let now = Instant::now();
            if now < due {
                burst = 0;
                // At most one wake per quantum: sends due within it leave together.
                let wake = due.max(woke + QUANTUM);
                let sleep = async {
                    match &pacer {
                        Some(p) if p.sleep_until(wake).await.is_ok() => {}
                        _ => tokio::time::sleep_until(wake.into()).await,
                    }
                };
                tokio::select! {
                    _ = ctx.stop.cancelled() => break 'steps,
                    _ = sleep => {}
                }
                woke = Instant::now();
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
                turnaround.done(i, now);
                idle.push(i);
            }
            if idle.is_empty()
                && now.saturating_duration_since(due) > BEHIND
                && let Some(wait) = turnaround.worth_waiting()
            {
                // Behind schedule with workers that come back quickly, the client is short
                // of CPU, not of connections: wait for one rather than make one (a connect
                // costs several requests' CPU, so a worker per overdue send deepens the
                // backlog that made it). Against a slow server no wait is worth it: a
                // worker is made, as it is on schedule.
                tokio::select! {
                    _ = ctx.stop.cancelled() => break 'steps,
                    r = tokio::time::timeout(wait, done_rx.recv()) => {
                        if let Ok(Some(i)) = r {
                            turnaround.done(i, Instant::now());
                            idle.push(i);
                        }
                    }
                }
            }
            let worker = match idle.pop() {
                Some(i) => Some(i),
                // A new worker opens its connection first; while MAX_CONNECTING are at
                // it, the send is dropped rather than a connect queued behind them.
                None if slots.len() < max_in_flight
                    && connecting.load(Ordering::Acquire) < MAX_CONNECTING =>
                {
                    let index = slots.len();
                    let slot = Arc::new(Slot::new());
                    slots.push(slot.clone());
                    connecting.fetch_add(1, Ordering::AcqRel);
                    let (ctx, tx, c) = (ctx.clone(), done_tx.clone(), connecting.clone());
                    set.spawn(
                        async move { worker(ctx, index, Fresh::Connecting(c), slot, tx).await },
                    );
                    Some(index)
                }
                None => None,
            };
            match worker {
                Some(i) => {
                    turnaround.handed(i, now);
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
    set
}

/// How long workers take from being handed a send to being idle again (the exchange,
/// plus the hand-offs), as a moving average.
#[derive(Default)]
struct Turnaround {
    /// When each worker was handed its current send.
    handed: Vec<Option<Instant>>,
    /// The moving average, µs; `None` until a first send came back.
    mean_us: Option<f64>,
}

impl Turnaround {
    fn handed(&mut self, worker: usize, at: Instant) {
        if self.handed.len() <= worker {
            self.handed.resize(worker + 1, None);
        }
        self.handed[worker] = Some(at);
    }

    fn done(&mut self, worker: usize, at: Instant) {
        let Some(Some(from)) = self.handed.get_mut(worker).map(Option::take) else {
            return;
        };
        let us = at.saturating_duration_since(from).as_micros() as f64;
        self.mean_us = Some(match self.mean_us {
            Some(m) => m + (us - m) / 16.0,
            None => us,
        });
    }

    /// How long to wait for a busy worker rather than make one: up to the late threshold
    /// when the average turnaround is under it, otherwise (or before any is known) not
    /// at all.
    fn worth_waiting(&self) -> Option<Duration> {
        (self.mean_us? < LATE_US as f64).then_some(Duration::from_micros(LATE_US))
    }
}

/// How a worker starts.
enum Fresh {
    /// On a session made (and connected) before the run.
    Warm(Session),
    /// Made during the run: it opens its connection, then leaves the count of those
    /// connecting.
    Connecting(Arc<AtomicUsize>),
}

async fn worker(
    ctx: Arc<Ctx>,
    index: usize,
    fresh: Fresh,
    slot: Arc<Slot>,
    done: mpsc::UnboundedSender<usize>,
) {
    let mut w = match fresh {
        Fresh::Warm(s) => Worker::with_session(&ctx, index, s),
        Fresh::Connecting(count) => {
            let mut w = Worker::new(&ctx, index);
            // A failed connect is left to the request, which reports it.
            if !ctx.client.config().new_connection {
                let _ = w.session.open().await;
            }
            count.fetch_sub(1, Ordering::AcqRel);
            w
        }
    };
    let shard = ctx.recorder.shard(index);
    loop {
        slot.notify.notified().await;
        let job = slot.job.swap(IDLE, Ordering::AcqRel);
        if job != IDLE {
            let intended = ctx.start + Duration::from_micros(job);
            w.exchange(&ctx, shard, Some(intended)).await;
            // The dispatcher may be gone at the end of the run: nothing to report then.
            let _ = done.send(index);
        }
        if slot.exit.load(Ordering::Acquire) && slot.job.load(Ordering::Acquire) == IDLE {
            break;
        }
    }
}
