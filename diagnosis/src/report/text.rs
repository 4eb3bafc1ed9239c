//! The terminal report: a verdict box, the step table, spikes and limitations, in 80 columns.

use super::span_account::span_account;
use crate::cause::fmt_p;
use crate::format::fmt_num;
use crate::model::{Diagnosis, LoadAxis, ServerBound, VerdictKind};
use crate::time_model::{Decomposition, InsideSource, Parts};
use std::fmt::Write;

/// Width of the report.
pub const COLUMNS: usize = 80;

/// Wrap `text` into lines of at most `width` characters (words longer than that are cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        let need = cur.chars().count() + usize::from(!cur.is_empty()) + word.chars().count();
        if need > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

fn boxed(out: &mut String, lines: &[String]) {
    let inner = COLUMNS - 4;
    let _ = writeln!(out, "╭{}╮", "─".repeat(COLUMNS - 2));
    for l in lines {
        let n = l.chars().count();
        let _ = writeln!(out, "│ {l}{} │", " ".repeat(inner.saturating_sub(n)));
    }
    let _ = writeln!(out, "╰{}╯", "─".repeat(COLUMNS - 2));
}

fn pct(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{:.0}", v * 100.0),
        _ => "–".into(),
    }
}

/// Render the report.
pub fn render(d: &Diagnosis) -> String {
    let mut out = String::new();
    let inner = COLUMNS - 4;
    let v = &d.verdict;
    let kind = match (v.kind, v.server_bound) {
        (VerdictKind::Server, Some(b)) => format!(
            "SERVER ({})",
            match b {
                ServerBound::Cpu => "CPU",
                ServerBound::PoolIo => "POOL/I-O",
                ServerBound::Shedding => "SHEDDING",
                ServerBound::Stall => "STALL",
                ServerBound::CoreCeiling => "CORE CEILING",
            }
        ),
        (k, _) => k.name().to_uppercase(),
    };
    let conf = format!("confidence {:.2}", v.confidence);
    let mut lines = vec![format!(
        "VERDICT  {kind}{}{conf}",
        " ".repeat(inner.saturating_sub(9 + kind.chars().count() + conf.chars().count()))
    )];
    lines.extend(wrap(&v.headline, inner));
    lines.push(String::new());
    for e in &v.evidence {
        for (i, l) in wrap(&e.text, inner - 2).into_iter().enumerate() {
            lines.push(format!("{} {l}", if i == 0 { "•" } else { " " }));
        }
    }
    lines.push(String::new());
    for (i, l) in wrap(&format!("confirm: {}", v.confirm), inner - 2)
        .into_iter()
        .enumerate()
    {
        lines.push(if i == 0 { l } else { format!("  {l}") });
    }
    boxed(&mut out, &lines);

    // USL and plateau.
    let u = &d.usl;
    let usl = match (u.sigma, u.kappa, u.lambda) {
        (Some(s), Some(k), Some(l)) => format!(
            "USL: σ = {s:.4}  κ = {k:.3e}  λ = {} req/s  N* = {}  R² = {:.3}",
            fmt_num(l),
            u.n_star
                .map(fmt_num)
                .unwrap_or_else(|| "none (κ = 0)".into()),
            u.r2.unwrap_or(f64::NAN)
        ),
        _ => format!(
            "USL: no fit: {}",
            u.reason.as_deref().unwrap_or("unknown reason")
        ),
    };
    for l in wrap(&usl, COLUMNS) {
        let _ = writeln!(out, "{l}");
    }
    for l in wrap(&format!("Plateau: {}", d.plateau.text), COLUMNS) {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out);

    // Step table: 80 columns.
    let load_h = if d.run.load_axis == LoadAxis::Rate {
        "rate"
    } else {
        "N"
    };
    let ratio_h = if d.run.load_axis == LoadAxis::Rate {
        "X/rate"
    } else {
        "Neff/N"
    };
    let _ = writeln!(
        out,
        "{:>3} {load_h:>7} {:>8} {:>7} {:>8} {ratio_h:>6} cli% srv%  err%  verdict",
        "#", "X req/s", "R ms", "p99 ms"
    );
    let _ = writeln!(out, "{}", "─".repeat(COLUMNS));
    for r in &d.steps {
        let mark = if d.plateau.step == Some(r.index) {
            "◆"
        } else {
            ""
        };
        // `server/core_ceiling` is two characters too wide for the column.
        let label: String = format!(
            "{}{mark}",
            r.verdict.label.replace("core_ceiling", "ceiling")
        )
        .chars()
        .take(17)
        .collect();
        let _ = writeln!(
            out,
            "{:>3} {:>7} {:>8} {:>7} {:>8} {:>6} {:>4} {:>4} {:>5}  {}",
            r.index,
            fmt_num(r.load),
            fmt_num(r.ok_rps),
            short(r.mean_ms),
            short(r.p99_ms),
            r.load_ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "–".into()),
            pct(r.client_cpu),
            pct(r.server_cpu),
            format!("{:.1}", r.error_share * 100.0),
            label
        );
    }
    if d.plateau.detected {
        let _ = writeln!(out, "◆ = the plateau's knee");
    }
    let mut kern = Vec::new();
    for r in &d.steps {
        let nz: Vec<String> = r
            .kernel
            .deltas
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !nz.is_empty() {
            kern.push(format!("step {}: {}", r.index, nz.join(", ")));
        }
    }
    if !kern.is_empty() {
        for l in wrap(&format!("Kernel: {}", kern.join("; ")), COLUMNS) {
            let _ = writeln!(out, "{l}");
        }
    }
    // Stalls and threads: one entry per event kind and per side, ranges over the steps.
    let mut stalls: Vec<String> = Vec::new();
    let kinds: std::collections::BTreeSet<satlab_record::EventKind> = d
        .steps
        .iter()
        .flat_map(|r| r.stalls.iter().map(|s| s.kind))
        .collect();
    for kind in kinds {
        let of: Vec<(u32, &crate::model::StepStall)> = d
            .steps
            .iter()
            .flat_map(|r| {
                r.stalls
                    .iter()
                    .filter(|s| s.kind == kind)
                    .map(|s| (r.index, s))
            })
            .collect();
        let (Some(first), Some(last)) = (of.first(), of.last()) else {
            continue;
        };
        let caps: Vec<f64> = of.iter().filter_map(|(_, s)| s.implied_cap_rps).collect();
        stalls.push(format!(
            "{} {}: {}% of the time ({}), {}/s, {} ms each{}",
            kind.name(),
            first.1.scope.describe(),
            span(of.iter().map(|(_, s)| s.share * 100.0), 0),
            if first.0 == last.0 {
                format!("step {}", first.0)
            } else {
                format!("steps {}–{}", first.0, last.0)
            },
            span(of.iter().map(|(_, s)| s.per_s), 1),
            span(of.iter().map(|(_, s)| s.mean_ms), 1),
            if caps.is_empty() {
                String::new()
            } else {
                format!(", cap ~{} req/s", span_num(&caps))
            }
        ));
    }
    if !stalls.is_empty() {
        for l in wrap(&format!("Stalls: {}", stalls.join("; ")), COLUMNS) {
            let _ = writeln!(out, "{l}");
        }
    }
    let mut threads: Vec<String> = Vec::new();
    for side in ["client", "server"] {
        let of: Vec<&crate::model::ProcessCpu> = d
            .steps
            .iter()
            .filter_map(|r| match side {
                "client" => r.client_process.as_ref(),
                _ => r.server_process.as_ref(),
            })
            .filter(|p| !p.threads.is_empty())
            .collect();
        let Some(last) = of.last() else {
            continue;
        };
        threads.push(format!(
            "{side} {} of {:.1} cores, hottest {} {}%",
            span(of.iter().map(|p| p.cores), 1),
            last.capacity,
            last.threads[0].name,
            span(of.iter().map(|p| p.threads[0].cores * 100.0), 0)
        ));
    }
    if !threads.is_empty() {
        for l in wrap(&format!("Threads: {}", threads.join("; ")), COLUMNS) {
            let _ = writeln!(out, "{l}");
        }
    }
    if !d.errors.is_empty() {
        let e: Vec<String> = d.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        for l in wrap(&format!("Errors: {}", e.join(", ")), COLUMNS) {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = writeln!(out);
    where_time_went(&mut out, d);

    // Spikes.
    let s = &d.spikes;
    let head = if s.detected {
        "Spikes:"
    } else {
        "Spikes: none —"
    };
    for l in wrap(&format!("{head} {}", s.text), COLUMNS) {
        let _ = writeln!(out, "{l}");
    }
    if let Some(c) = &s.cause
        && !s.detected
        && c.matched > 0
    {
        let _ = writeln!(
            out,
            "  (best event match: {} {:.0}%, {})",
            c.kind.name(),
            c.matched_fraction * 100.0,
            fmt_p(c.p_value, c.null_shifts)
        );
    }
    if let Some(e) = s.explains.as_ref().filter(|_| !s.by_cause.is_empty()) {
        let _ = writeln!(
            out,
            "Tail by cause (requests above p99 {} ms / p99.9 {} ms):",
            short(e.p99_ms),
            short(e.p999_ms)
        );
        for c in &s.by_cause {
            let _ = writeln!(
                out,
                "  {:<13} {:>4}% / {:>4}%  in {} of {} slow bursts; by chance ≈ {:.0}%",
                c.kind.name(),
                format!("{:.0}", c.p99 * 100.0),
                format!("{:.0}", c.p999 * 100.0),
                fmt_num(c.bursts as f64),
                fmt_num(s.bursts as f64),
                c.time_share * 100.0
            );
        }
    }
    if !d.syn_retransmit_modes.is_empty() {
        let m: Vec<String> = d
            .syn_retransmit_modes
            .iter()
            .map(|m| format!("{} requests at ≈{:.0} s", fmt_num(m.count as f64), m.at_s))
            .collect();
        for l in wrap(
            &format!("SYN-retransmit latency modes: {}", m.join(", ")),
            COLUMNS,
        ) {
            let _ = writeln!(out, "{l}");
        }
    }
    if !d.limitations.is_empty() {
        let _ = writeln!(out, "\nLimitations:");
        for lim in &d.limitations {
            for (i, l) in wrap(lim, COLUMNS - 2).into_iter().enumerate() {
                let _ = writeln!(out, "{} {l}", if i == 0 { "-" } else { " " });
            }
        }
    }
    out
}

/// The rows of one decomposition: p50, p99, p99.9 in ms, then the shares of time.
fn decomposition_rows(out: &mut String, label: &str, d: &Decomposition) {
    let cells = |p: &Parts, f: &dyn Fn(f64) -> String| -> String {
        p.values().iter().map(|v| format!("{:>8}", f(*v))).collect()
    };
    let first = [
        (
            d.joined_share_expected
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or_else(|| "–".into()),
            format!(
                "{}/{}",
                short(d.joined_p99_ms),
                d.recorded_p99_ms.map(short).unwrap_or_else(|| "–".into())
            ),
        ),
        (fmt_num(d.joined as f64), String::new()),
    ];
    for (i, q) in d.at.iter().enumerate() {
        let (a, b) = first.get(i).cloned().unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>3} {a:>6} {b:>12}  {:<6}{}",
            if i == 0 { label } else { "" },
            quantile_label(q.quantile),
            cells(&q.parts_ms, &short)
        );
    }
    let _ = writeln!(
        out,
        "{:>3} {:>6} {:>12}  {:<6}{}",
        "",
        "",
        "",
        "share",
        cells(&d.share, &|v| format!("{:.0}%", v * 100.0))
    );
}

