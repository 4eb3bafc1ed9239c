//! `--threshold` text: `METRIC OP VALUE`, optionally `@step=N` or `@step=last`, parsed
//! into a [`Threshold`] whose errors say what was wrong and which forms are accepted.

use satlab_common::duration::parse_duration;
use satlab_record::threshold::{Kind, Metric, Op, Scope, Threshold};

/// The accepted forms, as every error states them.
pub const FORMS: &str = "METRIC OP VALUE with an optional @step=N or @step=last \
(e.g. p99<50ms, errors<1%, rps>=1000, p99<50ms@step=2); \
METRIC is p50, p90, p95, p99, p99.9, max or mean (VALUE a duration: 50ms, 1.5s, 1m30s), \
errors (a share: 1% or 0.01), rps (requests per second: 1000 or 1000/s) \
or requests (a count); OP is <, <=, > or >=";

/// A `--threshold` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; write {FORMS}")]
pub struct ThresholdError {
    /// What is wrong.
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> ThresholdError {
    ThresholdError {
        reason: reason.into(),
    }
}

/// Parse one threshold (see the module doc).
pub fn parse_threshold(text: &str) -> Result<Threshold, ThresholdError> {
    let expr = text.trim();
    if expr.is_empty() {
        return Err(refuse("the threshold is empty"));
    }
    let (body, scope) = match expr.split_once('@') {
        Some((body, sel)) => (body, parse_scope(sel.trim())?),
        None => (expr, Scope::Overall),
    };
    let at = body
        .find(['<', '>'])
        .ok_or_else(|| refuse(format!("'{body}' has no comparison (<, <=, > or >=)")))?;
    let (name, rest) = body.split_at(at);
    let name = name.trim();
    let (op, value) = match rest.as_bytes() {
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', ..] => (Op::Lt, &rest[1..]),
        _ => (Op::Gt, &rest[1..]),
    };
    let value = value.trim();
    if name.is_empty() {
        return Err(refuse(format!("'{body}' has no metric before {op}")));
    }
    let metric = Metric::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        refuse(format!(
            "unknown metric '{name}' (known: {})",
            names.join(", ")
        ))
    })?;
    if value.is_empty() {
        return Err(refuse(format!("'{body}' has no value after {op}")));
    }
    let limit = parse_limit(metric, value)?;
    Ok(Threshold {
        expr: expr.to_string(),
        metric,
        op,
        limit,
        scope,
    })
}

fn parse_scope(sel: &str) -> Result<Scope, ThresholdError> {
    let bad = || {
        refuse(format!(
            "unknown step selector '@{sel}': write @step=N (N from 0, as in the table) or @step=last"
        ))
    };
    match sel.strip_prefix("step=").map(str::trim) {
        Some("last") => Ok(Scope::Last),
        Some(n) => n.parse().map(Scope::Step).map_err(|_| bad()),
        None => Err(bad()),
    }
}

