//! Thresholds on a run's results (k6's convention): `METRIC OP LIMIT` on the whole run or
//! on one step, evaluated once, at the end, as a pure function of a [`LoadgenSummary`]
//! (so a merged record can be judged the same way). The text form is parsed by the
//! load generator's command line; the results go into `summary.json`.
//!
//! `errors` is [`StepSummary::error_ratio`]: failed requests (no response, or a status
//! of 400 or more, 429 included) over completed requests. Open-loop sends dropped for
//! want of a free slot were never sent, so they count in neither part.

use crate::summary::{LoadgenSummary, StepSummary};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Median latency.
    #[serde(rename = "p50")]
    P50,
    /// 90th percentile latency.
    #[serde(rename = "p90")]
    P90,
    /// 95th percentile latency.
    #[serde(rename = "p95")]
    P95,
    /// 99th percentile latency.
    #[serde(rename = "p99")]
    P99,
    /// 99.9th percentile latency.
    #[serde(rename = "p99.9")]
    P999,
    /// Largest latency.
    #[serde(rename = "max")]
    Max,
    /// Mean latency.
    #[serde(rename = "mean")]
    Mean,
    /// Share of failed requests, 0–1.
    #[serde(rename = "errors")]
    Errors,
    /// Completed requests per second.
    #[serde(rename = "rps")]
    Rps,
    /// Completed requests.
    #[serde(rename = "requests")]
    Requests,
}

/// What a metric's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A latency, µs.
    Latency,
    /// A share from 0 to 1.
    Ratio,
    /// Requests per second.
    Rate,
    /// A number of requests.
    Count,
}

impl Metric {
    /// Every metric, in the order the help lists them.
    pub const ALL: [Metric; 10] = [
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::Mean,
        Metric::Errors,
        Metric::Rps,
        Metric::Requests,
    ];

    /// The written name (`p99.9`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
            Metric::Max => "max",
            Metric::Mean => "mean",
            Metric::Errors => "errors",
            Metric::Rps => "rps",
            Metric::Requests => "requests",
        }
    }

    /// The metric written `name`.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What its value is.
    pub fn kind(self) -> Kind {
        match self {
            Metric::Errors => Kind::Ratio,
            Metric::Rps => Kind::Rate,
            Metric::Requests => Kind::Count,
            _ => Kind::Latency,
        }
    }

    /// The unit of its value and limit in the summary: `us`, `ratio`, `req/s`, `requests`.
    pub fn unit(self) -> &'static str {
        match self.kind() {
            Kind::Latency => "us",
            Kind::Ratio => "ratio",
            Kind::Rate => "req/s",
            Kind::Count => "requests",
        }
    }

    /// Its value in window `s`; `None` when the window completed no request and the
    /// metric is a latency or the error share (nothing to judge).
    pub fn value(self, s: &StepSummary) -> Option<f64> {
        let l = &s.latency;
        let latency = |us: u64| (s.requests > 0).then_some(us as f64);
        match self {
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
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The comparison the value must satisfy against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Below.
    #[serde(rename = "<")]
    Lt,
    /// At most.
    #[serde(rename = "<=")]
    Le,
    /// Above.
    #[serde(rename = ">")]
    Gt,
    /// At least.
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// The written form.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `value OP limit` holds.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Which window a threshold judges; written `overall`, `step=N` (from 0, as in the
/// table) or `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Scope {
    /// All measured windows together.
    Overall,
    /// One step, by index from 0.
    Step(u32),
    /// The plan's last step.
    Last,
}

impl Scope {
    /// The step this scope names in a plan of `steps` steps: `Ok(None)` for the whole
    /// run, `Err` when the step does not exist.
    pub fn resolve(self, steps: usize) -> Result<Option<u32>, ScopeError> {
        match self {
            Scope::Overall => Ok(None),
            Scope::Step(n) if (n as usize) < steps => Ok(Some(n)),
            Scope::Last if steps > 0 => Ok(Some(steps as u32 - 1)),
            _ => Err(ScopeError { scope: self, steps }),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Overall => f.write_str("overall"),
            Scope::Step(n) => write!(f, "step={n}"),
            Scope::Last => f.write_str("last"),
        }
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Scope {
    type Error = String;

    fn try_from(s: String) -> Result<Scope, String> {
        match s.as_str() {
            "overall" => Ok(Scope::Overall),
            "last" => Ok(Scope::Last),
            other => other
                .strip_prefix("step=")
                .and_then(|n| n.parse().ok())
                .map(Scope::Step)
                .ok_or_else(|| format!("`{s}` is not a scope: expected overall, last or step=N")),
        }
    }
}

/// A step selector naming a step the plan does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scope} names a step the plan does not have (it has {steps}{})", step_range(*steps))]
pub struct ScopeError {
    /// The selector.
    pub scope: Scope,
    /// The plan's steps.
    pub steps: usize,
}

fn step_range(steps: usize) -> String {
    match steps {
        0 => " steps".into(),
        1 => " step: step=0".into(),
        n => format!(" steps: step=0 to step={}", n - 1),
    }
}

/// One threshold: `metric op limit` on `scope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The text it was given as (`p99<50ms@step=2`).
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// The limit, in the metric's [`Metric::unit`].
    pub limit: f64,
    /// Which window.
    pub scope: Scope,
}

/// A threshold judged on a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The text it was given as.
    pub expr: String,
    /// What is measured.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// The limit, in `unit`.
    pub limit: f64,
    /// The unit of `limit` and `actual`: `us`, `ratio`, `req/s` or `requests`.
    pub unit: String,
    /// Which window, as written.
    pub scope: Scope,
    /// The step judged (`None`: the whole run).
    pub step: Option<u32>,
    /// The measured value; `None` when there was nothing to judge (no completed request
    /// for a latency or the error share, or no such step), which fails.
    pub actual: Option<f64>,
    /// Whether `actual op limit` holds.
    pub passed: bool,
    /// Judged on an interrupted run: the figures cover only part of the plan.
    pub partial_run: bool,
}

impl ThresholdResult {
    /// Why it failed, in words, or `None` when it passed.
    pub fn no_value_reason(&self) -> Option<&'static str> {
        match (self.actual, self.passed) {
            (None, _) if self.step.is_none() && self.scope != Scope::Overall => {
                Some("no such step")
            }
            (None, _) => Some("no completed request"),
            _ => None,
        }
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
            let actual = window.and_then(|w| t.metric.value(w));
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
