//! Combine the signals that fired at a step into its verdict, by precedence:
//!
//! 1. [`Shedding`] — server/shedding: refusing work is explicit wherever it appears.
//! 2. [`SocketTrouble`] — socket, while both sides have CPU headroom.
//! 3. [`NoSuccess`] — inconclusive, "no request succeeded": no throughput to judge.
//! 4. Below the knee: [`BelowPlateau`] — scaling. Without a plateau: [`StallBound`], then
//!    [`SharedMachine`], else scaling.
//! 5. [`SharedMachine`] — machine: client and server fill the machine's CPUs between them.
//! 6. [`ClientShort`] — client (its CPU saturated, or at a [`CoreCeiling`]).
//! 7. [`StallBound`] — server/stall: count-driven stalls hold most of the time.
//! 8. [`ServerCpu`] at capacity — server/cpu; then the server's [`CoreCeiling`] —
//!    server/core_ceiling; then (past the knee) [`ServerCpu`] busy or contended — server/cpu.
//! 9. [`BeforeHandler`] — socket: most of the traced requests' time passed before the
//!    handler (the way in: connection setup, the accept queue) while the server idles.
//! 10. [`PoolWait`] — server/pool_io (at a single step only on a dominant pool wait).
//! 11. Past the knee, requests queue but no server samples: server, bound unknown.
//! 12. The weak forms of [`ClientShort`] and [`SocketTrouble`], else inconclusive with the
//!     reason.
//!
//! Then [`Disturbed`] overlays: where other processes crowd the lab, the verdicts crowding
//! fakes become `disturbed` — inconclusive, a core ceiling (either side; not for steal
//! alone, which the ceiling reads in delivered cores), and pool/I/O when
//! the server's demand (cores used + run-queue wait) would have made it busy; any other
//! verdict stands with its confidence lowered.

use super::before_handler::BeforeHandler;
use super::client::ClientShort;
use super::context::step_contexts;
use super::core_ceiling::{CoreCeiling, Side};
use super::disturbed::Disturbed;
use super::levels::{CPU_BUSY, CPU_SATURATED};
use super::machine::SharedMachine;
use super::no_success::NoSuccess;
use super::pool_wait::PoolWait;
use super::queueing::Queueing;
use super::scaling::BelowPlateau;
use super::server_cpu::ServerCpu;
use super::shedding::Shedding;
use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use super::socket::SocketTrouble;
use super::stall_bound::StallBound;
use crate::model::{Evidence, ServerBound, StepRow, StepVerdict, VerdictKind};
use satlab_record::EventKind;

/// A step's classification.
#[derive(Debug, Clone)]
pub struct StepClass {
    /// Which side limits throughput at this step.
    pub kind: VerdictKind,
    /// For server verdicts: what bounds the server.
    pub bound: Option<ServerBound>,
    /// The figures that decided it.
    pub evidence: Vec<Evidence>,
    /// 0.05–0.99.
    pub confidence: f64,
    /// For a stall verdict: the event kind that stalls the server.
    pub stall_kind: Option<EventKind>,
    /// Other processes crowded the lab at this step ([`Disturbed`]).
    pub disturbance: Option<Finding>,
}

impl StepClass {
    fn new(kind: VerdictKind, bound: Option<ServerBound>, f: Finding) -> StepClass {
        StepClass {
            kind,
            bound,
            evidence: f.evidence,
            confidence: f.confidence.clamp(0.05, 0.99),
            stall_kind: None,
            disturbance: None,
        }
    }

    /// The step's verdict as the table shows it.
    pub fn verdict(&self) -> StepVerdict {
        let label = match (self.kind, self.bound) {
            (VerdictKind::Server, Some(b)) => format!("server/{}", b.name()),
            (k, _) => k.name().to_string(),
        };
        StepVerdict {
            kind: self.kind,
            server_bound: self.bound,
            label,
            disturbed: self.disturbance.is_some(),
        }
    }
}

/// Classify every step, each in its context ([`step_contexts`]).
pub fn classify_steps(
    rows: &[StepRow],
    knee: Option<usize>,
    order: &[usize],
    open: bool,
    syn_modes: bool,
) -> Vec<StepClass> {
    rows.iter()
        .zip(step_contexts(rows, knee, order, open, syn_modes))
        .map(|(r, ctx)| classify(r, &ctx))
        .collect()
}

