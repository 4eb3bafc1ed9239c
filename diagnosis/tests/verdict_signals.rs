//! Verdicts from the white-box signals on synthetic runs: stalls that cap throughput (and
//! pauses that do not), a single step, zero throughput, the shared machine, core ceilings
//! (one hot thread; the global-lock shape) and a disturbed run. Each asserts the kind and
//! the bound.

use satlab_diagnosis::{Diagnosis, ServerBound, VerdictKind, diagnose};
use satlab_record::{ErrorKind, EventKind};
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

/// The run verdict's server core-ceiling evidence; the verdict must be that ceiling.
fn ceiling(d: &Diagnosis) -> &satlab_diagnosis::Evidence {
    assert_eq!(
        kind_bound(d),
        (VerdictKind::Server, Some(ServerBound::CoreCeiling)),
        "{:#?}",
        d.verdict
    );
    d.verdict
        .evidence
        .iter()
        .find(|e| e.signal == "server_core_ceiling")
        .expect("ceiling evidence")
}

fn kind_bound(d: &Diagnosis) -> (VerdictKind, Option<ServerBound>) {
    (d.verdict.kind, d.verdict.server_bound)
}

/// A pause of 40 ms every 200 requests caps throughput at 5,000 req/s: with the server
/// doing 4,000·N req/s between pauses, X = 1 / (1/(4000·N) + 0.04/200) plateaus at ~4,800
/// from N = 8, the pauses holding 86–96% of the time. Server CPU is low (it sleeps through
/// the pauses), which without the stalls would read as a pool.
#[test]
fn pauses_that_cap_throughput_are_the_stall_bound() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = 1.0 / (1.0 / (4000.0 * n) + 0.04 / 200.0);
            SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some(0.1))
                .pauses(200, 40.0)
        })
        .collect());
    assert_eq!(
        kind_bound(&d),
        (VerdictKind::Server, Some(ServerBound::Stall)),
        "{:#?}",
        d.verdict
    );
    assert!(d.plateau.detected);
    let s = signals(&d);
    assert!(
        s.contains(&"stall_share") && s.contains(&"implied_cap_rps"),
        "{s:?}"
    );
    let last = d.steps.last().unwrap();
    let g = &last.stalls[0];
    assert_eq!(g.kind, EventKind::GcPause);
    assert!(g.count_driven);
    assert!((g.implied_cap_rps.unwrap() - 5000.0).abs() < 250.0, "{g:?}");
    assert!(
        d.verdict.confirm.contains("gc_pause"),
        "{}",
        d.verdict.confirm
    );
    assert!(
        !d.verdict.confirm.contains("Enlarge"),
        "{}",
        d.verdict.confirm
    );
    assert!(d.verdict.confidence >= 0.75, "{}", d.verdict.confidence);
}

/// A pool plateau at 800 req/s with a 40 ms pause every 1,000 requests: the pauses hold
/// 3% of the time and cap nothing (25,000 req/s), so the verdict stays the pool.
#[test]
fn pauses_that_do_not_cap_throughput_leave_the_pool_verdict() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (100.0 * n).min(800.0);
            SynthStep::new(n, x, (n / x * 1000.0).max(10.0))
                .server_cpu(Some(0.05))
                .pauses(1000, 40.0)
        })
        .collect());
    assert_eq!(
        kind_bound(&d),
        (VerdictKind::Server, Some(ServerBound::PoolIo)),
        "{:#?}",
        d.verdict
    );
    let g = &d.steps.last().unwrap().stalls[0];
    assert!((g.share - 0.032).abs() < 0.002, "{g:?}");
    assert!(
        (g.implied_cap_rps.unwrap() - 25_000.0).abs() < 1500.0,
        "{g:?}"
    );
    // The pool verdict says it had no pool-wait figure.
    assert!(
        signals(&d).contains(&"pool_wait_share"),
        "{:?}",
        signals(&d)
    );
}

