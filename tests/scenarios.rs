//! The scenario catalogue end to end: every `scenarios/*.toml` runs through
//! `observer lab` and its `diagnosis.json` must reach the scenario's `[expect]`: the verdict
//! and the server bound exactly (none when the scenario names none), and for spikes the axis
//! the period was found on (its gap CV at most 0.1 and no worse than the other axis's,
//! within a tie band), the period within 10%, at least 80% of the
//! spikes matched to the expected event kind with p < 0.01. Omission compares the
//! open-loop p99 with its closed-loop twin's (at least 10×).
//!
//! Robustness: each scenario also runs with its key parameter changed
//! (`scenarios/variants/*.toml`, not in the catalogue) and must keep its verdict. A run
//! starts on a quiet machine (a bounded wait), and one that misses while the lab flags a
//! step as disturbed (other processes or the hypervisor crowded the client or the server
//! off their CPUs) runs again, at most three runs, each judged the same way.
//!
//! The observer binary is built by this test (`cargo build -p observer`, a no-op when it is
//! up to date) in the profile of the test itself, so a stale binary is never run; set
//! `SATLAB_OBSERVER_BIN` to use another one. The runs share the machine's CPUs, so they
//! never overlap: every test holds one global lock. Scenarios with a private network
//! namespace need root; without it they print `skipped: ...` (a failure under
//! `SATLAB_REQUIRE_ALL=1`).

use observer::scenario::Scenario;
use satlab_diagnosis::{Diagnosis, PeriodAxis, VerdictKind};
use satlab_tests::bins::observer_bin;
use satlab_tests::tools::require_all;
use satlab_tests::workspace_root;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

mod quiet;

/// Largest relative error of the spike period.
const PERIOD_TOLERANCE: f64 = 0.10;
/// Smallest share of spikes matched to the expected event kind.
const MIN_MATCHED: f64 = 0.80;
/// The spikes' gaps on the expected axis must be this regular (a counter or a clock keeps
/// them below 0.1; random arrivals give about 1).
const AXIS_MAX_CV: f64 = 0.10;
/// Two axes this close are a tie the test does not score (the expected axis's own CV must
/// still be at most [`AXIS_MAX_CV`]). Read at the onset alone, a stall holding most of the
/// time tied its axes (0.05 against 0.05 at a 73% stall share); each axis read at its
/// sharper anchor, gc-spikes measures 0.001-0.01 by requests against 0.09-0.13 by time.
const AXIS_TIE_CV: f64 = 0.02;
/// Largest p-value of the spike/event match.
const MAX_P: f64 = 0.01;
/// Open-loop p99 over closed-loop p99, at least.
const OMISSION_RATIO: f64 = 10.0;
/// A lab run longer than this is interrupted (each scenario is planned for ≤ 25 s).
const MAX_RUN: &str = "90s";

static SERIAL: Mutex<()> = Mutex::new(());

/// One scenario at a time: a failed test must not stop the others, so a poisoned lock is
/// taken over.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// The scenario file of `name`: `scenarios/NAME.toml`, or `scenarios/variants/NAME.toml`;
/// a name with a `/` is a path under the workspace (`examples/…/scenario.toml`).
fn scenario_file(name: &str) -> PathBuf {
    if name.contains('/') {
        return workspace_root().join(name);
    }
    let root = workspace_root().join("scenarios");
    let top = root.join(format!("{name}.toml"));
    if top.is_file() {
        top
    } else {
        root.join("variants").join(format!("{name}.toml"))
    }
}

/// A finished lab run: its directory (kept while this lives) and its diagnosis.
struct Run {
    name: String,
    dir: tempfile::TempDir,
    diagnosis: Diagnosis,
}

impl Run {
    fn path(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The loadgen's overall p99, µs.
    fn overall_p99_us(&self) -> f64 {
        let text = std::fs::read_to_string(self.path().join("loadgen/summary.json"))
            .unwrap_or_else(|e| panic!("scenario {}: loadgen/summary.json: {e}", self.name));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("scenario {}: loadgen/summary.json: {e}", self.name));
        v["overall"]["latency"]["p99_us"]
            .as_f64()
            .unwrap_or_else(|| panic!("scenario {}: no overall.latency.p99_us", self.name))
    }