/// Classify one step by the precedence in the module's note.
pub fn classify(row: &StepRow, ctx: &Ctx) -> StepClass {
    let mut class = decide(row, ctx);
    let disturbance = Disturbed {
        machine_fired: class.kind == VerdictKind::Machine,
    }
    .check(row, ctx);
    if let Some(d) = &disturbance {
        // A crowded server that would have been busy had it got the CPU it waited for
        // reads low and looks pool-bound: its demand (cores used + run-queue wait) says
        // otherwise.
        let starved_server = row.server_process.as_ref().is_some_and(|p| {
            p.capacity > 0.0 && (p.cores + p.run_queue_wait.unwrap_or(0.0)) / p.capacity >= CPU_BUSY
        });
        // Steal alone fakes no ceiling: ceilings are read in delivered cores.
        let crowded = !Disturbed::only_steal(d);
        let faked = (crowded
            && class.bound == Some(ServerBound::CoreCeiling)
            && ceiling_starved(Side::Server, row))
            || (class.bound == Some(ServerBound::PoolIo) && starved_server)
            || (crowded
                && class.kind == VerdictKind::Client
                && class
                    .evidence
                    .iter()
                    .any(|e| e.signal == "client_core_ceiling")
                && ceiling_starved(Side::Client, row)
                && !row.client_cpu.is_some_and(|c| c >= CPU_SATURATED))
            || (class.kind == VerdictKind::Inconclusive && NoSuccess.check(row, ctx).is_none());
        if faked {
            let mut evidence = d.evidence.clone();
            if class.kind == VerdictKind::Inconclusive {
                evidence.extend(class.evidence);
            }
            class = StepClass::new(
                VerdictKind::Disturbed,
                None,
                Finding::new(evidence, d.confidence),
            );
        } else {
            class.confidence = (class.confidence * Disturbed::CONFIDENCE_FACTOR).clamp(0.05, 0.99);
        }
    }
    class.disturbance = disturbance;
    class
}

/// Whether crowding can have made `side`'s core ceiling: its threads waited for a CPU at
/// least the ceiling's own [`CoreCeiling::TOLERANCE`] (thread-s/s), or the kernel gave no
/// run-queue figure. Threads that got nearly every moment they were ready to run sit at
/// their own ceiling, whatever else the machine ran.
fn ceiling_starved(side: Side, row: &StepRow) -> bool {
    side.process(row)
        .and_then(|p| p.run_queue_wait)
        .is_none_or(|w| w >= CoreCeiling::TOLERANCE)
}

fn decide(row: &StepRow, ctx: &Ctx) -> StepClass {
    use VerdictKind as K;
    if let Some(f) = Shedding.check(row, ctx) {
        return StepClass::new(K::Server, Some(ServerBound::Shedding), f);
    }
    let queued = Queueing::queued(row, ctx);
    let server_ceiling = CoreCeiling {
        side: Side::Server,
        queued,
    }
    .check(row, ctx);
    let client_ceiling = CoreCeiling {
        side: Side::Client,
        queued: ClientShort::waiting_in_client(row, ctx),
    }
    .check(row, ctx);
    let server_saturated = ServerCpu::saturated(row) || server_ceiling.is_some();
    let client = ClientShort {
        server_saturated,
        ceiling: client_ceiling,
    };
    let client_saturated = client.cpu_saturated(row);
    let socket = SocketTrouble {
        client_saturated,
        server_saturated,
    };
    if let Some(f) = socket.check(row, ctx) {
        return StepClass::new(K::Socket, None, f);
    }
    if let Some(f) = NoSuccess.check(row, ctx) {
        return StepClass::new(K::Inconclusive, None, f);
    }
    match ctx.position {
        Position::Scaling => {
            if let Some(f) = BelowPlateau.check(row, ctx) {
                return StepClass::new(K::Scaling, None, f);
            }
        }
        Position::NoPlateau => {
            if let Some(f) = StallBound.check(row, ctx) {
                return stall_class(row, f);
            }
            if let Some(f) = SharedMachine.check(row, ctx) {
                return StepClass::new(K::Machine, None, f);
            }
            if let Some(f) = BelowPlateau.check(row, ctx) {
                return StepClass::new(K::Scaling, None, f);
            }
        }
        Position::Saturated | Position::Single => {}
    }

    // From here on, in open loop the queueing figure leads every verdict's evidence.
    let lead: Vec<Evidence> = if ctx.open && queued {
        vec![Queueing::open_evidence(row, ctx)]
    } else {
        Vec::new()
    };
    let led = |kind, bound, f: Finding| {
        let mut evidence = lead.clone();
        evidence.extend(f.evidence);
        StepClass::new(kind, bound, Finding::new(evidence, f.confidence))
    };
    if let Some(f) = SharedMachine.check(row, ctx) {
        return led(K::Machine, None, f);
    }
    if let Some(f) = client.check(row, ctx) {
        return led(K::Client, None, f);
    }
    if let Some(f) = StallBound.check(row, ctx) {
        let mut c = stall_class(row, f);
        let mut evidence = lead.clone();
        evidence.append(&mut c.evidence);
        c.evidence = evidence;
        return c;
    }
    let server_cpu = ServerCpu {
        queued,
        client_saturated,
    };
    if ServerCpu::saturated(row)
        && let Some(f) = server_cpu.check(row, ctx)
    {
        return led(K::Server, Some(ServerBound::Cpu), f);
    }
    if let Some(f) = server_ceiling {
        return led(K::Server, Some(ServerBound::CoreCeiling), f);
    }
    let saturated = ctx.position == Position::Saturated;
    if saturated && let Some(f) = server_cpu.check(row, ctx) {
        return led(K::Server, Some(ServerBound::Cpu), f);
    }
    if let Some(f) = (BeforeHandler { queued }).check(row, ctx) {
        return led(K::Socket, None, f);
    }
    if let Some(f) = (PoolWait { queued }).check(row, ctx) {
        return led(K::Server, Some(ServerBound::PoolIo), f);
    }
    if saturated && queued && row.server_cpu.is_none() {
        let mut f = Finding::new(Vec::new(), 0.55);
        if !ctx.open {
            f.evidence.push(Queueing::neff_evidence(row, true));
        }
        return led(K::Server, None, f);
    }
    if let Some(f) = client.weak(row) {
        return led(K::Client, None, f);
    }
    if let Some(f) = SocketTrouble::weak(row, ctx) {
        return led(K::Socket, None, f);
    }
    led(K::Inconclusive, None, undecided(row, ctx))
}

