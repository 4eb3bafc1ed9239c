//! Waiting for target-api to be ready: `/readyz` probed over plain HTTP/1.1 until it
//! answers 200, unless the child exits, the deadline passes or a signal comes first.

use super::ending::Ending;
use super::logs::tail;
use super::signals::Signals;
use crate::children::describe;
use satlab_record::RunDir;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// The longest status-line prefix read before giving up on finding its end.
const MAX_STATUS_LINE: usize = 1024;

/// One plain HTTP/1.1 GET on loopback; returns the status code.
///
/// The request goes out in one write, and the answer is read until its status line is
/// complete: a server that answers after its first read and closes must not find request
/// bytes still unread (its kernel would reset the connection under the answer).
pub fn http_get_status(addr: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < MAX_STATUS_LINE {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Wait until target-api answers 200 on `/readyz` at `addr`: `None` once it does, or the
/// ending of the run when it exited, was not ready within `timeout`, or a signal came.
pub async fn wait_ready(
    target: &mut Child,
    addr: SocketAddr,
    timeout: Duration,
    dir: &RunDir,
    signals: &mut Signals,
) -> Option<Ending> {
    let log = dir.logs().join("target-api.log");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = target.try_wait() {
            return Some(Ending::ChildFailed(format!(
                "target-api exited before it was ready ({}); see {}:\n{}",
                describe(st),
                log.display(),
                tail(&log, 10)
            )));
        }
        let probe = tokio::task::spawn_blocking(move || {
            http_get_status(addr, "/readyz", Duration::from_millis(500))
        })
        .await
        .ok()
        .flatten();
        if probe == Some(200) {
            return None;
        }
        if Instant::now() >= deadline {
            return Some(Ending::ChildFailed(format!(
                "target-api was not ready on http://{addr}/readyz within {timeout:?}; see {}",
                log.display()
            )));
        }
        tokio::select! {
            e = signals.recv() => return Some(e),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::spawn::free_port;

    #[test]
    fn readyz_probe_reads_the_status() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            // Read the whole request head before answering, as a real server does.
            let mut head = Vec::new();
            let mut b = [0u8; 256];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&b[..n]);
            }
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(
            http_get_status(addr, "/readyz", Duration::from_secs(2)),
            Some(503)
        );
        h.join().unwrap();
        let port = free_port().unwrap();
        assert_eq!(
            http_get_status(
                ([127, 0, 0, 1], port).into(),
                "/readyz",
                Duration::from_millis(200)
            ),
            None
        );
    }
}
