//! Shedding: the server refuses work with 429/503.

use super::signal::{Ctx, Finding, Signal, ev, pct};
use crate::model::StepRow;

/// The server refuses a material share of requests (429/503): an explicit server signal
/// wherever it appears.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shedding;

impl Shedding {
    /// Share of 429/503 responses that makes shedding material: 1% of requests refused is a
    /// policy at work, not a stray error.
    pub const SHARE: f64 = 0.01;
    /// From this share on (one request in ten refused) shedding is the step's dominant
    /// behaviour, and the verdict is held with more confidence.
    pub const STRONG_SHARE: f64 = 0.10;
}

impl Signal for Shedding {
    fn name(&self) -> &'static str {
        "shed_share"
    }

    fn check(&self, row: &StepRow, _ctx: &Ctx) -> Option<Finding> {
        (row.shed_share >= Self::SHARE).then(|| {
            Finding::new(
                vec![ev(
                    self.name(),
                    row.shed_share,
                    Self::SHARE,
                    ">=",
                    format!(
                        "{} of requests were refused with 429/503",
                        pct(row.shed_share)
                    ),
                )],
                if row.shed_share >= Self::STRONG_SHARE {
                    0.9
                } else {
                    0.75
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Position;
    use crate::signals::test_rows::row;

    #[test]
    fn fires_at_one_percent_and_grades_by_share() {
        let ctx = Ctx::at(Position::Saturated);
        let mut r = row();
        r.shed_share = 0.005;
        assert!(Shedding.check(&r, &ctx).is_none());
        r.shed_share = 0.02;
        let f = Shedding.check(&r, &ctx).unwrap();
        assert_eq!(f.confidence, 0.75);
        assert_eq!(f.evidence[0].signal, "shed_share");
        assert_eq!(
            f.evidence[0].text,
            "2% of requests were refused with 429/503"
        );
        r.shed_share = 0.5;
        assert_eq!(Shedding.check(&r, &ctx).unwrap().confidence, 0.9);
    }
}
