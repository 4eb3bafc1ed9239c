//! Verdicts on synthetic step tables: each asserts the exact kind and server bound.

use satlab_diagnosis::{Diagnosis, LoadAxis, ServerBound, VerdictKind, diagnose};
use satlab_record::{ErrorKind, Failure};
use satlab_testkit::synth::{SynthStep, steps_run};

const NS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

fn run(steps: Vec<SynthStep>) -> Diagnosis {
    diagnose(&steps_run(&steps, false)).expect("diagnosis")
}

fn signals(d: &Diagnosis) -> Vec<&str> {
    d.verdict
        .evidence
        .iter()
        .map(|e| e.signal.as_str())
        .collect()
}

/// Server CPU-bound: X = min(1000·N, 4000), R = N/X, server CPU follows X.
#[test]
fn server_cpu_plateau() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(4000.0);
            SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some((x / 4000.0 * 0.97).min(0.97)))
                .client_cpu(0.3)
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Server, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, Some(ServerBound::Cpu));
    assert!(d.plateau.detected);
    assert_eq!(d.plateau.concurrency, Some(4));
    assert!(signals(&d).contains(&"server_cpu"));
    assert!(d.verdict.confidence >= 0.7, "{}", d.verdict.confidence);
    // Per-step verdicts: scaling below the knee, server/cpu above it.
    assert_eq!(d.steps[0].verdict.kind, VerdictKind::Scaling);
    assert_eq!(d.steps[5].verdict.label, "server/cpu");
}

/// Client plateau with the server idle: workers spend time outside the server.
#[test]
fn client_plateau_with_server_idle() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(3000.0);
            SynthStep::new(n, x, 1.0)
                .client_cpu((x / 3000.0).min(0.98))
                .lag_ms(if n >= 4.0 { 25.0 } else { 0.5 })
                .server_cpu(Some(0.12))
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Client, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    let s = signals(&d);
    assert!(
        s.contains(&"n_eff_ratio") && s.contains(&"client_cpu"),
        "{s:?}"
    );
}

/// Pool plateau with the server CPU low: 8 connections held 10 ms each → 800 req/s.
#[test]
fn pool_plateau_with_server_cpu_low() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (100.0 * n).min(800.0);
            SynthStep::new(n, x, (n / x * 1000.0).max(10.0)).server_cpu(Some(0.08))
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Server, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, Some(ServerBound::PoolIo));
    assert!(d.verdict.confidence >= 0.7);
}

/// Shedding: goodput flat at 2000/s, the rest answered 429 quickly.
#[test]
fn shedding() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let all = 1000.0 * n;
            let ok = all.min(2000.0);
            SynthStep::new(n, all, n / all * 1000.0)
                .shed(1.0 - ok / all)
                .server_cpu(Some(0.6))
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Server, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, Some(ServerBound::Shedding));
    assert!(d.errors.contains_key(&Failure::Status(429)));
}

/// Socket plateau with both CPUs low: listen overflows, SYN retransmits, queued workers.
#[test]
fn socket_plateau_with_both_cpus_low() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (500.0 * n).min(1500.0);
            let s = SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some(0.15))
                .client_cpu(0.2);
            if n >= 4.0 {
                s.kernel("ListenOverflows", 40 * n as u64)
                    .kernel("TCPSynRetrans", 30 * n as u64)
            } else {
                s
            }
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Socket, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    let s = signals(&d);
    assert!(
        s.contains(&"listen_drops") && s.contains(&"max_cpu"),
        "{s:?}"
    );
}

/// Socket by errors: a connection per request exhausts the port range.
#[test]
fn socket_by_port_exhaustion() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (800.0 * n).min(2500.0);
            let s = SynthStep::new(n, x, 0.6 * n / x * 1000.0).server_cpu(Some(0.3));
            if n >= 8.0 {
                s.error(ErrorKind::AddrNotAvailable, 0.05)
                    .time_wait(27_000, (32768, 60999))
            } else {
                s
            }
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Socket, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    let s = signals(&d);
    assert!(
        s.contains(&"socket_error_share") && s.contains(&"time_wait_port_share"),
        "{s:?}"
    );
}

/// Still scaling: USL with small σ, κ; no plateau, the distance to N* is stated.
#[test]
fn scaling() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = 1000.0 * n / (1.0 + 0.02 * (n - 1.0) + 0.0001 * n * (n - 1.0));
            SynthStep::new(n, x, n / x * 1000.0)
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Scaling, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    assert!(!d.plateau.detected);
    let ns = d.usl.n_star.expect("a peak");
    assert!((ns - (0.98f64 / 0.0001).sqrt()).abs() < 2.0, "{ns}");
    assert!(signals(&d).contains(&"n_star_over_max_load"));
}

