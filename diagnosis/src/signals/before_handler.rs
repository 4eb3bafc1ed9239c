//! Before the handler: requests queue, the server's CPU is low, and the split of each
//! request's time by trace says most of it passed before the handler ran — in the
//! kernel's accept queue, behind a slow accept loop, in connection setup. The server's
//! handlers are not the limit; the way in is.

use super::levels::CPU_BUSY;
use super::signal::{Ctx, Finding, Position, Signal, ev, pct};
use crate::format::fmt_num;
use crate::model::StepRow;

/// Socket-bound by the way in: at least [`BeforeHandler::DOMINANT_SHARE`] of the joined
/// requests' time passed before the server's handler while the server's CPU stays below
/// [`CPU_BUSY`] and requests queue (past the knee) or at a single load step.
#[derive(Debug, Clone, Copy, Default)]
pub struct BeforeHandler {
    /// Requests queue at this step.
    pub queued: bool,
}

/// The `signal` of this signal's main evidence.
pub const BEFORE_HANDLER_SIGNAL: &str = "before_handler_share";

impl BeforeHandler {
    /// Share of the requests' time before the handler at which the way in is where they
    /// wait: past one half, no part inside the server can be the larger one.
    pub const DOMINANT_SHARE: f64 = 0.5;
}

impl Signal for BeforeHandler {
    fn name(&self) -> &'static str {
        BEFORE_HANDLER_SIGNAL
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        let share = row.before_handler_share?;
        let us = row.server_cpu?;
        if share < Self::DOMINANT_SHARE || us >= CPU_BUSY {
            return None;
        }
        let stands = match ctx.position {
            Position::Saturated => self.queued,
            Position::Single => true,
            Position::Scaling | Position::NoPlateau => false,
        };
        if !stands {
            return None;
        }
        let mut evidence = vec![ev(
            self.name(),
            share,
            Self::DOMINANT_SHARE,
            ">=",
            format!(
                "{} of the traced requests' time passed before the server's handler ran (connection setup, the kernel's accept queue, the accept loop)",
                pct(share)
            ),
        )];
        if let Some(h) = row.handler_concurrency {
            evidence.push(ev(
                "handler_concurrency",
                h,
                row.n_eff,
                "<",
                format!(
                    "on average {} requests were inside the handler of N_eff = {} in flight",
                    fmt_num(h),
                    fmt_num(row.n_eff)
                ),
            ));
        }
        evidence.push(ev(
            "server_cpu",
            us,
            CPU_BUSY,
            "<",
            format!("server CPU only {} of its capacity", pct(us)),
        ));
        let conf = if ctx.position == Position::Single {
            0.6
        } else {
            0.75
        };
        Some(Finding::new(evidence, conf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::row;

    fn slow_way_in() -> StepRow {
        let mut r = row();
        r.server_cpu = Some(0.05);
        r.before_handler_share = Some(0.7);
        r.handler_concurrency = Some(4.0);
        r
    }

    #[test]
    fn fires_past_the_knee_when_most_time_is_before_the_handler() {
        let s = BeforeHandler { queued: true };
        let f = s
            .check(&slow_way_in(), &Ctx::at(Position::Saturated))
            .unwrap();
        assert_eq!(f.evidence[0].signal, "before_handler_share");
        assert_eq!(f.evidence[0].value, 0.7);
        assert_eq!(f.evidence[1].signal, "handler_concurrency");
    }

    #[test]
    fn silent_below_half_with_a_busy_server_or_without_traces() {
        let s = BeforeHandler { queued: true };
        let ctx = Ctx::at(Position::Saturated);
        let mut r = slow_way_in();
        r.before_handler_share = Some(0.45);
        assert!(s.check(&r, &ctx).is_none());
        let mut r = slow_way_in();
        r.server_cpu = Some(0.9);
        assert!(s.check(&r, &ctx).is_none());
        let mut r = slow_way_in();
        r.before_handler_share = None;
        assert!(s.check(&r, &ctx).is_none());
        // Below the knee throughput still grows: not a bound.
        assert!(
            s.check(&slow_way_in(), &Ctx::at(Position::Scaling))
                .is_none()
        );
        assert!(
            BeforeHandler { queued: false }
                .check(&slow_way_in(), &ctx)
                .is_none()
        );
    }
}
