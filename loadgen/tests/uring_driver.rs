//! The closed loop on io_uring (`--io io-uring`) against the scripted server: the same
//! responses keep or replace the connection, and the same failures get the same kinds, as
//! on the tokio path (`tests/http1_session.rs`), with responses split at every byte;
//! timeouts and connect failures are in `tests/measure.rs`, run on both drivers.

#![cfg(target_os = "linux")]

mod common;

use common::scripted::{
    FAILURE_OUTCOMES, KEEP_ALIVE_OUTCOMES, failing_scripts, keep_alive_scripts, server,
};
use loadgen::io_driver::IoDriver;
use loadgen::plan::{Load, Plan};
use loadgen::{CancellationToken, Options, RequestSpec, run};
use satlab_record::{ErrorKind, RequestLogReader};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn uring_here() -> bool {
    match loadgen::uring::available() {
        Ok(()) => true,
        Err(e) if std::env::var_os("SATLAB_REQUIRE_ALL").is_some() => {
            panic!("io_uring is required (SATLAB_REQUIRE_ALL) but unavailable: {e}")
        }
        Err(e) => {
            eprintln!("skipped: io_uring unavailable here: {e}");
            false
        }
    }
}

/// One worker's requests, in order, for three seconds on io_uring; the first `n` outcomes.
/// The scripts end well within that (a few hundred milliseconds even on a loaded machine),
/// and a request the server leaves unanswered times out after two seconds.
async fn first_outcomes(url: &str, n: usize) -> Vec<(u16, ErrorKind)> {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::new(RequestSpec::new(url, "GET", &[], bytes::Bytes::new()).unwrap());
    o.io = IoDriver::IoUring;
    o.client.request_timeout = Duration::from_secs(2);
    o.out = Some(dir.path().to_path_buf());
    let plan = Plan::new(
        Load::Closed(loadgen::plan::parse_stages("1:3s").unwrap()),
        Duration::ZERO,
        "1:3s",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    assert_eq!(out.summary.request_log_dropped, 0);
    assert_eq!(out.summary.io_driver, "io_uring");
    RequestLogReader::open(&dir.path().join("requests.bin"))
        .unwrap()
        .take(n)
        .map(|r| r.map(|r| (r.status, r.error)).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_reuses_the_connection_until_the_server_closes_it() {
    if !uring_here() {
        return;
    }
    let (url, accepted) = server(keep_alive_scripts());
    let got = first_outcomes(&url, KEEP_ALIVE_OUTCOMES.len() + 1).await;
    assert_eq!(got[..KEEP_ALIVE_OUTCOMES.len()], KEEP_ALIVE_OUTCOMES);
    // The server answers no more: the next request times out.
    assert_eq!(
        got[KEEP_ALIVE_OUTCOMES.len()],
        (0, ErrorKind::RequestTimeout)
    );
    assert_eq!(accepted.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_classified_and_the_next_request_reconnects() {
    if !uring_here() {
        return;
    }
    let (url, accepted) = server(failing_scripts());
    let got = first_outcomes(&url, 4).await;
    assert_eq!(got, FAILURE_OUTCOMES);
    assert_eq!(accepted.load(Ordering::Relaxed), 4);
}
