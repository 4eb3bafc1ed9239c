//! A plan split across the loadgens of a distributed run: closed-loop workers and open-loop
//! rates divided step by step, each share a plan of its own in loadgen's flags.

use crate::plan::{Load, Plan, PlanError};
use satlab_common::duration::format_duration;

/// One loadgen's part of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// The loadgen's id, from 0.
    pub loadgen: u32,
    /// The share as loadgen plan flags.
    pub args: Vec<String>,
    /// The share's plan spec (what its `summary.json` records as `plan`).
    pub spec: String,
}

/// Split `plan` among `n` loadgens: a step's `c` workers as `c / n` each, the first `c % n`
/// taking one more; a step's rate as `rate / n` each; the open loop's in-flight cap likewise
/// divided, rounded up; the settle time unchanged. Every share keeps every step, so the
/// steps stay aligned. A step with fewer workers than loadgens is refused.
pub fn split(plan: &Plan, n: u32) -> Result<Vec<Share>, PlanError> {
    if n == 0 {
        return Err(PlanError(
            "a distributed run needs at least 1 loadgen".into(),
        ));
    }
    let settle = format_duration(plan.settle);
    (0..n)
        .map(|k| {
            let (flag, spec, mut extra) = match &plan.load {
                Load::Closed(stages) => {
                    let mut items = Vec::with_capacity(stages.len());
                    for (i, s) in stages.iter().enumerate() {
                        let c = s.concurrency / n + u32::from(k < s.concurrency % n);
                        if c == 0 {
                            return Err(PlanError(format!(
                                "step {i} has {} workers, fewer than the {n} loadgens: give \
                                 each step at least {n} workers, or run fewer loadgens",
                                s.concurrency
                            )));
                        }
                        items.push(format!("{c}:{}", format_duration(s.duration)));
                    }
                    ("--stages", items.join(","), Vec::new())
                }
                Load::Open {
                    stages,
                    max_in_flight,
                } => {
                    let items: Vec<String> = stages
                        .iter()
                        .map(|s| format!("{}:{}", s.rate / n as f64, format_duration(s.duration)))
                        .collect();
                    let cap = max_in_flight.div_ceil(n).to_string();
                    (
                        "--rate-stages",
                        items.join(","),
                        vec!["--max-in-flight".into(), cap],
                    )
                }
            };
            let mut args = vec![
                flag.to_string(),
                spec.clone(),
                "--settle".into(),
                settle.clone(),
            ];
            args.append(&mut extra);
            Ok(Share {
                loadgen: k,
                args,
                spec,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{parse_rate_stages, parse_stages};
    use std::time::Duration;

    fn closed(spec: &str) -> Plan {
        Plan::new(
            Load::Closed(parse_stages(spec).unwrap()),
            Duration::from_millis(500),
            spec,
        )
        .unwrap()
    }

    #[test]
    fn workers_are_divided_and_sum_to_the_plan() {
        let shares = split(&closed("10:5s,32:2500ms"), 3).unwrap();
        let specs: Vec<&str> = shares.iter().map(|s| s.spec.as_str()).collect();
        assert_eq!(
            specs,
            ["4:5s,11:2500ms", "3:5s,11:2500ms", "3:5s,10:2500ms"]
        );
        assert_eq!(
            shares[1].args,
            ["--stages", "3:5s,11:2500ms", "--settle", "500ms"]
        );
        // Every share parses back to a plan with the same step windows.
        for s in &shares {
            let p = Plan::new(
                Load::Closed(parse_stages(&s.spec).unwrap()),
                Duration::from_millis(500),
                s.spec.clone(),
            )
            .unwrap();
            assert_eq!(
                p.schedule().end_us(),
                closed("10:5s,32:2500ms").schedule().end_us()
            );
        }
    }

    #[test]
    fn rates_are_divided_and_a_thin_step_is_refused() {
        let plan = Plan::new(
            Load::Open {
                stages: parse_rate_stages("3000:2s,1000/s:1s").unwrap(),
                max_in_flight: 100,
            },
            Duration::from_millis(200),
            "3000:2s,1000/s:1s",
        )
        .unwrap();
        let shares = split(&plan, 4).unwrap();
        assert_eq!(shares[3].spec, "750:2s,250:1s");
        assert_eq!(&shares[0].args[4..], ["--max-in-flight", "25"]);
        let total: f64 = parse_rate_stages(&shares[0].spec).unwrap()[0].rate * 4.0;
        assert_eq!(total, 3000.0);
        let e = split(&closed("2:1s"), 3).unwrap_err().to_string();
        assert!(
            e.contains("step 0 has 2 workers") && e.contains("3 loadgens"),
            "{e}"
        );
        assert!(split(&closed("2:1s"), 0).is_err());
    }
}
