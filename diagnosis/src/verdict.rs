//! Verdict rules: client, server (CPU, pool/I/O, shedding), socket or still scaling, per
//! step and for the run, each with the figures that decided it.

use crate::model::{Evidence, ServerBound, StepRow, StepVerdict, VerdictKind};

/// CPU utilisation (0–1 of capacity) at which a side counts as saturated: 1 s samples of a
/// fully busy process read 90–100% with sampling jitter and brief idle gaps; 85% leaves room.
pub const CPU_SATURATED: f64 = 0.85;
/// Below this a side clearly has CPU headroom (used to grade confidence).
pub const CPU_HEADROOM: f64 = 0.60;
/// A server whose requests queue decides CPU vs pool/I/O here: waiting on a pool or on I/O
/// costs almost no CPU (a pool-bound server reads a few percent), while a CPU-bound server
/// on a shared machine may read only 70–85% because other processes take the rest.
pub const CPU_BUSY: f64 = 0.60;
/// A server using at least this share of its CPU while the whole machine is saturated
/// (≥ [`CPU_SATURATED`]) is short of CPU: it competes with other processes for the cores it
/// may use. A pool-bound server stays far below it.
pub const CPU_CONTENDED: f64 = 0.30;
/// N_eff/N below this: workers spend over 30% of their time not waiting on the server, so
/// the client itself is the limit.
pub const CLIENT_NEFF_RATIO: f64 = 0.70;
/// N_eff/N at or above this: nearly every worker is waiting on the server, so requests queue
/// there (R ≈ N/X_max).
pub const SERVER_NEFF_RATIO: f64 = 0.85;
/// Open loop: achieved/offered rate below this means the system did not keep up.
pub const OPEN_KEEPUP_RATIO: f64 = 0.95;
/// Open loop: share of sends late or dropped at which the client is the bottleneck.
pub const OPEN_LATE_SHARE: f64 = 0.05;
/// Client scheduler lag p99 above this (ms): its timers fire late, it is starved of CPU.
pub const SCHED_LAG_HIGH_MS: f64 = 10.0;
/// Client scheduler lag p99 above this (ms) proves starvation on its own, whatever N_eff/N
/// says: a loaded shared machine delays timers by tens of ms, never by a tenth of a second.
pub const SCHED_LAG_STARVED_MS: f64 = 100.0;
/// Share of 429/503 responses that makes shedding material: 1% of requests refused is a
/// policy at work, not a stray error.
pub const SHED_SHARE: f64 = 0.01;
/// Share of connection-phase failures that makes a socket problem material (0.5%): healthy
/// loopback runs have none at all.
pub const SOCKET_ERROR_SHARE: f64 = 0.005;
/// Listen-queue overflows/drops or SYN retransmits in a step that count: a healthy server's
/// listen queue never overflows on loopback; a handful may come from unrelated traffic.
pub const KERNEL_DROPS_MIN: u64 = 5;
/// TIME_WAIT sockets as a share of the ephemeral port range: above 80% new connections
/// are about to fail with EADDRNOTAVAIL.
pub const TIME_WAIT_PORT_SHARE: f64 = 0.80;
/// Share of requests failing in the connection phase above which the socket verdict stands
/// even with the client's CPU at capacity: such failures return at once, so a closed loop
/// spins on them and the client's CPU is a consequence, not the cause.
pub const SOCKET_ERRORS_DOMINANT: f64 = 0.50;

/// Context a step is judged in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// Open loop: the load axis is the offered rate.
    pub open: bool,
    /// The step is at or past the plateau's knee.
    pub saturated: bool,
    /// Mean latency of the lowest-load step, ms (open-loop queueing signal).
    pub base_mean_ms: f64,
    /// Latency modes at SYN timeouts were found in the run.
    pub syn_modes: bool,
}

