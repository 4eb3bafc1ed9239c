//! Thresholds on a run's results (k6's convention): `METRIC OP LIMIT` on the whole run or
//! on one step, and their results as `summary.json` holds them. The text form is parsed
//! by the load generator's command line; [`crate::judge`] judges them on a summary.

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
