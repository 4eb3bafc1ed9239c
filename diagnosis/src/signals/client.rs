//! The client is short: the load generator cannot send faster (its CPU at capacity or at a
//! core ceiling, its timers late) while workers are not waiting on the server.

use super::levels::{CPU_HEADROOM, CPU_SATURATED};
use super::signal::{Ctx, Finding, Signal, ev, pct};
use crate::model::{Evidence, StepRow};

/// Client-bound: workers spend their time outside the server (N_eff/N low, or sends late in
/// open loop) while the client's CPU is saturated or its scheduler lags, and the server is
/// not saturated.
#[derive(Debug, Clone, Default)]
pub struct ClientShort {
    /// The server is at its CPU capacity or a core ceiling.
    pub server_saturated: bool,
    /// The client's own core ceiling, when that signal fired.
    pub ceiling: Option<Finding>,
}

impl ClientShort {
    /// N_eff/N below this: workers spend over 30% of their time not waiting on the server,
    /// so the client itself is the limit.
    pub const NEFF_RATIO: f64 = 0.70;
    /// Open loop: share of sends late or dropped at which the client is the bottleneck.
    pub const OPEN_LATE_SHARE: f64 = 0.05;
    /// Client scheduler lag p99 above this (ms): its timers fire late, it is starved of CPU.
    pub const SCHED_LAG_HIGH_MS: f64 = 10.0;
    /// Client scheduler lag p99 above this (ms) proves starvation on its own, whatever
    /// N_eff/N says: a loaded shared machine delays timers by tens of ms, never by a tenth
    /// of a second.
    pub const SCHED_LAG_STARVED_MS: f64 = 100.0;

    /// The client's CPU is saturated: at capacity, or at a core ceiling.
    pub fn cpu_saturated(&self, row: &StepRow) -> bool {
        row.client_cpu.is_some_and(|c| c >= CPU_SATURATED) || self.ceiling.is_some()
    }

    /// Its timers fire late.
    pub fn lag_high(row: &StepRow) -> bool {
        row.sched_lag_p99_ms >= Self::SCHED_LAG_HIGH_MS
    }

    /// Requests wait on the client's side: its sends are late (open loop), or its workers
    /// are not all waiting on the server, or the server is idle enough that whatever
    /// queueing there is happens in the client. The condition under which a client core
    /// ceiling counts.
    pub fn waiting_in_client(row: &StepRow, ctx: &Ctx) -> bool {
        if ctx.open {
            return row.late_share >= Self::OPEN_LATE_SHARE;
        }
        row.load_ratio.unwrap_or(f64::NAN) < Self::NEFF_RATIO
            || row.server_cpu.is_some_and(|s| s < CPU_HEADROOM)
    }

    /// Workers are not waiting on the server: the client is short of something.
    fn short(&self, row: &StepRow, ctx: &Ctx) -> bool {
        if ctx.open {
            return row.late_share >= Self::OPEN_LATE_SHARE;
        }
        let ratio = row.load_ratio.unwrap_or(f64::NAN);
        // A client whose CPU is at capacity measures its own run queue as latency (a
        // response waits to be polled while other workers compute), so N_eff/N then looks
        // like server queueing. With the server clearly idle (below CPU_HEADROOM) the client
        // is short of CPU whatever N_eff/N says.
        let starved = (self.cpu_saturated(row)
            || row.sched_lag_p99_ms >= Self::SCHED_LAG_STARVED_MS)
            && row.server_cpu.is_some_and(|s| s < CPU_HEADROOM);
        ratio < Self::NEFF_RATIO || starved
    }

