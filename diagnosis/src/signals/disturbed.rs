//! A disturbed step: other processes crowd the lab's client or server off their CPUs, or
//! the hypervisor takes the machine's vCPUs away (steal), so the step's figures describe
//! the machine's other load as much as the system under test.

use super::core_ceiling::Side;
use super::levels::{CPU_SATURATED, OTHERS_CROWD};
use super::signal::{Ctx, Finding, Signal, ev, pct};
use crate::model::{Evidence, StepRow};

/// Disturbed: the client's or the server's threads waited for a CPU (run-queue wait) at
/// least [`Disturbed::RUN_QUEUE_WAIT_HIGH`] and at least as long as they ran, while that
/// process was below its own capacity (so it did not queue behind its own threads); or the
/// machine was saturated with other processes using at least [`OTHERS_CROWD`] of it. Not
/// when the lab's own processes fill the machine (that is the shared-machine verdict).
#[derive(Debug, Clone, Copy, Default)]
pub struct Disturbed {
    /// The shared-machine signal fired: the waiting is the lab's own.
    pub machine_fired: bool,
}

impl Disturbed {
    /// Run-queue wait (thread-seconds per second) from which a process is crowded: a quarter
    /// of a core's worth of runnable time went unserved. Where the lab's processes fit their
    /// CPUs, a runnable thread finds a free CPU within microseconds and the figure stays at
    /// a few hundredths even at thousands of wake-ups per second.
    pub const RUN_QUEUE_WAIT_HIGH: f64 = 0.25;
    /// ...and at least this many times the CPU it used: waiting as long as it ran, it got
    /// at most half the CPU it was ready to use.
    pub const WAIT_OVER_CPU: f64 = 1.0;
    /// Share of the machine other processes must use for a process's waiting to be theirs:
    /// a tenth (0.2 cores on 2 CPUs). Below it the waiting is the lab's own contention (a
    /// hot server thread, the client's and the observer's threads sharing what is left),
    /// which the machine and core-ceiling signals judge.
    pub const OTHERS_PRESENT: f64 = 0.10;
    /// Confidence factor for a verdict the disturbance leaves standing but weakens.
    pub const CONFIDENCE_FACTOR: f64 = 0.8;
    /// Steal (share of the machine's CPU time the hypervisor gave to other guests) from
    /// which the step is disturbed: a tenth of the time away is pauses of tens of
    /// milliseconds in the latencies and a tenth off every CPU figure.
    pub const STEAL_HIGH: f64 = 0.10;

    /// The hypervisor's share of the step, when high.
    fn stolen(row: &StepRow) -> Option<Evidence> {
        let s = row.steal.filter(|&s| s >= Self::STEAL_HIGH)?;
        Some(ev(
            "steal",
            s,
            Self::STEAL_HIGH,
            ">=",
            format!(
                "the hypervisor gave {} of this machine's CPU time to other guests (steal): the vCPUs stopped at odd moments, pausing whatever ran on them",
                pct(s)
            ),
        ))
    }

    /// True when the only disturbance is steal, which the CPU signals already read in
    /// delivered cores.
    pub fn only_steal(f: &Finding) -> bool {
        f.evidence.iter().all(|e| e.signal == "steal")
    }

    fn crowded(side: Side, row: &StepRow) -> Option<Evidence> {
        let p = side.process(row)?;
        let w = p.run_queue_wait?;
        let at_capacity = p.capacity > 0.0 && p.cores / p.capacity >= CPU_SATURATED;
        if w < Self::RUN_QUEUE_WAIT_HIGH || w < Self::WAIT_OVER_CPU * p.cores || at_capacity {
            return None;
        }
        if let (Some(o), Some(n)) = (row.other_cores, row.machine_cpus)
            && o / f64::from(n.max(1)) < Self::OTHERS_PRESENT
        {
            return None;
        }
        Some(ev(
            match side {
                Side::Client => "client_run_queue_wait",
                Side::Server => "server_run_queue_wait",
            },
            w,
            Self::RUN_QUEUE_WAIT_HIGH,
            ">=",
            format!(
                "the {}'s threads waited {w:.2} thread-s/s for a CPU while it used {:.2} cores of {:.1}: it got at most half the CPU it was ready to use",
                side.name(),
                p.cores,
                p.capacity
            ),
        ))
    }
}