fn quantile_label(q: f64) -> String {
    let p = q * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("p{p:.0}")
    } else {
        format!("p{p:.1}")
    }
}

/// "Where the time went": the parts per step, and the requests inside the handler.
fn where_time_went(out: &mut String, d: &Diagnosis) {
    let w = &d.where_time_went;
    match &w.run {
        Some(run) if w.available => {
            let _ = writeln!(
                out,
                "Where the time went (client and server spans joined per request; ms)"
            );
            let _ = writeln!(
                out,
                "{:>3} {:>6} {:>12}  {:<6}{}",
                "#",
                "joined",
                "p99 join/rec",
                "at",
                ["late", "before", "pool", "stall", "handler", "after"]
                    .iter()
                    .map(|h| format!("{h:>8}"))
                    .collect::<String>()
            );
            let _ = writeln!(out, "{}", "─".repeat(COLUMNS));
            for st in &w.steps {
                match &st.decomposition {
                    Some(dec) => decomposition_rows(out, &st.index.to_string(), dec),
                    None => {
                        let _ = writeln!(
                            out,
                            "{:>3} {:>6}  none joined ({} client spans)",
                            st.index,
                            "–",
                            fmt_num(st.spans.client as f64)
                        );
                    }
                }
            }
            decomposition_rows(out, "all", run);
            let (ratio, spans) = span_account(w);
            let text = format!(
                "joined = share of the requests expected to be traced (requests × sampling \
                 ratio {ratio}), then the count; parts = mean over a rank band around each \
                 quantile; share = Σ part ÷ Σ latency. {spans}"
            );
            for l in wrap(&text, COLUMNS) {
                let _ = writeln!(out, "{l}");
            }
        }
        _ => {
            let why = w.reason.as_deref().unwrap_or("not computed");
            for l in wrap(&format!("Where the time went: {why}."), COLUMNS) {
                let _ = writeln!(out, "{l}");
            }
        }
    }
    for n in &w.notes {
        for (i, l) in wrap(n, COLUMNS - 2).into_iter().enumerate() {
            let _ = writeln!(out, "{} {l}", if i == 0 { "-" } else { " " });
        }
    }
    if w.steps
        .iter()
        .any(|s| s.inside.handler_concurrency.is_some() || s.inside.pool_wait_mean_ms.is_some())
    {
        for l in wrap(
            "Inside the handler (from spans, else metric: http.server.active_requests, \
             satlab.pool.wait.duration)",
            COLUMNS,
        ) {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(
            out,
            "{:>3} {:>8} {:>10} {:>14} {:>12}  from",
            "#", "N_eff", "in handler", "waiting before", "pool wait ms"
        );
        let src = |s: Option<InsideSource>| match s {
            Some(InsideSource::Spans) => "spans",
            Some(_) => "metric",
            None => "–",
        };
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or("–".into());
        // Two decimals, without a sign on what rounds to zero.
        let fixed2 = |v: f64| format!("{:.2}", if v.abs() < 0.005 { 0.0 } else { v });
        for st in &w.steps {
            let i = &st.inside;
            let _ = writeln!(
                out,
                "{:>3} {:>8} {:>10} {:>14} {:>12}  {}/{}",
                st.index,
                format!("{:.2}", i.n_eff),
                opt(i.handler_concurrency, &fixed2),
                opt(i.waiting_before_handler, &fixed2),
                opt(i.pool_wait_mean_ms, &|v| format!("{v:.3}")),
                src(i.handler_concurrency_source),
                src(i.pool_wait_source)
            );
        }
    }
    let _ = writeln!(out);
}

/// `44–96`, or one figure when the lowest and highest agree at `decimals`.
fn span(v: impl Iterator<Item = f64>, decimals: usize) -> String {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        return "–".into();
    }
    let (a, b) = (format!("{lo:.decimals$}"), format!("{hi:.decimals$}"));
    if a == b { a } else { format!("{a}–{b}") }
}

/// `5,005–5,028` with thousands separators.
fn span_num(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (fmt_num(lo), fmt_num(hi));
    if a == b { a } else { format!("{a}–{b}") }
}

fn short(ms: f64) -> String {
    if ms >= 100.0 {
        fmt_num(ms)
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_width() {
        let w = wrap("aaa bbb ccc dddddddddd", 7);
        assert_eq!(w, vec!["aaa bbb", "ccc", "ddddddd", "ddd"]);
        assert_eq!(wrap("", 5), vec![""]);
    }
}
