//! Pool or I/O bound: requests queue while the server's CPU stays low; the time goes to
//! waiting (a pool permit, awaited I/O), shown by the pool-wait figures when the server
//! sent them.

use super::levels::{CPU_BUSY, CPU_HEADROOM};
use super::queueing::Queueing;
use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use crate::format::fmt_num;
use crate::model::{Evidence, StepRow};

/// Server pool/I/O-bound: requests queue and the server's CPU is below [`CPU_BUSY`]. At a
/// single load step (no plateau to show queueing) it stands only on the pool-wait figure:
/// requests spend at least [`PoolWait::DOMINANT_SHARE`] of their latency waiting for a
/// permit.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolWait {
    /// Requests queue at this step ([`Queueing`]).
    pub queued: bool,
}

impl PoolWait {
    /// Share of the mean latency spent waiting for a pool permit at which the pool is where
    /// requests wait: past one half, no other part of the request can be the larger one.
    pub const DOMINANT_SHARE: f64 = 0.5;

    /// The pool-wait figure (or its absence), worded.
    pub fn wait_evidence(row: &StepRow) -> Evidence {
        match row.pool_wait_mean_ms {
            Some(w) if row.mean_ms > 0.0 => {
                let share = w / row.mean_ms;
                ev(
                    "pool_wait_share",
                    share,
                    Self::DOMINANT_SHARE,
                    if share >= Self::DOMINANT_SHARE { ">=" } else { "<" },
                    format!(
                        "requests waited {w:.1} ms for a pool permit on average: {} of the {:.1} ms mean latency{}",
                        pct(share),
                        row.mean_ms,
                        if share >= Self::DOMINANT_SHARE {
                            ""
                        } else {
                            " (the rest goes to other awaited work, I/O)"
                        }
                    ),
                )
            }
            _ => ev(
                "pool_wait_share",
                f64::NAN,
                Self::DOMINANT_SHARE,
                "n/a",
                "no pool-wait figure was received (no pool-wait part on the server spans, no satlab.pool.wait.duration): a pool and other awaited I/O cannot be told apart".into(),
            ),
        }
    }

    /// Requests inside the handler against N_eff outside, when known.
    pub fn inside_evidence(row: &StepRow) -> Option<Evidence> {
        let h = row.handler_concurrency?;
        Some(ev(
            "handler_concurrency",
            h,
            row.n_eff,
            "<",
            format!(
                "on average {} requests were inside the handler of N_eff = {} in flight: {} waited before it",
                fmt_num(h),
                fmt_num(row.n_eff),
                fmt_num((row.n_eff - h).max(0.0))
            ),
        ))
    }

    fn pool_dominant(row: &StepRow) -> bool {
        row.pool_wait_mean_ms
            .is_some_and(|w| row.mean_ms > 0.0 && w / row.mean_ms >= Self::DOMINANT_SHARE)
    }
}

impl Signal for PoolWait {
    fn name(&self) -> &'static str {
        "server_cpu"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let us = row.server_cpu?;
        if us >= CPU_BUSY {
            return None;
        }
        let stands = match ctx.position {
            Position::Saturated => self.queued,
            Position::Single => Self::pool_dominant(row),
            Position::Scaling | Position::NoPlateau => false,
        };
        if !stands {
            return None;
        }
        let mut evidence = Vec::new();
        if !ctx.open && self.queued {
            evidence.push(Queueing::neff_evidence(row, true));
        }
        evidence.push(ev(
            self.name(),
            us,
            CPU_BUSY,
            "<",
            format!(
                "server CPU only {} of its capacity: time goes to waiting (a pool, I/O)",
                pct(us)
            ),
        ));
        evidence.push(Self::wait_evidence(row));
        evidence.extend(Self::inside_evidence(row));
        let mut conf = if us < CPU_HEADROOM { 0.85 } else { 0.65 };
        if ctx.position == Position::Single {
            conf -= 0.15;
        }
        Some(Finding::new(evidence, conf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::row;

    fn names(f: &Finding) -> Vec<&str> {
        f.evidence.iter().map(|e| e.signal.as_str()).collect()
    }

    #[test]
    fn queued_with_low_cpu_cites_the_pool_wait() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.server_cpu = Some(0.05);
        let p = PoolWait { queued: true };
        let f = p.check(&r, &ctx).unwrap();
        assert_eq!(
            names(&f),
            vec!["n_eff_ratio", "server_cpu", "pool_wait_share"]
        );
        assert!(
            f.evidence[2]
                .text
                .starts_with("no pool-wait figure was received")
        );
        assert_eq!(f.confidence, 0.85);
        r.pool_wait_mean_ms = Some(12.0);
        r.handler_concurrency = Some(12.5);
        let f = p.check(&r, &ctx).unwrap();
        assert_eq!(
            f.evidence[2].text,
            "requests waited 12.0 ms for a pool permit on average: 75% of the 16.0 ms mean latency"
        );
        assert_eq!(
            f.evidence[3].text,
            "on average 12.5 requests were inside the handler of N_eff = 16 in flight: 3.50 waited before it"
        );
        // A busy server is not waiting.
        r.server_cpu = Some(0.7);
        assert!(p.check(&r, &ctx).is_none());
        // Nor is a server whose requests do not queue.
        r.server_cpu = Some(0.05);
        assert!(PoolWait { queued: false }.check(&r, &ctx).is_none());
    }

    #[test]
    fn a_single_step_needs_the_pool_wait_to_dominate() {
        let ctx = Ctx::at(Position::Single);
        let mut r = row();
        r.server_cpu = Some(0.05);
        let p = PoolWait { queued: true };
        assert!(p.check(&r, &ctx).is_none());
        r.pool_wait_mean_ms = Some(4.0);
        assert!(p.check(&r, &ctx).is_none());
        r.pool_wait_mean_ms = Some(10.0);
        let f = p.check(&r, &ctx).unwrap();
        assert!((f.confidence - 0.7).abs() < 1e-12);
        // Below the knee, never.
        assert!(p.check(&r, &Ctx::at(Position::Scaling)).is_none());
    }
}
