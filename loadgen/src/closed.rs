//! Closed loop: per step, N workers each send their next request when the previous one
//! ends. Workers beyond the current step's concurrency park (and close their connection)
//! until a later step needs them.

use crate::exec::{Ctx, Worker};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Spawn the workers of a closed-loop plan; they stop at the end of the schedule or when
/// `ctx.stop` fires.
pub fn spawn(ctx: &Arc<Ctx>, set: &mut JoinSet<()>) {
    for index in 0..workers(ctx) {
        let ctx = ctx.clone();
        set.spawn(async move { worker(ctx, index).await });
    }
}

/// How many workers the plan needs: its largest step's concurrency.
pub fn workers(ctx: &Ctx) -> usize {
    ctx.schedule
        .steps
        .iter()
        .filter_map(|s| s.concurrency)
        .max()
        .unwrap_or(0) as usize
}

async fn worker(ctx: Arc<Ctx>, index: usize) {
    let mut w = Worker::new(&ctx, index);
    let shard = ctx.recorder.shard(index);
    loop {
        if ctx.stop.is_cancelled() {
            break;
        }
        let Some(step) = ctx.schedule.step_at(ctx.now_us()) else {
            break;
        };
        let active = |s: &crate::plan::StepWindow| s.concurrency.unwrap_or(0) as usize > index;
        if !active(&ctx.schedule.steps[step]) {
            w.session.close();
            let Some(next) = ctx.schedule.steps[step + 1..].iter().find(|s| active(s)) else {
                break;
            };
            let at = ctx.start + std::time::Duration::from_micros(next.start_us);
            tokio::select! {
                _ = ctx.stop.cancelled() => break,
                _ = tokio::time::sleep_until(at.into()) => continue,
            }
        }
        w.exchange(&ctx, shard, None).await;
    }
}
