//! The stall bound: count-driven server events (pauses, pool recycles) that stall the
//! server for most of the time cap its throughput.
//!
//! Why one half. With stalls of d every M requests, X = 1 / (1/X₀ + d/M): the harmonic sum
//! of what the server does between stalls (X₀) and the stalls' cap (M/d = X ÷ s, see
//! [`crate::stall`]). The stalled share s = X·d/M is the stalls' part of that sum, so the
//! stalls are the tighter of the two limits exactly when s > ½: removing them would more
//! than double throughput, while removing everything else would less than double it. When
//! their cap is within [`StallBound::CAP_MATCH`] of the plateau (s ≳ 0.87) they explain it
//! alone, and the verdict is held with more confidence.

use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use crate::format::fmt_num;
use crate::model::{StallScope, StepRow, StepStall};

/// Server stall-bound: count-driven events that stop the server (or the pool's users) hold
/// at least [`StallBound::DOMINANT_SHARE`] of the step's time.
#[derive(Debug, Clone, Copy, Default)]
pub struct StallBound;

impl StallBound {
    /// Stalled share of the time from which stalls are the tighter limit on throughput
    /// (see the module's note): the stalls are where most of the requests' time goes.
    pub const DOMINANT_SHARE: f64 = 0.5;
    /// The implied cap within this fraction of the observed plateau: the stalls alone
    /// explain it (run-to-run noise of a loopback plateau is a few percent, and a cap 15%
    /// away leaves the other limit at least ~7× the plateau).
    pub const CAP_MATCH: f64 = 0.15;

    /// The step's stall that could bound it: count-driven, stopping requests, the largest
    /// share first.
    pub fn candidate(row: &StepRow) -> Option<&StepStall> {
        row.stalls
            .iter()
            .filter(|s| s.scope != StallScope::HandlerCpu && s.count_driven)
            .filter(|s| s.implied_cap_rps.is_some())
            .max_by(|a, b| a.share.total_cmp(&b.share))
    }
}

impl Signal for StallBound {
    fn name(&self) -> &'static str {
        "stall_share"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        if ctx.position == Position::Scaling {
            return None;
        }
        let s = Self::candidate(row)?;
        let cap = s.implied_cap_rps?;
        if s.share < Self::DOMINANT_SHARE {
            return None;
        }
        let (x, what) = match (ctx.position, ctx.plateau_rps) {
            (Position::Saturated, Some(p)) => (p, "the plateau"),
            _ => (row.ok_rps, "this step's throughput"),
        };
        let within = x > 0.0 && (cap - x).abs() <= Self::CAP_MATCH * x;
        let evidence = vec![
            ev(
                self.name(),
                s.share,
                Self::DOMINANT_SHARE,
                ">=",
                format!(
                    "{} {}: its events held {} of the time (the union of their intervals), {:.1} per s, {:.1} ms each",
                    s.kind.name(),
                    s.scope.describe(),
                    pct(s.share),
                    s.per_s,
                    s.mean_ms
                ),
            ),
            ev(
                "implied_cap_rps",
                cap,
                x,
                if within { "~" } else { ">" },
                format!(
                    "they fire by count, so they cap throughput at ~{} req/s (X ÷ stalled share); {what} of ~{} req/s is {}",
                    fmt_num(cap),
                    fmt_num(x),
                    if within {
                        format!(
                            "within {} of it: the stalls alone explain it",
                            pct(Self::CAP_MATCH)
                        )
                    } else {
                        format!(
                            "×{:.2} below it: the stalls are the tighter limit, the server's own work between them the other",
                            cap / x.max(1e-9)
                        )
                    }
                ),
            ),
        ];
        let conf = match (within, ctx.position) {
            (true, Position::Saturated) => 0.85,
            (true, _) | (false, Position::Saturated) => 0.75,
            (false, _) => 0.65,
        };
        Some(Finding::new(evidence, conf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::row;
    use satlab_record::EventKind;

    fn stall(kind: EventKind, share: f64, x: f64, count_driven: bool) -> StepStall {
        StepStall {
            kind,
            scope: StallScope::of(kind),
            events: 100,
            per_s: 10.0,
            mean_ms: share * 100.0,
            share,
            count_driven,
            implied_cap_rps: count_driven.then(|| x / share),
        }
    }

    #[test]
    fn pauses_that_cap_the_plateau() {
        let mut ctx = Ctx::at(Position::Saturated);
        ctx.plateau_rps = Some(1000.0);
        let mut r = row();
        r.stalls = vec![stall(EventKind::GcPause, 0.9, 1000.0, true)];
        let f = StallBound.check(&r, &ctx).unwrap();
        assert_eq!(f.confidence, 0.85);
        assert_eq!(f.evidence[0].signal, "stall_share");
        assert_eq!(
            f.evidence[0].text,
            "gc_pause stops the whole server: its events held 90% of the time (the union of their intervals), 10.0 per s, 90.0 ms each"
        );
        assert_eq!(f.evidence[1].comparison, "~");
        assert!(
            f.evidence[1].text.contains("~1,111 req/s"),
            "{}",
            f.evidence[1].text
        );
        // More than half the time but the cap well above the plateau: the tighter limit.
        r.stalls = vec![stall(EventKind::GcPause, 0.6, 1000.0, true)];
        let f = StallBound.check(&r, &ctx).unwrap();
        assert_eq!(f.confidence, 0.75);
        assert_eq!(f.evidence[1].comparison, ">");
    }

    #[test]
    fn pauses_that_do_not_cap_throughput() {
        let mut ctx = Ctx::at(Position::Saturated);
        ctx.plateau_rps = Some(1000.0);
        let mut r = row();
        r.stalls = vec![stall(EventKind::GcPause, 0.38, 1000.0, true)];
        assert!(StallBound.check(&r, &ctx).is_none());
        // Time-driven stalls imply no cap; CPU bursts stop nothing.
        r.stalls = vec![
            stall(EventKind::GcPause, 0.7, 1000.0, false),
            stall(EventKind::CpuBurst, 0.9, 1000.0, true),
        ];
        assert!(StallBound.check(&r, &ctx).is_none());
        // Below the knee, never.
        r.stalls = vec![stall(EventKind::GcPause, 0.9, 1000.0, true)];
        assert!(StallBound.check(&r, &Ctx::at(Position::Scaling)).is_none());
    }

    #[test]
    fn without_a_plateau_the_step_itself_is_compared() {
        let mut r = row();
        r.ok_rps = 2000.0;
        r.stalls = vec![
            stall(EventKind::PoolRecycle, 0.55, 2000.0, true),
            stall(EventKind::GcPause, 0.1, 2000.0, true),
        ];
        let f = StallBound.check(&r, &Ctx::at(Position::Single)).unwrap();
        assert!(
            f.evidence[0]
                .text
                .starts_with("pool_recycle stops the pool's users: its events held 55%"),
            "{}",
            f.evidence[0].text
        );
        assert!(
            f.evidence[1]
                .text
                .contains("this step's throughput of ~2,000")
        );
        assert_eq!(f.confidence, 0.65);
    }
}
