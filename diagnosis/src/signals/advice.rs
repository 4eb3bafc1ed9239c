//! What would confirm each verdict: the experiment that should move the plateau if the
//! verdict is right.

use crate::model::{ServerBound, VerdictKind};
use satlab_record::EventKind;

/// What would confirm a verdict; for a stall verdict, `stall` names the event kind.
pub fn confirm(kind: VerdictKind, bound: Option<ServerBound>, stall: Option<EventKind>) -> String {
    match (kind, bound) {
        (VerdictKind::Client, _) => "Give the load generator more CPU (more cores, less per-request client work, or a second machine): throughput should rise while the server's CPU rises with it.".into(),
        (VerdictKind::Server, Some(ServerBound::Cpu)) => "Give the server more CPU (cores, worker threads) or make a request cheaper: the plateau should rise in proportion; a CPU profile of the server shows where the time goes.".into(),
        (VerdictKind::Server, Some(ServerBound::CoreCeiling)) => "Spread the work over more threads (more runtime workers, fewer blocking sections, no global lock) or make a request cheaper: the process should pass its whole-core ceiling and the plateau rise with it; a profile of the hot thread shows what holds it.".into(),
        (VerdictKind::Server, Some(ServerBound::PoolIo)) => "Enlarge the downstream pool or shorten the awaited work: the plateau should move to about pool size / hold time; the pool-wait histogram (satlab.pool.wait.duration) should show the queueing.".into(),
        (VerdictKind::Server, Some(ServerBound::Shedding)) => "Raise the server's queue bound or add capacity: the 429/503 share should fall and goodput rise.".into(),
        (VerdictKind::Server, Some(ServerBound::Stall)) => {
            let what = match stall {
                Some(EventKind::PoolRecycle) => "pool_recycle events fewer or shorter (recycle the pool less often, reconnect faster)".to_string(),
                Some(EventKind::CpuBurst) => "cpu_burst events fewer or shorter".to_string(),
                Some(EventKind::GcPause) | None => "gc_pause events fewer or shorter (less allocation, a larger heap, a concurrent collector)".to_string(),
                Some(k @ EventKind::Reported(_)) => format!("{} events fewer or shorter", k.name()),
            };
            format!("Make the {what}: the plateau should rise toward the stalls' cap and beyond; a bigger pool or more CPU will not move it while the stalls hold most of the time.")
        }
        (VerdictKind::Server, None) => "Sample the server's CPU (run under `observer lab`) to tell CPU-bound from pool/I/O-bound.".into(),
        (VerdictKind::Socket, _) => "Reuse connections (keep-alive), widen the ephemeral port range, raise the listen backlog and the fd limit: the connection errors, listen drops and ≈1 s/3 s latencies should vanish.".into(),
        (VerdictKind::Scaling, _) => "Extend the plan to higher load to find the plateau (see the fitted peak N*).".into(),
        (VerdictKind::Machine, _) => "Run the load generator on other CPUs (pin client and server to disjoint cores, or use a second machine): throughput should rise and the server's CPU with it.".into(),
        (VerdictKind::Disturbed, _) => "Repeat the run on a quiet machine (or pin the lab's processes to CPUs nothing else uses): the other processes' CPU and the run-queue waits should vanish and the verdict become clear.".into(),
        (VerdictKind::Inconclusive, _) => "Run more load steps (at least 4, doubling) with the observer sampling both processes.".into(),
    }
}

/// What would confirm a socket verdict that stands on the time before the handler (the
/// way in is slow, nothing fails).
pub fn confirm_way_in() -> String {
    "Make the way in cheaper: reuse connections (keep-alive) so fewer are accepted, take slow work (handshakes, filters) off the accept loop or accept on more threads: the time before the handler should shrink and the plateau rise, with the handler's own time unchanged.".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_advice_names_the_event_kind_not_the_pool() {
        let a = confirm(
            VerdictKind::Server,
            Some(ServerBound::Stall),
            Some(EventKind::GcPause),
        );
        assert!(
            a.starts_with("Make the gc_pause events fewer or shorter"),
            "{a}"
        );
        assert!(!a.contains("Enlarge"));
        let r = confirm(
            VerdictKind::Server,
            Some(ServerBound::Stall),
            Some(EventKind::PoolRecycle),
        );
        assert!(r.contains("pool_recycle"), "{r}");
        assert!(confirm(VerdictKind::Machine, None, None).contains("disjoint cores"));
    }
}
