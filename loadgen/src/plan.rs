//! Load plans: closed-loop concurrency stages, open-loop arrival rates, and the step
//! schedule both are measured against.

use std::time::Duration;

/// Largest closed-loop concurrency (workers) or open-loop in-flight cap accepted.
pub const MAX_CONCURRENCY: u32 = 100_000;
/// Largest open-loop arrival rate accepted, requests/s.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Longest total run accepted.
pub const MAX_TOTAL: Duration = Duration::from_secs(3600);
/// Most steps in one plan (the per-request log stores the step in one byte).
pub const MAX_STEPS: usize = 255;

/// A plan that could not be parsed or does not fit the limits; the message names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

fn err(msg: impl Into<String>) -> PlanError {
    PlanError(msg.into())
}

/// Parse a duration with satlab's one grammar (`30s`, `500ms`, `1m30s`, `1h`, `1.5s`; see
/// [`satlab_common::duration`]); its error, with the accepted forms, becomes a [`PlanError`].
pub fn parse_duration(s: &str) -> Result<Duration, PlanError> {
    satlab_common::duration::parse_duration(s).map_err(|e| err(e.to_string()))
}

/// Parse a rate such as `2000`, `2000/s` or `600/m`, in requests per second.
pub fn parse_rate(s: &str) -> Result<f64, PlanError> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, u)) => (n, u),
        None => (t, "s"),
    };
    let divisor = match per {
        "s" => 1.0,
        "m" => 60.0,
        _ => {
            return Err(err(format!(
                "invalid rate '{s}': expected requests per second like 2000/s (or 2000, or 600/m)"
            )));
        }
    };
    let n: f64 = num.trim().parse().map_err(|_| {
        err(format!(
            "invalid rate '{s}': expected requests per second like 2000/s (or 2000, or 600/m)"
        ))
    })?;
    let rate = n / divisor;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(err(format!("invalid rate '{s}': the rate must be above 0")));
    }
    if rate > MAX_RATE {
        return Err(err(format!(
            "rate '{s}' exceeds the cap of {MAX_RATE} requests/s; split the load over several loadgens"
        )));
    }
    Ok(rate)
}

/// One closed-loop step: `concurrency` workers for `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedStage {
    /// Workers, each sending its next request when the previous one ends.
    pub concurrency: u32,
    /// How long the step is held.
    pub duration: Duration,
}

/// One open-loop step: `rate` requests/s for `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStage {
    /// Arrival rate, requests/s.
    pub rate: f64,
    /// How long the step is held.
    pub duration: Duration,
}

fn split_stage<'a>(
    item: &'a str,
    what: &str,
    example: &str,
) -> Result<(&'a str, &'a str), PlanError> {
    item.split_once(':').ok_or_else(|| {
        err(format!(
            "invalid {what} stage '{item}': expected VALUE:DURATION (e.g. {example})"
        ))
    })
}

fn items<'a>(spec: &'a str, flag: &str, example: &str) -> Result<Vec<&'a str>, PlanError> {
    let v: Vec<&str> = spec.split(',').map(str::trim).collect();
    if spec.trim().is_empty() || v.iter().any(|s| s.is_empty()) {
        return Err(err(format!(
            "{flag} '{spec}' is empty or has an empty stage; expected e.g. {example}"
        )));
    }
    if v.len() > MAX_STEPS {
        return Err(err(format!(
            "{flag} has {} stages; at most {MAX_STEPS} are allowed",
            v.len()
        )));
    }
    Ok(v)
}

/// Parse closed-loop stages `10:30s,100:30s`.
pub fn parse_stages(spec: &str) -> Result<Vec<ClosedStage>, PlanError> {
    let ex = "10:30s,100:30s";
    let mut out = Vec::new();
    for item in items(spec, "--stages", ex)? {
        let (c, d) = split_stage(item, "--stages", ex)?;
        let concurrency: u32 = c.trim().parse().map_err(|_| {
            err(format!(
                "invalid --stages stage '{item}': concurrency '{c}' is not a whole number (e.g. {ex})"
            ))
        })?;
        if concurrency == 0 {
            return Err(err(format!(
                "invalid --stages stage '{item}': concurrency must be at least 1"
            )));
        }
        if concurrency > MAX_CONCURRENCY {
            return Err(err(format!(
                "invalid --stages stage '{item}': concurrency {concurrency} exceeds the cap of {MAX_CONCURRENCY}; split the load over several loadgens"
            )));
        }
        let duration =
            parse_duration(d).map_err(|e| err(format!("invalid --stages stage '{item}': {e}")))?;
        if duration.is_zero() {
            return Err(err(format!(
                "invalid --stages stage '{item}': the duration must be above 0"
            )));
        }
        out.push(ClosedStage {
            concurrency,
            duration,
        });
    }
    check_total(out.iter().map(|s| s.duration), "--stages")?;
    Ok(out)
}

