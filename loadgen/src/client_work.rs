//! Synthetic client work: CPU spent before each request, to simulate an expensive client
//! (e.g. payload signing) and so build a client-bound scenario.

use satlab_common::cpu_work::spin_cpu;
use std::time::Duration;

/// Spin until the calling thread's own CPU clock has advanced by `cost` (nothing for a
/// zero cost): `cost` of CPU time however busy the machine is, where a loop calibrated at
/// start would run cheaper than it says once other work competes for the CPUs. Returns the
/// loop's final state so the optimiser cannot remove it.
pub fn client_work(cost: Duration) -> u64 {
    spin_cpu(cost, || {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use satlab_common::cpu_work::thread_cpu_time;

    #[test]
    fn one_millisecond_of_client_work_is_one_millisecond_of_cpu() {
        // CPU time, not wall time, is asserted: a loaded machine stretches the wall time
        // only. Every try spends the cost; the closest stays within half a cost above it
        // (the last chunk and the clock reads; see `satlab_testkit::cpu_cost`).
        let cost = Duration::from_millis(1);
        let (least, _) = satlab_testkit::cpu_cost::cpu_used_by(7, || {
            client_work(cost);
        });
        assert!(least >= cost, "used only {least:?}");
        assert!(least < cost * 3 / 2, "used at least {least:?} for {cost:?}");
    }

    #[test]
    fn no_work_takes_no_cpu() {
        let a = thread_cpu_time().unwrap();
        client_work(Duration::ZERO);
        let used = thread_cpu_time().unwrap() - a;
        assert!(used < Duration::from_micros(200), "{used:?}");
    }
}
