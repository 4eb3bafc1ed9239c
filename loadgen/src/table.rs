//! The final table: per step and overall, the figures people know from wrk and oha.

use satlab_record::Failure;
use satlab_record::summary::{ConnectionMode, LoadMode, LoadgenSummary, StepSummary};
use satlab_record::threshold::{Kind, ThresholdResult};
use std::fmt::Write;

/// Format µs as a short human duration (`850µs`, `12.3ms`, `1.20s`).
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// Length of a step's measured window, seconds.
fn window_s(s: &StepSummary) -> f64 {
    s.end_us.saturating_sub(s.measure_start_us) as f64 / 1e6
}

fn errors_cell(s: &StepSummary) -> String {
    let mut parts: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for (code, n) in &s.status {
        if let Some(f) = Failure::status(*code) {
            parts.push(format!("{f}={n}"));
        }
    }
    if s.dropped > 0 {
        parts.push(format!("dropped={}", s.dropped));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

fn row(out: &mut String, label: &str, load: &str, s: &StepSummary, wall: f64) {
    let l = &s.latency;
    let _ = writeln!(
        out,
        "{label:<7} {load:>9} {:>9} {:>7.1}s {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6.2} {:>5.0}%  {}",
        s.requests,
        wall,
        s.rps,
        fmt_us(l.mean_us.round() as u64),
        fmt_us(l.p50_us),
        fmt_us(l.p95_us),
        fmt_us(l.p99_us),
        fmt_us(l.p999_us),
        fmt_us(l.max_us),
        s.n_eff,
        s.client_cpu * 100.0,
        errors_cell(s),
    );
}

/// Render the per-step and overall table.
pub fn table(s: &LoadgenSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {}, {}, {} on {}{}",
        s.method,
        s.url,
        match s.mode {
            LoadMode::Closed => "closed loop",
            LoadMode::Open => "open loop (latency from the intended send time)",
        },
        match s.connection {
            ConnectionMode::KeepAlive => "keep-alive",
            ConnectionMode::NewConnection => "new connection per request",
        },
        s.http_version,
        s.io_driver,
        if s.interrupted {
            " — INTERRUPTED"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<7} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}  errors",
        "step",
        "load",
        "requests",
        "wall",
        "rps",
        "mean",
        "p50",
        "p95",
        "p99",
        "p99.9",
        "max",
        "N_eff",
        "cpu"
    );
    for st in &s.steps {
        let load = match (st.concurrency, st.target_rate) {
            (Some(c), _) => format!("c={c}"),
            (_, Some(r)) => format!("{r:.0}/s"),
            _ => "-".into(),
        };
        row(&mut out, &st.index.to_string(), &load, st, window_s(st));
    }
    let total: f64 = s.steps.iter().map(window_s).sum();
    row(&mut out, "overall", "", &s.overall, total);
    let _ = writeln!(
        out,
        "(statistics exclude a settle time of {} ms at the start of each step; cpu = loadgen CPU of {:.1} usable CPUs; sched lag p99 {})",
        s.settle_ms,
        s.cpu_capacity,
        fmt_us(s.overall.sched_lag.p99_us)
    );
    if let Some(l) = s.overall.send_lateness {
        let o = &s.overall;
        let due = o.requests + o.dropped;
        let share = |n: u64| 100.0 * n as f64 / due.max(1) as f64;
        let _ = writeln!(
            out,
            "(open loop: {} of {due} sends late by more than {} ({:.2}%), {} dropped ({:.2}%); send lateness p50 {}, p99 {}, max {})",
            o.late,
            fmt_us(s.late_threshold_us),
            share(o.late),
            o.dropped,
            share(o.dropped),
            fmt_us(l.p50_us),
            fmt_us(l.p99_us),
            fmt_us(l.max_us),
        );
    }
    thresholds(&mut out, s);
    out
}

/// A threshold's value in the metric's own terms (`12.35ms`, `1.50%`, `980.0 req/s`).
fn fmt_value(r: &ThresholdResult, v: f64) -> String {
    match r.metric.kind() {
        Kind::Latency => fmt_us(v.round() as u64),
        Kind::Ratio => format!("{:.2}%", v * 100.0),
        Kind::Rate => format!("{v:.1} req/s"),
        Kind::Count => format!("{v:.0} requests"),
    }
}

/// The thresholds' verdicts, one a line, after the table.
fn thresholds(out: &mut String, s: &LoadgenSummary) {
    if s.thresholds.is_empty() {
        return;
    }
    let failed = s.thresholds.iter().filter(|r| !r.passed).count();
    let _ = writeln!(
        out,
        "thresholds: {} passed, {failed} failed{}",
        s.thresholds.len() - failed,
        if s.interrupted {
            " (judged on a partial run: it was interrupted)"
        } else {
            ""
        }
    );
    let width = s.thresholds.iter().map(|r| r.expr.len()).max().unwrap_or(0);
    for r in &s.thresholds {
        let window = match (r.step, r.scope) {
            (Some(n), _) => format!("step {n}"),
            (None, scope) => scope.to_string(),
        };
        let measured = match (r.actual, r.no_value_reason()) {
            (Some(v), _) => format!("{} = {} ({window})", r.metric, fmt_value(r, v)),
            (None, why) => format!("{} ({window})", why.unwrap_or("no value")),
        };
        let _ = writeln!(
            out,
            "  {}  {:<width$}  {measured}",
            if r.passed { "pass" } else { "FAIL" },
            r.expr,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_table_with_their_verdicts() {
        use satlab_record::judge::evaluate;
        use satlab_record::threshold::{Metric, Op, Scope, Threshold};
        let mut s: LoadgenSummary = serde_json::from_value(serde_json::json!({
            "schema": LoadgenSummary::SCHEMA, "tool_version": "t", "pid": 1,
            "url": "http://127.0.0.1:1/", "method": "GET", "mode": "closed",
            "connection": "keep_alive", "http_version": "http1", "plan": "p",
            "settle_ms": 0, "started_unix_ns": 0, "ended_unix_ns": 0, "interrupted": true,
            "interrupt_reason": null, "cpu_capacity": 1.0, "trace_sample_ratio": 1.0,
            "steps": [], "overall": StepSummary::default(),
        }))
        .unwrap();
        assert!(!table(&s).contains("thresholds"));
        s.overall.requests = 200;
        s.overall.ok = 197;
        s.overall.status.insert(429, 3);
        s.overall.latency.p99_us = 12_345;
        let t = |expr: &str, metric, op, limit, scope| Threshold {
            expr: expr.into(),
            metric,
            op,
            limit,
            scope,
        };
        s.thresholds = evaluate(
            &s,
            &[
                t("p99<50ms", Metric::P99, Op::Lt, 50_000.0, Scope::Overall),
                t("errors<1%", Metric::Errors, Op::Lt, 0.01, Scope::Overall),
                t("rps>1@step=4", Metric::Rps, Op::Gt, 1.0, Scope::Step(4)),
            ],
        );
        let out = table(&s);
        assert!(
            out.contains("thresholds: 1 passed, 2 failed (judged on a partial run"),
            "{out}"
        );
        assert!(
            out.contains("  pass  p99<50ms      p99 = 12.35ms (overall)"),
            "{out}"
        );
        assert!(
            out.contains("  FAIL  errors<1%     errors = 1.50% (overall)"),
            "{out}"
        );
        assert!(
            out.contains("  FAIL  rps>1@step=4  no such step (step=4)"),
            "{out}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_us(850), "850µs");
        assert_eq!(fmt_us(12_345), "12.35ms");
        assert_eq!(fmt_us(1_200_000), "1.20s");
    }
}