    /// What a failure message shows of the diagnosis.
    fn brief(&self) -> String {
        let d = &self.diagnosis;
        let steps: Vec<String> = d
            .steps
            .iter()
            .map(|s| {
                let mut line = format!(
                    "  load {} rps {:.0} ok {:.0} mean {:.2} ms n_eff/N {:.2} cpu client {:.2} server {:.2} errors {:?} -> {}",
                    s.load,
                    s.rps,
                    s.ok_rps,
                    s.mean_ms,
                    s.load_ratio.unwrap_or(f64::NAN),
                    s.client_cpu.unwrap_or(f64::NAN),
                    s.server_cpu.unwrap_or(f64::NAN),
                    s.errors,
                    s.verdict.label,
                );
                if s.verdict.disturbed {
                    line.push_str(" (disturbed)");
                }
                // What crowds the lab: the hypervisor, other processes, the run queues.
                line.push_str(&format!(
                    "\n    steal {:.0}% others {:.2} cores",
                    s.steal.unwrap_or(f64::NAN) * 100.0,
                    s.other_cores.unwrap_or(f64::NAN)
                ));
                for (side, p) in [("client", &s.client_process), ("server", &s.server_process)] {
                    let Some(p) = p else { continue };
                    let hot: Vec<String> = p
                        .threads
                        .iter()
                        .take(2)
                        .map(|t| format!("{} {:.2}", t.name, t.cores))
                        .collect();
                    line.push_str(&format!(
                        "; {side} {:.2} of {:.1} cores, run-queue wait {:.2}, hottest [{}]",
                        p.cores,
                        p.capacity,
                        p.run_queue_wait.unwrap_or(f64::NAN),
                        hot.join(", ")
                    ));
                }
                line
            })
            .collect();
        format!(
            "run dir {} (kept)\nverdict {:?} / {:?}: {}\nevidence {:?}\nspikes: {}\nsteps:\n{}",
            self.path().display(),
            d.verdict.kind,
            d.verdict.server_bound,
            d.verdict.headline,
            d.verdict.evidence,
            d.spikes.text,
            steps.join("\n")
        )
    }

