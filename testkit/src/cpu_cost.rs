//! CPU-time assertions that a loaded virtual machine cannot break: the fewest CPU
//! nanoseconds of several tries.
//!
//! On a virtual machine, time the host takes the vCPU away still runs the guest thread's
//! CPU clock, so one try of "spend 1 ms of CPU" can read 1.9 ms on a busy host (a CI run
//! did). An upper bound on the least of several tries still catches work that overshoots
//! every time, while one unlucky try passes.

use satlab_common::cpu_work::thread_cpu_time;
use std::time::Duration;

/// Runs `work` `tries` times and returns the least and the most thread CPU time one
/// try used.
pub fn cpu_used_by(tries: usize, mut work: impl FnMut()) -> (Duration, Duration) {
    let (mut least, mut most) = (Duration::MAX, Duration::ZERO);
    for _ in 0..tries.max(1) {
        let a = thread_cpu_time().expect("CLOCK_THREAD_CPUTIME_ID");
        work();
        let used = thread_cpu_time().expect("CLOCK_THREAD_CPUTIME_ID") - a;
        least = least.min(used);
        most = most.max(used);
    }
    (least, most)
}
