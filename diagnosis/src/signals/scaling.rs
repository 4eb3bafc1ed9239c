//! Below the plateau: throughput still grows with load at this step.

use super::queueing::Queueing;
use super::signal::{Ctx, Finding, Position, Signal, ev};
use crate::model::StepRow;

/// Still scaling: the step lies below the plateau's knee, or the run has no plateau, and it
/// completed requests successfully.
#[derive(Debug, Clone, Copy, Default)]
pub struct BelowPlateau;

impl Signal for BelowPlateau {
    fn name(&self) -> &'static str {
        "load_ratio"
    }

    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding> {
        (matches!(ctx.position, Position::Scaling | Position::NoPlateau) && row.ok_rps > 0.0).then(
            || {
                Finding::new(
                    vec![ev(
                        self.name(),
                        row.load_ratio.unwrap_or(f64::NAN),
                        Queueing::NEFF_RATIO,
                        "~",
                        "below the plateau: throughput still grows with load".into(),
                    )],
                    0.7,
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::test_rows::row;

    #[test]
    fn only_below_the_knee_or_without_a_plateau() {
        let r = row();
        assert!(
            BelowPlateau
                .check(&r, &Ctx::at(Position::Scaling))
                .is_some()
        );
        assert!(
            BelowPlateau
                .check(&r, &Ctx::at(Position::NoPlateau))
                .is_some()
        );
        assert!(
            BelowPlateau
                .check(&r, &Ctx::at(Position::Saturated))
                .is_none()
        );
        assert!(BelowPlateau.check(&r, &Ctx::at(Position::Single)).is_none());
        let mut zero = row();
        zero.ok_rps = 0.0;
        assert!(
            BelowPlateau
                .check(&zero, &Ctx::at(Position::Scaling))
                .is_none()
        );
    }
}