impl Signal for Disturbed {
    fn name(&self) -> &'static str {
        "other_cores"
    }

    fn check(&self, row: &StepRow, _ctx: &Ctx) -> Option<Finding> {
        if self.machine_fired {
            return None;
        }
        let mut evidence: Vec<Evidence> = [Side::Client, Side::Server]
            .into_iter()
            .filter_map(|s| Self::crowded(s, row))
            .chain(Self::stolen(row))
            .collect();
        if let (Some(o), Some(n), Some(m)) = (row.other_cores, row.machine_cpus, row.system_cpu) {
            let share = o / f64::from(n.max(1));
            if m >= CPU_SATURATED && share >= OTHERS_CROWD {
                let cores = |p: Option<&crate::model::ProcessCpu>| {
                    p.map(|p| format!("{:.2}", p.cores))
                        .unwrap_or_else(|| "–".into())
                };
                evidence.push(ev(
                    self.name(),
                    share,
                    OTHERS_CROWD,
                    ">=",
                    format!(
                        "other processes used {o:.2} of the machine's {n} CPUs ({}) while it was {} busy; the client used {} cores, the server {}",
                        pct(share),
                        pct(m),
                        cores(row.client_process.as_ref()),
                        cores(row.server_process.as_ref())
                    ),
                ));
            }
        }
        (!evidence.is_empty()).then(|| Finding::new(evidence, 0.6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Position;
    use crate::signals::test_rows::{process, row};

    #[test]
    fn a_crowded_server_waits_for_a_cpu() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        let mut s = process(0.3, 2.0, &[]);
        s.run_queue_wait = Some(0.78);
        r.server_process = Some(s);
        let f = Disturbed::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].signal, "server_run_queue_wait");
        assert_eq!(
            f.evidence[0].text,
            "the server's threads waited 0.78 thread-s/s for a CPU while it used 0.30 cores of 2.0: it got at most half the CPU it was ready to use"
        );
        // The lab's own crowding is the machine verdict's business.
        assert!(
            Disturbed {
                machine_fired: true
            }
            .check(&r, &ctx)
            .is_none()
        );
    }

    #[test]
    fn a_hypervisor_taking_the_time_disturbs_the_step() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.steal = Some(0.05);
        assert!(Disturbed::default().check(&r, &ctx).is_none());
        r.steal = Some(0.3);
        let f = Disturbed::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(f.evidence[0].signal, "steal");
        assert!(Disturbed::only_steal(&f));
        let mut s = process(0.3, 2.0, &[]);
        s.run_queue_wait = Some(0.78);
        r.server_process = Some(s);
        r.other_cores = Some(0.5);
        r.machine_cpus = Some(2);
        let f = Disturbed::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence.len(), 2);
        assert!(!Disturbed::only_steal(&f));
    }

    #[test]
    fn waiting_behind_its_own_threads_or_briefly_is_not_disturbance() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        // A client pinned to one core at capacity queues its own threads.
        let mut c = process(0.97, 1.0, &[]);
        c.run_queue_wait = Some(3.0);
        r.client_process = Some(c);
        // A busy server that waited less than it ran.
        let mut s = process(1.2, 2.0, &[]);
        s.run_queue_wait = Some(0.4);
        r.server_process = Some(s);
        assert!(Disturbed::default().check(&r, &ctx).is_none());
        // Below the absolute floor.
        let mut s = process(0.05, 2.0, &[]);
        s.run_queue_wait = Some(0.2);
        r.server_process = Some(s);
        assert!(Disturbed::default().check(&r, &ctx).is_none());
        // Waiting behind the lab's own threads (a server thread at 100% on one of two
        // CPUs, the observer) while nothing else runs: the lab's own contention.
        let mut c = process(0.21, 2.0, &[]);
        c.run_queue_wait = Some(0.45);
        r.client_process = Some(c);
        r.server_process = Some(process(1.0, 2.0, &[]));
        r.machine_cpus = Some(2);
        r.other_cores = Some(0.1);
        assert!(Disturbed::default().check(&r, &ctx).is_none());
        // The same waiting with another program using a core is a disturbance.
        r.other_cores = Some(1.0);
        let f = Disturbed::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].signal, "client_run_queue_wait");
    }

    #[test]
    fn other_processes_fill_a_saturated_machine() {
        let ctx = Ctx::at(Position::Single);
        let mut r = row();
        r.system_cpu = Some(0.99);
        r.machine_cpus = Some(2);
        r.client_process = Some(process(0.28, 2.0, &[]));
        r.server_process = Some(process(0.28, 2.0, &[]));
        r.other_cores = Some(1.42);
        let f = Disturbed::default().check(&r, &ctx).unwrap();
        assert_eq!(
            f.evidence[0].text,
            "other processes used 1.42 of the machine's 2 CPUs (71%) while it was 99% busy; the client used 0.28 cores, the server 0.28"
        );
        r.system_cpu = Some(0.6);
        assert!(Disturbed::default().check(&r, &ctx).is_none());
    }
}
