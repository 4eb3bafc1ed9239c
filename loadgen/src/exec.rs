//! What every executor shares: the run context and the code that sends one request,
//! places it in its step (once, here) and hands it to the recorder.

use crate::client::{Client, Outcome, Session};
use crate::client_work::client_work;
use crate::otel::spans::{SpanRecord, SpanSink};
use crate::plan::{Placement, Schedule};
use crate::record::recorder::{Recorder, Shard};
use crate::trace::{TraceContext, TraceGen, os_seeded};
use satlab_record::RequestRecord;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// An open-loop send that starts more than this after its intended time counts as late,
/// µs. Tokio's timer ticks in 1 ms steps, so lateness below that is the timer's, not the
/// client's.
pub const LATE_US: u64 = 2_000;

/// Shared by all workers of a run.
pub struct Ctx {
    /// The HTTP client.
    pub client: Arc<Client>,
    /// Where finished requests are recorded.
    pub recorder: Arc<Recorder>,
    /// The run's zero.
    pub start: Instant,
    /// Wall-clock of `start`, Unix ns.
    pub started_unix_ns: u64,
    /// The steps.
    pub schedule: Schedule,
    /// Fires when no new request may start.
    pub stop: CancellationToken,
    /// CPU time of [`client_work`] per request.
    pub client_work: Duration,
    /// Trace sampling ratio.
    pub trace_sample: f64,
    /// Sampled client spans go here when OTLP export is on.
    pub spans: Option<SpanSink>,
}

impl Ctx {
    /// µs since the run start.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// µs from the run start to `t`.
    pub fn offset_us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// One worker's private state.
pub struct Worker {
    /// Its index.
    pub index: usize,
    /// Its connection.
    pub session: Session,
    /// Its trace-id generator.
    pub trace: TraceGen,
}

impl Worker {
    /// A worker with a fresh session and generator.
    pub fn new(ctx: &Ctx, index: usize) -> Self {
        Self::with_session(ctx, index, Session::new(ctx.client.clone(), index))
    }

    /// A worker on a session made (and perhaps connected) beforehand.
    pub fn with_session(ctx: &Ctx, index: usize, session: Session) -> Self {
        Worker {
            index,
            session,
            trace: TraceGen::new(os_seeded(index as u64), ctx.trace_sample),
        }
    }

    /// Do the client work, send one request and record it. Latency is measured from
    /// `intended` (open loop) or from the actual send (closed loop, `intended = None`).
    pub async fn exchange(&mut self, ctx: &Ctx, shard: &Shard, intended: Option<Instant>) {
        let begun = begin(ctx, shard, &mut self.trace, intended);
        let out = self.session.request(&begun.trace, begun.sent).await;
        finish(ctx, shard, &begun, out, Instant::now());
    }
}

/// A request about to be sent: its trace context, clock readings and step.
pub struct Begun {
    /// Its `traceparent`.
    pub trace: TraceContext,
    /// When it is sent.
    pub sent: Instant,
    /// When it was due (open loop), or `None`.
    pub intended: Option<Instant>,
    /// How late its send started after `intended`, µs, before the client work.
    pub lateness_us: Option<u64>,
    /// Its start, µs from the run's zero: `intended` or `sent`.
    pub start_us: u64,
    /// Its step.
    pub at: Placement,
}

/// Everything before a request's bytes go out, on any I/O driver: the client work, the
/// trace context, the step (found here, once) and the in-flight count. An open-loop
/// send's lateness (its start, before any client work, after its intended time: when a
/// k6 iteration starts) counts as late beyond [`LATE_US`].
pub fn begin(ctx: &Ctx, shard: &Shard, trace: &mut TraceGen, intended: Option<Instant>) -> Begun {
    let lateness_us = intended.map(|i| i.elapsed().as_micros() as u64);
    client_work(ctx.client_work);
    let tc = trace.next_context();
    let sent = Instant::now();
    let start_us = ctx.offset_us(intended.unwrap_or(sent));
    let at = ctx.schedule.place(start_us);
    if lateness_us.is_some_and(|us| us > LATE_US) {
        ctx.recorder.count_late(at);
    }
    shard.begin();
    Begun {
        trace: tc,
        sent,
        intended,
        lateness_us,
        start_us,
        at,
    }
}

/// Everything after a request's outcome is known at `end`: the in-flight count, the
/// recorder, and the client span when the request is sampled and spans are exported.
pub fn finish(ctx: &Ctx, shard: &Shard, begun: &Begun, out: Outcome, end: Instant) {
    shard.end();
    let from = begun.intended.unwrap_or(begun.sent);
    let latency_us = end.saturating_duration_since(from).as_micros() as u64;
    ctx.recorder.record(
        shard,
        RequestRecord {
            start_us: begun.start_us,
            latency_us: latency_us.min(u32::MAX as u64) as u32,
            status: out.status,
            error: out.error,
            step: begun.at.step.min(255) as u8,
        },
        begun.at,
        begun.lateness_us,
    );
    if begun.trace.sampled
        && let Some(sink) = &ctx.spans
    {
        let unix_ns = |t: Instant| ctx.started_unix_ns + ctx.offset_us(t) * 1000;
        sink.offer(SpanRecord {
            trace_id: begun.trace.trace_id,
            span_id: begun.trace.span_id,
            start_unix_ns: unix_ns(begun.sent),
            end_unix_ns: unix_ns(end),
            intended_unix_ns: begun.intended.map(unix_ns),
            status: out.status,
            error: out.error,
            step: begun.at.step as u32,
        });
    }
}
