//! The real binary: SIGTERM drains in-flight requests and exits 0; `--help` teaches; bad
//! flags are named with the fix and exit 2.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_target-api");

/// Start the binary on an ephemeral port; returns the child and its address.
fn spawn(extra: &[&str]) -> (std::process::Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--workers", "2"])
        .args(extra)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start target-api");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listen=").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("target-api did not report its address");
    (child, addr.parse().unwrap())
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let (mut child, addr) = spawn(&[]);
    let c = common::client();
    assert_eq!(
        common::add(&c, addr, "", r#"{"a":1,"b":2}"#).await.status,
        200
    );
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                common::add(&common::client(), addr, "io=600ms", r#"{"a":[1],"b":[2]}"#).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    for h in in_flight {
        let r = h.await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, r#"{"result":[3]}"#));
    }
    let status =
        wait_exit(&mut child, Duration::from_secs(10)).expect("did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    // Nothing listens any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn sigint_on_an_idle_server_exits_zero_quickly() {
    let (mut child, _) = spawn(&[]);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("did not exit after SIGINT");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn help_explains_every_knob_with_examples() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--workers",
        "--cpu-cost",
        "--cpu-iterations",
        "--io-delay",
        "--pool-size",
        "--pool-hold",
        "--pause-every",
        "--pause-duration",
        "--recycle-every",
        "--recycle-cost",
        "--burst-every",
        "--burst-duration",
        "--shed-above",
        "--shed-status",
        "--backlog",
        "--accept-delay",
        "--max-open-files",
        "--max-body",
        "--max-len",
        "--admin-token",
        "--drain-timeout",
        "Examples:",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "/admin/config",
    ] {
        assert!(text.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn bad_flags_name_the_flag_and_the_fix() {
    for (args, needle) in [
        (vec!["--pause-duration", "5x"], "--pause-duration"),
        (vec!["--io-delay", "5"], "50ms"),
        (vec!["--shed-status", "500"], "429 or 503"),
        (vec!["--listen", "nowhere"], "127.0.0.1:8080"),
        (vec!["--listen", "0.0.0.0:0"], "--admin-token"),
        (vec!["--pause-every", "10"], "--pause-duration"),
        (vec!["--recycle-every", "10"], "--pool-size"),
        (vec!["--cpu-cost", "5s"], "--cpu-cost"),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn a_low_open_files_limit_starves_accepts_without_killing_the_server() {
    let (mut child, addr) = spawn(&["--max-open-files", "40"]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(line.split_whitespace().nth(3), Some("40"), "{line}");
    // Hold more connections than the server has descriptors for: accept hits EMFILE.
    let mut held = Vec::new();
    for _ in 0..60 {
        if let Ok(s) = tokio::net::TcpStream::connect(addr).await {
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "server died under EMFILE"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Once descriptors are free again it serves normally.
    let r = common::add(&common::client(), addr, "", r#"{"a":1,"b":2}"#).await;
    assert_eq!(r.status, 200);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}
