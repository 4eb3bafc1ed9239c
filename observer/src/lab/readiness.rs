//! Waiting for the server to be ready: a URL probed over plain HTTP/1.1 until it answers
//! as ready (target-api's `/readyz`: 200; another service: any status below 500), unless
//! the server exits, the deadline passes or a signal comes first.

use super::ending::Ending;
use super::logs::tail;
use super::server::Server;
use super::signals::Signals;
use satlab_record::RunDir;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Where and how readiness is probed.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The path to GET.
    pub path: String,
    /// Only 200 counts (target-api's `/readyz`); otherwise any status below 500.
    pub strict: bool,
}

impl Probe {
    /// The URL probed, for messages.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    fn ready(&self, status: u16) -> bool {
        if self.strict {
            status == 200
        } else {
            status < 500
        }
    }
}

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

/// Wait until the server answers `probe` as ready: `None` once it does, or the ending of
/// the run when it exited, was not ready within `timeout`, or a signal came.
pub async fn wait_ready(
    server: &mut Server,
    probe: &Probe,
    timeout: Duration,
    dir: &RunDir,
    signals: &mut Signals,
) -> Option<Ending> {
    let log = server.log().map(|l| dir.logs().join(l));
    let see = log
        .as_ref()
        .map(|l| format!("; see {}", l.display()))
        .unwrap_or_default();
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Some(how) = server.ended() {
            let tail = log.as_ref().map(|l| tail(l, 10)).unwrap_or_default();
            return Some(Ending::ChildFailed(format!(
                "{} exited before it was ready ({how}){see}:\n{tail}",
                server.name()
            )));
        }
        let (addr, path) = (probe.addr, probe.path.clone());
        let status = tokio::task::spawn_blocking(move || {
            http_get_status(addr, &path, Duration::from_millis(500))
        })
        .await
        .ok()
        .flatten();
        if status.is_some_and(|s| probe.ready(s)) {
            return None;
        }
        last = status.or(last);
        if Instant::now() >= deadline {
            let answered = match last {
                Some(s) => format!("it answered {s}"),
                None => "nothing answered".into(),
            };
            return Some(Ending::ChildFailed(format!(
                "{} was not ready on {} within {timeout:?} ({answered}){see}",
                server.name(),
                probe.url()
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