/// One load step with the server at 14% and pauses holding 38% of the time (the saved
/// gc-spikes run, on a quiet machine): no verdict by default, with the reason.
#[test]
fn a_single_step_without_a_standing_signal_is_inconclusive() {
    let d = run(vec![
        SynthStep::new(20.0, 9274.0, 20.0 / 9274.0 * 1000.0)
            .server_cpu(Some(0.14))
            .client_cpu(0.14)
            .pauses(1000, 40.0),
    ]);
    assert_eq!(
        kind_bound(&d),
        (VerdictKind::Inconclusive, None),
        "{:#?}",
        d.verdict
    );
    let reason = &d.verdict.evidence[0].text;
    assert!(reason.contains("one load level"), "{reason}");
    assert!(
        reason.contains("gc_pause stalls 37% of the time"),
        "{reason}"
    );
    assert_eq!(d.plateau.text, "no plateau observable: one load level");
}

/// The same step with pauses holding more than half of the time: the stall bound stands on
/// its own; so does a server at CPU capacity.
#[test]
fn a_single_step_gets_the_verdict_its_evidence_supports() {
    let stalled = run(vec![
        SynthStep::new(20.0, 9000.0, 20.0 / 9000.0 * 1000.0)
            .server_cpu(Some(0.14))
            .pauses(500, 40.0),
    ]);
    assert_eq!(
        kind_bound(&stalled),
        (VerdictKind::Server, Some(ServerBound::Stall)),
        "{:#?}",
        stalled.verdict
    );
    assert!(stalled.verdict.headline.contains("the only load step"));
    let cpu = run(vec![
        SynthStep::new(20.0, 4000.0, 5.0).server_cpu(Some(0.97)),
    ]);
    assert_eq!(
        kind_bound(&cpu),
        (VerdictKind::Server, Some(ServerBound::Cpu)),
        "{:#?}",
        cpu.verdict
    );
}

/// Every request fails: said as such with the failure kinds, never "still grows".
#[test]
fn zero_throughput_is_said_as_such() {
    let sockets = run(NS[..4]
        .iter()
        .map(|&n| {
            SynthStep::new(n, 1500.0, 0.5)
                .server_cpu(Some(0.01))
                .error(ErrorKind::AddrNotAvailable, 1.0)
                .time_wait(7_990, (40000, 47999))
        })
        .collect());
    assert_eq!(
        kind_bound(&sockets),
        (VerdictKind::Socket, None),
        "{:#?}",
        sockets.verdict
    );
    assert!(
        sockets.verdict.headline.contains("no request succeeded"),
        "{}",
        sockets.verdict.headline
    );
    assert!(!sockets.verdict.headline.contains("grows"));
    assert_eq!(
        sockets.plateau.text,
        "no throughput: no request succeeded at any step"
    );

    let timeouts = run(NS[..4]
        .iter()
        .map(|&n| {
            SynthStep::new(n, 10.0, 30_000.0)
                .server_cpu(Some(0.02))
                .error(ErrorKind::RequestTimeout, 1.0)
        })
        .collect());
    assert_eq!(kind_bound(&timeouts), (VerdictKind::Inconclusive, None));
    assert!(
        timeouts
            .verdict
            .headline
            .starts_with("inconclusive: no request succeeded (request_timeout 400)"),
        "{}",
        timeouts.verdict.headline
    );
    assert!(
        timeouts
            .steps
            .iter()
            .all(|s| s.verdict.kind != VerdictKind::Scaling)
    );
}

