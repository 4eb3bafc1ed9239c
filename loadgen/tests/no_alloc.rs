//! The HTTP/1.1 keep-alive path allocates nothing per request: a counting global
//! allocator, counting on the client's thread only, sees the same number of allocations
//! for 200 requests as for 2,000 (after warm-up), against an in-process loopback server
//! that answers with `content-length`, chunked and 204 responses in turn.

use bytes::Bytes;
use loadgen::client::{Client, ClientConfig, RequestSpec, Session};
use loadgen::trace::{TraceGen, os_seeded};
use satlab_record::ErrorKind;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const RESPONSES: [&[u8]; 3] = [
    b"HTTP/1.1 200 OK\r\nserver: t\r\ncontent-length: 11\r\n\r\n{\"ok\":true}",
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;x=1\r\nabcd\r\n0\r\nt: 1\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\ndate: now\r\n\r\n",
];

/// Answer every request head of one connection, responses in turn, until the client
/// closes it; then true when no second connection is waiting.
fn serve(listener: TcpListener) -> bool {
    let Ok((mut s, _)) = listener.accept() else {
        return false;
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut i = 0;
    while let Ok(n @ 1..) = s.read(&mut chunk) {
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if s.write_all(RESPONSES[i % RESPONSES.len()]).is_err() {
                return false;
            }
            i += 1;
        }
    }
    listener.set_nonblocking(true).is_ok() && listener.accept().is_err()
}

#[test]
fn keep_alive_requests_allocate_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || serve(listener));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let counts = rt.block_on(async {
        let spec = RequestSpec::new(
            &format!("http://{addr}/path?q=1"),
            "GET",
            &["x-api-key: 123".to_string()],
            Bytes::new(),
        )
        .unwrap();
        let cfg = ClientConfig {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            new_connection: false,
            http2: false,
            h2_connections: 1,
        };
        let client = Arc::new(Client::new(&spec, cfg).await.unwrap());
        let mut session = Session::new(client, 0);
        let mut trace = TraceGen::new(os_seeded(0), 0.5);
        let mut run = async |n: usize| {
            for _ in 0..n {
                let tc = trace.next_context();
                let out = session.request(&tc, std::time::Instant::now()).await;
                assert_eq!(out.error, ErrorKind::None);
                assert!(out.status == 200 || out.status == 204, "{out:?}");
            }
        };
        run(300).await;
        let mut counts = Vec::new();
        for n in [300, 3000] {
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNT_HERE.with(|c| c.set(true));
            run(n).await;
            COUNT_HERE.with(|c| c.set(false));
            counts.push((n, ALLOCATIONS.load(Ordering::Relaxed)));
        }
        session.close();
        counts
    });
    let one_connection = server.join().unwrap();
    // The control: an allocation on this thread is counted.
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNT_HERE.with(|c| c.set(true));
    drop(std::hint::black_box(vec![1u8; 10]));
    COUNT_HERE.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 1);
    println!("allocations (requests, count): {counts:?}");
    assert!(one_connection, "every request on one kept-alive connection");
    assert_eq!(
        counts[0].1, counts[1].1,
        "allocations grow with the number of requests: {counts:?}"
    );
}
