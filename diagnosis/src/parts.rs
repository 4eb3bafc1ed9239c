//! One joined request's latency split into its parts, in ns.
//!
//! The request's timeline is origin `o` (the intended send in open loop, else the client
//! span's start) ≤ client send `a` ≤ server span start `b` ≤ server span end `c` ≤ client
//! end `e`. Each point is clamped into place (`a` into `[o, e]`, `b` into `[a, e]`, `c`
//! into `[b, e]`), so the parts `a−o` (late), `b−a` (before the handler), `c−b` (the
//! handler), `e−c` (after it) are never negative and add up exactly to `e − o`, the latency
//! `requests.bin` records. A clamp means the two clocks disagree (or a span is malformed);
//! it is counted with its size.
//!
//! `stalled` follows each event's reach ([`Stalls`]). An event that stops the whole process
//! (a stop-the-world pause freezes the runtime's threads, so a request waiting to be read or
//! a response waiting to be written is frozen too) stalls the request wherever it is: its
//! overlap with the time before and after the handler moves from those parts to `stalled`.
//! Inside the handler, the server's own pool-wait figure comes first (capped at the
//! handler's time); `stalled` there is the handler's overlap with the union of every
//! event (a pool recycle or a CPU burst reaches the handlers, not the kernel's queues),
//! capped at what the pool wait left: a pause during the pool wait counts as pool wait,
//! since the server measured that time as waiting. The rest is `handler`.

use crate::intervals::Intervals;
use satlab_record::SpanTiming;

/// Index of each part in [`RequestParts::parts`] (the order of
/// [`crate::time_model::Parts::NAMES`]).
pub const LATE: usize = 0;
/// Before the handler.
pub const BEFORE_HANDLER: usize = 1;
/// Waiting for a pool permit.
pub const POOL_WAIT: usize = 2;
/// Overlapped by a server event.
pub const STALLED: usize = 3;
/// The handler's own work.
pub const HANDLER: usize = 4;
/// The response's way back.
pub const AFTER_HANDLER: usize = 5;

/// One joined request's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestParts {
    /// The client span's load step.
    pub step: u32,
    /// The latency's origin (intended or actual send), Unix ns.
    pub origin_ns: u64,
    /// Client end − origin, ns.
    pub latency_ns: u64,
    /// The parts, ns, in [`crate::time_model::Parts::NAMES`] order; they add up to
    /// `latency_ns`.
    pub parts: [u64; 6],
    /// The largest amount clamped off one point of the timeline, ns (0: none).
    pub clamped_ns: u64,
}

/// `x` clamped into `[lo, hi]` (`lo ≤ hi`), and how far it was moved.
fn clamp(x: u64, lo: u64, hi: u64) -> (u64, u64) {
    let v = x.clamp(lo, hi);
    (v, v.abs_diff(x))
}

/// The server events' intervals, by reach.
#[derive(Debug, Clone, Default)]
pub struct Stalls {
    /// Events that stop the whole process (stop-the-world pauses).
    pub process: Intervals,
    /// Every event (they all reach the handlers).
    pub all: Intervals,
}