    /// The weak form, where no other signal decided: the client's CPU or lag alone.
    pub fn weak(&self, row: &StepRow) -> Option<Finding> {
        (self.cpu_saturated(row) || Self::lag_high(row)).then(|| {
            let mut evidence = vec![ev(
                "client_cpu",
                row.client_cpu.unwrap_or(0.0),
                CPU_SATURATED,
                ">=",
                format!(
                    "client CPU at {}{} (scheduler lag p99 {:.1} ms)",
                    pct(row.client_cpu.unwrap_or(0.0)),
                    saturated_loadgens(row),
                    row.sched_lag_p99_ms
                ),
            )];
            if let Some(c) = &self.ceiling {
                evidence.extend(c.evidence.iter().cloned());
            }
            Finding::new(evidence, 0.5)
        })
    }
}

impl Signal for ClientShort {
    fn name(&self) -> &'static str {
        "client_cpu"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let cpu_sat = self.cpu_saturated(row);
        let lag_high = Self::lag_high(row);
        if !(self.short(row, ctx) && (cpu_sat || lag_high) && !self.server_saturated) {
            return None;
        }
        let ratio = row.load_ratio.unwrap_or(f64::NAN);
        let mut evidence = Vec::new();
        if ctx.open {
            evidence.push(ev(
                "late_share",
                row.late_share,
                Self::OPEN_LATE_SHARE,
                ">=",
                format!(
                    "{} of sends were late or dropped by the client",
                    pct(row.late_share)
                ),
            ));
        } else if ratio < Self::NEFF_RATIO {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                Self::NEFF_RATIO,
                "<",
                format!(
                    "N_eff/N = {ratio:.2}: only {:.1} of {:.0} workers are waiting on the server",
                    row.n_eff, row.load
                ),
            ));
        } else {
            evidence.push(ev(
                "n_eff_ratio",
                ratio,
                Self::NEFF_RATIO,
                ">=",
                format!(
                    "N_eff/N = {ratio:.2} is inflated by the client's own run queue: responses wait for a busy client CPU"
                ),
            ));
        }
        let at_capacity = row.client_cpu.is_some_and(|c| c >= CPU_SATURATED);
        if at_capacity {
            let cs = row.client_cpu.unwrap_or(0.0);
            evidence.push(ev(
                "client_cpu",
                cs,
                CPU_SATURATED,
                ">=",
                format!(
                    "client CPU at {} of its capacity{}",
                    pct(cs),
                    saturated_loadgens(row)
                ),
            ));
        }
        if let Some(c) = &self.ceiling {
            evidence.extend(c.evidence.iter().cloned());
        }
        if lag_high {
            evidence.push(ev(
                "sched_lag_p99_ms",
                row.sched_lag_p99_ms,
                Self::SCHED_LAG_HIGH_MS,
                ">=",
                format!(
                    "client timers fire {:.1} ms late (p99)",
                    row.sched_lag_p99_ms
                ),
            ));
        }
        evidence.push(server_headroom(row));
        let mut conf: f64 = 0.75;
        if cpu_sat && lag_high {
            conf += 0.1;
        }
        if row.server_cpu.is_some_and(|s| s < CPU_HEADROOM) {
            conf += 0.05;
        }
        Some(Finding::new(evidence, conf))
    }
}

/// In a distributed run, which loadgens ran out: `" (loadgens 0 and 2 of 3 at 97% and
/// 96%)"`, or empty.
pub fn saturated_loadgens(row: &StepRow) -> String {
    if row.loadgen_cpu.len() < 2 {
        return String::new();
    }
    let hot: Vec<_> = row
        .loadgen_cpu
        .iter()
        .filter(|l| l.cpu >= CPU_SATURATED)
        .collect();
    if hot.is_empty() {
        return String::new();
    }
    let join = |v: Vec<String>| match v.len() {
        1 => v[0].clone(),
        _ => format!("{} and {}", v[..v.len() - 1].join(", "), v[v.len() - 1]),
    };
    format!(
        " ({} {} of {} at {})",
        if hot.len() == 1 {
            "loadgen"
        } else {
            "loadgens"
        },
        join(hot.iter().map(|l| l.loadgen.to_string()).collect()),
        row.loadgen_cpu.len(),
        join(hot.iter().map(|l| pct(l.cpu)).collect())
    )
}