/// Client and server on one 2-core machine, 88% → 95% busy from the first step, each using
/// about 40% of it: throughput ×1.38 for load ×4 is not scaling, the machine is taken.
#[test]
fn a_saturated_shared_machine_is_its_own_verdict() {
    let steps = |client: [f64; 3]| {
        [
            (4.0, 5000.0, 0.36, 0.88),
            (8.0, 5900.0, 0.40, 0.92),
            (16.0, 6900.0, 0.44, 0.95),
        ]
        .iter()
        .zip(client)
        .map(|(&(n, x, server, machine), c)| {
            SynthStep::new(n, x, n / x * 1000.0)
                .client_cpu(c)
                .server_cpu(Some(server))
                .system_cpu(machine)
        })
        .collect::<Vec<_>>()
    };
    let d = run(steps([0.37, 0.39, 0.40]));
    assert_eq!(
        kind_bound(&d),
        (VerdictKind::Machine, None),
        "{:#?}",
        d.verdict
    );
    assert!(!d.plateau.detected);
    let s = signals(&d);
    assert!(
        s.contains(&"client_machine_share") && s.contains(&"system_cpu"),
        "{s:?}"
    );
    assert!(
        d.verdict.headline.contains("×1.38"),
        "{}",
        d.verdict.headline
    );
    // A light client does not compete: then it is still scaling.
    let light = run(steps([0.08, 0.09, 0.10]));
    assert_eq!(
        kind_bound(&light),
        (VerdictKind::Scaling, None),
        "{:#?}",
        light.verdict
    );
}

/// One tokio worker doing all the work on 2 cores: the process reads 1.0 core (50%), one
/// thread 98%. Without per-thread samples the same figures read as a pool.
#[test]
fn one_hot_thread_is_a_core_ceiling() {
    let steps = |threads: &[(&str, f64)]| {
        NS.iter()
            .map(|&n| {
                let x = (1000.0 * n).min(2000.0);
                let util = x / 4000.0;
                SynthStep::new(n, x, n / x * 1000.0)
                    .server_cpu(Some(util))
                    .server_threads(
                        &threads
                            .iter()
                            .map(|&(name, c)| (name, c * util * 2.0))
                            .collect::<Vec<_>>(),
                    )
            })
            .collect::<Vec<_>>()
    };
    let d = run(steps(&[("tokio-runtime-w", 0.98), ("otel-exporter", 0.02)]));
    let e = ceiling(&d);
    assert_eq!(
        e.text,
        "server at a 1-core ceiling: 1 thread at 98%: tokio-runtime-w; process 1.0 of 2.0 cores"
    );
    assert_eq!(d.steps[5].verdict.label, "server/core_ceiling");
    let blind = run(steps(&[]));
    assert_eq!(
        kind_bound(&blind),
        (VerdictKind::Server, Some(ServerBound::PoolIo)),
        "without thread samples a one-core ceiling is not visible"
    );
}

/// The same worker on a VM whose hypervisor takes 28% of the time: the thread reads 0.72 of
/// a core, the process 0.74. Read in delivered cores it is the same ceiling; the steps are
/// marked disturbed (steal) without the ceiling being taken for crowding.
#[test]
fn one_hot_thread_under_steal_is_still_a_core_ceiling() {
    let steps = |steal: f64| {
        NS.iter()
            .map(|&n| {
                // 1 ms of CPU a request; a core delivers 0.72 of itself: 720 req/s at most.
                let x = (500.0 * n).min(720.0);
                let thread = x / 1000.0;
                let util = (thread + 0.02) / 2.0;
                SynthStep::new(n, x, n / x * 1000.0)
                    .server_cpu(Some(util))
                    .server_threads(&[("tokio-runtime-w", thread), ("otel-exporter", 0.02)])
                    .system_cpu((util + 0.1 + steal).min(1.0))
                    .steal(steal)
            })
            .collect::<Vec<_>>()
    };
    let d = run(steps(0.28));
    let e = ceiling(&d);
    assert!(e.text.contains("a core delivered 0.72"), "{}", e.text);
    assert!(d.steps[5].verdict.disturbed, "{:#?}", d.steps[5]);
    // The limitation names the hypervisor, not an empty list of culprits.
    assert!(
        d.limitations
            .iter()
            .any(|l| l.starts_with("the run was disturbed")
                && l.contains("the hypervisor gave 28% of the machine's CPU time to other guests")),
        "{:#?}",
        d.limitations
    );
    // Without the steal figure the same samples show no ceiling.
    let blind = run(steps(0.0));
    assert_ne!(
        kind_bound(&blind),
        (VerdictKind::Server, Some(ServerBound::CoreCeiling)),
        "{:#?}",
        blind.verdict
    );
}

