//! A minimal HTTP server for benchmarks and for the namespace test of `tests/cli.rs`:
//! `hello_server [ADDR] [DELAY_MS]`.
//! Answers every request with a small JSON body (HTTP/1.1 and h2c).

use satlab_testkit::http_server::{Behaviour, TestServer};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".into());
    let delay_ms: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let threads: usize = std::env::var("HELLO_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let addr = addr.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
        })?;
        let s = TestServer::bind(
            addr,
            Behaviour {
                delay: Duration::from_millis(delay_ms),
                ..Default::default()
            },
        )
        .await?;
        eprintln!("hello_server listening on {}", s.addr);
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
