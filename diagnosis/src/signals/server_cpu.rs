//! The server is short of CPU: at capacity, or busy while requests queue, or sharing a
//! saturated machine.

use super::levels::{CPU_BUSY, CPU_CONTENDED, CPU_SATURATED};
use super::queueing::Queueing;
use super::signal::{Ctx, Finding, Signal, ev, pct};
use crate::model::StepRow;

/// Server CPU-bound: its CPU at capacity; or, while requests queue, busy (≥ [`CPU_BUSY`])
/// or contended (≥ [`CPU_CONTENDED`] on a machine whose CPUs are saturated).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerCpu {
    /// Requests queue at this step ([`Queueing`]).
    pub queued: bool,
    /// The client is at its CPU capacity or a core ceiling.
    pub client_saturated: bool,
}

impl ServerCpu {
    /// Confidence gained when the server reads this close to its capacity: a fully busy
    /// process reads 95–100% over a step.
    pub const FULLY_BUSY: f64 = 0.95;

    /// The server is at its CPU capacity.
    pub fn saturated(row: &StepRow) -> bool {
        row.server_cpu.is_some_and(|c| c >= CPU_SATURATED)
    }
}

impl Signal for ServerCpu {
    fn name(&self) -> &'static str {
        "server_cpu"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let us = row.server_cpu?;
        if Self::saturated(row) {
            let mut evidence = vec![ev(
                self.name(),
                us,
                CPU_SATURATED,
                ">=",
                format!("server CPU at {} of its capacity", pct(us)),
            )];
            if !ctx.open {
                evidence.push(Queueing::neff_evidence(row, self.queued));
            }
            let mut conf: f64 = 0.75;
            if self.queued {
                conf += 0.1;
            }
            if us >= Self::FULLY_BUSY {
                conf += 0.05;
            }
            if !self.client_saturated {
                conf += 0.05;
            }
            return Some(Finding::new(evidence, conf));
        }
        if !self.queued {
            return None;
        }
        let mut evidence = Vec::new();
        if !ctx.open {
            evidence.push(Queueing::neff_evidence(row, true));
        }
        match row.system_cpu {
            Some(m) if us >= CPU_CONTENDED && m >= CPU_SATURATED => {
                evidence.push(ev(
                    "system_cpu",
                    m,
                    CPU_SATURATED,
                    ">=",
                    format!(
                        "the machine's CPUs are {} busy while requests queue and the server uses {} of its CPU: it is short of CPU, shared with other processes",
                        pct(m),
                        pct(us)
                    ),
                ));
                Some(Finding::new(evidence, 0.6))
            }
            _ if us >= CPU_BUSY => {
                evidence.push(ev(
                    self.name(),
                    us,
                    CPU_BUSY,
                    ">=",
                    format!(
                        "server CPU at {} of its capacity while requests queue: busy, if short of the {} saturation mark (other processes on its CPUs take the rest); a pool- or I/O-bound server stays far lower",
                        pct(us),
                        pct(CPU_SATURATED)
                    ),
                ));
                Some(Finding::new(evidence, 0.65))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Position;
    use crate::signals::test_rows::row;

    fn names(f: &Finding) -> Vec<&str> {
        f.evidence.iter().map(|e| e.signal.as_str()).collect()
    }

    #[test]
    fn at_capacity() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_cpu = Some(0.97);
        let s = ServerCpu {
            queued: true,
            client_saturated: false,
        };
        let f = s.check(&r, &ctx).unwrap();
        assert_eq!(names(&f), vec!["server_cpu", "n_eff_ratio"]);
        assert!((f.confidence - 0.95).abs() < 1e-12);
        r.server_cpu = Some(0.5);
        assert!(s.check(&r, &ctx).is_none());
        r.server_cpu = None;
        assert!(s.check(&r, &ctx).is_none());
    }

    #[test]
    fn busy_or_contended_while_queued() {
        let ctx = Ctx::at(Position::Saturated);
        let s = ServerCpu {
            queued: true,
            client_saturated: false,
        };
        let mut r = row();
        r.server_cpu = Some(0.75);
        let f = s.check(&r, &ctx).unwrap();
        assert_eq!(f.confidence, 0.65);
        assert_eq!(f.evidence[1].threshold, CPU_BUSY);
        r.server_cpu = Some(0.45);
        assert!(s.check(&r, &ctx).is_none());
        r.system_cpu = Some(0.97);
        let f = s.check(&r, &ctx).unwrap();
        assert_eq!(names(&f), vec!["n_eff_ratio", "system_cpu"]);
        // Not queued: a half-busy server on a busy machine says nothing.
        let idle = ServerCpu { queued: false, ..s };
        assert!(idle.check(&r, &ctx).is_none());
    }
}