fn server_headroom(row: &StepRow) -> Evidence {
    match row.server_cpu {
        Some(us) => ev(
            "server_cpu",
            us,
            CPU_SATURATED,
            "<",
            format!("server has headroom: CPU at {}", pct(us)),
        ),
        None => ev(
            "server_cpu",
            f64::NAN,
            CPU_SATURATED,
            "n/a",
            "no server CPU samples".into(),
        ),
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
    fn saturated_client_with_idle_workers() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.load_ratio = Some(0.4);
        r.n_eff = 6.4;
        r.client_cpu = Some(0.97);
        r.sched_lag_p99_ms = 25.0;
        r.server_cpu = Some(0.12);
        let f = ClientShort::default().check(&r, &ctx).unwrap();
        assert_eq!(
            names(&f),
            vec![
                "n_eff_ratio",
                "client_cpu",
                "sched_lag_p99_ms",
                "server_cpu"
            ]
        );
        assert!((f.confidence - 0.9).abs() < 1e-12);
        // A saturated server takes precedence.
        let s = ClientShort {
            server_saturated: true,
            ceiling: None,
        };
        assert!(s.check(&r, &ctx).is_none());
    }

    #[test]
    fn a_distributed_run_names_the_loadgens_that_ran_out() {
        use crate::model::LoadgenCpu;
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.load_ratio = Some(0.4);
        r.client_cpu = Some(0.98);
        r.server_cpu = Some(0.2);
        let at = |loadgen, cpu| LoadgenCpu { loadgen, cpu };
        r.loadgen_cpu = vec![at(0, 0.98), at(1, 0.41), at(2, 0.96)];
        let f = ClientShort::default().check(&r, &ctx).unwrap();
        let said = &f.evidence[1].text;
        assert_eq!(
            said,
            "client CPU at 98% of its capacity (loadgens 0 and 2 of 3 at 98% and 96%)"
        );
        r.loadgen_cpu = vec![at(0, 0.41), at(1, 0.98)];
        assert_eq!(saturated_loadgens(&r), " (loadgen 1 of 2 at 98%)");
        r.loadgen_cpu = vec![at(0, 0.98)];
        assert_eq!(saturated_loadgens(&r), "");
    }

    #[test]
    fn inflated_n_eff_with_an_idle_server() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.load_ratio = Some(0.9);
        r.client_cpu = Some(0.99);
        r.server_cpu = Some(0.08);
        let f = ClientShort::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].comparison, ">=");
        assert!(f.evidence[0].text.contains("inflated"));
        // The same N_eff/N with a busy server is not the client's doing.
        r.server_cpu = Some(0.7);
        assert!(ClientShort::default().check(&r, &ctx).is_none());
    }

    #[test]
    fn a_core_ceiling_counts_as_saturated() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.load_ratio = Some(0.5);
        r.client_cpu = Some(0.5);
        assert!(ClientShort::default().check(&r, &ctx).is_none());
        let ceiling = Finding::new(
            vec![ev(
                "client_core_ceiling",
                1.0,
                1.0,
                "~",
                "1 thread at 98%".into(),
            )],
            0.8,
        );
        let s = ClientShort {
            server_saturated: false,
            ceiling: Some(ceiling),
        };
        let f = s.check(&r, &ctx).unwrap();
        assert_eq!(
            names(&f),
            vec!["n_eff_ratio", "client_core_ceiling", "server_cpu"]
        );
        assert_eq!(s.weak(&r).unwrap().confidence, 0.5);
    }

    #[test]
    fn open_loop_reads_late_sends() {
        let mut ctx = Ctx::at(Position::Saturated);
        ctx.open = true;
        let mut r = row();
        r.client_cpu = Some(0.95);
        r.late_share = 0.2;
        let f = ClientShort::default().check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].signal, "late_share");
        r.late_share = 0.01;
        assert!(ClientShort::default().check(&r, &ctx).is_none());
    }
}
