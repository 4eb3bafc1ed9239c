//! A worker's HTTP/1.1 session against a scripted loopback server: which responses keep
//! the connection, which make the next request reconnect, and how failures are
//! classified, for keep-alive and `--new-connection` alike.

mod common;

use bytes::Bytes;
use common::scripted::{
    FAILURE_OUTCOMES, KEEP_ALIVE_OUTCOMES, OK, closing, failing_scripts, keep_alive_scripts, open,
    server,
};
use loadgen::client::{Client, ClientConfig, RequestSpec, Session};
use loadgen::trace::{TraceGen, os_seeded};
use satlab_record::ErrorKind;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Send `n` requests through one session; their (status, error).
async fn session(url: &str, new_connection: bool) -> Session {
    let spec = RequestSpec::new(url, "GET", &[], Bytes::new()).unwrap();
    let cfg = ClientConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        new_connection,
        http2: false,
        h2_connections: 1,
    };
    Session::new(Arc::new(Client::new(&spec, cfg).await.unwrap()), 0)
}

async fn requests(url: &str, new_connection: bool, n: usize) -> Vec<(u16, ErrorKind)> {
    let mut session = session(url, new_connection).await;
    let mut trace = TraceGen::new(os_seeded(1), 1.0);
    let mut out = Vec::new();
    for _ in 0..n {
        let o = session
            .request(&trace.next_context(), std::time::Instant::now())
            .await;
        out.push((o.status, o.error));
    }
    session.close();
    out
}

const NONE: ErrorKind = ErrorKind::None;

#[tokio::test]
async fn keep_alive_reuses_the_connection_until_the_server_closes_it() {
    let (url, accepted) = server(keep_alive_scripts());
    let got = requests(&url, false, KEEP_ALIVE_OUTCOMES.len()).await;
    assert_eq!(got, KEEP_ALIVE_OUTCOMES);
    assert_eq!(accepted.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn failures_are_classified_and_the_next_request_reconnects() {
    let (url, accepted) = server(failing_scripts());
    let got = requests(&url, false, 4).await;
    assert_eq!(got, FAILURE_OUTCOMES);
    assert_eq!(accepted.load(Ordering::Relaxed), 4);
}

/// A server that ends a kept-alive connection while it is idle, silently or with an
/// unsolicited `408`: the next request goes on a new connection, without an error, and the
/// stale bytes are never read as its response.
#[tokio::test]
async fn a_connection_the_server_ended_while_idle_is_replaced_without_an_error() {
    for parting in [
        &b""[..],
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let ended = Arc::new(AtomicUsize::new(0));
        let flag = ended.clone();
        let server = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            for first in [true, false] {
                let (mut s, _) = listener.accept().unwrap();
                let _ = s.read(&mut chunk);
                s.write_all(OK).unwrap();
                if first {
                    s.write_all(parting).unwrap();
                    drop(s);
                    flag.store(1, Ordering::Release);
                } else {
                    // Until the client closes.
                    while let Ok(1..) = s.read(&mut chunk) {}
                }
            }
        });
        let mut session = session(&url, false).await;
        let mut trace = TraceGen::new(os_seeded(1), 1.0);
        let first = session
            .request(&trace.next_context(), std::time::Instant::now())
            .await;
        assert_eq!((first.status, first.error), (200, NONE));
        // Bounded wait for the server's close, then a wide margin for loopback to deliver the
        // FIN (normally delivered before close() returns; 300 ms covers a deferred softirq).
        for _ in 0..500 {
            if ended.load(Ordering::Acquire) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(ended.load(Ordering::Acquire), 1, "the server closed");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = session
            .request(&trace.next_context(), std::time::Instant::now())
            .await;
        assert_eq!(
            (second.status, second.error),
            (200, NONE),
            "after {:?}",
            String::from_utf8_lossy(parting)
        );
        session.close();
        server.join().unwrap();
    }
}

#[tokio::test]
async fn new_connection_opens_one_per_request_through_the_same_exchange() {
    let scripts = (0..3)
        .map(|_| open(&[OK]))
        .chain([closing(&[
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        ])])
        .collect();
    let (url, accepted) = server(scripts);
    let got = requests(&url, true, 4).await;
    assert_eq!(
        got,
        [
            (200, NONE),
            (200, NONE),
            (200, NONE),
            (0, ErrorKind::ConnectionReset)
        ]
    );
    assert_eq!(accepted.load(Ordering::Relaxed), 4);
}
