//! The final table: per step and overall, the figures people know from wrk and oha.

use satlab_record::Failure;
use satlab_record::summary::{ConnectionMode, LoadMode, LoadgenSummary, StepSummary};
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
        "{} {} — {}, {}, {}{}",
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_us(850), "850µs");
        assert_eq!(fmt_us(12_345), "12.35ms");
        assert_eq!(fmt_us(1_200_000), "1.20s");
    }
}