    /// Keep the run directory for inspection (called before failing).
    fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// Run one scenario through `observer lab`; `None` when it was skipped.
fn run_scenario(name: &str) -> Option<(Run, Scenario)> {
    let file = scenario_file(name);
    let scenario = Scenario::from_file(&file)
        .unwrap_or_else(|e| panic!("scenario {name}: {}: {e}", file.display()));
    if scenario.netns.is_some() && !is_root() {
        let msg = format!(
            "scenario {name} needs root for its private network namespace (run the tests as root)"
        );
        if require_all() {
            panic!("{msg} (SATLAB_REQUIRE_ALL=1)");
        }
        println!("skipped: needs root ({msg})");
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("satlab-{}-", name.replace('/', "-")))
        .tempdir()
        .expect("a temporary directory");
    let out = dir.path().join("run");
    let output = Command::new(observer_bin())
        .current_dir(workspace_root())
        .arg("lab")
        .arg("--scenario")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--max-duration", MAX_RUN])
        .output()
        .unwrap_or_else(|e| panic!("scenario {name}: running observer lab: {e}"));
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        let kept = dir.keep();
        panic!(
            "scenario {name}: observer lab failed ({}); run dir {}\n{log}",
            output.status,
            kept.display()
        );
    }
    let diag_path = out.join("diagnosis.json");
    if !diag_path.is_file() {
        // A lab without the diagnosis hook: compute it from the run directory.
        let st = Command::new(observer_bin())
            .arg("diagnose")
            .arg(&out)
            .arg("--write")
            .arg("--format")
            .arg("json")
            .output()
            .unwrap_or_else(|e| panic!("scenario {name}: running observer diagnose: {e}"));
        assert!(
            st.status.success(),
            "scenario {name}: observer diagnose failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let text = std::fs::read_to_string(&diag_path)
        .unwrap_or_else(|e| panic!("scenario {name}: {}: {e}\n{log}", diag_path.display()));
    let diagnosis: Diagnosis = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("scenario {name}: diagnosis.json: {e}"));
    // The run directory is `out`; keep the TempDir alive around it.
    let run = Run {
        name: name.to_string(),
        dir,
        diagnosis,
    };
    Some((run, scenario))
}

/// Every way `run` misses the scenario's `[expect]` (empty when it meets it).
fn misses(run: &Run, scenario: &Scenario) -> Vec<String> {
    let d = &run.diagnosis;
    let mut out = Vec::new();
    let Some(expect) = &scenario.expect else {
        return vec!["the scenario has no [expect]".into()];
    };
    if d.run.interrupted {
        out.push("the run was interrupted".into());
    }
    let kind = d.verdict.kind;
    if kind != expect.verdict {
        out.push(format!("verdict {kind:?}, expected {:?}", expect.verdict));
    }
    // The bound is exact: a scenario without one expects none.
    let got = d.verdict.server_bound;
    if got != expect.server_bound {
        out.push(format!(
            "server bound {got:?}, expected {:?}",
            expect.server_bound
        ));
    }
    let spikes = &d.spikes;
    if let Some(want) = expect.spike_cause {
        let c = spikes.cause.as_ref();
        let got = c.map(|c| c.kind);
        if got != Some(want) {
            out.push(format!("spike cause {got:?}, expected {want:?}"));
        }
        let matched = c.map_or(0.0, |c| c.matched_fraction);
        if matched < MIN_MATCHED {
            out.push(format!(
                "{:.0}% of spikes matched {}, expected at least {:.0}%",
                matched * 100.0,
                want.name(),
                MIN_MATCHED * 100.0
            ));
        }
        let p = c.map_or(1.0, |c| c.p_value);
        if p >= MAX_P {
            out.push(format!("spike/event match p = {p}, expected < {MAX_P}"));
        }
    }
    let period = spikes.period.as_ref();
    for (want, got, unit) in [
        (
            expect.spike_period_requests.map(|n| n as f64),
            period.map(|p| p.requests),
            "requests",
        ),
        (expect.spike_period_seconds, period.map(|p| p.seconds), "s"),
    ] {
        let Some(want) = want else { continue };
        // The axis the period was found on: a count-driven cause by requests, a timer by time.
        let axis = if unit == "s" {
            PeriodAxis::Time
        } else {
            PeriodAxis::Requests
        };
        if let Some(p) = period {
            let (cv_want, cv_other) = match axis {
                PeriodAxis::Time => (p.cv_seconds, p.cv_requests),
                PeriodAxis::Requests => (p.cv_requests, p.cv_seconds),
            };
            let tie = cv_want <= cv_other + AXIS_TIE_CV;
            if cv_want > AXIS_MAX_CV || (p.by != axis && !tie) {
                out.push(format!(
                    "spike period by {:?} (gap cv by requests {:.3}, by time {:.3}), expected by {axis:?} with a cv of at most {AXIS_MAX_CV}",
                    p.by, p.cv_requests, p.cv_seconds
                ));
            }
        }
        match got {
            Some(got) if ((got - want) / want).abs() <= PERIOD_TOLERANCE => {}
            Some(got) => out.push(format!(
                "spike period {got:.2} {unit}, expected {want} {unit} ± {:.0}%",
                PERIOD_TOLERANCE * 100.0
            )),
            None => out.push(format!("no spike period, expected {want} {unit}")),
        }
    }
    out
}

/// Whether the lab flagged any step as disturbed by other processes.
fn disturbed(d: &Diagnosis) -> bool {
    d.steps.iter().any(|s| s.verdict.disturbed)
}

/// Runs of one scenario at most: the first, and reruns while the lab flags the run
/// disturbed.
const ATTEMPTS: u32 = 3;
/// How long a scenario waits for a quiet machine before its first run...
const SETTLE_FIRST: Duration = Duration::from_secs(10);
/// ...and before a rerun.
const SETTLE_RERUN: Duration = Duration::from_secs(30);

/// Run `name` and assert its `[expect]`; returns the run for further checks. Each run starts
/// on a quiet machine ([`quiet::settle`], bounded). A run that misses while the lab flags
/// a step disturbed runs again, up to [`ATTEMPTS`] runs, each judged as strictly.
fn check(name: &str) -> Option<Run> {
    let mut machine = quiet::settle(SETTLE_FIRST);
    println!("scenario {name}: {machine}");
    let (mut run, scenario) = run_scenario(name)?;
    let mut missed = misses(&run, &scenario);
    let mut attempt = 1;
    while !missed.is_empty() && disturbed(&run.diagnosis) && attempt < ATTEMPTS {
        // The lab itself found other processes or the hypervisor crowding the client or
        // the server off their CPUs: the run measured the machine's other load as much as
        // the scenario. Such a run is evidence of nothing.
        println!(
            "scenario {name}: run {attempt} was disturbed and missed ({}):\n{}",
            missed.join("; "),
            run.brief()
        );
        machine = quiet::settle(SETTLE_RERUN);
        println!("scenario {name}: {machine}");
        attempt += 1;
        (run, _) = run_scenario(name)?;
        missed = misses(&run, &scenario);
    }
    if !missed.is_empty() {
        let brief = run.brief();
        let kept = run.keep();
        panic!(
            "scenario {name} missed its expectation in run {attempt} of at most {ATTEMPTS} ({}): {}\nbefore it: {machine}\n{brief}",
            kept.display(),
            missed.join("; ")
        );
    }
    println!(
        "scenario {name}: verdict {:?} / {:?} — {}",
        run.diagnosis.verdict.kind, run.diagnosis.verdict.server_bound, run.diagnosis.spikes.text
    );
    Some(run)
}

macro_rules! scenario_tests {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            let _one_at_a_time = serial();
            check($name);
        }
    )*};
}

