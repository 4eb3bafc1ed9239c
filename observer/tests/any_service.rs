//! `observer lab` on a service it did not write (`--target-cmd`, `--target-pid`): bad
//! input ends quickly with the reason, a service that dies mid-run interrupts the run, and
//! no process of the service outlives the lab — even an observer killed with SIGKILL.
//!
//! The service here is this workspace's own target-api started as a command (so the test
//! needs nothing installed), wrapped in a shell that also leaves a marker process behind
//! in another session, as a daemonising server would.

use satlab_record::manifest::{Manifest, RunStatus};
use satlab_record::{RunDir, fsio};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const OBSERVER: &str = env!("CARGO_BIN_EXE_observer");

fn lab(args: &[&str], out: &Path) -> Command {
    let mut c = Command::new(OBSERVER);
    c.args(["lab", "--quiet", "--max-duration", "60s", "--out"])
        .arg(out)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(args: &[&str], out: &Path, limit: Duration) -> (Output, Duration) {
    let t0 = Instant::now();
    let mut child = lab(args, out).spawn().unwrap();
    let end = t0 + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("observer lab {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), t0.elapsed())
}

/// The arguments of a process.
fn argv(pid: u32) -> Vec<String> {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmd)
        .split('\0')
        .map(str::to_string)
        .collect()
}

/// PIDs of live `sleep MARKER` processes.
fn with_marker(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let a = argv(pid);
        if a.len() >= 2 && a[0] == "sleep" && a[1] == marker && observer::sampler::alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Kills the lab if a test fails before it ended.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_gone(marker: &str, limit: Duration) -> Vec<u32> {
    let end = Instant::now() + limit;
    loop {
        let left = with_marker(marker);
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A command line for target-api on `{port}`, plus a process in its own session that
/// holds `marker` in its command line.
fn service_cmd(marker: &str) -> String {
    format!("setsid sleep {marker} & exec '{OBSERVER}' target-api --listen 127.0.0.1:{{port}}")
}

#[test]
fn bad_targets_end_quickly_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // A PID that does not exist.
    let (o, took) = run(
        &["--target-pid", "999999999", "--url", "http://127.0.0.1:9/"],
        &tmp.path().join("a"),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("--target-pid 999999999: no such process"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A URL without a command or PID, and a command without a URL.
    let (o, _) = run(
        &["--url", "http://127.0.0.1:9/"],
        &tmp.path().join("b"),
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--target-cmd") && err.contains("--target-pid"),
        "{err}"
    );
    let (o, _) = run(
        &["--target-cmd", "true"],
        &tmp.path().join("c"),
        Duration::from_secs(20),
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs --url"));
}

#[test]
fn a_command_that_exits_at_once_is_an_interrupted_run_with_its_status() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (o, took) = run(
        &[
            "--target-cmd",
            "echo cannot bind >&2; exit 3",
            "--url",
            "http://127.0.0.1:{port}/",
        ],
        &out,
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("exited before it was ready (exit status 3)") && err.contains("cannot bind"),
        "{err}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    let m: Manifest = fsio::read_json(&RunDir::new(&out).manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
}

#[test]
fn a_service_that_never_answers_is_given_up_after_the_ready_timeout_and_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = format!("1000.{}1", std::process::id());
    let cmd = format!("sleep {marker}");
    let (o, took) = run(
        &[
            "--target-cmd",
            &cmd,
            "--url",
            "http://127.0.0.1:{port}/",
            "--ready-timeout",
            "1s",
        ],
        &tmp.path().join("run"),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("was not ready on http://127.0.0.1:") && err.contains("nothing answered"),
        "{err}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!(
        wait_gone(&marker, Duration::from_secs(5)),
        Vec::<u32>::new()
    );
}

/// Wait until the manifest names both sides; the server PID.
fn wait_started(out: &Path) -> u32 {
    let dir = RunDir::new(out);
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if let Ok(m) = fsio::read_json::<Manifest>(&dir.manifest())
            && let (Some(_), Some(s)) = (m.client_pid, m.server_pid)
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the lab never started the load");
}

fn spawn_long_run(out: &Path, marker: &str) -> Child {
    let cmd = service_cmd(marker);
    lab(
        &[
            "--target-cmd",
            &cmd,
            "--url",
            "http://127.0.0.1:{port}/api/vector/add",
            "--ready-url",
            "http://127.0.0.1:{port}/readyz",
            "--",
            "--stages",
            "2:40s",
            "--body",
            r#"{"a":[1],"b":[2]}"#,
        ],
        out,
    )
    .spawn()
    .unwrap()
}

#[test]
fn an_observer_killed_with_sigkill_leaves_no_process_of_the_service() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let marker = format!("1000.{}2", std::process::id());
    let mut reap = Reap(Some(spawn_long_run(&out, &marker)));
    let lab = reap.0.as_mut().unwrap();
    let server = wait_started(&out);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(with_marker(&marker).len(), 1, "the marker process runs");
    let tree = observer::process_tree::tree(server);
    assert!(tree.len() >= 2, "guard and service: {tree:?}");
    lab.kill().unwrap();
    lab.wait().unwrap();
    assert_eq!(
        wait_gone(&marker, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
    let end = Instant::now() + Duration::from_secs(10);
    while tree.iter().any(|&p| observer::sampler::alive(p)) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = tree
        .into_iter()
        .filter(|&p| observer::sampler::alive(p))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_service_that_dies_mid_run_interrupts_the_run_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let marker = format!("1000.{}3", std::process::id());
    let mut reap = Reap(Some(spawn_long_run(&out, &marker)));
    let server = wait_started(&out);
    std::thread::sleep(Duration::from_millis(1500));
    // Kill the service itself (the guard's child), not the guard.
    let service = observer::process_tree::tree(server)
        .into_iter()
        .find(|&p| argv(p).get(1).is_some_and(|a| a == "target-api"))
        .expect("the service process");
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(service as i32, libc::SIGKILL) };
    let lab = reap.0.as_mut().unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while lab.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < end,
            "the lab did not end after the service died"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = reap.0.take().unwrap().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("died during the run (exit status 137)"),
        "{err}"
    );
    let m: Manifest = fsio::read_json(&RunDir::new(&out).manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
    assert!(
        RunDir::new(&out).loadgen().summary().is_file(),
        "loadgen's record"
    );
    assert_eq!(
        wait_gone(&marker, Duration::from_secs(10)),
        Vec::<u32>::new()
    );
}

#[test]
fn attaching_to_a_running_service_samples_it_and_leaves_it_running() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let port = observer::lab::free_port().unwrap();
    let mut service = Reap(Some(
        Command::new(OBSERVER)
            .args(["target-api", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let pid = service.0.as_ref().unwrap().id();
    let url = format!("http://127.0.0.1:{port}/api/vector/add");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let (o, _) = run(
        &[
            "--target-pid",
            &pid.to_string(),
            "--url",
            &url,
            "--ready-url",
            &ready,
            "--",
            "--stages",
            "2:2s",
            "--body",
            r#"{"a":[1],"b":[2]}"#,
        ],
        &out,
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let dir = RunDir::new(&out);
    let m: Manifest = fsio::read_json(&dir.manifest()).unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    assert_eq!(m.server_pid, Some(pid));
    let samples = std::fs::read_to_string(dir.process_samples()).unwrap();
    let server = samples
        .lines()
        .filter(|l| l.contains("\"role\":\"server\"") && l.contains(&format!("\"pid\":{pid}")))
        .count();
    assert!(server > 5, "{server} server samples");
    assert!(
        service.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the attached service was stopped"
    );
}