fn stall_class(row: &StepRow, f: Finding) -> StepClass {
    let mut c = StepClass::new(VerdictKind::Server, Some(ServerBound::Stall), f);
    c.stall_kind = StallBound::candidate(row).map(|s| s.kind);
    c
}

/// Why no signal decided.
fn undecided(row: &StepRow, ctx: &Ctx) -> Finding {
    let ratio = row.load_ratio.unwrap_or(f64::NAN);
    if ctx.position != Position::Single {
        return Finding::new(
            vec![ev(
                "load_ratio",
                ratio,
                Queueing::NEFF_RATIO,
                "<",
                "throughput is flat but no side shows saturation".into(),
            )],
            0.3,
        );
    }
    let cpu = |u: Option<f64>| u.map(pct).unwrap_or_else(|| "unknown".into());
    let mut figures = vec![
        format!("server CPU {}", cpu(row.server_cpu)),
        format!("client CPU {}", cpu(row.client_cpu)),
    ];
    if let Some(s) = row
        .stalls
        .iter()
        .filter(|s| s.scope != crate::model::StallScope::HandlerCpu)
        .max_by(|a, b| a.share.total_cmp(&b.share))
    {
        figures.push(format!(
            "{} stalls {} of the time, below the {} at which they bound it",
            s.kind.name(),
            pct(s.share),
            pct(StallBound::DOMINANT_SHARE)
        ));
    }
    if row.pool_wait_mean_ms.is_none() {
        figures.push("no pool-wait figure".into());
    }
    Finding::new(
        vec![ev(
            "load_levels",
            1.0,
            2.0,
            "<",
            format!(
                "one load level: no plateau shows where throughput stops, and no signal that stands without one fired ({})",
                figures.join(", ")
            ),
        )],
        0.3,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StallScope, StepStall};
    use crate::signals::test_rows::{process, row};

    fn gc(share: f64, x: f64) -> StepStall {
        StepStall {
            kind: EventKind::GcPause,
            scope: StallScope::Everything,
            events: 100,
            per_s: 9.3,
            mean_ms: 40.0,
            share,
            count_driven: true,
            implied_cap_rps: Some(x / share),
        }
    }

    /// One step, server CPU low, N_eff/N = 1: no longer "pool_io at the only step".
    #[test]
    fn a_single_step_gets_no_verdict_by_default() {
        let mut r = row();
        r.server_cpu = Some(0.14);
        r.stalls = vec![gc(0.38, 9274.0)];
        let c = classify(&r, &Ctx::at(Position::Single));
        assert_eq!((c.kind, c.bound), (VerdictKind::Inconclusive, None));
        assert!(
            c.evidence[0]
                .text
                .contains("gc_pause stalls 38% of the time"),
            "{}",
            c.evidence[0].text
        );
        // The same step with pauses holding most of the time: the stall bound.
        r.stalls = vec![gc(0.62, 9274.0)];
        let c = classify(&r, &Ctx::at(Position::Single));
        assert_eq!(
            (c.kind, c.bound),
            (VerdictKind::Server, Some(ServerBound::Stall))
        );
        assert_eq!(c.stall_kind, Some(EventKind::GcPause));
    }

    /// Past the knee the stall bound outranks the pool reading its low CPU suggests.
    #[test]
    fn stalls_outrank_the_pool_past_the_knee() {
        let mut ctx = Ctx::at(Position::Saturated);
        ctx.plateau_rps = Some(1000.0);
        let mut r = row();
        r.server_cpu = Some(0.05);
        r.ok_rps = 1000.0;
        assert_eq!(classify(&r, &ctx).bound, Some(ServerBound::PoolIo));
        r.stalls = vec![gc(0.9, 1000.0)];
        assert_eq!(classify(&r, &ctx).bound, Some(ServerBound::Stall));
    }

    /// A hot thread makes the server CPU-saturated at 50% utilisation; crowding by other
    /// processes fakes that shape, so a disturbed step says so instead.
    #[test]
    fn a_core_ceiling_and_its_disturbed_twin() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_cpu = Some(0.5);
        r.server_process = Some(process(1.0, 2.0, &[("tokio-runtime-w", 0.98)]));
        let c = classify(&r, &ctx);
        assert_eq!(
            (c.kind, c.bound),
            (VerdictKind::Server, Some(ServerBound::CoreCeiling))
        );
        let mut p = process(1.0, 2.0, &[("tokio-runtime-w", 0.98)]);
        p.run_queue_wait = Some(1.1);
        r.server_process = Some(p);
        let c = classify(&r, &ctx);
        assert_eq!((c.kind, c.bound), (VerdictKind::Disturbed, None));
        assert_eq!(c.evidence[0].signal, "server_run_queue_wait");
    }

    /// Other processes fill the machine but the hot thread hardly waits for a CPU: the
    /// ceiling is its own and stands, with less confidence; once it waits, it is faked.
    #[test]
    fn a_core_ceiling_beside_a_busy_machine_stands_while_it_gets_its_cpu() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_cpu = Some(0.47);
        r.machine_cpus = Some(2);
        r.system_cpu = Some(1.0);
        r.other_cores = Some(0.95);
        let mut p = process(0.94, 2.0, &[("tokio-rt-worker", 0.93)]);
        p.run_queue_wait = Some(0.06);
        r.server_process = Some(p.clone());
        let c = classify(&r, &ctx);
        assert_eq!(
            (c.kind, c.bound),
            (VerdictKind::Server, Some(ServerBound::CoreCeiling))
        );
        assert!(c.disturbance.is_some());
        assert!(c.confidence < 0.8);
        p.run_queue_wait = Some(CoreCeiling::TOLERANCE);
        r.server_process = Some(p.clone());
        assert_eq!(classify(&r, &ctx).kind, VerdictKind::Disturbed);
        p.run_queue_wait = None;
        r.server_process = Some(p);
        assert_eq!(classify(&r, &ctx).kind, VerdictKind::Disturbed);
    }

    /// A disturbance leaves a pool verdict standing, with less confidence.
    #[test]
    fn a_disturbance_weakens_other_verdicts() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_cpu = Some(0.05);
        let clean = classify(&r, &ctx);
        let mut p = process(0.1, 2.0, &[]);
        p.run_queue_wait = Some(0.5);
        r.server_process = Some(p);
        let c = classify(&r, &ctx);
        assert_eq!(c.bound, Some(ServerBound::PoolIo));
        assert!((c.confidence - clean.confidence * Disturbed::CONFIDENCE_FACTOR).abs() < 1e-12);
        assert!(c.disturbance.is_some());
    }

    /// Zero throughput is never scaling.
    #[test]
    fn zero_throughput_is_not_growth() {
        let mut r = row();
        r.ok_rps = 0.0;
        let c = classify(&r, &Ctx::at(Position::NoPlateau));
        assert_eq!(c.kind, VerdictKind::Inconclusive);
        assert_eq!(c.evidence[0].signal, "ok_share");
    }
}
