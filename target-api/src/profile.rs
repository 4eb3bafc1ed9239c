//! Work profiles: the per-request CPU, I/O and pool work, the server default overridden
//! by query parameters (`?cpu=200us&io=5ms&pool=1&pool_hold=2ms&cpu_iters=100000`). The
//! compute loop itself is `satlab_common::cpu_work`.

use crate::config::{MAX_CPU_COST, MAX_CPU_ITERATIONS, MAX_DELAY};
use crate::count::parse_count;
use crate::error::ApiError;
use crate::live::Live;
use satlab_common::cpu_work::{spin_cpu, spin_rounds};
use satlab_common::duration::{format_duration, parse_duration};
use std::time::Duration;

/// Query parameters understood by `POST /api/vector/add`.
pub const QUERY_KEYS: &str = "cpu, cpu_iters, io, pool, pool_hold";

/// The CPU one request spends in the compute loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuWork {
    /// None.
    #[default]
    Nothing,
    /// Until the handling thread's CPU clock has advanced by this much (`--cpu-cost`,
    /// `?cpu=`): the same CPU time on any machine, however busy.
    Time(Duration),
    /// This many rounds of the loop (`--cpu-iterations`, `?cpu_iters=`): the same work on
    /// any machine, its CPU time depending on the machine.
    Rounds(u64),
}

impl CpuWork {
    /// The work set by a cost and a round count: rounds win when non-zero.
    pub fn from_settings(cost: Duration, rounds: u64) -> CpuWork {
        if rounds > 0 {
            CpuWork::Rounds(rounds)
        } else if cost.is_zero() {
            CpuWork::Nothing
        } else {
            CpuWork::Time(cost)
        }
    }

    /// Do the work on the calling thread, running `safepoint` between chunks (time
    /// blocked there is not counted as work). Returns the loop's final state, so the
    /// optimiser cannot remove it.
    pub fn run(self, safepoint: impl FnMut()) -> u64 {
        match self {
            CpuWork::Nothing => 0,
            CpuWork::Time(cost) => spin_cpu(cost, safepoint),
            CpuWork::Rounds(rounds) => spin_rounds(rounds, safepoint),
        }
    }
}

/// The work one request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// The compute loop.
    pub cpu: CpuWork,
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
            cpu: CpuWork::Nothing,
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
        work.cpu = CpuWork::from_settings(cpu_cost, cpu_iters);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn cpu_work_from_settings_and_query() {
        assert_eq!(CpuWork::from_settings(Duration::ZERO, 0), CpuWork::Nothing);
        assert_eq!(
            CpuWork::from_settings(Duration::from_millis(1), 0),
            CpuWork::Time(Duration::from_millis(1))
        );
        assert_eq!(
            CpuWork::from_settings(Duration::from_millis(1), 7),
            CpuWork::Rounds(7)
        );
        let mut s = Settings::default();
        s.profile.cpu_cost = Duration::from_millis(2);
        let live = Live::new(&s);
        let cpu = |q| Work::resolve(&live, Some(q), 0).unwrap().cpu;
        assert_eq!(cpu(""), CpuWork::Time(Duration::from_millis(2)));
        assert_eq!(cpu("cpu=300us"), CpuWork::Time(Duration::from_micros(300)));
        assert_eq!(cpu("cpu_iters=9"), CpuWork::Rounds(9));
        assert_eq!(cpu("cpu=0s"), CpuWork::Nothing);
        assert_eq!(
            Work::resolve(&live, Some("cpu=2s"), 0).unwrap_err().code,
            "over_cap"
        );
    }

    #[test]
    fn cpu_time_work_spends_its_cost_on_the_thread_clock() {
        // The least of several tries is bounded (see `satlab_testkit::cpu_cost`).
        let cost = Duration::from_millis(1);
        let (least, _) = satlab_testkit::cpu_cost::cpu_used_by(7, || {
            CpuWork::Time(cost).run(|| {});
        });
        assert!(least >= cost && least < cost * 3 / 2, "{least:?}");
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
            (w.io_delay, w.cpu, w.use_pool),
            (Duration::from_millis(7), CpuWork::Rounds(500), true)
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