/// A CPU-saturated server without server samples: server, bound unknown, limitation stated.
#[test]
fn no_server_samples_lowers_confidence() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(4000.0);
            SynthStep::new(n, x, n / x * 1000.0).server_cpu(None)
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Server);
    assert_eq!(d.verdict.server_bound, None);
    assert!(d.verdict.confidence < 0.6, "{}", d.verdict.confidence);
    assert!(
        d.limitations
            .iter()
            .any(|l| l.contains("no server CPU samples"))
    );
}

/// Too few steps: no USL fit, with the reason.
#[test]
fn too_few_steps_give_no_fit() {
    let d = run(vec![
        SynthStep::new(1.0, 1000.0, 1.0),
        SynthStep::new(2.0, 1900.0, 1.05),
    ]);
    assert!(d.usl.sigma.is_none());
    assert!(d.usl.reason.as_deref().unwrap_or("").contains("at least 4"));
}

/// Open loop: the offered rate is the axis; a server that falls behind is judged server.
#[test]
fn open_loop_uses_the_rate_axis() {
    let rates: [f64; 5] = [500.0, 1000.0, 2000.0, 4000.0, 8000.0];
    let steps: Vec<SynthStep> = rates
        .iter()
        .map(|&r| {
            let x = r.min(2500.0);
            let lat = if r > 2500.0 { 800.0 } else { 2.0 };
            SynthStep::new(r, x, lat).server_cpu(Some((x / 2500.0).min(0.96)))
        })
        .collect();
    let d = diagnose(&steps_run(&steps, true)).unwrap();
    assert_eq!(d.run.load_axis, LoadAxis::Rate);
    assert_eq!(d.verdict.kind, VerdictKind::Server, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, Some(ServerBound::Cpu));
    assert!(d.limitations.iter().any(|l| l.contains("offered rate")));
}

/// A single-threaded client at full CPU measures its own run queue as latency: N_eff/N
/// stays near 1 (as in the client-bound scenario), yet with the server idle the verdict
/// is the client, not a server pool.
#[test]
fn client_plateau_with_inflated_n_eff() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (500.0 * n).min(900.0);
            let ratio = if n <= 1.0 { 0.45 } else { 0.9 };
            SynthStep::new(n, x, ratio * n / x * 1000.0)
                .client_cpu((x / 900.0).min(0.99))
                .lag_ms(5.0)
                .server_cpu(Some(0.08))
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Client, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    assert!(signals(&d).contains(&"client_cpu"), "{:?}", signals(&d));
}

/// A CPU-bound server on a shared machine reads 75–80%, not 100%: requests queue and its
/// CPU is busy, so the bound is CPU, not a pool (which reads a few percent).
#[test]
fn server_cpu_busy_on_a_shared_machine() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(2000.0);
            SynthStep::new(n, x, n / x * 1000.0).server_cpu(Some((x / 2000.0 * 0.78).min(0.78)))
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Server, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, Some(ServerBound::Cpu));
}

/// A CPU-bound server on a saturated machine gets only half its CPU: the machine-wide CPU
/// says it is short of CPU; a pool-bound server on the same busy machine stays pool/I/O.
#[test]
fn server_cpu_contended_vs_pool_on_a_busy_machine() {
    let cpu = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(2000.0);
            SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some((x / 2000.0 * 0.5).min(0.5)))
                .system_cpu(1.0)
        })
        .collect());
    assert_eq!(cpu.verdict.kind, VerdictKind::Server);
    assert_eq!(
        cpu.verdict.server_bound,
        Some(ServerBound::Cpu),
        "{:#?}",
        cpu.verdict
    );
    let pool = run(NS
        .iter()
        .map(|&n| {
            let x = (100.0 * n).min(800.0);
            SynthStep::new(n, x, (n / x * 1000.0).max(10.0))
                .server_cpu(Some(0.03))
                .system_cpu(1.0)
        })
        .collect());
    assert_eq!(pool.verdict.kind, VerdictKind::Server);
    assert_eq!(
        pool.verdict.server_bound,
        Some(ServerBound::PoolIo),
        "{:#?}",
        pool.verdict
    );
}

/// Port exhaustion with the client's CPU at capacity: every connect fails at once with
/// EADDRNOTAVAIL and the closed loop spins on the failures. The sockets are the cause.
#[test]
fn socket_when_the_client_spins_on_failed_connects() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let s = SynthStep::new(n, 1500.0, 0.6 * n / 1500.0 * 1000.0).server_cpu(Some(0.01));
            if n >= 2.0 {
                s.client_cpu(0.95)
                    .error(ErrorKind::AddrNotAvailable, 1.0)
                    .time_wait(7_990, (40000, 47999))
            } else {
                s.client_cpu(0.5)
            }
        })
        .collect());
    assert_eq!(d.verdict.kind, VerdictKind::Socket, "{:#?}", d.verdict);
    assert_eq!(d.verdict.server_bound, None);
    let s = signals(&d);
    assert!(
        s.contains(&"socket_error_share") && s.contains(&"client_cpu"),
        "{s:?}"
    );
}