scenario_tests! {
    cpu_bound => "cpu-bound",
    io_bound => "io-bound",
    pool_bound => "pool-bound",
    client_bound => "client-bound",
    new_connection => "new-connection",
    backlog => "backlog",
    gc_spikes => "gc-spikes",
    pool_recycle => "pool-recycle",
    shedding => "shedding",
    stall_cap => "stall-cap",
    // Robustness: the key parameter changed, the verdict kept.
    variant_cpu_bound_2_workers => "cpu-bound-2workers",
    variant_io_bound_50ms => "io-bound-50ms",
    variant_pool_bound_4 => "pool-bound-4",
    variant_pool_bound_16 => "pool-bound-16",
    variant_client_bound_2ms => "client-bound-2ms",
    variant_new_connection_wide_range => "new-connection-wide",
    variant_backlog_16 => "backlog-16",
    variant_gc_spikes_every_500 => "gc-spikes-500",
    variant_gc_spikes_every_2000 => "gc-spikes-2000",
    variant_pool_recycle_every_500 => "pool-recycle-500",
    variant_shedding_503 => "shedding-503",
}

/// `single-core`: one worker thread on a machine of two or more cores, nothing pinned.
#[test]
fn single_core() {
    let _one_at_a_time = serial();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        assert!(
            !require_all(),
            "single-core needs two or more CPUs, this machine has {cores}"
        );
        println!("skipped: single-core needs two or more CPUs, this machine has {cores}");
        return;
    }
    check("single-core");
}

/// Largest error of a part of the split by trace: 10% of the part or 1 ms.
fn part_tolerance_ms(want_ms: f64) -> f64 {
    (want_ms * 0.10).max(1.0)
}

