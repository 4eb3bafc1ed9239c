//! Judging thresholds: a pure function of a [`LoadgenSummary`], run once at the end of a
//! run (and, the same way, on a merged record).
//!
//! `errors` is [`StepSummary::error_ratio`]: failed requests (no response, or a status
//! of 400 or more, 429 included) over completed requests. Open-loop sends dropped for
//! want of a free slot were never sent, so they count in neither part.

use crate::summary::{LoadgenSummary, StepSummary};
use crate::threshold::{Metric, Threshold, ThresholdResult};

/// The value of `metric` in window `s`; `None` when the window completed no request and the
/// metric is a latency or the error share (nothing to judge).
pub fn value(metric: Metric, s: &StepSummary) -> Option<f64> {
    let l = &s.latency;
    let latency = |us: u64| (s.requests > 0).then_some(us as f64);
    match metric {
        Metric::P50 => latency(l.p50_us),
        Metric::P90 => latency(l.p90_us),
        Metric::P95 => latency(l.p95_us),
        Metric::P99 => latency(l.p99_us),
        Metric::P999 => latency(l.p999_us),
        Metric::Max => latency(l.max_us),
        Metric::Mean => (s.requests > 0).then_some(l.mean_us),
        Metric::Errors => s.error_ratio(),
        Metric::Rps => Some(s.rps),
        Metric::Requests => Some(s.requests as f64),
    }
}

/// Judge `thresholds` on `summary`: one result per threshold, in order.
pub fn evaluate(summary: &LoadgenSummary, thresholds: &[Threshold]) -> Vec<ThresholdResult> {
    thresholds
        .iter()
        .map(|t| {
            let step = t.scope.resolve(summary.steps.len());
            let window = match step {
                Ok(None) => Some(&summary.overall),
                Ok(Some(n)) => summary.steps.iter().find(|s| s.index == n),
                Err(_) => None,
            };
            let actual = window.and_then(|w| value(t.metric, w));
            ThresholdResult {
                expr: t.expr.clone(),
                metric: t.metric,
                op: t.op,
                limit: t.limit,
                unit: t.metric.unit().into(),
                scope: t.scope,
                step: step.ok().flatten(),
                actual,
                passed: actual.is_some_and(|v| t.op.holds(v, t.limit)),
                partial_run: summary.interrupted,
            }
        })
        .collect()
}

