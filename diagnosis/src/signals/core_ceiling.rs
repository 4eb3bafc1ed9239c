//! A core ceiling: a process whose CPU stays flat at a whole number of cores below its
//! capacity while requests queue is CPU-saturated all the same — one event loop, one
//! worker thread, a global lock. Its `cpu_util` (cores ÷ capacity) reads 50% on 2 cores
//! and escapes the [`CPU_SATURATED`](super::levels::CPU_SATURATED) mark.

use super::signal::{Ctx, Finding, Position, Signal, ev};
use crate::model::{ProcessCpu, StepRow};

/// Which process a signal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The load generator.
    Client,
    /// The target service.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// The side's process figures at a step.
    pub fn process(self, row: &StepRow) -> Option<&ProcessCpu> {
        match self {
            Side::Client => row.client_process.as_ref(),
            Side::Server => row.server_process.as_ref(),
        }
    }

    /// The side's mean cores at the previous load level.
    fn prev_cores(self, ctx: &Ctx) -> Option<f64> {
        match self {
            Side::Client => ctx.prev_client_cores,
            Side::Server => ctx.prev_server_cores,
        }
    }
}

/// The process's CPU is flat near k whole cores, k below its capacity, while requests
/// queue, in one of two shapes: (a) k threads each at ≥ [`CoreCeiling::HOT_THREAD`] of a
/// core (an event loop, k workers); (b) one core spread over many threads, none near a
/// whole core, pinned there across load steps (a global lock such as Python's GIL).
/// Without per-thread samples it does not fire: a process held at one core by other
/// processes on its CPUs looks the same from outside. Cores are read in delivered cores
/// ([`StepRow::delivered_core`]): on a VM whose hypervisor steals a share of the time, a
/// thread that never yields reads only the rest.
#[derive(Debug, Clone, Copy)]
pub struct CoreCeiling {
    /// Whose CPU.
    pub side: Side,
    /// Requests queue on this side: in the server, or in the client (its workers do not
    /// wait on the server, its sends are late).
    pub queued: bool,
}

impl CoreCeiling {
    /// How far (in cores) a step's mean may sit from a whole number and still be "at" it:
    /// a thread that runs all the time reads 0.9–1.0 cores over a step (preemption, tick
    /// resolution) and the process's lighter threads add a little on top.
    pub const TOLERANCE: f64 = 0.15;
    /// The ceiling must leave at least this many cores of the capacity unused: below half a
    /// core of headroom the process is simply at its capacity, which the CPU signals read.
    pub const MIN_HEADROOM: f64 = 0.5;
    /// A thread at or above this share of a core is saturated: 1 s samples of a thread that
    /// never yields read 95–100%.
    pub const HOT_THREAD: f64 = 0.9;
    /// The global-lock shape: no thread above this share of a core. Under a lock the work
    /// moves between threads, so each reads a fraction; a thread near 60% or more is a hot
    /// thread with helpers, shape (a) in the making.
    pub const GIL_THREAD_MAX: f64 = 0.6;
    /// The global-lock shape: at least this many busy threads share the one core.
    pub const GIL_MIN_THREADS: u32 = 3;
    /// Below this share of a core delivered (steal above half the time) the machine cannot
    /// show a ceiling.
    pub const MIN_DELIVERED: f64 = 0.5;
    /// Steal from which the evidence says how much of a core a CPU delivered.
    pub const STEAL_SHOWN: f64 = 0.02;

    fn signal_name(self) -> &'static str {
        match self.side {
            Side::Client => "client_core_ceiling",
            Side::Server => "server_core_ceiling",
        }
    }
}