/// A step's classification.
#[derive(Debug, Clone)]
pub(crate) struct StepClass {
    pub kind: VerdictKind,
    pub bound: Option<ServerBound>,
    pub evidence: Vec<Evidence>,
    pub confidence: f64,
}

impl StepClass {
    pub fn verdict(&self) -> StepVerdict {
        let label = match (self.kind, self.bound) {
            (VerdictKind::Server, Some(b)) => format!("server/{}", b.name()),
            (k, _) => k.name().to_string(),
        };
        StepVerdict {
            kind: self.kind,
            server_bound: self.bound,
            label,
        }
    }
}

fn ev(signal: &str, value: f64, threshold: f64, cmp: &str, text: String) -> Evidence {
    Evidence {
        signal: signal.into(),
        value,
        threshold,
        comparison: cmp.into(),
        text,
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// Socket signals of a step (empty when none crossed its threshold).
fn socket_signals(row: &StepRow, ctx: &Ctx) -> Vec<Evidence> {
    let mut out = Vec::new();
    if row.socket_error_share >= SOCKET_ERROR_SHARE {
        let kinds: Vec<String> = row
            .errors
            .keys()
            .filter(|k| k.is_socket())
            .map(ToString::to_string)
            .collect();
        out.push(ev(
            "socket_error_share",
            row.socket_error_share,
            SOCKET_ERROR_SHARE,
            ">=",
            format!(
                "{} of requests failed in the connection phase ({})",
                pct(row.socket_error_share),
                kinds.join(", ")
            ),
        ));
    }
    let d = |k: &str| row.kernel.deltas.get(k).copied().unwrap_or(0);
    let listen = d("ListenOverflows") + d("ListenDrops");
    if listen >= KERNEL_DROPS_MIN {
        out.push(ev(
            "listen_drops",
            listen as f64,
            KERNEL_DROPS_MIN as f64,
            ">=",
            format!("{listen} listen-queue overflows/drops in the kernel (accept queue full)"),
        ));
    }
    let syn = d("TCPSynRetrans");
    if syn >= KERNEL_DROPS_MIN {
        out.push(ev(
            "syn_retransmits",
            syn as f64,
            KERNEL_DROPS_MIN as f64,
            ">=",
            format!("{syn} SYN retransmits: connects waited for a timeout"),
        ));
    }
    if let (Some(tw), Some(w)) = (row.kernel.tw_max, row.kernel.port_range_width) {
        let share = tw as f64 / w.max(1) as f64;
        if share >= TIME_WAIT_PORT_SHARE {
            out.push(ev(
                "time_wait_port_share",
                share,
                TIME_WAIT_PORT_SHARE,
                ">=",
                format!(
                    "{tw} sockets in TIME_WAIT: {} of the {w}-port ephemeral range",
                    pct(share)
                ),
            ));
        }
    }
    if ctx.syn_modes && ctx.saturated {
        out.push(ev(
            "syn_timeout_modes",
            1.0,
            1.0,
            ">=",
            "latencies cluster at the SYN retransmit timeouts (≈1 s / 3 s)".into(),
        ));
    }
    out
}

/// Classify one step.
pub(crate) fn classify(row: &StepRow, ctx: &Ctx) -> StepClass {
    let mut evidence = Vec::new();
    let cs = row.client_cpu.unwrap_or(0.0);
    let client_cpu_sat = row.client_cpu.is_some_and(|c| c >= CPU_SATURATED);
    let lag_high = row.sched_lag_p99_ms >= SCHED_LAG_HIGH_MS;
    let server_sat = row.server_cpu.is_some_and(|c| c >= CPU_SATURATED);
    let ratio = row.load_ratio.unwrap_or(f64::NAN);

    // Shedding is an explicit server signal wherever it appears.
    if row.shed_share >= SHED_SHARE {
        evidence.push(ev(
            "shed_share",
            row.shed_share,
            SHED_SHARE,
            ">=",
            format!(
                "{} of requests were refused with 429/503",
                pct(row.shed_share)
            ),
        ));
        let conf = if row.shed_share >= 0.10 { 0.9 } else { 0.75 };
        return class(
            VerdictKind::Server,
            Some(ServerBound::Shedding),
            evidence,
            conf,
        );
    }

    let sockets = socket_signals(row, ctx);
    let spinning_on_failures = client_cpu_sat && row.socket_error_share >= SOCKET_ERRORS_DOMINANT;
    let headroom = !server_sat && (!client_cpu_sat || spinning_on_failures);
    if !sockets.is_empty()
        && headroom
        && (ctx.saturated || row.socket_error_share >= SOCKET_ERROR_SHARE)
    {
        let n = sockets.len();
        evidence.extend(sockets);
        if spinning_on_failures {
            evidence.push(ev(
                "client_cpu",
                cs,
                CPU_SATURATED,
                ">=",
                format!(
                    "client CPU at {} spent on connections that fail at once ({} of requests)",
                    pct(cs),
                    pct(row.socket_error_share)
                ),
            ));
        } else {
            evidence.push(cpu_headroom_evidence(row));
        }
        let conf = (0.6 + 0.1 * (n as f64 - 1.0)).min(0.9)
            * if row.server_cpu.is_some() { 1.0 } else { 0.85 };
        return class(VerdictKind::Socket, None, evidence, conf);
    }

    if !ctx.saturated {
        evidence.push(ev(
            "load_ratio",
            ratio,
            SERVER_NEFF_RATIO,
            "~",
            "below the plateau: throughput still grows with load".into(),
        ));
        return class(VerdictKind::Scaling, None, evidence, 0.7);
    }

    // Queueing at the server and client starvation signals.
    let (queued, client_short) = if ctx.open {
        let lat_growth = if ctx.base_mean_ms > 0.0 {
            row.mean_ms / ctx.base_mean_ms
        } else {
            1.0
        };
        let q = ratio < OPEN_KEEPUP_RATIO || lat_growth >= 3.0;
        if q {
            evidence.push(ev(
                "achieved_over_offered",
                ratio,
                OPEN_KEEPUP_RATIO,
                "<",
                format!(
                    "achieved {:.0} of {:.0} req/s offered ({}); mean latency ×{lat_growth:.1} vs the lightest step",
                    row.rps,
                    row.load,
                    pct(ratio)
                ),
            ));
        }
        (q, row.late_share >= OPEN_LATE_SHARE)
    } else {
        // A client whose CPU is at capacity measures its own run queue as latency (a
        // response waits to be polled while other workers compute), so N_eff/N then
        // looks like server queueing. With the server clearly idle (below CPU_HEADROOM)
        // the client is short of CPU whatever N_eff/N says.
        let client_starved = (client_cpu_sat || row.sched_lag_p99_ms >= SCHED_LAG_STARVED_MS)
            && row.server_cpu.is_some_and(|s| s < CPU_HEADROOM);
        (
            ratio >= SERVER_NEFF_RATIO,
            ratio < CLIENT_NEFF_RATIO || client_starved,
        )
    };

    if client_short && (client_cpu_sat || lag_high) && !server_sat {
        if ctx.open {
            evidence.push(ev(
                "late_share",
                row.late_share,
                OPEN_LATE_SHARE,
                ">=",
                format!(
                    "{} of sends were late or dropped by the client",
                    pct(row.late_share)
                ),
            ));
        } else if ratio < CLIENT_NEFF_RATIO {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                CLIENT_NEFF_RATIO,
                "<",
                format!(
                    "N_eff/N = {ratio:.2}: only {:.1} of {:.0} workers are waiting on the server",
                    row.n_eff, row.load
                ),
            ));
        } else {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                CLIENT_NEFF_RATIO,
                ">=",
                format!(
                    "N_eff/N = {ratio:.2} is inflated by the client's own run queue: responses wait for a busy client CPU"
                ),
            ));
        }
        if client_cpu_sat {
            evidence.push(ev(
                "client_cpu",
                cs,
                CPU_SATURATED,
                ">=",
                format!("client CPU at {} of its capacity", pct(cs)),
            ));
        }
        if lag_high {
            evidence.push(ev(
                "sched_lag_p99_ms",
                row.sched_lag_p99_ms,
                SCHED_LAG_HIGH_MS,
                ">=",
                format!(
                    "client timers fire {:.1} ms late (p99)",
                    row.sched_lag_p99_ms
                ),
            ));
        }
        evidence.push(server_headroom_evidence(row));
        let mut conf: f64 = 0.75;
        if client_cpu_sat && lag_high {
            conf += 0.1;
        }
        if row.server_cpu.is_some_and(|s| s < CPU_HEADROOM) {
            conf += 0.05;
        }
        return class(VerdictKind::Client, None, evidence, conf);
    }

    if server_sat {
        let us = row.server_cpu.unwrap_or(0.0);
        evidence.push(ev(
            "server_cpu",
            us,
            CPU_SATURATED,
            ">=",
            format!("server CPU at {} of its capacity", pct(us)),
        ));
        if !ctx.open {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                SERVER_NEFF_RATIO,
                if queued { ">=" } else { "<" },
                format!(
                    "N_eff/N = {ratio:.2}: {} (R = {:.1} ms ≈ N/X = {:.1} ms)",
                    if queued {
                        "requests queue in the server"
                    } else {
                        "part of the time is spent outside the server"
                    },
                    row.mean_ms,
                    row.load / row.ok_rps.max(1e-9) * 1000.0
                ),
            ));
        }
        let mut conf: f64 = 0.75;
        if queued {
            conf += 0.1;
        }
        if us >= 0.95 {
            conf += 0.05;
        }
        if !client_cpu_sat {
            conf += 0.05;
        }
        return class(VerdictKind::Server, Some(ServerBound::Cpu), evidence, conf);
    }

    if queued {
        if !ctx.open {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                SERVER_NEFF_RATIO,
                ">=",
                format!(
                    "N_eff/N = {ratio:.2}: requests queue in the server (R = {:.1} ms ≈ N/X = {:.1} ms)",
                    row.mean_ms,
                    row.load / row.ok_rps.max(1e-9) * 1000.0
                ),
            ));
        }
        return match row.server_cpu {
            Some(us)
                if us >= CPU_CONTENDED && row.system_cpu.is_some_and(|m| m >= CPU_SATURATED) =>
            {
                let m = row.system_cpu.unwrap_or(1.0);
                evidence.push(ev(
                    "system_cpu",
                    m,
                    CPU_SATURATED,
                    ">=",
                    format!(
                        "the machine's CPUs are {} busy while requests queue and the server uses {} of its CPU: it is short of CPU, shared with other processes",
                        pct(m),
                        pct(us)
                    ),
                ));
                class(VerdictKind::Server, Some(ServerBound::Cpu), evidence, 0.6)
            }
            Some(us) if us >= CPU_BUSY => {
                evidence.push(ev(
                    "server_cpu",
                    us,
                    CPU_BUSY,
                    ">=",
                    format!(
                        "server CPU at {} of its capacity while requests queue: busy, if short of the {} saturation mark (other processes on its CPUs take the rest); a pool- or I/O-bound server stays far lower",
                        pct(us),
                        pct(CPU_SATURATED)
                    ),
                ));
                class(VerdictKind::Server, Some(ServerBound::Cpu), evidence, 0.65)
            }
            Some(us) => {
                evidence.push(ev(
                    "server_cpu",
                    us,
                    CPU_BUSY,
                    "<",
                    format!(
                        "server CPU only {} of its capacity: time goes to waiting (a pool, I/O)",
                        pct(us)
                    ),
                ));
                let conf = if us < CPU_HEADROOM { 0.85 } else { 0.65 };
                class(
                    VerdictKind::Server,
                    Some(ServerBound::PoolIo),
                    evidence,
                    conf,
                )
            }
            None => class(VerdictKind::Server, None, evidence, 0.55),
        };
    }

    if client_cpu_sat || lag_high {
        evidence.push(ev(
            "client_cpu",
            cs,
            CPU_SATURATED,
            ">=",
            format!(
                "client CPU at {} (scheduler lag p99 {:.1} ms)",
                pct(cs),
                row.sched_lag_p99_ms
            ),
        ));
        return class(VerdictKind::Client, None, evidence, 0.5);
    }
    if !sockets.is_empty() {
        evidence.extend(sockets);
        return class(VerdictKind::Socket, None, evidence, 0.45);
    }
    evidence.push(ev(
        "load_ratio",
        ratio,
        SERVER_NEFF_RATIO,
        "<",
        "throughput is flat but no side shows saturation".into(),
    ));
    class(VerdictKind::Inconclusive, None, evidence, 0.3)
}