/// True when every result passed (also when there are none).
pub fn all_passed(results: &[ThresholdResult]) -> bool {
    results.iter().all(|r| r.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::threshold::{Op, Scope};

    fn step(index: u32, requests: u64, ok: u64, p99_us: u64, rps: f64) -> StepSummary {
        let mut s = StepSummary {
            index,
            requests,
            ok,
            rps,
            ..Default::default()
        };
        s.latency.p50_us = p99_us / 4;
        s.latency.p90_us = p99_us / 2;
        s.latency.p95_us = p99_us * 3 / 4;
        s.latency.p99_us = p99_us;
        s.latency.p999_us = p99_us * 2;
        s.latency.max_us = p99_us * 3;
        s.latency.mean_us = p99_us as f64 / 5.0;
        s
    }

    fn summary(steps: Vec<StepSummary>, overall: StepSummary) -> LoadgenSummary {
        let v = serde_json::json!({
            "schema": LoadgenSummary::SCHEMA, "tool_version": "t", "pid": 1,
            "url": "http://127.0.0.1:1/", "method": "GET", "mode": "closed",
            "connection": "keep_alive", "http_version": "http1", "plan": "p",
            "settle_ms": 0, "started_unix_ns": 0, "ended_unix_ns": 0, "interrupted": false,
            "interrupt_reason": null, "cpu_capacity": 1.0, "trace_sample_ratio": 1.0,
            "steps": [], "overall": StepSummary::default(),
        });
        let mut s: LoadgenSummary = serde_json::from_value(v).unwrap();
        s.steps = steps;
        s.overall = overall;
        s
    }

    fn th(metric: Metric, op: Op, limit: f64, scope: Scope) -> Threshold {
        Threshold {
            expr: format!("{metric}{op}{limit}@{scope}"),
            metric,
            op,
            limit,
            scope,
        }
    }

    /// Two steps; overall: 1000 requests, 30 failed (10 timeouts, 15 × 429, 5 × 503).
    fn run() -> LoadgenSummary {
        let mut overall = step(u32::MAX, 1000, 970, 40_000, 500.0);
        overall.errors.insert(ErrorKind::RequestTimeout, 10);
        overall.status.insert(200, 965);
        overall.status.insert(302, 5);
        overall.status.insert(429, 15);
        overall.status.insert(503, 5);
        let mut second = step(1, 600, 570, 60_000, 300.0);
        second.errors.insert(ErrorKind::RequestTimeout, 10);
        second.status.insert(200, 570);
        second.status.insert(429, 15);
        second.status.insert(503, 5);
        summary(vec![step(0, 400, 400, 10_000, 200.0), second], overall)
    }

    fn judge(t: Threshold) -> ThresholdResult {
        evaluate(&run(), &[t]).remove(0)
    }

    #[test]
    fn errors_count_no_response_and_every_status_from_400_429_included() {
        let s = run();
        assert_eq!(s.overall.failed(), 30);
        assert_eq!(s.overall.error_ratio(), Some(0.03));
        assert_eq!(StepSummary::default().error_ratio(), None);
        let r = judge(th(Metric::Errors, Op::Lt, 0.03, Scope::Overall));
        assert_eq!(r.actual, Some(0.03));
        assert!(!r.passed);
        assert!(judge(th(Metric::Errors, Op::Le, 0.03, Scope::Overall)).passed);
        assert_eq!(r.unit, "ratio");
    }

    #[test]
    fn boundaries_of_each_operator() {
        // Overall p99 is 40 ms = 40 000 µs.
        let p99 = |op, limit| judge(th(Metric::P99, op, limit, Scope::Overall)).passed;
        assert!(!p99(Op::Lt, 40_000.0));
        assert!(p99(Op::Lt, 40_001.0));
        assert!(p99(Op::Le, 40_000.0));
        assert!(!p99(Op::Le, 39_999.0));
        assert!(!p99(Op::Gt, 40_000.0));
        assert!(p99(Op::Gt, 39_999.0));
        assert!(p99(Op::Ge, 40_000.0));
        assert!(!p99(Op::Ge, 40_001.0));
    }

    #[test]
    fn each_metric_reads_its_figure() {
        let value = |m| judge(th(m, Op::Lt, 0.0, Scope::Overall)).actual.unwrap();
        assert_eq!(value(Metric::P50), 10_000.0);
        assert_eq!(value(Metric::P90), 20_000.0);
        assert_eq!(value(Metric::P95), 30_000.0);
        assert_eq!(value(Metric::P99), 40_000.0);
        assert_eq!(value(Metric::P999), 80_000.0);
        assert_eq!(value(Metric::Max), 120_000.0);
        assert_eq!(value(Metric::Mean), 8_000.0);
        assert_eq!(value(Metric::Errors), 0.03);
        assert_eq!(value(Metric::Rps), 500.0);
        assert_eq!(value(Metric::Requests), 1000.0);
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        assert_eq!(Metric::from_name("p98"), None);
    }

    #[test]
    fn steps_are_selected_by_index_or_as_the_last() {
        let p99 = |scope| judge(th(Metric::P99, Op::Lt, 50_000.0, scope));
        let first = p99(Scope::Step(0));
        assert_eq!(
            (first.step, first.actual, first.passed),
            (Some(0), Some(10_000.0), true)
        );
        let last = p99(Scope::Last);
        assert_eq!(
            (last.step, last.actual, last.passed),
            (Some(1), Some(60_000.0), false)
        );
        assert_eq!(p99(Scope::Step(1)).actual, Some(60_000.0));
        let missing = p99(Scope::Step(2));
        assert_eq!(
            (missing.step, missing.actual, missing.passed),
            (None, None, false)
        );
        assert_eq!(missing.no_value_reason(), Some("no such step"));
        let errors = judge(th(Metric::Errors, Op::Le, 0.05, Scope::Step(1)));
        assert_eq!(errors.actual, Some(30.0 / 600.0));
        assert!(errors.passed);
    }

    #[test]
    fn an_empty_window_fails_latency_and_errors_but_counts_zero() {
        let s = summary(vec![step(0, 0, 0, 0, 0.0)], step(u32::MAX, 0, 0, 0, 0.0));
        let r = evaluate(
            &s,
            &[
                th(Metric::P99, Op::Lt, 1e9, Scope::Overall),
                th(Metric::Errors, Op::Lt, 1.0, Scope::Last),
                th(Metric::Requests, Op::Lt, 1.0, Scope::Overall),
                th(Metric::Rps, Op::Gt, 0.0, Scope::Overall),
            ],
        );
        assert_eq!(r[0].actual, None);
        assert!(!r[0].passed);
        assert_eq!(r[0].no_value_reason(), Some("no completed request"));
        assert!(!r[1].passed);
        assert_eq!((r[2].actual, r[2].passed), (Some(0.0), true));
        assert_eq!((r[3].actual, r[3].passed), (Some(0.0), false));
        assert!(!all_passed(&r));
        assert!(all_passed(&[]));
    }

    #[test]
    fn an_interrupted_run_marks_its_results_partial() {
        let mut s = run();
        let t = [th(Metric::Rps, Op::Gt, 100.0, Scope::Overall)];
        assert!(!evaluate(&s, &t)[0].partial_run);
        s.interrupted = true;
        let r = evaluate(&s, &t);
        assert!(r[0].partial_run && r[0].passed);
    }

    #[test]
    fn scopes_resolve_against_the_plan() {
        assert_eq!(Scope::Overall.resolve(0), Ok(None));
        assert_eq!(Scope::Step(2).resolve(3), Ok(Some(2)));
        assert_eq!(Scope::Last.resolve(3), Ok(Some(2)));
        let e = Scope::Step(3).resolve(3).unwrap_err().to_string();
        assert_eq!(
            e,
            "step=3 names a step the plan does not have (it has 3 steps: step=0 to step=2)"
        );
        let e = Scope::Step(1).resolve(1).unwrap_err().to_string();
        assert!(e.ends_with("(it has 1 step: step=0)"), "{e}");
    }

    #[test]
    fn results_round_trip_through_json_with_written_names() {
        let r = evaluate(&run(), &[th(Metric::P999, Op::Ge, 1.0, Scope::Step(1))]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v[0]["metric"], "p99.9");
        assert_eq!(v[0]["op"], ">=");
        assert_eq!(v[0]["scope"], "step=1");
        assert_eq!(v[0]["unit"], "us");
        let back: Vec<ThresholdResult> = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        for s in [Scope::Overall, Scope::Last, Scope::Step(7)] {
            assert_eq!(Scope::try_from(s.to_string()), Ok(s));
        }
        assert!(Scope::try_from("step=x".to_string()).is_err());
    }
}
