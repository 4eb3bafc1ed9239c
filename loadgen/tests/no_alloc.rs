//! The HTTP/1.1 keep-alive path allocates nothing per request: a counting global
//! allocator, counting on the client's thread only, sees the same number of allocations
//! for 200 requests as for 2,000 (after warm-up), against an in-process loopback server
//! that answers with `content-length`, chunked and 204 responses in turn.

use bytes::Bytes;
use loadgen::client::{Client, ClientConfig, RequestSpec, Session};
use loadgen::trace::{TraceGen, os_seeded};
use satlab_record::ErrorKind;
use satlab_testkit::alloc_count;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

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
            alloc_count::begin();
            run(n).await;
            counts.push((n, alloc_count::end()));
        }
        session.close();
        counts
    });
    let one_connection = server.join().unwrap();
    // The control: an allocation on this thread is counted.
    let ((), control) = alloc_count::allocations_in(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert_eq!(control, 1);
    println!("allocations (requests, count): {counts:?}");
    assert!(one_connection, "every request on one kept-alive connection");
    assert_eq!(
        counts[0].1, counts[1].1,
        "allocations grow with the number of requests: {counts:?}"
    );
}