fn class(
    kind: VerdictKind,
    bound: Option<ServerBound>,
    evidence: Vec<Evidence>,
    confidence: f64,
) -> StepClass {
    StepClass {
        kind,
        bound,
        evidence,
        confidence: confidence.clamp(0.05, 0.99),
    }
}

fn server_headroom_evidence(row: &StepRow) -> Evidence {
    match row.server_cpu {
        Some(us) => ev(
            "server_cpu",
            us,
            CPU_SATURATED,
            "<",
            format!("server has headroom: CPU at {}", pct(us)),
        ),
        None => ev(
            "server_cpu",
            f64::NAN,
            CPU_SATURATED,
            "n/a",
            "no server CPU samples".into(),
        ),
    }
}

fn cpu_headroom_evidence(row: &StepRow) -> Evidence {
    let c = row.client_cpu.unwrap_or(f64::NAN);
    match row.server_cpu {
        Some(us) => ev(
            "max_cpu",
            us.max(c),
            CPU_SATURATED,
            "<",
            format!(
                "both sides have CPU headroom: client {}, server {}",
                pct(c),
                pct(us)
            ),
        ),
        None => ev(
            "client_cpu",
            c,
            CPU_SATURATED,
            "<",
            format!("client CPU at {} (no server CPU samples)", pct(c)),
        ),
    }
}