/// A server under a global lock: one core spread over five threads, none above 20%, the
/// process pinned at 1.0 core from N = 2 on while load grows.
#[test]
fn the_global_lock_shape_is_a_core_ceiling() {
    let d = run(NS
        .iter()
        .map(|&n| {
            let x = (500.0 * n).min(1000.0);
            let cores = x / 1000.0;
            let util = cores / 2.0;
            SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some(util))
                .server_threads(&[("python3", cores / 5.0); 5])
        })
        .collect());
    let e = ceiling(&d);
    assert!(
        e.text.contains("spread over 5 threads, none above 20%"),
        "{}",
        e.text
    );
}

/// A load generator whose one hot thread holds it at 1.0 of 2 cores: the client, with the
/// thread named; without the thread figures nothing shows saturation.
#[test]
fn a_client_core_ceiling_is_the_client() {
    let steps = |threads: &[(&str, f64)]| {
        NS.iter()
            .map(|&n| {
                let x = (1000.0 * n).min(3000.0);
                SynthStep::new(n, x, 1.0)
                    .client_cpu((x / 6000.0).min(0.5))
                    .client_threads(threads)
                    .server_cpu(Some(0.12))
            })
            .collect::<Vec<_>>()
    };
    let d = run(steps(&[
        ("loadgen-worker", 0.97),
        ("tokio-runtime-w", 0.03),
    ]));
    assert_eq!(
        kind_bound(&d),
        (VerdictKind::Client, None),
        "{:#?}",
        d.verdict
    );
    assert!(
        signals(&d).contains(&"client_core_ceiling"),
        "{:?}",
        signals(&d)
    );
    let blind = run(steps(&[]));
    assert_eq!(
        kind_bound(&blind),
        (VerdictKind::Inconclusive, None),
        "{:#?}",
        blind.verdict
    );
}

/// A CPU-bound server whose two workers other processes crowd to one core between them
/// reads 50% and looks pool-bound; its run-queue wait shows it was ready to use twice that,
/// so the run is said to be disturbed. A pool-bound server on the same busy machine keeps
/// its verdict, with the wait named.
#[test]
fn a_crowded_server_is_disturbed_not_pool_bound() {
    let crowded = run(NS
        .iter()
        .map(|&n| {
            let x = (1000.0 * n).min(2000.0);
            SynthStep::new(n, x, n / x * 1000.0)
                .server_cpu(Some(x / 4000.0))
                .server_threads(&[
                    ("tokio-runtime-w", x / 4000.0),
                    ("tokio-runtime-w", x / 4000.0),
                ])
                .server_wait(1.2)
        })
        .collect());
    assert_eq!(
        kind_bound(&crowded),
        (VerdictKind::Disturbed, None),
        "{:#?}",
        crowded.verdict
    );
    assert!(signals(&crowded).contains(&"server_run_queue_wait"));
    assert!(
        crowded
            .limitations
            .iter()
            .any(|l| l.contains("the server's threads waited 1.20 thread-s/s for a CPU")),
        "{:?}",
        crowded.limitations
    );

    let pool = run(NS
        .iter()
        .map(|&n| {
            let x = (100.0 * n).min(800.0);
            SynthStep::new(n, x, (n / x * 1000.0).max(10.0))
                .server_cpu(Some(0.03))
                .server_wait(0.3)
        })
        .collect());
    assert_eq!(
        kind_bound(&pool),
        (VerdictKind::Server, Some(ServerBound::PoolIo)),
        "{:#?}",
        pool.verdict
    );
    assert!(pool.verdict.confidence < 0.8, "{}", pool.verdict.confidence);
    assert!(
        pool.limitations
            .iter()
            .any(|l| l.starts_with("the run was disturbed"))
    );
}