/// Split a joined request.
pub fn split(client: &SpanTiming, server: &SpanTiming, stalls: &Stalls) -> RequestParts {
    let o = client.intended_unix_ns.unwrap_or(client.start_unix_ns);
    let (e, d_e) = clamp(client.end_unix_ns, o, u64::MAX);
    let (a, d_a) = clamp(client.start_unix_ns, o, e);
    let (b, d_b) = clamp(server.start_unix_ns, a, e);
    let (c, d_c) = clamp(server.end_unix_ns, b, e);
    let in_handler = c - b;
    let wanted_pool = server.pool_wait_ns.unwrap_or(0);
    let pool = wanted_pool.min(in_handler);
    let inside = stalls.all.covered(b, c).min(in_handler - pool);
    let before = stalls.process.covered(a, b);
    let after = stalls.process.covered(c, e);
    RequestParts {
        step: client.step.unwrap_or(0),
        origin_ns: o,
        latency_ns: e - o,
        parts: [
            a - o,
            b - a - before,
            pool,
            before + inside + after,
            in_handler - pool - inside,
            e - c - after,
        ],
        clamped_ns: d_e.max(d_a).max(d_b).max(d_c).max(wanted_pool - pool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_record::SpanKind;

    fn span(kind: SpanKind, start: u64, end: u64) -> SpanTiming {
        SpanTiming {
            trace_id: 1,
            span_id: 2,
            parent_span_id: None,
            kind,
            service: "x".into(),
            start_unix_ns: start,
            end_unix_ns: end,
            error: false,
            status: None,
            step: Some(3),
            intended_unix_ns: None,
            pool_wait_ns: None,
        }
    }

    #[test]
    fn closed_loop_parts_add_up() {
        let c = span(SpanKind::Client, 1_000, 2_000);
        let mut s = span(SpanKind::Server, 1_100, 1_900);
        s.pool_wait_ns = Some(300);
        let r = split(&c, &s, &Stalls::default());
        assert_eq!(r.parts, [0, 100, 300, 0, 500, 100]);
        assert_eq!(r.latency_ns, 1_000);
        assert_eq!(r.clamped_ns, 0);
        assert_eq!(r.step, 3);
    }

    #[test]
    fn open_loop_lateness_is_its_own_part() {
        let mut c = span(SpanKind::Client, 1_000, 2_000);
        c.intended_unix_ns = Some(400);
        let s = span(SpanKind::Server, 1_100, 1_900);
        let r = split(&c, &s, &Stalls::default());
        assert_eq!(r.parts, [600, 100, 0, 0, 800, 100]);
        assert_eq!(r.latency_ns, 1_600);
        assert_eq!(r.origin_ns, 400);
    }

    #[test]
    fn stalls_overlap_the_handler_after_the_pool_wait() {
        let c = span(SpanKind::Client, 0, 1_000);
        let mut s = span(SpanKind::Server, 100, 900);
        s.pool_wait_ns = Some(200);
        // Two overlapping events inside the span (count once: 300..650) and one in the
        // time before the handler, which reaches only the handlers (not the kernel's queues).
        let partial = Intervals::union([(300, 500), (450, 650), (0, 50)]);
        let stalls = Stalls {
            process: Intervals::default(),
            all: partial,
        };
        let r = split(&c, &s, &stalls);
        assert_eq!(r.parts, [0, 100, 200, 350, 250, 100]);
        // A stall longer than what the pool wait left is capped.
        s.pool_wait_ns = Some(700);
        let stalls = Stalls {
            process: Intervals::default(),
            all: Intervals::union([(100, 900)]),
        };
        let r = split(&c, &s, &stalls);
        assert_eq!(r.parts, [0, 100, 700, 100, 0, 100]);
    }

    #[test]
    fn a_process_wide_pause_stalls_the_request_wherever_it_is() {
        // Client 0..1000, server 100..900; a stop-the-world pause 50..150 and another
        // 850..950: 50 ns before the handler, 50 + 50 inside it, 50 after.
        let c = span(SpanKind::Client, 0, 1_000);
        let s = span(SpanKind::Server, 100, 900);
        let pauses = Intervals::union([(50, 150), (850, 950)]);
        let stalls = Stalls {
            process: pauses.clone(),
            all: pauses,
        };
        let r = split(&c, &s, &stalls);
        assert_eq!(r.parts, [0, 50, 0, 200, 700, 50]);
        assert_eq!(r.parts.iter().sum::<u64>(), r.latency_ns);
    }

    #[test]
    fn negative_parts_are_clamped_and_counted() {
        // The server span starts 50 ns before the client sent: clocks disagree.
        let c = span(SpanKind::Client, 1_000, 2_000);
        let s = span(SpanKind::Server, 950, 1_900);
        let r = split(&c, &s, &Stalls::default());
        assert_eq!(r.parts, [0, 0, 0, 0, 900, 100]);
        assert_eq!(r.parts.iter().sum::<u64>(), r.latency_ns);
        assert_eq!(r.clamped_ns, 50);
        // A server span ending after the client: clipped to the client's end.
        let s = span(SpanKind::Server, 1_100, 2_300);
        let r = split(&c, &s, &Stalls::default());
        assert_eq!(r.parts, [0, 100, 0, 0, 900, 0]);
        assert_eq!(r.clamped_ns, 300);
        // A pool wait longer than the span.
        let mut s = span(SpanKind::Server, 1_100, 1_200);
        s.pool_wait_ns = Some(150);
        let r = split(&c, &s, &Stalls::default());
        assert_eq!(r.parts, [0, 100, 100, 0, 0, 800]);
        assert_eq!(r.clamped_ns, 50);
    }
}