/// What would confirm a verdict.
pub(crate) fn confirm(kind: VerdictKind, bound: Option<ServerBound>) -> String {
    match (kind, bound) {
        (VerdictKind::Client, _) => "Give the load generator more CPU (more cores, less per-request client work, or a second machine): throughput should rise while the server's CPU rises with it.".into(),
        (VerdictKind::Server, Some(ServerBound::Cpu)) => "Give the server more CPU (cores, worker threads) or make a request cheaper: the plateau should rise in proportion; a CPU profile of the server shows where the time goes.".into(),
        (VerdictKind::Server, Some(ServerBound::PoolIo)) => "Enlarge the downstream pool or shorten the awaited work: the plateau should move to about pool size / hold time; the pool-wait histogram (satlab.pool.wait.duration) should show the queueing.".into(),
        (VerdictKind::Server, Some(ServerBound::Shedding)) => "Raise the server's queue bound or add capacity: the 429/503 share should fall and goodput rise.".into(),
        (VerdictKind::Server, None) => "Sample the server's CPU (run under `observer lab`) to tell CPU-bound from pool/I/O-bound.".into(),
        (VerdictKind::Socket, _) => "Reuse connections (keep-alive), widen the ephemeral port range, raise the listen backlog and the fd limit: the connection errors, listen drops and ≈1 s/3 s latencies should vanish.".into(),
        (VerdictKind::Scaling, _) => "Extend the plan to higher load to find the plateau (see the fitted peak N*).".into(),
        (VerdictKind::Inconclusive, _) => "Run more load steps (at least 4, doubling) with the observer sampling both processes.".into(),
    }
}
