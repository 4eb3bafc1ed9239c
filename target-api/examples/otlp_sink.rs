//! A minimal OTLP/gRPC sink for benchmarks: accepts traces, logs and metrics, counts them,
//! and prints the counts when stopped (SIGINT/SIGTERM).
//!
//! `cargo run --release -p target-api --example otlp_sink -- 127.0.0.1:4317`

#[path = "../tests/common/otlp_sink.rs"]
mod otlp_sink;

use std::sync::atomic::Ordering;

fn main() -> std::process::ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4317".into());
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        eprintln!("error: '{addr}' is not an IP:PORT address, e.g. 127.0.0.1:4317");
        return std::process::ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let (local, got) = otlp_sink::start(addr, false).await;
        eprintln!("otlp_sink listening on {local}");
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        println!(
            "spans={} logs={}",
            got.span_count.load(Ordering::Relaxed),
            got.log_count.load(Ordering::Relaxed)
        );
    });
    std::process::ExitCode::SUCCESS
}
