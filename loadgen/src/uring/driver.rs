//! The loop of one io_uring thread: start the requests of its idle, active workers,
//! submit, wait for completions, hand ended requests to the recorder; park the workers a
//! step does not need; time out what overstays; drain at the end.

use super::ring;
use super::slot::{Phase, Slot};
use crate::exec::{self, Ctx};
use crate::trace::{TraceGen, os_seeded};
use io_uring::{IoUring, squeue};
use socket2::SockAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The longest wait in the kernel: how late a step's new workers may start, and how
/// soon the end of the run or an interrupt is seen.
const WAIT: Duration = Duration::from_millis(1);
/// How often the deadlines of requests in flight are checked.
const DEADLINE_SCAN: Duration = Duration::from_millis(10);
/// A kept-alive connection idle longer than this is checked before it is reused (one
/// `recv`); within it, a server closing it is a race no check can win anyway.
const IDLE_CHECK: Duration = Duration::from_millis(1);
/// After the drain, how long cancelled operations get to complete before the thread
/// leaves them to the kernel (and leaks their buffers rather than free them under it).
const CANCEL_WAIT: Duration = Duration::from_secs(1);

/// Spawn the closed loop's workers on `threads` io_uring threads (worker `i` on thread
/// `i % threads`); they stop at the end of the schedule or when `ctx.stop` fires, and
/// give requests in flight up to `drain` after that.
pub fn spawn(ctx: &Arc<Ctx>, set: &mut JoinSet<()>, threads: usize, drain: Duration) {
    let max = crate::closed::workers(ctx);
    let threads = threads.clamp(1, max.max(1));
    for t in 0..threads {
        let workers: Vec<usize> = (t..max).step_by(threads).collect();
        if workers.is_empty() {
            continue;
        }
        let ctx = ctx.clone();
        set.spawn_blocking(move || {
            if let Err(e) = Driver::new(ctx, workers, drain).and_then(Driver::run) {
                eprintln!("loadgen: an io_uring thread stopped early: {e}");
            }
        });
    }
}

struct Driver {
    ctx: Arc<Ctx>,
    ring: IoUring,
    slots: Vec<Slot>,
    addr: SockAddr,
    /// Workers to start or park.
    ready: Vec<usize>,
    /// The workers being started or parked this turn.
    starting: Vec<usize>,
    /// Workers whose request the last completions ended.
    done: Vec<usize>,
    /// Workers with a request in flight.
    busy: usize,
    entries: Vec<squeue::Entry>,
    drain: Duration,
}

impl Driver {
    fn new(ctx: Arc<Ctx>, workers: Vec<usize>, drain: Duration) -> std::io::Result<Self> {
        let template = ctx
            .client
            .template()
            .cloned()
            .ok_or_else(|| std::io::Error::other("io_uring drives HTTP/1.1 only"))?;
        let now = Instant::now();
        let slots = workers
            .iter()
            .map(|&i| {
                let trace = TraceGen::new(os_seeded(i as u64), ctx.trace_sample);
                Slot::new(i, template.clone(), trace, now)
            })
            .collect::<Vec<_>>();
        Ok(Driver {
            ring: ring::build(slots.len())?,
            addr: SockAddr::from(ctx.client.addr()),
            ready: Vec::with_capacity(slots.len()),
            starting: Vec::with_capacity(slots.len()),
            done: Vec::with_capacity(slots.len()),
            busy: 0,
            entries: Vec::with_capacity(8),
            slots,
            ctx,
            drain,
        })
    }