/// Parse open-loop rate stages `500:10s,1000/s:10s`.
pub fn parse_rate_stages(spec: &str) -> Result<Vec<RateStage>, PlanError> {
    let ex = "500:10s,1000:10s";
    let mut out = Vec::new();
    for item in items(spec, "--rate-stages", ex)? {
        let (r, d) = split_stage(item, "--rate-stages", ex)?;
        let rate =
            parse_rate(r).map_err(|e| err(format!("invalid --rate-stages stage '{item}': {e}")))?;
        let duration = parse_duration(d)
            .map_err(|e| err(format!("invalid --rate-stages stage '{item}': {e}")))?;
        if duration.is_zero() {
            return Err(err(format!(
                "invalid --rate-stages stage '{item}': the duration must be above 0"
            )));
        }
        out.push(RateStage { rate, duration });
    }
    check_total(out.iter().map(|s| s.duration), "--rate-stages")?;
    Ok(out)
}

fn check_total(durations: impl Iterator<Item = Duration>, flag: &str) -> Result<(), PlanError> {
    let total: Duration = durations.sum();
    if total > MAX_TOTAL {
        return Err(err(format!(
            "{flag} lasts {:.0}s in total; the cap is {}s — shorten the stages",
            total.as_secs_f64(),
            MAX_TOTAL.as_secs()
        )));
    }
    Ok(())
}

/// What drives the load.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Closed loop: workers per step.
    Closed(Vec<ClosedStage>),
    /// Open loop: arrival rate per step, at most `max_in_flight` requests outstanding
    /// (sends beyond it are dropped and counted).
    Open {
        /// The rate steps.
        stages: Vec<RateStage>,
        /// Cap on outstanding requests.
        max_in_flight: u32,
    },
}

/// A load plan: the load, the settle time and the spec as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The load.
    pub load: Load,
    /// Time at the start of each step excluded from its statistics.
    pub settle: Duration,
    /// The plan as given on the command line, for the record.
    pub spec: String,
}

impl Plan {
    /// Build a plan, checking that the settle time is shorter than every step and the
    /// in-flight cap is within limits.
    pub fn new(load: Load, settle: Duration, spec: impl Into<String>) -> Result<Plan, PlanError> {
        let durations: Vec<Duration> = match &load {
            Load::Closed(s) => s.iter().map(|s| s.duration).collect(),
            Load::Open {
                stages,
                max_in_flight,
            } => {
                if *max_in_flight == 0 || *max_in_flight > MAX_CONCURRENCY {
                    return Err(err(format!(
                        "--max-in-flight {max_in_flight} is out of range; use 1..={MAX_CONCURRENCY}"
                    )));
                }
                stages.iter().map(|s| s.duration).collect()
            }
        };
        if durations.is_empty() {
            return Err(err("the plan has no steps"));
        }
        for (i, d) in durations.iter().enumerate() {
            if settle >= *d {
                return Err(err(format!(
                    "--settle {:.3}s must be shorter than every step, but step {i} lasts {:.3}s; lower --settle or lengthen the step",
                    settle.as_secs_f64(),
                    d.as_secs_f64()
                )));
            }
        }
        Ok(Plan {
            load,
            settle,
            spec: spec.into(),
        })
    }

    /// The most workers or in-flight requests the plan can need at once.
    pub fn max_concurrency(&self) -> u32 {
        match &self.load {
            Load::Closed(s) => s.iter().map(|s| s.concurrency).max().unwrap_or(0),
            Load::Open { max_in_flight, .. } => *max_in_flight,
        }
    }

    /// The step windows, in µs since the run start.
    pub fn schedule(&self) -> Schedule {
        let mut steps = Vec::new();
        let mut t = 0u64;
        let settle = self.settle.as_micros() as u64;
        let mut push = |d: Duration, concurrency: Option<u32>, rate: Option<f64>| {
            let len = d.as_micros() as u64;
            steps.push(StepWindow {
                start_us: t,
                measure_start_us: t + settle.min(len),
                end_us: t + len,
                concurrency,
                rate,
            });
            t += len;
        };
        match &self.load {
            Load::Closed(s) => s
                .iter()
                .for_each(|s| push(s.duration, Some(s.concurrency), None)),
            Load::Open { stages, .. } => stages
                .iter()
                .for_each(|s| push(s.duration, None, Some(s.rate))),
        }
        Schedule { steps }
    }
}

/// One step's window and setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWindow {
    /// Start, µs since the run start.
    pub start_us: u64,
    /// End of the settle time.
    pub measure_start_us: u64,
    /// End.
    pub end_us: u64,
    /// Closed loop: workers.
    pub concurrency: Option<u32>,
    /// Open loop: requests/s.
    pub rate: Option<f64>,
}

/// Where a moment falls in the schedule, found once per request where it is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The step (the last one for a moment after the schedule ended).
    pub step: usize,
    /// Inside the schedule and past the step's settle time: only then does a request count
    /// in the step's statistics.
    pub measured: bool,
}

/// The planned steps, back to back from time 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The steps in order.
    pub steps: Vec<StepWindow>,
}

