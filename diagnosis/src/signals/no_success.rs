//! No success: a step where (nearly) no request succeeded has no throughput to judge.

use super::signal::{Ctx, Finding, Signal, ev};
use crate::format::fmt_num;
use crate::model::StepRow;

/// (Nearly) every request of the step failed: zero throughput is said as such, with the
/// failure kinds, never read as growth or as a plateau.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSuccess;

impl NoSuccess {
    /// Successful share of requests at or below which a step has no throughput to speak
    /// of: one request in a hundred succeeding leaves a rate too small and too noisy to
    /// place on a scalability curve.
    pub const SUCCESS_SHARE: f64 = 0.01;

    /// The step's successful share of requests.
    pub fn ok_share(row: &StepRow) -> f64 {
        if row.rps > 0.0 {
            (row.ok_rps / row.rps).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// `addr_not_available 29,162, http_503 12`: the step's failures, largest first.
    pub fn failure_kinds(row: &StepRow) -> String {
        let mut v: Vec<(String, u64)> = row
            .errors
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        if v.is_empty() {
            return "no failure kind recorded".into();
        }
        v.iter()
            .map(|(k, n)| format!("{k} {}", fmt_num(*n as f64)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Signal for NoSuccess {
    fn name(&self) -> &'static str {
        "ok_share"
    }

    fn check(&self, row: &StepRow, _ctx: &Ctx) -> Option<Finding> {
        let share = Self::ok_share(row);
        if share > Self::SUCCESS_SHARE && row.ok_rps > 0.0 {
            return None;
        }
        let text = if row.ok_rps <= 0.0 {
            format!(
                "no request succeeded: {} requests failed ({})",
                fmt_num(row.requests as f64),
                Self::failure_kinds(row)
            )
        } else {
            format!(
                "nearly no request succeeded: {:.1}% of {} requests ({} req/s); the rest failed ({})",
                share * 100.0,
                fmt_num(row.requests as f64),
                fmt_num(row.ok_rps),
                Self::failure_kinds(row)
            )
        };
        Some(Finding::new(
            vec![ev(self.name(), share, Self::SUCCESS_SHARE, "<=", text)],
            0.8,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::signal::Position;
    use crate::signals::test_rows::row;
    use satlab_record::{ErrorKind, Failure};

    #[test]
    fn zero_and_near_zero_throughput() {
        let ctx = Ctx::at(Position::NoPlateau);
        let mut r = row();
        assert!(NoSuccess.check(&r, &ctx).is_none());
        r.ok_rps = 0.0;
        r.rps = 1458.0;
        r.requests = 2916;
        r.errors
            .insert(Failure::error(ErrorKind::AddrNotAvailable).unwrap(), 2900);
        r.errors.insert(Failure::status(503).unwrap(), 16);
        let f = NoSuccess.check(&r, &ctx).unwrap();
        assert_eq!(f.evidence[0].value, 0.0);
        assert_eq!(
            f.evidence[0].text,
            "no request succeeded: 2,916 requests failed (addr_not_available 2,900, http_503 16)"
        );
        r.ok_rps = 5.0;
        let f = NoSuccess.check(&r, &ctx).unwrap();
        assert!(
            f.evidence[0]
                .text
                .starts_with("nearly no request succeeded: 0.3% of 2,916 requests (5 req/s)"),
            "{}",
            f.evidence[0].text
        );
        r.ok_rps = 100.0;
        assert!(NoSuccess.check(&r, &ctx).is_none());
    }
}
