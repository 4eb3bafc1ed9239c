//! Work profiles: the per-request CPU, I/O and pool work, the server default overridden
//! by query parameters (`?cpu=200us&io=5ms&pool=1&pool_hold=2ms&cpu_iters=100000`), and the
//! deterministic compute loop with its start-up calibration.

use crate::config::{MAX_CPU_COST, MAX_CPU_ITERATIONS, MAX_DELAY};
use crate::count::parse_count;
use crate::error::ApiError;
use crate::live::Live;
use satlab_common::duration::{format_duration, parse_duration};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Query parameters understood by `POST /api/vector/add`.
pub const QUERY_KEYS: &str = "cpu, cpu_iters, io, pool, pool_hold";

/// The work one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Compute-loop iterations.
    pub cpu_iterations: u64,
    /// Awaited delay.
    pub io_delay: Duration,
    /// Whether to take a downstream-pool permit.
    pub use_pool: bool,
    /// How long to hold it.
    pub pool_hold: Duration,
}

impl Work {
    /// The server default (from the live settings), then the query's overrides, each capped.
    pub fn resolve(live: &Live, query: Option<&str>, pool_size: u32) -> Result<Work, ApiError> {
        let mut cpu_cost = live.cpu_cost();
        let mut cpu_iters = live.cpu_iterations();
        let mut work = Work {
            cpu_iterations: 0,
            io_delay: live.io_delay(),
            use_pool: pool_size > 0,
            pool_hold: live.pool_hold(),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let bad =
                |msg: String| ApiError::invalid_query(format!("query parameter '{key}': {msg}"));
            let duration = |v: &str| parse_duration(v).map_err(|e| bad(e.to_string()));
            match key {
                "cpu" => {
                    cpu_cost = capped(key, duration(value)?, MAX_CPU_COST)?;
                    cpu_iters = 0;
                }
                "cpu_iters" => {
                    cpu_iters = parse_count(value).map_err(bad)?;
                    if cpu_iters > MAX_CPU_ITERATIONS {
                        return Err(over_cap(
                            key,
                            cpu_iters.to_string(),
                            MAX_CPU_ITERATIONS.to_string(),
                        ));
                    }
                }
                "io" => work.io_delay = capped(key, duration(value)?, MAX_DELAY)?,
                "pool_hold" => work.pool_hold = capped(key, duration(value)?, MAX_DELAY)?,
                "pool" => {
                    work.use_pool = match value {
                        "1" | "true" => true,
                        "0" | "false" => false,
                        _ => return Err(bad("use pool=1 or pool=0".into())),
                    }
                }
                _ => {
                    return Err(ApiError::invalid_query(format!(
                        "unknown query parameter '{key}': known ones are {QUERY_KEYS}"
                    )));
                }
            }
        }
        if work.use_pool && pool_size == 0 {
            return Err(ApiError::unprocessable(
                "no_pool",
                "pool=1 asks for the downstream pool, but the server runs without one (--pool-size)",
            ));
        }
        work.cpu_iterations = if cpu_iters > 0 {
            cpu_iters
        } else {
            iterations_for(cpu_cost)
        };
        Ok(work)
    }
}

fn over_cap(key: &str, value: String, cap: String) -> ApiError {
    ApiError::unprocessable(
        "over_cap",
        format!("query parameter '{key}' = {value} is above the cap of {cap}"),
    )
}

fn capped(key: &str, d: Duration, cap: Duration) -> Result<Duration, ApiError> {
    if d > cap {
        return Err(over_cap(key, format_duration(d), format_duration(cap)));
    }
    Ok(d)
}

/// Iterations of [`spin`] between two checks of the stop-the-world safepoint.
pub const SPIN_CHUNK: u64 = 4096;

/// The deterministic compute loop: `iterations` rounds of xorshift. Returns the final state
/// so the optimiser cannot remove the work. `safepoint` runs every [`SPIN_CHUNK`] rounds.
pub fn spin(iterations: u64, mut safepoint: impl FnMut()) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = iterations;
    while left > 0 {
        let n = left.min(SPIN_CHUNK);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = std::hint::black_box(x);
        left -= n;
        safepoint();
    }
    x
}

static ITERS_PER_US: OnceLock<f64> = OnceLock::new();

/// Compute-loop iterations per microsecond on this machine, measured once (~30 ms).
pub fn calibration() -> f64 {
    *ITERS_PER_US.get_or_init(|| {
        // Warm up, then keep the fastest of a few 10 ms samples: a preempted sample only
        // looks slower, so the fastest one is the least disturbed.
        spin(100_000, || {});
        let mut best = 0.0f64;
        for _ in 0..3 {
            let t0 = Instant::now();
            let mut iters = 0u64;
            while t0.elapsed() < Duration::from_millis(10) {
                spin(SPIN_CHUNK * 4, || {});
                iters += SPIN_CHUNK * 4;
            }
            let us = t0.elapsed().as_secs_f64() * 1e6;
            best = best.max(iters as f64 / us);
        }
        best.max(1.0)
    })
}

/// Iterations that take `cost` on this machine.
pub fn iterations_for(cost: Duration) -> u64 {
    if cost.is_zero() {
        return 0;
    }
    let iters = cost.as_secs_f64() * 1e6 * calibration();
    (iters.round() as u64).clamp(1, MAX_CPU_ITERATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn spin_is_deterministic() {
        assert_eq!(spin(10_000, || {}), spin(10_000, || {}));
        assert_ne!(spin(10_000, || {}), spin(10_001, || {}));
        let mut checks = 0;
        spin(SPIN_CHUNK * 3 + 1, || checks += 1);
        assert_eq!(checks, 4);
    }

    #[test]
    fn query_overrides_and_caps() {
        let mut s = Settings::default();
        s.profile.io_delay = std::time::Duration::from_millis(3);
        let live = Live::new(&s);
        let w = Work::resolve(&live, None, 0).unwrap();
        assert_eq!(w.io_delay, Duration::from_millis(3));
        assert!(!w.use_pool);
        let w = Work::resolve(&live, Some("io=7ms&cpu_iters=500"), 2).unwrap();
        assert_eq!(
            (w.io_delay, w.cpu_iterations, w.use_pool),
            (Duration::from_millis(7), 500, true)
        );
        let w = Work::resolve(&live, Some("pool=0"), 2).unwrap();
        assert!(!w.use_pool);
        assert_eq!(
            Work::resolve(&live, Some("io=11s"), 0).unwrap_err().code,
            "over_cap"
        );
        assert_eq!(
            Work::resolve(&live, Some("io=fast"), 0).unwrap_err().code,
            "invalid_query"
        );
        assert_eq!(
            Work::resolve(&live, Some("speed=1"), 0).unwrap_err().code,
            "invalid_query"
        );
        assert_eq!(
            Work::resolve(&live, Some("pool=1"), 0).unwrap_err().code,
            "no_pool"
        );
    }
}
