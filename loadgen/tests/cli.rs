//! The `loadgen` binary end to end: the run record, the per-request log, usage errors,
//! the fd-limit refusal, Ctrl-C, and EADDRNOTAVAIL inside a private network namespace
//! (served there by the `hello_server` example).

use satlab_record::fsio::{read_json, read_jsonl};
use satlab_record::histogram::{HistogramsFile, decode};
use satlab_record::series::SecondSample;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{ErrorKind, RequestLogReader};
use satlab_testkit::http_server::{Behaviour, TestServer};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_loadgen");

/// A server on its own runtime thread, so blocking process waits do not starve it.
fn server(b: Behaviour) -> (TestServer, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(TestServer::start(b)).unwrap();
    (s, rt)
}

fn require_all() -> bool {
    std::env::var("SATLAB_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

#[test]
fn run_writes_the_table_and_a_record_whose_request_log_round_trips() {
    let (srv, _rt) = server(Behaviour {
        delay: Duration::from_millis(2),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg(srv.url("/api/vector/add"))
        .args([
            "--body",
            r#"{"a":[1,2],"b":[3,4]}"#,
            "--stages",
            "4:1s,8:1s",
        ])
        .args(["--settle", "200ms", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for col in [
        "step", "requests", "rps", "mean", "p50", "p95", "p99", "p99.9", "max", "overall",
    ] {
        assert!(stdout.contains(col), "table lacks {col}: {stdout}");
    }
    let s: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    assert_eq!(s.schema, LoadgenSummary::SCHEMA);
    assert!(!s.interrupted);
    assert_eq!(s.method, "POST");
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[1].concurrency, Some(8));
    assert!(s.overall.requests > 100 && s.overall.ok == s.overall.requests);

    // Histograms decode and merge back to the overall one exactly.
    let h: HistogramsFile = read_json(&dir.path().join("histograms.json")).unwrap();
    let mut merged = decode(&h.steps[0].latency).unwrap();
    merged.add(decode(&h.steps[1].latency).unwrap()).unwrap();
    assert_eq!(merged, decode(&h.overall).unwrap());
    assert_eq!(merged.len(), s.overall.requests);

    // The per-request log holds every completion, settle windows included.
    let seconds: Vec<SecondSample> = read_jsonl(&dir.path().join("seconds.jsonl")).unwrap();
    let per_second: u64 = seconds.iter().map(|x| x.requests).sum();
    let recs: Vec<_> = RequestLogReader::open(&dir.path().join("requests.bin"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(recs.len() as u64, per_second);
    assert_eq!(recs.len() as u64, s.request_log_records);
    assert_eq!(s.request_log_dropped, 0);
    let measured = recs
        .iter()
        .filter(|r| {
            let st = &s.steps[r.step as usize];
            r.start_us >= st.measure_start_us && r.start_us < st.end_us
        })
        .count() as u64;
    assert_eq!(measured, s.overall.requests);
    assert!(
        recs.iter()
            .all(|r| r.status == 200 && r.error == ErrorKind::None && r.latency_us >= 2000)
    );
    assert!(recs.iter().all(|r| r.start_us < 2_100_000));
}

#[test]
fn usage_errors_name_the_flag_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--stages", "10:3x"], satlab_common::duration::FORMS),
        (&["--stages", "10:1s", "--settle", "2s"], "--settle"),
        (&["--rate", "fast", "--duration", "1s"], "--rate"),
        (&["--rate", "100/s"], "--duration"),
        (
            &["--stages", "10:1s", "--trace-sample", "2"],
            "--trace-sample",
        ),
        (&["--stages", "10:1s", "-H", "nocolon"], "Name: value"),
        (&["--stages", "1:1s", "--io", "fast"], "use auto (io-uring"),
        (
            &["--stages", "1:1s", "--io", "io-uring", "--http2"],
            "--io io-uring: drives a closed loop (--stages) over HTTP/1.1 keep-alive only",
        ),
        (
            &["--rate", "10/s", "--duration", "1s", "--io", "io-uring"],
            "drop --rate",
        ),
        (&[], "--stages"),
    ];
    for (args, want) in cases {
        let out = Command::new(BIN)
            .arg("http://127.0.0.1:9/")
            .args(*args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let out = Command::new(BIN)
        .args(["https://127.0.0.1:9/", "--stages", "1:1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is not supported"));
}

#[test]
fn a_plan_beyond_the_fd_limit_is_refused_with_the_fix() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec '{BIN}' http://127.0.0.1:9/ --stages 1000:1s"
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("RLIMIT_NOFILE allows 256") && err.contains("ulimit -Hn"),
        "{err}"
    );
}

#[test]
fn sigint_writes_an_interrupted_record_and_exits_130() {
    let (srv, _rt) = server(Behaviour {
        delay: Duration::from_millis(5),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg(srv.url("/"))
        .args(["--stages", "4:60s", "--settle", "100ms", "--quiet", "--out"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = satlab_testkit::child::wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let s: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    assert!(s.interrupted);
    assert!(
        s.interrupt_reason
            .as_deref()
            .unwrap_or("")
            .contains("SIGINT")
    );
    assert!(s.overall.requests > 0);
    assert!(s.steps[0].end_us < 5_000_000);
    assert!(dir.path().join("requests.bin").exists());
    assert!(dir.path().join("histograms.json").exists());
}

/// The `hello_server` example (built beside the tests by `cargo test`), which the namespace
/// test runs inside the namespace as its server.
fn hello_server() -> Option<std::path::PathBuf> {
    let me = std::env::current_exe().ok()?;
    let path = me.parent()?.parent()?.join("examples").join("hello_server");
    path.is_file().then_some(path)
}

fn missing(program: &str, probe: &[&str]) -> bool {
    Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
}

#[test]
fn new_connections_exhaust_a_tiny_port_range_as_addr_not_available() {
    let root = unsafe { libc::geteuid() } == 0;
    let need = if !root {
        Some("root")
    } else if missing("unshare", &["-n", "true"]) {
        Some("unshare (apt-get install util-linux) and permission to create network namespaces")
    } else if missing("ip", &["-V"]) {
        Some("ip (apt-get install iproute2)")
    } else if hello_server().is_none() {
        Some("the hello_server example (cargo build -p loadgen --example hello_server)")
    } else {
        None
    };
    if let Some(what) = need {
        assert!(
            !require_all(),
            "SATLAB_REQUIRE_ALL=1 but this test needs {what}"
        );
        println!("skipped: needs {what}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = hello_server().unwrap();
    let script = format!(
        r#"set -e
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="40000 40009"
sysctl -qw net.ipv4.tcp_tw_reuse=0
'{server}' 127.0.0.1:18099 >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/18099) 2>/dev/null && break; sleep 0.1; done
'{bin}' http://127.0.0.1:18099/ --new-connection --stages 2:2s --settle 0s --quiet --out '{out}'
"#,
        server = server.display(),
        bin = BIN,
        out = dir.path().display()
    );
    let out = Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let s: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    let o = &s.overall;
    // Ten ports: the first connections succeed, then every port sits in TIME_WAIT.
    assert!(o.ok >= 5 && o.ok <= 20, "{o:?}");
    let eaddr = o
        .errors
        .get(&ErrorKind::AddrNotAvailable)
        .copied()
        .unwrap_or(0);
    assert!(eaddr > 100, "{:?}", o.errors);
    assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
}

#[test]
fn five_thousand_workers_stay_within_a_bounded_rss() {
    // Both ends of 5000 connections live in this process and the child.
    let limit = loadgen::limits::raise_nofile();
    if limit < 10_500 {
        assert!(
            !require_all(),
            "SATLAB_REQUIRE_ALL=1 but RLIMIT_NOFILE is only {limit}"
        );
        println!("skipped: needs RLIMIT_NOFILE of at least 10500 (ulimit -Hn 20000)");
        return;
    }
    let (srv, _rt) = server(Behaviour {
        delay: Duration::from_millis(100),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg(srv.url("/"))
        .args([
            "--stages", "5000:3s", "--settle", "1500ms", "--quiet", "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SAFETY: getrusage fills the struct it is given.
    let max_rss_kib = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    };
    let s: LoadgenSummary = read_json(&dir.path().join("summary.json")).unwrap();
    let st = &s.steps[0];
    println!(
        "5000 workers: max RSS {} MiB, {:.0} rps, in flight {:.0}",
        max_rss_kib / 1024,
        st.rps,
        st.in_flight_mean
    );
    assert!(st.in_flight_mean > 4000.0, "{st:?}");
    assert!(st.errors.is_empty(), "{:?}", st.errors);
    // The largest child waited for so far is an upper bound on this one's peak.
    assert!(max_rss_kib < 500 * 1024, "max RSS {max_rss_kib} KiB");
}
