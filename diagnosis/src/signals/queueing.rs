//! Queueing at the server: nearly every worker waits on it (closed loop), or it falls behind
//! the offered rate (open loop).

use super::signal::{Ctx, Finding, Signal, ev, pct};
use crate::model::{Evidence, StepRow};

/// Requests queue in the server: N_eff/N near 1 with R ≈ N/X (closed loop), or the achieved
/// rate short of the offered one or latency far above the lightest step's (open loop).
#[derive(Debug, Clone, Copy, Default)]
pub struct Queueing;

impl Queueing {
    /// N_eff/N at or above this: nearly every worker is waiting on the server, so requests
    /// queue there (R ≈ N/X_max).
    pub const NEFF_RATIO: f64 = 0.85;
    /// Open loop: achieved/offered rate below this means the system did not keep up.
    pub const OPEN_KEEPUP_RATIO: f64 = 0.95;
    /// Open loop: mean latency this many times the lightest step's means requests wait in
    /// a queue even while the rate is still met (service time alone does not triple).
    pub const OPEN_LATENCY_GROWTH: f64 = 3.0;

    /// Whether requests queue at this step.
    pub fn queued(row: &StepRow, ctx: &Ctx) -> bool {
        let ratio = row.load_ratio.unwrap_or(f64::NAN);
        if ctx.open {
            ratio < Self::OPEN_KEEPUP_RATIO
                || Self::latency_growth(row, ctx) >= Self::OPEN_LATENCY_GROWTH
        } else {
            ratio >= Self::NEFF_RATIO
        }
    }

    /// Open loop: mean latency over the lightest step's.
    fn latency_growth(row: &StepRow, ctx: &Ctx) -> f64 {
        if ctx.base_mean_ms > 0.0 {
            row.mean_ms / ctx.base_mean_ms
        } else {
            1.0
        }
    }

    /// Open loop: the achieved rate against the offered one.
    pub fn open_evidence(row: &StepRow, ctx: &Ctx) -> Evidence {
        let ratio = row.load_ratio.unwrap_or(f64::NAN);
        ev(
            "achieved_over_offered",
            ratio,
            Self::OPEN_KEEPUP_RATIO,
            "<",
            format!(
                "achieved {:.0} of {:.0} req/s offered ({}); mean latency ×{:.1} vs the lightest step",
                row.rps,
                row.load,
                pct(ratio),
                Self::latency_growth(row, ctx)
            ),
        )
    }

    /// Closed loop: N_eff/N and R against N/X, read as queueing or not.
    pub fn neff_evidence(row: &StepRow, queued: bool) -> Evidence {
        let ratio = row.load_ratio.unwrap_or(f64::NAN);
        ev(
            "n_eff_ratio",
            ratio,
            Self::NEFF_RATIO,
            if queued { ">=" } else { "<" },
            format!(
                "N_eff/N = {ratio:.2}: {} (R = {:.1} ms ≈ N/X = {:.1} ms)",
                if queued {
                    "requests queue in the server"
                } else {
                    "part of the time is spent outside the server"
                },
                row.mean_ms,
                row.load / row.ok_rps.max(1e-9) * 1000.0
            ),
        )
    }
}

impl Signal for Queueing {
    fn name(&self) -> &'static str {
        "n_eff_ratio"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        Self::queued(row, ctx).then(|| {
            let e = if ctx.open {
                Self::open_evidence(row, ctx)
            } else {
                Self::neff_evidence(row, true)
            };
            Finding::new(vec![e], 0.85)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Position;
    use crate::signals::test_rows::row;

    #[test]
    fn closed_loop_reads_n_eff() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        let f = Queueing.check(&r, &ctx).unwrap();
        assert_eq!(
            f.evidence[0].text,
            "N_eff/N = 1.00: requests queue in the server (R = 16.0 ms ≈ N/X = 16.0 ms)"
        );
        r.load_ratio = Some(0.5);
        assert!(Queueing.check(&r, &ctx).is_none());
        r.load_ratio = None;
        assert!(Queueing.check(&r, &ctx).is_none());
    }

    #[test]
    fn open_loop_reads_the_rate_and_latency() {
        let mut ctx = Ctx::at(Position::Saturated);
        ctx.open = true;
        ctx.base_mean_ms = 2.0;
        let mut r = row();
        r.load = 4000.0;
        r.rps = 3990.0;
        r.load_ratio = Some(3990.0 / 4000.0);
        r.mean_ms = 2.5;
        assert!(Queueing.check(&r, &ctx).is_none());
        // Latency ×4 with the rate still met: queueing.
        r.mean_ms = 8.0;
        let f = Queueing.check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].signal, "achieved_over_offered");
        assert!(
            f.evidence[0].text.contains("×4.0"),
            "{}",
            f.evidence[0].text
        );
        // Falling behind the offered rate: queueing.
        r.mean_ms = 2.0;
        r.load_ratio = Some(0.6);
        assert!(Queueing.check(&r, &ctx).is_some());
    }
}
