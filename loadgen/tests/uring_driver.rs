//! The closed loop on io_uring (`--io io-uring`) against the scripted server: the same
//! responses keep or replace the connection, and the same failures get the same kinds, as
//! on the tokio path (`tests/http1_session.rs`), with responses split at every byte;
//! timeouts and connect failures are in `tests/measure.rs`, run on both drivers.

#![cfg(target_os = "linux")]

mod common;

use common::scripted::{OK, byte_by_byte, closing, open, server};
use loadgen::io_driver::IoDriver;
use loadgen::plan::{Load, Plan};
use loadgen::{CancellationToken, Options, RequestSpec, run};
use satlab_record::{ErrorKind, RequestLogReader};
use std::sync::atomic::Ordering;
use std::time::Duration;

const NONE: ErrorKind = ErrorKind::None;

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
    let (url, accepted) = server(vec![
        closing(&[
            OK,
            OK,
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        ]),
        // A close-delimited body: complete at EOF, then the client reconnects.
        closing(&[b"HTTP/1.0 201 Created\r\n\r\nuntil EOF"]),
        // Every response read a byte at a time: chunked, content-length, a 1xx, a 204.
        byte_by_byte(open(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;x=1\r\nabcd\r\n0\r\nt: 1\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 3\r\n\r\nabc",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n",
            OK,
        ])),
    ]);
    let got = first_outcomes(&url, 9).await;
    assert_eq!(
        got,
        [
            (200, NONE),
            (200, NONE),
            (200, NONE),
            (201, NONE),
            (200, NONE),
            (202, NONE),
            (204, NONE),
            (200, NONE),
            // The server answers no more: the request times out.
            (0, ErrorKind::RequestTimeout),
        ]
    );
    assert_eq!(accepted.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_classified_and_the_next_request_reconnects() {
    if !uring_here() {
        return;
    }
    let (url, accepted) = server(vec![
        closing(&[b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"]),
        open(&[b"HTTX/1.1 200 OK\r\n\r\n"]),
        byte_by_byte(open(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ])),
        open(&[OK]),
    ]);
    let got = first_outcomes(&url, 4).await;
    assert_eq!(
        got,
        [
            (0, ErrorKind::ConnectionReset),
            (0, ErrorKind::Protocol),
            (0, ErrorKind::Protocol),
            (200, NONE),
        ]
    );
    assert_eq!(accepted.load(Ordering::Relaxed), 4);
}