impl Signal for CoreCeiling {
    fn name(&self) -> &'static str {
        self.signal_name()
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        if !self.queued || !matches!(ctx.position, Position::Saturated | Position::Single) {
            return None;
        }
        let p = self.side.process(row)?;
        if !(p.cores.is_finite() && p.capacity.is_finite()) {
            return None;
        }
        // Under steal a CPU delivers only part of a core: a thread that never yields reads
        // that part, so the figures are read in delivered cores.
        let core = row.delivered_core();
        if core < Self::MIN_DELIVERED {
            return None;
        }
        let cores = p.cores / core;
        let k = cores.round();
        if k < 1.0 || p.capacity - k < Self::MIN_HEADROOM || (cores - k).abs() > Self::TOLERANCE {
            return None;
        }
        let pinned = self
            .side
            .prev_cores(ctx)
            .is_some_and(|c| (c / core - k).abs() <= Self::TOLERANCE);
        let hot: Vec<_> = p
            .threads
            .iter()
            .filter(|t| t.cores / core >= Self::HOT_THREAD)
            .collect();
        let max_thread = p.threads.iter().map(|t| t.cores / core).fold(0.0, f64::max);
        let whole = format!("{}-core ceiling", k as u32);
        let mut process = format!("process {:.1} of {:.1} cores", p.cores, p.capacity);
        if let Some(steal) = row.steal.filter(|&s| s >= Self::STEAL_SHOWN) {
            process.push_str(&format!(
                "; the hypervisor took {:.0}% of the CPUs' time, so a core delivered {core:.2}",
                steal * 100.0
            ));
        }
        let (text, conf) = if hot.len() >= k as usize {
            let pcts: Vec<String> = hot
                .iter()
                .map(|t| format!("{:.0}%", t.cores * 100.0))
                .collect();
            let names: Vec<&str> = hot.iter().map(|t| t.name.as_str()).collect();
            (
                format!(
                    "{} at a {whole}: {} thread{} at {}: {}; {process}",
                    self.side.name(),
                    hot.len(),
                    if hot.len() == 1 { "" } else { "s" },
                    pcts.join(", "),
                    names.join(", ")
                ),
                0.8,
            )
        } else if k == 1.0
            && !p.threads.is_empty()
            && max_thread < Self::GIL_THREAD_MAX
            && p.busy_threads >= Self::GIL_MIN_THREADS
            && pinned
        {
            (
                format!(
                    "{} at a {whole} spread over {} threads, none above {:.0}%, pinned there as load grew: a global lock lets one thread run at a time; {process}",
                    self.side.name(),
                    p.busy_threads,
                    max_thread * 100.0
                ),
                0.7,
            )
        } else {
            return None;
        };
        let conf = if ctx.position == Position::Single {
            conf - 0.1
        } else {
            conf
        };
        Some(Finding::new(
            vec![ev(self.signal_name(), p.cores, k, "~", text)],
            conf,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::{process, row};

    fn server(queued: bool) -> CoreCeiling {
        CoreCeiling {
            side: Side::Server,
            queued,
        }
    }

    #[test]
    fn one_hot_thread_on_two_cores() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_process = Some(process(
            1.02,
            2.0,
            &[("tokio-runtime-w", 0.98), ("otel-exporter", 0.03)],
        ));
        let f = server(true).check(&r, &ctx).unwrap();
        assert_eq!(
            f.evidence[0].text,
            "server at a 1-core ceiling: 1 thread at 98%: tokio-runtime-w; process 1.0 of 2.0 cores"
        );
        assert_eq!(f.evidence[0].signal, "server_core_ceiling");
        assert_eq!(f.confidence, 0.8);
        // Not while requests do not queue, nor below the knee.
        assert!(server(false).check(&r, &ctx).is_none());
        assert!(
            server(true)
                .check(&r, &Ctx::at(Position::Scaling))
                .is_none()
        );
        // The client side reads the client's process.
        let client = CoreCeiling {
            side: Side::Client,
            queued: true,
        };
        assert!(client.check(&r, &ctx).is_none());
    }

    #[test]
    fn under_steal_a_core_is_what_a_cpu_delivered() {
        // The CI-run shape: one worker that never yields reads 0.72 of a core while the
        // hypervisor took 28% of the time.
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_process = Some(process(
            0.74,
            2.0,
            &[("tokio-runtime-w", 0.71), ("otel-exporter", 0.03)],
        ));
        assert!(server(true).check(&r, &ctx).is_none(), "without steal");
        r.steal = Some(0.28);
        let f = server(true).check(&r, &ctx).unwrap();
        assert_eq!(
            f.evidence[0].text,
            "server at a 1-core ceiling: 1 thread at 71%: tokio-runtime-w; process 0.7 of 2.0 cores; the hypervisor took 28% of the CPUs' time, so a core delivered 0.72"
        );
        // Steal does not make a half-busy thread hot.
        r.server_process = Some(process(0.45, 2.0, &[("tokio-runtime-w", 0.42)]));
        assert!(server(true).check(&r, &ctx).is_none());
        // Above half the time stolen the machine shows no ceiling.
        r.steal = Some(0.6);
        r.server_process = Some(process(0.4, 2.0, &[("tokio-runtime-w", 0.4)]));
        assert!(server(true).check(&r, &ctx).is_none());
    }

    #[test]
    fn k_hot_threads_and_the_capacity_limit() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_process = Some(process(2.05, 4.0, &[("worker", 0.99), ("worker", 0.97)]));
        let f = server(true).check(&r, &ctx).unwrap();
        assert!(
            f.evidence[0]
                .text
                .starts_with("server at a 2-core ceiling: 2 threads at 99%, 97%")
        );
        // At its capacity the process is simply saturated: the CPU signals say so.
        r.server_process = Some(process(1.95, 2.0, &[("worker", 0.99), ("worker", 0.97)]));
        assert!(server(true).check(&r, &ctx).is_none());
        // Half a core off the integer: no ceiling.
        r.server_process = Some(process(1.5, 4.0, &[("worker", 0.99)]));
        assert!(server(true).check(&r, &ctx).is_none());
        // One core busy, but no thread near a whole core and no history: nothing named.
        r.server_process = Some(process(1.0, 2.0, &[("w", 0.5), ("w", 0.5)]));
        assert!(server(true).check(&r, &ctx).is_none());
    }

    #[test]
    fn the_global_lock_shape_needs_to_stay_pinned() {
        let mut ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_process = Some(process(
            1.03,
            2.0,
            &[
                ("python3", 0.31),
                ("python3", 0.27),
                ("python3", 0.24),
                ("python3", 0.21),
            ],
        ));
        assert!(server(true).check(&r, &ctx).is_none());
        ctx.prev_server_cores = Some(0.98);
        let f = server(true).check(&r, &ctx).unwrap();
        assert!(
            f.evidence[0]
                .text
                .contains("spread over 4 threads, none above 31%"),
            "{}",
            f.evidence[0].text
        );
        assert_eq!(f.confidence, 0.7);
        // Still growing from half a core: not pinned.
        ctx.prev_server_cores = Some(0.6);
        assert!(server(true).check(&r, &ctx).is_none());
        // Without thread samples, being pinned says nothing: crowding looks the same.
        ctx.prev_server_cores = Some(1.0);
        r.server_process = Some(process(1.0, 2.0, &[]));
        assert!(server(true).check(&r, &ctx).is_none());
    }
}