/// The limit in the metric's unit (µs, a ratio, requests/s, requests).
fn parse_limit(metric: Metric, value: &str) -> Result<f64, ThresholdError> {
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    match metric.kind() {
        Kind::Latency => parse_duration(value)
            .map(|d| d.as_nanos() as f64 / 1e3)
            .map_err(|e| refuse(format!("{metric} takes a duration: {e}"))),
        Kind::Ratio => {
            let (v, scale, shown) = match value.strip_suffix('%') {
                Some(p) => (number(p), 100.0, "0% to 100%"),
                None => (number(value), 1.0, "0 to 1"),
            };
            let v = v.ok_or_else(|| {
                refuse(format!(
                    "errors takes a share, a percentage (1%) or a fraction (0.01); '{value}' is neither"
                ))
            })?;
            if v > scale {
                let hint = if scale == 1.0 {
                    format!(" (for a percentage write {value}%)")
                } else {
                    String::new()
                };
                return Err(refuse(format!(
                    "errors share '{value}' is outside {shown}{hint}"
                )));
            }
            Ok(v / scale)
        }
        Kind::Rate => number(value.strip_suffix("/s").unwrap_or(value)).ok_or_else(|| {
            refuse(format!(
                "rps takes requests per second, a number such as 1000 or 1000/s; '{value}' is not one"
            ))
        }),
        Kind::Count => value.parse::<u64>().map(|n| n as f64).map_err(|_| {
            refuse(format!(
                "requests takes a whole number of requests; '{value}' is not one"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Threshold {
        parse_threshold(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        let e = parse_threshold(s).unwrap_err().to_string();
        assert!(e.ends_with(FORMS), "{s}: {e}");
        e
    }

    #[test]
    fn latency_metrics_take_durations_in_every_form() {
        let t = ok("p99<50ms");
        assert_eq!(
            (t.metric, t.op, t.limit, t.scope),
            (Metric::P99, Op::Lt, 50_000.0, Scope::Overall)
        );
        assert_eq!(t.expr, "p99<50ms");
        assert_eq!(ok("p99.9<=1.5s").limit, 1_500_000.0);
        assert_eq!(ok("max<1m30s").limit, 90_000_000.0);
        assert_eq!(ok("mean>250us").limit, 250.0);
        assert_eq!(ok("p50>=1h").limit, 3_600_000_000.0);
        assert_eq!(ok("p90<0").limit, 0.0);
        for (name, m) in [
            ("p50", Metric::P50),
            ("p90", Metric::P90),
            ("p95", Metric::P95),
            ("p99", Metric::P99),
            ("p99.9", Metric::P999),
            ("max", Metric::Max),
            ("mean", Metric::Mean),
        ] {
            assert_eq!(ok(&format!("{name}<1ms")).metric, m);
        }
    }

    #[test]
    fn every_operator_and_spaces_around_it() {
        assert_eq!(ok("rps<1").op, Op::Lt);
        assert_eq!(ok("rps<=1").op, Op::Le);
        assert_eq!(ok("rps>1").op, Op::Gt);
        assert_eq!(ok("rps>=1").op, Op::Ge);
        let t = ok("  p99 <= 20ms @ step=1 ");
        assert_eq!((t.op, t.limit, t.scope), (Op::Le, 20_000.0, Scope::Step(1)));
        assert_eq!(t.expr, "p99 <= 20ms @ step=1");
    }

    #[test]
    fn errors_take_a_percentage_or_a_fraction() {
        assert_eq!(ok("errors<1%").limit, 0.01);
        assert_eq!(ok("errors<0.01").limit, 0.01);
        assert_eq!(ok("errors<=0%").limit, 0.0);
        assert_eq!(ok("errors<100%").limit, 1.0);
        assert_eq!(ok("errors<1").limit, 1.0);
        assert_eq!(ok("errors<0.5%").limit, 0.005);
        assert!(err("errors<5").contains("outside 0 to 1 (for a percentage write 5%)"));
        assert!(err("errors<101%").contains("outside 0% to 100%"));
        assert!(err("errors<few").contains("'few' is neither"));
        assert!(err("errors<-1%").contains("is neither"));
    }

    #[test]
    fn rps_and_requests_take_numbers() {
        assert_eq!(ok("rps>1000").limit, 1000.0);
        assert_eq!(ok("rps>1000/s").limit, 1000.0);
        assert_eq!(ok("rps>=99.5").limit, 99.5);
        assert_eq!(ok("requests>10000").limit, 10000.0);
        assert!(err("rps>1k").contains("rps takes requests per second"));
        assert!(err("rps>inf").contains("'inf' is not one"));
        assert!(err("requests>1.5").contains("whole number of requests"));
    }

    #[test]
    fn step_selectors() {
        assert_eq!(ok("p99<50ms@step=3").scope, Scope::Step(3));
        assert_eq!(ok("p99<50ms@step=0").scope, Scope::Step(0));
        assert_eq!(ok("errors<1%@step=last").scope, Scope::Last);
        for bad in [
            "p99<50ms@3",
            "p99<50ms@last",
            "p99<50ms@step=",
            "p99<50ms@step=-1",
        ] {
            assert!(err(bad).contains("unknown step selector"), "{bad}");
        }
    }

    #[test]
    fn bad_forms_say_what_is_wrong() {
        assert!(err("").contains("empty"));
        assert!(err("p99=50ms").contains("'p99=50ms' has no comparison"));
        assert!(err("p99==50ms").contains("no comparison"));
        assert!(err("<50ms").contains("no metric before <"));
        assert!(err("p99<").contains("no value after <"));
        let unknown = err("p98<50ms");
        assert!(
            unknown.contains("unknown metric 'p98' (known: p50, p90, p95, p99, p99.9, max, mean, errors, rps, requests)"),
            "{unknown}"
        );
        let unit = err("p99<50");
        assert!(
            unit.contains("p99 takes a duration: duration '50' has no unit"),
            "{unit}"
        );
        assert!(err("p99<2d").contains("unknown unit 'd'"));
        assert!(err("p99<25h").contains("too long"));
        assert!(err("p99<=>50ms").contains("p99 takes a duration"));
    }
}
