//! What every signal shares: the context a step is judged in, what a signal found, and the
//! [`Signal`] trait.

use crate::model::{Evidence, StepRow};

/// Where a step lies on the run's throughput curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Below the knee of a plateau: throughput still grew with load here.
    Scaling,
    /// At or past the knee: more load bought no throughput.
    Saturated,
    /// Several load levels and no plateau among them.
    NoPlateau,
    /// One load level: no plateau can be observed, so only signals that stand on their own
    /// evidence decide.
    Single,
}

/// How load and throughput changed around a step (from the previous load level, or to the
/// next one for the lowest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// Load ratio (> 1).
    pub load: f64,
    /// Throughput ratio.
    pub throughput: f64,
}

impl Growth {
    /// Share of the added load that became throughput: (X ratio − 1) / (load ratio − 1); 1
    /// is linear scaling, 0 a plateau.
    pub fn efficiency(self) -> f64 {
        if self.load > 1.0 {
            (self.throughput - 1.0) / (self.load - 1.0)
        } else {
            f64::NAN
        }
    }
}

/// The context a step is judged in.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Open loop: the load axis is the offered rate.
    pub open: bool,
    /// Where the step lies on the throughput curve.
    pub position: Position,
    /// Mean latency of the lowest-load step, ms (open-loop queueing signal).
    pub base_mean_ms: f64,
    /// Latency modes at SYN timeouts were found in the run.
    pub syn_modes: bool,
    /// The plateau's throughput (the highest at or past the knee), req/s.
    pub plateau_rps: Option<f64>,
    /// Load and throughput growth around the step.
    pub growth: Option<Growth>,
    /// The client's mean cores at the previous load level.
    pub prev_client_cores: Option<f64>,
    /// The server's mean cores at the previous load level.
    pub prev_server_cores: Option<f64>,
}

impl Ctx {
    /// A context with nothing known beyond the position (tests, single checks).
    pub fn at(position: Position) -> Ctx {
        Ctx {
            open: false,
            position,
            base_mean_ms: 0.0,
            syn_modes: false,
            plateau_rps: None,
            growth: None,
            prev_client_cores: None,
            prev_server_cores: None,
        }
    }
}

/// What a signal found at a step: the figures, and how strongly they carry a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The figures that decided it, with their thresholds.
    pub evidence: Vec<Evidence>,
    /// 0–1: how strongly the figures support the verdict the signal stands for.
    pub confidence: f64,
}

impl Finding {
    /// A finding with this evidence and confidence.
    pub fn new(evidence: Vec<Evidence>, confidence: f64) -> Finding {
        Finding {
            evidence,
            confidence,
        }
    }
}

/// One named rule over a step.
pub trait Signal {
    /// Its name (the `signal` of its main evidence).
    fn name(&self) -> &'static str;
    /// What it found at `row`, or `None` when it did not fire.
    fn check(&self, row: &StepRow, ctx: &Ctx) -> Option<Finding>;
}

/// One piece of evidence.
pub(crate) fn ev(signal: &str, value: f64, threshold: f64, cmp: &str, text: String) -> Evidence {
    Evidence {
        signal: signal.into(),
        value,
        threshold,
        comparison: cmp.into(),
        text,
    }
}

/// `42%`.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}
