//! A scripted loopback HTTP/1 server: on each connection in turn, the given responses,
//! one per request head, then a close or a wait for the client's.

#![allow(dead_code)]

use satlab_record::ErrorKind;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// What the server does on its n-th connection: these responses, one per request, then
/// close the connection (`close`) or wait for the client to close it.
pub struct Script {
    responses: &'static [&'static [u8]],
    close: bool,
    split: bool,
}

/// These responses, then the server closes the connection.
pub fn closing(responses: &'static [&'static [u8]]) -> Script {
    Script {
        responses,
        close: true,
        split: false,
    }
}

/// These responses, then the server waits for the client to close the connection.
pub fn open(responses: &'static [&'static [u8]]) -> Script {
    Script {
        responses,
        close: false,
        split: false,
    }
}

/// Serve `scripts` on successive connections, one at a time; returns the URL and the
/// count of connections accepted. The thread ends after the last script.
pub fn server(scripts: Vec<Script>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for script in scripts {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            count.fetch_add(1, Ordering::Relaxed);
            let mut chunk = [0u8; 4096];
            let mut head = Vec::new();
            let mut answered = 0;
            while let Ok(n @ 1..) = s.read(&mut chunk) {
                head.extend_from_slice(&chunk[..n]);
                if !head.ends_with(b"\r\n\r\n") {
                    continue;
                }
                head.clear();
                if let Some(r) = script.responses.get(answered) {
                    if script.split {
                        let _ = s.set_nodelay(true);
                        for b in r.chunks(1) {
                            let _ = s.write_all(b);
                            std::thread::sleep(Duration::from_micros(50));
                        }
                    } else {
                        let _ = s.write_all(r);
                    }
                    answered += 1;
                }
                if script.close && answered == script.responses.len() {
                    break;
                }
            }
        }
    });
    (url, accepted)
}

/// The same script, its responses written a byte at a time (a read per byte).
pub fn byte_by_byte(script: Script) -> Script {
    Script {
        split: true,
        ..script
    }
}

/// Four connections, each failing its request another way and then replaced: a body cut
/// short by a close, a bad status line, a bad chunk size (read a byte at a time), then a
/// good response. The outcomes every driver must give are [`FAILURE_OUTCOMES`].
pub fn failing_scripts() -> Vec<Script> {
    vec![
        closing(&[b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"]),
        open(&[b"HTTX/1.1 200 OK\r\n\r\n"]),
        byte_by_byte(open(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ])),
        open(&[OK]),
    ]
}

/// The (status, error) of [`failing_scripts`]' four requests.
pub const FAILURE_OUTCOMES: [(u16, ErrorKind); 4] = [
    (0, ErrorKind::ConnectionReset),
    (0, ErrorKind::Protocol),
    (0, ErrorKind::Protocol),
    (200, ErrorKind::None),
];

/// Three connections: reused until the server answers `connection: close`; a
/// close-delimited HTTP/1.0 body; then chunked, 1xx, 204 and `content-length` responses
/// read a byte at a time, after which the server waits. Every driver must give
/// [`KEEP_ALIVE_OUTCOMES`].
pub fn keep_alive_scripts() -> Vec<Script> {
    vec![
        closing(&[
            OK,
            OK,
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        ]),
        closing(&[b"HTTP/1.0 201 Created\r\n\r\nuntil EOF"]),
        byte_by_byte(open(&[
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;x=1\r\nabcd\r\n0\r\nt: 1\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 3\r\n\r\nabc",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 9\r\n\r\n",
            OK,
        ])),
    ]
}

/// The (status, error) of [`keep_alive_scripts`]' eight answered requests.
pub const KEEP_ALIVE_OUTCOMES: [(u16, ErrorKind); 8] = [
    (200, ErrorKind::None),
    (200, ErrorKind::None),
    (200, ErrorKind::None),
    (201, ErrorKind::None),
    (200, ErrorKind::None),
    (202, ErrorKind::None),
    (204, ErrorKind::None),
    (200, ErrorKind::None),
];
