//! Synthetic CPU work, the one loop behind the server's `--cpu-cost` and the client's
//! `--client-work`: xorshift rounds, run either a fixed number of times or until the
//! calling thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`) has advanced by a cost.
//!
//! Spinning on the thread's CPU clock makes "1 ms" mean one millisecond of CPU on any
//! machine: time the thread spends preempted, or blocked at a safepoint, is not counted,
//! so a busy machine makes the work take longer in wall time, never cheaper in CPU.

use std::time::{Duration, Instant};

/// Rounds of work between two reads of the thread CPU clock (and two safepoints).
///
/// A round costs about 2.5 ns on a current x86-64 core, so 4096 rounds are ~10 µs of
/// work. Reading the thread CPU clock is a system call (~0.3 µs measured on the lab's
/// machine: the vDSO serves only the wall and monotonic clocks, not CPU-time clocks), so
/// checking every ~10 µs keeps the reads near 3% of the loop.
pub const SPIN_CHUNK: u64 = 4096;

/// Fewest rounds between two clock reads near the end of a cost, so the last reads stay
/// a small share of the work (64 rounds ≈ 0.16 µs) while the overshoot past the cost is
/// at most about one clock read plus that.
pub const MIN_SPIN_CHUNK: u64 = 64;

/// The xorshift state the loops start from (any non-zero value).
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// CPU time the calling thread has used since it started (user and system), or `None`
/// where the thread CPU clock cannot be read.
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `rounds` rounds of xorshift from state `x`.
#[inline]
fn rounds_of(mut x: u64, rounds: u64) -> u64 {
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// A deterministic amount of work: `rounds` rounds of xorshift, whatever they cost on
/// this machine. `safepoint` runs every [`SPIN_CHUNK`] rounds. Returns the final state so
/// the optimiser cannot remove the work.
pub fn spin_rounds(rounds: u64, mut safepoint: impl FnMut()) -> u64 {
    let mut x = SEED;
    let mut left = rounds;
    while left > 0 {
        let n = left.min(SPIN_CHUNK);
        x = rounds_of(x, n);
        left -= n;
        safepoint();
    }
    x
}

/// Work until the calling thread's CPU clock has advanced by `cost` (nothing for a zero
/// cost). The clock is read every [`SPIN_CHUNK`] rounds, fewer (down to
/// [`MIN_SPIN_CHUNK`]) as the end nears, sized from the CPU time the previous rounds
/// took; `safepoint` runs before each read, and time blocked in it is not counted. Where
/// the thread CPU clock cannot be read, the wall clock stands in (preempted time then
/// counts as work). Returns the final state so the optimiser cannot remove the work.
pub fn spin_cpu(cost: Duration, mut safepoint: impl FnMut()) -> u64 {
    if cost.is_zero() {
        return SEED;
    }
    let wall = Instant::now();
    let clock = || thread_cpu_time().unwrap_or_else(|| wall.elapsed());
    let mut last = clock();
    let end = last.saturating_add(cost);
    let mut x = SEED;
    let mut rounds = MIN_SPIN_CHUNK;
    loop {
        x = rounds_of(x, rounds);
        safepoint();
        let now = clock();
        if now >= end {
            return x;
        }
        let took = now.saturating_sub(last).as_nanos().max(1);
        let left = (end - now).as_nanos();
        let fit = left.saturating_mul(u128::from(rounds)) / took;
        rounds = u64::try_from(fit)
            .unwrap_or(SPIN_CHUNK)
            .clamp(MIN_SPIN_CHUNK, SPIN_CHUNK);
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_are_deterministic_and_hit_the_safepoint_per_chunk() {
        assert_eq!(spin_rounds(10_000, || {}), spin_rounds(10_000, || {}));
        assert_ne!(spin_rounds(10_000, || {}), spin_rounds(10_001, || {}));
        let mut checks = 0;
        spin_rounds(SPIN_CHUNK * 3 + 1, || checks += 1);
        assert_eq!(checks, 4);
        assert_eq!(spin_rounds(0, || panic!("no work, no safepoint")), SEED);
    }

    #[test]
    fn the_thread_clock_is_read_and_moves_forward() {
        let a = thread_cpu_time().expect("CLOCK_THREAD_CPUTIME_ID");
        spin_rounds(1_000_000, || {});
        let b = thread_cpu_time().expect("CLOCK_THREAD_CPUTIME_ID");
        assert!(b > a, "{a:?} then {b:?}");
    }

    #[test]
    fn a_cost_is_spent_in_cpu_time_not_wall_time() {
        // Bounds on CPU time, not wall time. Every try spends at least the cost; the
        // closest one stays within half a cost above it (the last chunk, the clock reads).
        // Only the closest is bounded: on a virtual machine, time the host takes the vCPU
        // away still runs the guest thread's CPU clock, so one try on a loaded host can
        // overshoot (a CI run read 1.89 ms for 1 ms), but not every try of several.
        let cost = Duration::from_millis(1);
        let mut closest = Duration::MAX;
        for _ in 0..7 {
            let a = thread_cpu_time().unwrap();
            spin_cpu(cost, || {});
            let used = thread_cpu_time().unwrap() - a;
            assert!(used >= cost, "used only {used:?}");
            closest = closest.min(used);
        }
        assert!(
            closest < cost * 3 / 2,
            "used at least {closest:?} for {cost:?}"
        );
    }

    #[test]
    fn time_blocked_at_the_safepoint_is_not_work() {
        let cost = Duration::from_millis(2);
        let wall = Instant::now();
        let a = thread_cpu_time().unwrap();
        let mut first = true;
        spin_cpu(cost, || {
            if std::mem::take(&mut first) {
                std::thread::sleep(Duration::from_millis(30));
            }
        });
        let used = thread_cpu_time().unwrap() - a;
        assert!(wall.elapsed() >= Duration::from_millis(30));
        assert!(used >= cost, "used only {used:?}");
        assert!(
            used < Duration::from_millis(20),
            "the sleep was counted: {used:?}"
        );
    }

    #[test]
    fn zero_cost_does_nothing() {
        let mut calls = 0;
        spin_cpu(Duration::ZERO, || calls += 1);
        assert_eq!(calls, 0);
    }
}