    fn run(mut self) -> std::io::Result<()> {
        let mut step = None;
        let mut stop_at: Option<Instant> = None;
        let mut cancelled_at: Option<Instant> = None;
        let mut next_scan = Instant::now() + DEADLINE_SCAN;
        loop {
            let now = Instant::now();
            let t_us = self.ctx.offset_us(now);
            let current = self.ctx.schedule.step_at(t_us);
            let stopping = self.ctx.stop.is_cancelled() || current.is_none();
            if stopping {
                stop_at.get_or_insert(now + self.drain);
            }
            if current != step {
                // A new step: every idle worker is started or parked again.
                step = current;
                for (i, s) in self.slots.iter_mut().enumerate() {
                    if s.phase == Phase::Idle && !s.queued {
                        s.queued = true;
                        self.ready.push(i);
                    }
                }
            }
            let concurrency = match current {
                Some(k) if !stopping => self.ctx.schedule.steps[k].concurrency.unwrap_or(0),
                _ => 0,
            } as usize;
            // Those ready now; a request that ends as it starts (no socket) queues its
            // worker again for the next turn, after the wait.
            std::mem::swap(&mut self.ready, &mut self.starting);
            for k in 0..self.starting.len() {
                let i = self.starting[k];
                self.slots[i].queued = false;
                if self.slots[i].index < concurrency {
                    self.start(i, now)?;
                } else {
                    // Parked (or done): a parked worker keeps no socket open.
                    self.slots[i].close();
                }
            }
            self.starting.clear();
            if stopping && self.busy == 0 {
                return Ok(());
            }
            if stop_at.is_some_and(|t| now >= t) && cancelled_at.is_none() {
                cancelled_at = Some(now);
                for i in 0..self.slots.len() {
                    self.slots[i].cancel(i, &mut self.entries);
                    self.flush()?;
                }
            }
            if cancelled_at.is_some_and(|t| now >= t + CANCEL_WAIT) {
                // What is still in flight is left to the kernel (see `Drop`).
                return Ok(());
            }
            if now >= next_scan {
                next_scan = now + DEADLINE_SCAN;
                for i in 0..self.slots.len() {
                    if self.slots[i].phase != Phase::Idle && now >= self.slots[i].deadline {
                        self.slots[i].cancel(i, &mut self.entries);
                        self.flush()?;
                    }
                }
            }
            ring::submit_and_wait(&self.ring, WAIT)?;
            self.complete()?;
        }
    }

    /// Begin worker `i`'s next request and queue its first operations.
    fn start(&mut self, i: usize, now: Instant) -> std::io::Result<()> {
        let ctx = &*self.ctx;
        let slot = &mut self.slots[i];
        if slot.fd().is_some() && now.duration_since(slot.idle_since) > IDLE_CHECK {
            slot.drop_if_closed_by_peer();
        }
        let shard = ctx.recorder.shard(slot.index);
        let begun = exec::begin(ctx, shard, &mut slot.trace, None);
        let cfg = ctx.client.config();
        let deadline = begun.sent
            + if slot.fd().is_some() {
                cfg.request_timeout
            } else {
                cfg.connect_timeout
            };
        self.busy += 1;
        if let Err(kind) = slot.start(i, begun, &self.addr, deadline, &mut self.entries) {
            slot.fail_start(kind);
            self.end(i, Instant::now());
            return Ok(());
        }
        self.flush()
    }

    /// Submit-queue what `self.entries` holds.
    fn flush(&mut self) -> std::io::Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        // SAFETY: the entries point into slots' request templates, read buffers and the
        // address, none of which moves or is freed while the slot has operations in
        // flight (`Slot::ops`); at exit with operations left the slots are leaked.
        let r = unsafe { ring::push(&mut self.ring, &self.entries) };
        self.entries.clear();
        r
    }

    /// Take every completion; record the requests they end.
    fn complete(&mut self) -> std::io::Result<()> {
        let request_timeout = self.ctx.client.config().request_timeout;
        for cqe in self.ring.completion() {
            let (i, op) = ring::untag(cqe.user_data());
            let (Some(op), Some(slot)) = (op, self.slots.get_mut(i)) else {
                continue;
            };
            let deadline = || Instant::now() + request_timeout;
            if slot.complete(i, op, cqe.result(), deadline, &mut self.entries) {
                self.done.push(i);
            }
        }
        self.flush()?;
        if !self.done.is_empty() {
            let now = Instant::now();
            let done = std::mem::take(&mut self.done);
            for &i in &done {
                self.end(i, now);
            }
            self.done = done;
            self.done.clear();
        }
        Ok(())
    }

    /// Worker `i`'s request ended: record it and queue the worker for its next one.
    fn end(&mut self, i: usize, now: Instant) {
        let slot = &mut self.slots[i];
        let (begun, out) = slot.outcome(now);
        let shard = self.ctx.recorder.shard(slot.index);
        exec::finish(&self.ctx, shard, &begun, out, now);
        self.busy -= 1;
        if !slot.queued {
            slot.queued = true;
            self.ready.push(i);
        }
    }
}

impl Drop for Driver {
    /// Slots the kernel may still write into (operations in flight at an early exit) are
    /// leaked rather than freed under it.
    fn drop(&mut self) {
        if self.slots.iter().any(|s| s.ops > 0) {
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}