impl Schedule {
    /// The step running at `t_us`, or `None` after the last step ends.
    pub fn step_at(&self, t_us: u64) -> Option<usize> {
        let i = self.steps.partition_point(|s| s.end_us <= t_us);
        (i < self.steps.len()).then_some(i)
    }

    /// The step at `t_us` and whether `t_us` lies in its measured window.
    pub fn locate(&self, t_us: u64) -> Option<(usize, bool)> {
        self.step_at(t_us)
            .map(|i| (i, t_us >= self.steps[i].measure_start_us))
    }

    /// The step of `t_us` (the last step after the schedule ends) and whether `t_us` is
    /// measured.
    pub fn place(&self, t_us: u64) -> Placement {
        match self.locate(t_us) {
            Some((step, measured)) => Placement { step, measured },
            None => Placement {
                step: self.steps.len().saturating_sub(1),
                measured: false,
            },
        }
    }

    /// The end of the last step, µs.
    pub fn end_us(&self) -> u64 {
        self.steps.last().map(|s| s.end_us).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "30", "s", "3x", "-1s", "1..2s"] {
            let e = parse_duration(bad).unwrap_err().to_string();
            assert!(e.contains(satlab_common::duration::FORMS), "{bad}: {e}");
        }
    }

    #[test]
    fn compound_durations_and_the_common_grammar() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        let s = parse_stages("10:1m30s,20:1s500ms").unwrap();
        assert_eq!(s[0].duration, Duration::from_secs(90));
        assert_eq!(s[1].duration, Duration::from_millis(1500));
        let r = parse_rate_stages("500:2m30s").unwrap();
        assert_eq!(r[0].duration, Duration::from_secs(150));
        // A bare number other than 0 could mean seconds or milliseconds: refused.
        let e = parse_stages("10:1m30").unwrap_err().to_string();
        assert!(e.contains("no unit") && e.contains("1m30s"), "{e}");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("2000/s").unwrap(), 2000.0);
        assert_eq!(parse_rate("2000").unwrap(), 2000.0);
        assert_eq!(parse_rate("600/m").unwrap(), 10.0);
        assert!(parse_rate("0").unwrap_err().to_string().contains("above 0"));
        assert!(
            parse_rate("10/h")
                .unwrap_err()
                .to_string()
                .contains("2000/s")
        );
        assert!(
            parse_rate("5000000")
                .unwrap_err()
                .to_string()
                .contains("cap")
        );
    }

    #[test]
    fn good_stages() {
        let s = parse_stages("10:30s,100:30s, 1000:1m").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].concurrency, 1000);
        assert_eq!(s[2].duration, Duration::from_secs(60));
        let r = parse_rate_stages("500:10s,1000/s:5s").unwrap();
        assert_eq!(r[1].rate, 1000.0);
    }

    #[test]
    fn bad_stages_say_why() {
        let cases = [
            ("", "empty"),
            ("10:30s,", "empty stage"),
            ("10", "expected VALUE:DURATION"),
            ("x:30s", "not a whole number"),
            ("0:30s", "at least 1"),
            ("200000:1s", "exceeds the cap"),
            ("10:30", satlab_common::duration::FORMS),
            ("10:0s", "above 0"),
            ("10:61m", "cap is 3600s"),
        ];
        for (spec, want) in cases {
            let e = parse_stages(spec).unwrap_err().to_string();
            assert!(e.contains(want), "{spec:?}: {e}");
        }
        let e = parse_rate_stages("fast:10s").unwrap_err().to_string();
        assert!(e.contains("fast:10s") && e.contains("2000/s"), "{e}");
    }

    #[test]
    fn settle_must_fit_every_step() {
        let stages = parse_stages("10:3s,50:1s").unwrap();
        let e = Plan::new(Load::Closed(stages.clone()), Duration::from_secs(1), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--settle") && e.contains("step 1"), "{e}");
        let p = Plan::new(Load::Closed(stages), Duration::from_millis(500), "x").unwrap();
        assert_eq!(p.max_concurrency(), 50);
        let e = Plan::new(
            Load::Open {
                stages: parse_rate_stages("10:1s").unwrap(),
                max_in_flight: 0,
            },
            Duration::ZERO,
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--max-in-flight"), "{e}");
    }

    #[test]
    fn schedule_locates_steps() {
        let p = Plan::new(
            Load::Closed(parse_stages("10:2s,20:3s").unwrap()),
            Duration::from_millis(500),
            "x",
        )
        .unwrap();
        let s = p.schedule();
        assert_eq!(s.end_us(), 5_000_000);
        assert_eq!(s.locate(0), Some((0, false)));
        assert_eq!(s.locate(600_000), Some((0, true)));
        assert_eq!(s.locate(2_000_000), Some((1, false)));
        assert_eq!(s.locate(2_500_000), Some((1, true)));
        assert_eq!(s.locate(5_000_000), None);
        assert_eq!(
            s.place(2_500_000),
            Placement {
                step: 1,
                measured: true
            }
        );
        assert_eq!(
            s.place(5_000_000),
            Placement {
                step: 1,
                measured: false
            }
        );
    }
}
