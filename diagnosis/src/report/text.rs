//! The terminal report: a verdict box, the step table, spikes and limitations, in 80 columns.

use crate::cause::fmt_p;
use crate::format::fmt_num;
use crate::model::{Diagnosis, LoadAxis, ServerBound, VerdictKind};
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
        let label: String = format!("{}{mark}", r.verdict.label)
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
    if !d.errors.is_empty() {
        let e: Vec<String> = d.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        for l in wrap(&format!("Errors: {}", e.join(", ")), COLUMNS) {
            let _ = writeln!(out, "{l}");
        }
    }
    let _ = writeln!(out);

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