/// `slow-accept`: time before the handler dominates, and the split by trace is accurate: at
/// N = 1 (no queueing) each request waits the 5 ms accept delay before the handler and the
/// 20 ms I/O delay in it (each within 10% or 1 ms); nothing else takes a millisecond.
#[test]
fn slow_accept() {
    let _one_at_a_time = serial();
    let Some(run) = check("slow-accept") else {
        return;
    };
    let w = &run.diagnosis.where_time_went;
    assert!(w.available, "no split by trace: {:?}", w.reason);
    let at_p50 = |i: usize| {
        let d = w.steps[i]
            .decomposition
            .as_ref()
            .unwrap_or_else(|| panic!("step {i} has no decomposition"));
        d.at.iter()
            .find(|q| q.quantile == 0.5)
            .map(|q| q.parts_ms)
            .expect("a p50 band")
    };
    let p = at_p50(0);
    // Both delays are tokio timers, which fire late by the same amount on one runtime (the
    // timer wheel's millisecond ticks and the wake-up): the handler's lateness over its
    // 20 ms is the accept sleep's too, and the accept delay's expectation includes it.
    let timer_late = (p.handler - 20.0).clamp(0.0, 2.0);
    let mut off = Vec::new();
    for (part, got, want) in [
        ("handler", p.handler, 20.0),
        ("before_handler", p.before_handler, 5.0 + timer_late),
        ("pool_wait", p.pool_wait, 0.0),
        ("stalled", p.stalled, 0.0),
        ("after_handler", p.after_handler, 0.0),
    ] {
        let tol = part_tolerance_ms(want);
        if (got - want).abs() > tol {
            off.push(format!(
                "step 0 p50 {part}: {got:.2} ms, expected {want:.2} ± {tol:.2} ms"
            ));
        }
    }
    // At the plateau the way in holds most of the time.
    let last = w.steps.last().and_then(|s| s.decomposition.as_ref());
    let share = last.map_or(0.0, |d| d.share.before_handler);
    if share < 0.5 {
        off.push(format!(
            "at the last step {:.0}% of the time was before the handler, expected at least half",
            share * 100.0
        ));
    }
    if !off.is_empty() {
        let parts = format!("{p:?}");
        panic!(
            "slow-accept ({}): {}\nstep 0 p50 parts: {parts}",
            run.keep().display(),
            off.join("; ")
        );
    }
    println!(
        "slow-accept: step 0 p50 before {:.2} ms, handler {:.2} ms, after {:.2} ms; last step {:.0}% before the handler",
        p.before_handler,
        p.handler,
        p.after_handler,
        share * 100.0
    );
}

/// `cron`: a CPU burst every 2 s; the spikes are periodic by time, not by request count.
#[test]
fn cron() {
    let _one_at_a_time = serial();
    check("cron");
}

/// `cron` with a burst every 3 s instead of 2 s.
#[test]
fn variant_cron_every_3s() {
    let _one_at_a_time = serial();
    check("cron-3s");
}

/// Coordinated omission: the same pauses under an open-loop rate (omission) and a closed
/// loop of 4 workers (its twin, variants/omission-closed). Two lab runs, because one run
/// drives one load plan; both see the pauses as spikes, only the open loop's p99 does.
#[test]
fn omission_open_loop_p99_dwarfs_closed_loop_p99() {
    let _one_at_a_time = serial();
    let Some(open) = check("omission") else {
        return;
    };
    let Some(closed) = check("omission-closed") else {
        return;
    };
    let (po, pc) = (open.overall_p99_us(), closed.overall_p99_us());
    assert!(
        po >= OMISSION_RATIO * pc,
        "scenario omission: open-loop p99 {po} µs is not {OMISSION_RATIO}× the closed-loop p99 {pc} µs\nopen: {}\nclosed: {}",
        open.brief(),
        closed.brief()
    );
    println!(
        "omission: open-loop p99 {:.1} ms vs closed-loop p99 {:.1} ms ({:.0}×)",
        po / 1000.0,
        pc / 1000.0,
        po / pc
    );
}

