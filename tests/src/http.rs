//! A plain HTTP/1.0 client for loopback test servers (Prometheus, observer serve): one
//! request per connection, the whole answer read until the server closes, bounded by a
//! timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest answer read, bytes.
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// An answer: status, headers (names lowercased) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Send `METHOD target` (path and query, already encoded) with `headers` and no body;
/// `Err` with what failed.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<Answer, String> {
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut req = format!("{method} {target} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{addr}{target}: {e}"))?;
    parse(&raw).ok_or_else(|| format!("{addr}{target}: not an HTTP answer"))
}

fn parse(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// Percent-encode a query-string value (everything but unreserved characters).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_answer_and_encodes_a_query() {
        let a =
            parse(b"HTTP/1.0 201 Created\r\nContent-Type: text/plain\r\nX: y\r\n\r\nhi").unwrap();
        assert_eq!(a.status, 201);
        assert_eq!(a.header("content-type"), Some("text/plain"));
        assert_eq!(a.body, b"hi");
        assert_eq!(parse(b"garbage"), None);
        assert_eq!(
            encode("a{b=\"c\"}[1m] +"),
            "a%7Bb%3D%22c%22%7D%5B1m%5D%20%2B"
        );
    }

    #[test]
    fn talks_to_a_real_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            c.write_all(b"HTTP/1.0 200 OK\r\n\r\nbody").unwrap();
            req
        });
        let a = request(
            addr,
            "GET",
            "/x?q=1",
            &[("Accept", "a/b")],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, b"body".as_slice()));
        let req = t.join().unwrap();
        assert!(req.starts_with("GET /x?q=1 HTTP/1.0\r\n"), "{req}");
        assert!(req.contains("Accept: a/b\r\n"), "{req}");
    }
}
