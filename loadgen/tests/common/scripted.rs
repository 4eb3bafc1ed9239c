//! A scripted loopback HTTP/1 server: on each connection in turn, the given responses,
//! one per request head, then a close or a wait for the client's.

#![allow(dead_code)]

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