/// The catalogue: every scenario of the design's table has its file, each with an
/// expectation, and `observer lab --list` shows each on one line.
#[test]
fn catalogue_is_complete_and_listed() {
    const CATALOGUE: [&str; 14] = [
        "cpu-bound",
        "io-bound",
        "pool-bound",
        "client-bound",
        "new-connection",
        "backlog",
        "gc-spikes",
        "pool-recycle",
        "cron",
        "shedding",
        "omission",
        "stall-cap",
        "single-core",
        "slow-accept",
    ];
    let _one_at_a_time = serial();
    let out = Command::new(observer_bin())
        .args(["lab", "--list"])
        .output()
        .expect("running observer lab --list");
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    for name in CATALOGUE {
        let file = workspace_root().join(format!("scenarios/{name}.toml"));
        let s = Scenario::from_file(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.name, name, "{}", file.display());
        let expect = s
            .expect
            .as_ref()
            .unwrap_or_else(|| panic!("scenario {name} has no [expect]"));
        assert!(
            expect.verdict != VerdictKind::Server || expect.server_bound.is_some(),
            "scenario {name} expects a server verdict without naming its bound"
        );
        assert!(!s.question.is_empty(), "scenario {name} has no question");
        let lines: Vec<&str> = list
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(name))
            .collect();
        assert_eq!(lines.len(), 1, "scenario {name} in --list:\n{list}");
        assert!(!lines[0].contains("(broken)"), "{}", lines[0]);
    }
    // Variants are for the robustness tests, not the catalogue.
    assert!(!list.contains("gc-spikes-500"), "{list}");
    // Every variant names the base scenario it varies and keeps its expected verdict.
    let variants = workspace_root().join("scenarios/variants");
    for entry in std::fs::read_dir(&variants).expect("scenarios/variants") {
        let path = entry.expect("a directory entry").path();
        let v = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let base = CATALOGUE
            .iter()
            .filter(|b| v.name.starts_with(*b))
            .max_by_key(|b| b.len())
            .unwrap_or_else(|| panic!("{}: varies no catalogue scenario", path.display()));
        let b = Scenario::from_file(&workspace_root().join(format!("scenarios/{base}.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
        if v.name != "omission-closed" {
            assert_eq!(
                v.expect.as_ref().map(|e| e.verdict),
                b.expect.as_ref().map(|e| e.verdict),
                "{} must keep {base}'s verdict",
                path.display()
            );
        }
    }
}

/// True when `python3` can import the OpenTelemetry SDK and its gRPC exporter; else prints
/// how to install them (a failure under `SATLAB_REQUIRE_ALL=1`).
fn python_otel() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    let hint = "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc";
    if !ok {
        assert!(
            !require_all(),
            "python3 with the OpenTelemetry SDK is required: {hint}"
        );
        println!("skipped: needs python3 with the OpenTelemetry SDK ({hint})");
    }
    ok
}

/// `examples/python-gil`: a Python `ThreadingHTTPServer` doing CPU work. However many
/// threads serve, the process stops at one core (the GIL): server verdict, core ceiling.
/// Its server spans join loadgen's (at least 90% of the sampled requests), and its real
/// garbage collections arrive as `python.gc` events.
#[test]
fn example_python_gil() {
    let _one_at_a_time = serial();
    if !python_otel() {
        return;
    }
    let Some(run) = check("examples/python-gil/scenario.toml") else {
        return;
    };
    let spans = run.diagnosis.where_time_went.spans;
    let joined = spans.joined as f64 / spans.client.max(1) as f64;
    let events = std::fs::read_to_string(run.path().join("otlp/events.jsonl")).unwrap_or_default();
    let gc = events.lines().filter(|l| l.contains("python.gc")).count();
    if joined < 0.9 || gc == 0 {
        let brief = run.brief();
        panic!(
            "python-gil ({}): {:.1}% of {} client spans joined (expected ≥ 90%), {gc} python.gc events (expected some)\n{brief}",
            run.keep().display(),
            joined * 100.0,
            spans.client
        );
    }
    println!(
        "python-gil: {:.1}% of {} sampled requests joined; {gc} python.gc events",
        joined * 100.0,
        spans.client
    );
}

/// `examples/nginx`: Debian's nginx, one worker, `limit_req` answering 503:
/// server verdict, shedding; with no OpenTelemetry in nginx, the report says traces were
/// absent and the verdict rests on CPU, kernel counters and status codes.
#[test]
fn example_nginx_limits() {
    let _one_at_a_time = serial();
    if satlab_tests::tools::require_tool("nginx", "apt-get install nginx").is_none() {
        return;
    }
    let Some(run) = check("examples/nginx/limits.toml") else {
        return;
    };
    let available = run.diagnosis.where_time_went.available;
    let reason = run
        .diagnosis
        .where_time_went
        .reason
        .clone()
        .unwrap_or_default();
    if available || !reason.contains("the server sent no traces") {
        let brief = run.brief();
        panic!(
            "nginx ({}): the report should say traces were absent, it says {reason:?}\n{brief}",
            run.keep().display()
        );
    }
}
