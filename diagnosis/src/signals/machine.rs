//! The shared machine: its CPUs are saturated while the load generator and the server run
//! on them and both use a material share — the client competes with the server.

use super::levels::{CPU_SATURATED, OTHERS_CROWD};
use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use crate::model::StepRow;

/// Machine-bound: machine-wide CPU at or above [`CPU_SATURATED`]; client and server each use
/// at least [`SharedMachine::MATERIAL_SHARE`] of the machine, neither is at its own
/// capacity, their CPU sets overlap, and other processes stay below [`OTHERS_CROWD`]: the
/// lab's own processes fill the machine. Without a plateau it stands only where added load
/// bought little throughput (below [`SharedMachine::SCALING_EFFICIENCY`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedMachine;

impl SharedMachine {
    /// Share of the machine's CPUs each of client and server must use to count as a
    /// competitor: a quarter of the machine (half a core of two) is more than a load
    /// generator's bookkeeping or a waiting server ever takes.
    pub const MATERIAL_SHARE: f64 = 0.25;
    /// Without a plateau, the machine is the limit only where at most half of the added load
    /// became throughput: a system that still scales at better than one half is not held
    /// back by the CPUs it shares.
    pub const SCALING_EFFICIENCY: f64 = 0.5;
}

impl Signal for SharedMachine {
    fn name(&self) -> &'static str {
        "system_cpu"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        if ctx.position == Position::Scaling {
            return None;
        }
        let m = row.system_cpu.filter(|m| *m >= CPU_SATURATED)?;
        let n = f64::from(row.machine_cpus?);
        let (c, s) = (row.client_process.as_ref()?, row.server_process.as_ref()?);
        let (cs, ss) = (c.cores / n, s.cores / n);
        let others = row.other_cores.unwrap_or(0.0) / n;
        let own_capacity = |cores: f64, cap: f64| cap > 0.0 && cores / cap >= CPU_SATURATED;
        if cs < Self::MATERIAL_SHARE
            || ss < Self::MATERIAL_SHARE
            || own_capacity(c.cores, c.capacity)
            || own_capacity(s.cores, s.capacity)
            || c.capacity + s.capacity <= n
            || others >= OTHERS_CROWD
        {
            return None;
        }
        let mut evidence = vec![
            ev(
                self.name(),
                m,
                CPU_SATURATED,
                ">=",
                format!(
                    "the machine's {} CPUs are {} busy, and the client and the server share them",
                    n as u32,
                    pct(m)
                ),
            ),
            ev(
                "client_machine_share",
                cs,
                Self::MATERIAL_SHARE,
                ">=",
                format!(
                    "the client uses {:.2} cores ({} of the machine), the server {:.2} ({}), other processes {:.2} ({}): the load generator takes CPU the server needs",
                    c.cores,
                    pct(cs),
                    s.cores,
                    pct(ss),
                    row.other_cores.unwrap_or(0.0),
                    pct(others)
                ),
            ),
        ];
        if ctx.position == Position::NoPlateau {
            let g = ctx.growth?;
            let eff = g.efficiency();
            if eff.is_nan() || eff >= Self::SCALING_EFFICIENCY {
                return None;
            }
            evidence.push(ev(
                "scaling_efficiency",
                eff,
                Self::SCALING_EFFICIENCY,
                "<",
                format!(
                    "load ×{:.2} bought throughput ×{:.2}: not scaling, the CPUs are taken",
                    g.load, g.throughput
                ),
            ));
        }
        let conf = if ctx.position == Position::Single {
            0.7
        } else {
            0.8
        };
        Some(Finding::new(evidence, conf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Growth;
    use crate::signals::test_rows::{process, row};

    /// The lab's two processes on one 2-core machine: client 0.78, server 0.86 cores.
    fn shared() -> StepRow {
        let mut r = row();
        r.system_cpu = Some(0.95);
        r.machine_cpus = Some(2);
        r.client_process = Some(process(0.78, 2.0, &[]));
        r.server_process = Some(process(0.86, 2.0, &[]));
        r.other_cores = Some(0.26);
        r
    }

    #[test]
    fn client_and_server_fill_the_machine() {
        let f = SharedMachine
            .check(&shared(), &Ctx::at(Position::Saturated))
            .unwrap();
        assert_eq!(
            f.evidence[0].text,
            "the machine's 2 CPUs are 95% busy, and the client and the server share them"
        );
        assert!(f.evidence[1].text.starts_with("the client uses 0.78 cores (39% of the machine), the server 0.86 (43%), other processes 0.26 (13%)"), "{}", f.evidence[1].text);
        assert_eq!(f.confidence, 0.8);
    }

    #[test]
    fn not_when_others_or_one_side_fill_it() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = shared();
        r.other_cores = Some(0.6);
        assert!(
            SharedMachine.check(&r, &ctx).is_none(),
            "others crowd it: disturbed"
        );
        let mut r = shared();
        r.client_process = Some(process(0.3, 2.0, &[]));
        assert!(
            SharedMachine.check(&r, &ctx).is_none(),
            "the client is no competitor"
        );
        let mut r = shared();
        r.client_process = Some(process(0.95, 1.0, &[]));
        r.server_process = Some(process(0.95, 1.0, &[]));
        assert!(
            SharedMachine.check(&r, &ctx).is_none(),
            "pinned apart, each at its capacity"
        );
        let mut r = shared();
        r.system_cpu = Some(0.7);
        assert!(SharedMachine.check(&r, &ctx).is_none());
        r.system_cpu = None;
        assert!(SharedMachine.check(&r, &ctx).is_none());
    }

    #[test]
    fn without_a_plateau_only_where_load_bought_little() {
        let mut ctx = Ctx::at(Position::NoPlateau);
        ctx.growth = Some(Growth {
            load: 2.0,
            throughput: 1.17,
        });
        let f = SharedMachine.check(&shared(), &ctx).unwrap();
        assert_eq!(f.evidence[2].signal, "scaling_efficiency");
        ctx.growth = Some(Growth {
            load: 2.0,
            throughput: 1.9,
        });
        assert!(SharedMachine.check(&shared(), &ctx).is_none());
        assert!(
            SharedMachine
                .check(&shared(), &Ctx::at(Position::Scaling))
                .is_none()
        );
    }
}
