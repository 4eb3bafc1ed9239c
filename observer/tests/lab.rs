//! `observer lab` end to end: a short gc-pause scenario leaves a complete run directory;
//! killing a child or Ctrl-C stops everything and leaves no process behind.

use satlab_record::manifest::{Manifest, RunStatus};
use satlab_record::samples::{KernelSample, ProcessSample, Role};
use satlab_record::summary::LoadgenSummary;
use satlab_record::{EventKind, RunDir, ServerEvent, fsio};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn scenario(dir: &Path, stages: &str) -> std::path::PathBuf {
    let p = dir.join("short-gc.toml");
    std::fs::write(
        &p,
        format!(
            r#"name = "short-gc"
summary = "test: a pause every 200 requests"
[target]
args = ["--workers", "2", "--pause-every", "200", "--pause-duration", "20ms"]
[load]
args = ["--stages", "{stages}", "--settle", "0s", "--body", '{{"a":[1],"b":[2]}}']
[expect]
verdict = "server"
spike_cause = "gc_pause"
spike_period_requests = 200
"#
        ),
    )
    .unwrap();
    p
}

fn lab(scenario: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["lab", "--quiet", "--max-duration", "60s", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn alive(pid: u32) -> bool {
    observer::sampler::alive(pid)
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("observer lab did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the manifest names both children and sampling has begun.
fn wait_for_children(out: &Path) -> (u32, u32) {
    let dir = RunDir::new(out);
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Ok(m) = fsio::read_json::<Manifest>(&dir.manifest())
            && let (Some(c), Some(s)) = (m.client_pid, m.server_pid)
        {
            std::thread::sleep(Duration::from_millis(700));
            return (c, s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the lab never started both children");
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s
}

#[test]
fn short_gc_scenario_leaves_a_complete_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(tmp.path(), "10:3s");
    let out = tmp.path().join("run");
    let mut c = lab(&sc, &out);
    let st = wait_exit(&mut c, Duration::from_secs(40));
    let err = stderr_of(&mut c);
    assert!(st.success(), "lab failed: {st:?}\n{err}");
    let dir = RunDir::new(&out);
    let m: Manifest = fsio::read_json(&dir.manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Complete, "{m:?}");
    // As root the lab isolates its traffic so the kernel counters are the lab's own.
    // SAFETY: geteuid has no preconditions.
    let expected = if unsafe { libc::geteuid() } == 0 {
        "private"
    } else {
        "host"
    };
    assert_eq!(m.network.as_deref(), Some(expected), "{m:?}");
    assert!(dir.scenario().is_file());
    assert!(dir.loadgen().summary().is_file(), "loadgen record");
    assert!(dir.loadgen().requests().is_file());
    let procs: Vec<ProcessSample> = fsio::read_jsonl(&dir.process_samples()).unwrap();
    for role in [Role::Client, Role::Server] {
        let n = procs.iter().filter(|p| p.role == role).count();
        assert!(n >= 10, "{role:?}: {n} samples at 10 Hz over ~3 s");
    }
    assert!(
        procs
            .iter()
            .all(|p| p.cpu_capacity >= 1.0 && p.fd_limit > 0)
    );
    assert!(
        procs
            .iter()
            .filter_map(|p| p.run_queue_wait)
            .all(|w| w >= 0.0 && w.is_finite())
    );
    if std::path::Path::new("/proc/self/schedstat").exists() {
        assert!(
            procs.iter().any(|p| p.run_queue_wait.is_some()),
            "schedstat is read for the lab's processes"
        );
    }
    assert!(
        procs.iter().all(|p| p
            .thread_cpu
            .iter()
            .all(|t| t.cpu_cores >= 0.01 && !t.name.is_empty())),
        "threads under 1% of a core are left out"
    );
    let kernel: Vec<KernelSample> = fsio::read_jsonl(&dir.kernel_samples()).unwrap();
    assert!(kernel.len() >= 2, "kernel deltas: {}", kernel.len());
    assert!(
        kernel
            .iter()
            .all(|k| k.deltas.contains_key("ListenOverflows"))
    );
    assert!(
        kernel
            .iter()
            .any(|k| k.gauges.get("CurrEstab").is_some_and(|e| *e >= 10))
    );
    let events: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
    assert!(
        events.len() >= 3,
        "pause events over OTLP: {}",
        events.len()
    );
    assert!(events.iter().all(|e| e.kind == EventKind::GcPause));
    assert!(events.iter().any(|e| e.request_index == Some(200)));
    let received: serde_json::Value = fsio::read_json(&dir.received()).unwrap();
    assert!(
        received["services"]["target-api"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "http.server.request.duration"),
        "{received}"
    );
    // No .part file is left once the run is complete.
    for f in std::fs::read_dir(out.join("samples")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".part"), "{name}");
    }
}

#[test]
fn killing_the_target_stops_the_lab_and_leaves_no_child() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(tmp.path(), "10:60s");
    let out = tmp.path().join("run");
    let mut c = lab(&sc, &out);
    let (client, server) = wait_for_children(&out);
    assert!(alive(client) && alive(server));
    unsafe { libc::kill(server as i32, libc::SIGKILL) };
    let st = wait_exit(&mut c, Duration::from_secs(15));
    assert_eq!(st.code(), Some(1), "{}", stderr_of(&mut c));
    assert!(!alive(client), "loadgen {client} left behind");
    assert!(!alive(server));
    let m: Manifest = fsio::read_json(&RunDir::new(&out).manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
    assert!(m.interrupt_reason.unwrap().contains("target-api died"));
    assert!(
        RunDir::new(&out).process_samples().is_file(),
        "samples still written"
    );
}

#[test]
fn ctrl_c_stops_everything_and_still_writes_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(tmp.path(), "10:60s");
    let out = tmp.path().join("run");
    let mut c = lab(&sc, &out);
    let (client, server) = wait_for_children(&out);
    unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
    let st = wait_exit(&mut c, Duration::from_secs(15));
    assert_eq!(st.code(), Some(130), "{}", stderr_of(&mut c));
    assert!(!alive(client), "loadgen {client} left behind");
    assert!(!alive(server), "target-api {server} left behind");
    let dir = RunDir::new(&out);
    let m: Manifest = fsio::read_json(&dir.manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
    assert!(
        dir.loadgen().summary().is_file(),
        "interrupted loadgen still wrote its record"
    );
    assert!(dir.events().is_file() && dir.process_samples().is_file());
}

#[test]
fn killing_the_observer_takes_its_children_down() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(tmp.path(), "10:60s");
    let out = tmp.path().join("run");
    let mut c = lab(&sc, &out);
    let (client, server) = wait_for_children(&out);
    c.kill().unwrap();
    c.wait().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while (alive(client) || alive(server)) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(client) && !alive(server),
        "PR_SET_PDEATHSIG must take the children down"
    );
    // The parent-death signal is SIGTERM: loadgen wrote its record on the way out.
    let summary: LoadgenSummary = fsio::read_json(&RunDir::new(&out).loadgen().summary())
        .unwrap_or_else(|e| panic!("loadgen's record after the observer was killed: {e}"));
    assert!(summary.interrupted, "{:?}", summary.interrupt_reason);
    let m: Manifest = fsio::read_json(&RunDir::new(&out).manifest()).unwrap();
    assert_eq!(
        m.status,
        RunStatus::Running,
        "a killed observer never claims completeness"
    );
}

#[test]
fn bad_scenarios_and_flags_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["lab", "--scenario", "no-such-thing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gc-spikes"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["lab", "--list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("gc-spikes"));
    let out = Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["lab", "--hz", "fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hz"));
}

#[test]
fn netns_scenario_runs_in_a_private_namespace_with_its_sysctls() {
    let root = unsafe { libc::geteuid() } == 0;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ns.toml");
    std::fs::write(
        &p,
        r#"name = "ns-test"
summary = "test: private namespace with a narrow port range"
[target]
args = ["--workers", "1"]
[load]
args = ["--stages", "4:2s", "--settle", "0s"]
[netns]
sysctls = { "net.ipv4.ip_local_port_range" = "40000 40099" }
"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let mut c = lab(&p, &out);
    let st = wait_exit(&mut c, Duration::from_secs(40));
    let err = stderr_of(&mut c);
    if !root {
        assert_eq!(st.code(), Some(1));
        assert!(err.contains("needs root"), "{err}");
        if common_require_all() {
            panic!("SATLAB_REQUIRE_ALL=1 and the namespace test needs root");
        }
        println!("skipped: needs root (run the tests as root)");
        return;
    }
    assert!(st.success(), "{err}");
    let dir = RunDir::new(&out);
    let kernel: Vec<KernelSample> = fsio::read_jsonl(&dir.kernel_samples()).unwrap();
    assert!(!kernel.is_empty());
    assert!(
        kernel.iter().all(|k| k.port_range == Some((40000, 40099))),
        "{kernel:?}"
    );
    // The host's own range is untouched.
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    assert_ne!(
        observer::kernel::parse_port_range(&host),
        Some((40000, 40099))
    );
    let events: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
    assert!(events.is_empty(), "no faults configured");
    assert!(
        dir.received().is_file(),
        "OTLP reached the receiver inside the namespace"
    );
    let received: serde_json::Value = fsio::read_json(&dir.received()).unwrap();
    assert!(received["services"]["target-api"].is_object(), "{received}");
}

fn common_require_all() -> bool {
    std::env::var("SATLAB_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

#[test]
fn a_loadgen_that_cannot_start_stops_the_target_too() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(tmp.path(), "10:60s");
    let out = tmp.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_observer"))
        .args([
            "lab",
            "--quiet",
            "--loadgen-bin",
            "/nonexistent/loadgen",
            "--scenario",
        ])
        .arg(&sc)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let m: Manifest = fsio::read_json(&RunDir::new(&out).manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
    let reason = m.interrupt_reason.unwrap();
    assert!(reason.contains("/nonexistent/loadgen"), "{reason}");
    let server = m.server_pid.unwrap();
    assert!(!alive(server), "target-api {server} left behind");
}

/// A threshold the run crosses ends `observer lab` with loadgen's 99 (k6's convention),
/// after a complete run directory with its diagnosis; a threshold the run meets is listed
/// as passed beside it.
#[test]
fn a_crossed_threshold_exits_99_after_a_complete_diagnosed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = tmp.path().join("thresholds.toml");
    std::fs::write(
        &sc,
        r#"name = "thresholds"
summary = "test: one threshold no run can meet, one every run meets"
[target]
args = ["--workers", "1"]
[load]
args = ["--stages", "4:2s", "--settle", "0s", "--threshold", "p99<1us", "--threshold", "requests>0"]
"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    let mut c = lab(&sc, &out);
    let st = wait_exit(&mut c, Duration::from_secs(40));
    let err = stderr_of(&mut c);
    assert_eq!(st.code(), Some(99), "{st:?}\n{err}");
    let dir = RunDir::new(&out);
    let m: Manifest = fsio::read_json(&dir.manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Complete, "{m:?}");
    assert!(out.join("diagnosis.json").is_file(), "the run is diagnosed");
    let s: LoadgenSummary = fsio::read_json(&dir.loadgen().summary()).unwrap();
    let judged: Vec<(&str, bool)> = s
        .thresholds
        .iter()
        .map(|t| (t.expr.as_str(), t.passed))
        .collect();
    assert_eq!(judged, [("p99<1us", false), ("requests>0", true)], "{s:?}");
}
