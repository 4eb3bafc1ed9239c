//! Synthetic client work: deterministic CPU spent before each request, to simulate an
//! expensive client (e.g. payload signing) and so build a client-bound scenario.

use std::time::{Duration, Instant};

/// Spin deterministic CPU work for `iterations` rounds; returns a value so it is not
/// optimised away. Simulates an expensive client (e.g. signing each payload).
pub fn client_work(iterations: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iterations {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// Iterations of [`client_work`] that take about `d` on this machine (measured once).
pub fn calibrate_client_work(d: Duration) -> u64 {
    if d.is_zero() {
        return 0;
    }
    let probe = 2_000_000u64;
    let t = Instant::now();
    client_work(probe, 7);
    let per_iter = t.elapsed().as_secs_f64() / probe as f64;
    ((d.as_secs_f64() / per_iter.max(1e-12)) as u64).max(1)
}
