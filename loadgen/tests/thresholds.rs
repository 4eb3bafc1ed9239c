//! `--threshold` end to end: the `loadgen` binary against the test server, its exit code
//! (99 on a failed threshold, 0 when all pass, the signal's code before 99), the verdicts
//! in the JSON summary and the table, and usage errors before the run starts.

use satlab_record::fsio::read_json;
use satlab_record::summary::LoadgenSummary;
use satlab_record::threshold::{Metric, Scope, ThresholdResult};
use satlab_testkit::http_server::{Behaviour, TestServer};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_loadgen");

/// A server on its own runtime thread; every fourth request is refused with 429.
fn server() -> (TestServer, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let s = rt
        .block_on(TestServer::start(Behaviour {
            delay: Duration::from_millis(2),
            other_status_every: 4,
            other_status: 429,
            ..Default::default()
        }))
        .unwrap();
    (s, rt)
}

fn run(url: &str, thresholds: &[&str], out: &std::path::Path) -> Output {
    let mut c = Command::new(BIN);
    c.arg(url)
        .args([
            "--stages",
            "2:700ms,2:700ms",
            "--settle",
            "100ms",
            "--json",
            "--out",
        ])
        .arg(out);
    for t in thresholds {
        c.args(["--threshold", t]);
    }
    c.output().unwrap()
}

fn result<'a>(s: &'a LoadgenSummary, expr: &str) -> &'a ThresholdResult {
    s.thresholds
        .iter()
        .find(|r| r.expr == expr)
        .unwrap_or_else(|| panic!("no result for {expr}: {:?}", s.thresholds))
}

#[test]
fn a_failed_threshold_exits_99_and_is_listed_with_its_value() {
    let (srv, _rt) = server();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &srv.url("/"),
        &[
            "errors<1%",
            "p99<10s",
            "rps>1",
            "requests>=1@step=last",
            "errors<=50%@step=0",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(99), "{stderr}");
    let s: LoadgenSummary = serde_json::from_slice(&out.stdout).unwrap();
    // The record holds the same verdicts as the printed JSON.
    let written: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    assert_eq!(written.thresholds, s.thresholds);
    assert_eq!(s.thresholds.len(), 5);

    let errors = result(&s, "errors<1%");
    assert_eq!(
        (errors.metric, errors.scope, errors.step),
        (Metric::Errors, Scope::Overall, None)
    );
    assert!(!errors.passed && !errors.partial_run);
    // 429s are errors: one request in four.
    let share = errors.actual.unwrap();
    assert!((0.2..0.3).contains(&share), "{share}");
    assert_eq!(Some(share), s.overall.error_ratio());
    assert_eq!(errors.limit, 0.01);
    assert_eq!(errors.unit, "ratio");

    let p99 = result(&s, "p99<10s");
    assert!(p99.passed);
    assert_eq!((p99.limit, p99.unit.as_str()), (10_000_000.0, "us"));
    assert_eq!(p99.actual, Some(s.overall.latency.p99_us as f64));
    assert!(result(&s, "rps>1").passed);
    let last = result(&s, "requests>=1@step=last");
    assert_eq!((last.step, last.passed), (Some(1), true));
    assert_eq!(last.actual, Some(s.steps[1].requests as f64));
    let first = result(&s, "errors<=50%@step=0");
    assert_eq!((first.step, first.passed), (Some(0), true));

    // The table (on stderr with --json) lists each verdict.
    assert!(
        stderr.contains("thresholds: 4 passed, 1 failed"),
        "{stderr}"
    );
    assert!(stderr.contains("FAIL  errors<1%"), "{stderr}");
    assert!(stderr.contains("pass  p99<10s"), "{stderr}");
}

#[test]
fn every_threshold_passing_exits_0() {
    let (srv, _rt) = server();
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &srv.url("/"),
        &["errors<50%", "p99.9<10s", "requests>0@step=0"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: LoadgenSummary = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s.thresholds.len(), 3);
    assert!(s.thresholds.iter().all(|r| r.passed));
}

#[test]
fn sigterm_wins_over_a_failed_threshold_which_is_still_judged() {
    let (srv, _rt) = server();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg(srv.url("/"))
        .args(["--stages", "2:60s", "--settle", "100ms", "--quiet"])
        .args(["--threshold", "errors<1%", "--out"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = satlab_testkit::child::wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(143));
    let s: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    assert!(s.interrupted);
    let r = result(&s, "errors<1%");
    assert!(r.partial_run && !r.passed, "{r:?}");
}

#[test]
fn bad_thresholds_are_usage_errors_before_the_run() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--stages", "1:1s", "--threshold", "p99<50"],
            &["--threshold", "p99<50", "has no unit", "METRIC OP VALUE"],
        ),
        (
            &["--stages", "1:1s", "--threshold", "p98<50ms"],
            &["unknown metric 'p98'", "p99.9"],
        ),
        (
            &["--stages", "1:1s,2:1s", "--threshold", "p99<50ms@step=2"],
            &[
                "--threshold 'p99<50ms@step=2'",
                "it has 2 steps: step=0 to step=1",
            ],
        ),
    ];
    for (args, wants) in cases {
        let t = Instant::now();
        // Port 9 (discard) is never reached: the errors come before the run.
        let out = Command::new(BIN)
            .arg("http://127.0.0.1:9/")
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for want in *wants {
            assert!(err.contains(want), "{args:?}: {err}");
        }
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "{args:?} ran the plan"
        );
    }
}
