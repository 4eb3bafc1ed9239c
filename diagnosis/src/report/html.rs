//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network).

use super::span_account::span_account;
use super::svg::{Axis, Chart, esc};
use super::time_chart;
use crate::cause::fmt_p;
use crate::format::fmt_num;
use crate::model::{Diagnosis, LoadAxis, ServerBound, StepRow, VerdictKind};
use crate::signals::CPU_SATURATED;
use crate::time_model::InsideSource;
use crate::usl::UslFit;
use satlab_record::summary::{ConnectionMode, LoadMode};
use satlab_record::{EventKind, Failure};
use std::fmt::Write;

/// Titles of the charts, in page order (tests look for them).
pub const CHART_TITLES: [&str; 5] = [
    "Throughput vs load",
    "Latency percentiles per step",
    "Client vs server CPU per step",
    "Latency over time",
    "Errors by kind",
];

const BLUE: &str = "#2563eb";
const ORANGE: &str = "#ea580c";
const GREEN: &str = "#16a34a";
const PURPLE: &str = "#7c3aed";
const RED: &str = "#dc2626";
const GREY: &str = "#6b7280";

fn kind_color(k: VerdictKind) -> &'static str {
    match k {
        VerdictKind::Client => BLUE,
        VerdictKind::Server => ORANGE,
        VerdictKind::Socket => PURPLE,
        VerdictKind::Scaling => GREEN,
        VerdictKind::Machine => RED,
        VerdictKind::Disturbed => GREY,
        VerdictKind::Inconclusive => GREY,
    }
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f5f6f8;color:#111827;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px}
.meta{color:#6b7280;font-size:13px}
.card{background:white;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px 22px;margin:14px 0}
.verdict{border-left:8px solid var(--c)}
.kind{font-size:30px;font-weight:800;color:var(--c);letter-spacing:.5px}
.headline{font-size:17px;margin:4px 0 12px}
.conf{display:inline-block;width:160px;height:10px;background:#e5e7eb;border-radius:5px;vertical-align:middle;margin-left:8px}
.conf>span{display:block;height:10px;border-radius:5px;background:var(--c)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;text-align:right;border-bottom:1px solid #eef0f3}
th{color:#6b7280;font-weight:600}
td.l,th.l{text-align:left}
tr.knee td{background:#fff7ed;font-weight:600}
.chart{width:100%;height:auto;display:block}
.pill{display:inline-block;border-radius:10px;padding:0 8px;color:white;font-size:12px}
.confirm{background:#f0fdf4;border-radius:8px;padding:8px 12px;margin-top:10px}
ul{margin:6px 0;padding-left:22px}
"#;

/// A step's stalls and hottest threads, for its table cell (escaped HTML).
fn stalls_and_threads(r: &StepRow) -> String {
    let mut parts: Vec<String> = r
        .stalls
        .iter()
        .map(|s| {
            format!(
                "{} {:.0}% ({}){}",
                s.kind.name(),
                s.share * 100.0,
                s.scope.describe(),
                s.implied_cap_rps
                    .map(|c| format!(", cap ~{}/s", fmt_num(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    for (side, p) in [("client", &r.client_process), ("server", &r.server_process)] {
        if let Some(p) = p
            && let Some(t) = p.threads.first()
        {
            parts.push(format!(
                "{side} {:.1}/{:.1} cores, {} {:.0}%",
                p.cores,
                p.capacity,
                t.name,
                t.cores * 100.0
            ));
        }
    }
    parts
        .iter()
        .map(|p| esc(p))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Render the report.
pub fn render(d: &Diagnosis) -> String {
    let mut h = String::new();
    let v = &d.verdict;
    let c = kind_color(v.kind);
    let kind = match v.server_bound {
        Some(b) if v.kind == VerdictKind::Server => format!(
            "SERVER · {}",
            match b {
                ServerBound::PoolIo => "POOL / I/O".to_string(),
                b => b.title().to_uppercase(),
            }
        ),
        _ => v.kind.name().to_uppercase(),
    };
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>satlab diagnosis — {kind}</title><style>{CSS}</style></head><body><main>"#
    );
    let _ = write!(
        h,
        r#"<h1>satlab diagnosis{}</h1><div class="meta">{} {} · {} loop, {} · plan <code>{}</code> · {} requests over {:.0} s{}</div>"#,
        d.run
            .scenario
            .as_ref()
            .map(|s| format!(" — {}", esc(s)))
            .unwrap_or_default(),
        esc(&d.run.method),
        esc(&d.run.url),
        match d.run.mode {
            LoadMode::Closed => "closed",
            LoadMode::Open => "open",
        },
        match d.run.connection {
            ConnectionMode::KeepAlive => "keep-alive",
            ConnectionMode::NewConnection => "new-connection",
        },
        esc(&d.run.plan),
        fmt_num(d.run.requests as f64),
        d.run.duration_s,
        if d.run.interrupted {
            " · <b>interrupted</b>"
        } else {
            ""
        }
    );

    // Verdict card.
    let _ = write!(
        h,
        r#"<section class="card verdict" style="--c:{c}"><div class="kind">{kind}</div><div class="headline">{}</div><div>confidence <b>{:.2}</b><span class="conf"><span style="width:{:.0}%"></span></span></div><h2 style="margin-top:16px">Evidence</h2><table><tr><th class="l">signal</th><th>value</th><th>threshold</th><th class="l">reading</th></tr>"#,
        esc(&v.headline),
        v.confidence,
        v.confidence * 100.0
    );
    for e in &v.evidence {
        let _ = write!(
            h,
            r#"<tr><td class="l"><code>{}</code></td><td>{}</td><td>{} {}</td><td class="l">{}</td></tr>"#,
            esc(&e.signal),
            num(e.value),
            esc(&e.comparison),
            num(e.threshold),
            esc(&e.text)
        );
    }
    let _ = write!(
        h,
        r#"</table><div class="confirm"><b>What would confirm it:</b> {}</div></section>"#,
        esc(&v.confirm)
    );

    h.push_str(&spikes_card(d));

    let charts = [
        throughput_chart(d),
        latency_chart(d),
        cpu_chart(d),
        timeline_chart(d),
        errors_chart(d),
    ];
    for ch in charts {
        let _ = write!(h, r#"<section class="card">{ch}</section>"#);
    }

    // Step table.
    let _ = write!(
        h,
        r#"<h2>Steps</h2><section class="card"><table><tr><th>#</th><th>{}</th><th>X ok/s</th><th>R ms</th><th>p50</th><th>p99</th><th>p99.9</th><th>{}</th><th>client CPU</th><th>server CPU</th><th>errors</th><th class="l">kernel</th><th class="l">stalls · threads</th><th class="l">verdict</th></tr>"#,
        if d.run.load_axis == LoadAxis::Rate {
            "rate"
        } else {
            "N"
        },
        if d.run.load_axis == LoadAxis::Rate {
            "X/rate"
        } else {
            "N<sub>eff</sub>/N"
        }
    );
    for r in &d.steps {
        let kern: Vec<String> = r
            .kernel
            .deltas
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = write!(
            h,
            r#"<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td class="l">{}</td><td class="l">{}</td><td class="l"><span class="pill" style="background:{}">{}</span></td></tr>"#,
            if d.plateau.step == Some(r.index) {
                r#" class="knee""#
            } else {
                ""
            },
            r.index,
            fmt_num(r.load),
            fmt_num(r.ok_rps),
            r.mean_ms,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.load_ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or("–".into()),
            r.client_cpu
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or("–".into()),
            r.server_cpu
                .map(|x| format!("{:.0}%", x * 100.0))
                .unwrap_or("–".into()),
            r.error_share * 100.0,
            esc(&kern.join(", ")),
            stalls_and_threads(r),
            kind_color(r.verdict.kind),
            esc(&r.verdict.label)
        );
    }
    h.push_str("</table></section>");
    h.push_str(&where_time_went(d));

    // USL and limitations.
    let u = &d.usl;
    let usl = match (u.sigma, u.kappa, u.lambda) {
        (Some(s), Some(k), Some(l)) => format!(
            "σ = {s:.4} (contention), κ = {k:.3e} (coherency), λ = {} req/s per unit of load, N* = {}, R² = {:.3}",
            fmt_num(l),
            u.n_star
                .map(fmt_num)
                .unwrap_or_else(|| "none (κ = 0)".into()),
            u.r2.unwrap_or(f64::NAN)
        ),
        _ => format!("no fit: {}", u.reason.as_deref().unwrap_or("unknown")),
    };
    let _ = write!(
        h,
        r#"<h2>Scalability</h2><section class="card"><b>Universal Scalability Law.</b> {}<br><b>Plateau.</b> {}</section>"#,
        esc(&usl),
        esc(&d.plateau.text)
    );
    if !d.limitations.is_empty() {
        h.push_str(r#"<h2>Limitations</h2><section class="card"><ul>"#);
        for l in &d.limitations {
            let _ = write!(h, "<li>{}</li>", esc(l));
        }
        h.push_str("</ul></section>");
    }
    let _ = write!(
        h,
        r#"<p class="meta">schema {} · generated by <code>observer diagnose</code></p></main></body></html>"#,
        esc(&d.schema)
    );
    h.push('\n');
    h
}

/// "Where the time went": the stacked chart, the joined share and p99 per step, the
/// requests inside the handler, the clock and the notes.
fn where_time_went(d: &Diagnosis) -> String {
    let w = &d.where_time_went;
    let mut h = String::from("<h2>Where the time went</h2><section class=\"card\">");
    match time_chart::render(w) {
        Some(svg) => h.push_str(&svg),
        None => {
            let _ = write!(
                h,
                "<p>{}.</p>",
                esc(w.reason.as_deref().unwrap_or("not computed"))
            );
        }
    }
    let pct = |x: Option<f64>| {
        x.map(|v| format!("{:.0}%", v * 100.0))
            .unwrap_or("–".into())
    };
    let opt =
        |x: Option<f64>, digits: usize| x.map(|v| format!("{v:.digits$}")).unwrap_or("–".into());
    let src = |s: Option<InsideSource>| s.map(InsideSource::label).unwrap_or("–");
    let rows = w.steps.iter().filter(|s| {
        s.decomposition.is_some()
            || s.inside.handler_concurrency.is_some()
            || s.inside.pool_wait_mean_ms.is_some()
    });
    let mut table = String::new();
    for st in rows {
        let dec = st.decomposition.as_ref();
        let i = &st.inside;
        let _ = write!(table, "<tr><td>{}</td>", st.index);
        if w.available {
            let _ = write!(
                table,
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                fmt_num(st.spans.joined as f64),
                pct(dec.and_then(|d| d.joined_share_expected)),
                pct(dec.and_then(|d| d.joined_share_present)),
                opt(dec.map(|d| d.joined_p99_ms), 2),
                opt(dec.and_then(|d| d.recorded_p99_ms), 2),
            );
        }
        let _ = write!(
            table,
            r#"<td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td class="l">{} / {}</td></tr>"#,
            i.n_eff,
            opt(i.handler_concurrency, 2),
            opt(i.waiting_before_handler, 2),
            opt(i.pool_wait_mean_ms, 3),
            src(i.handler_concurrency_source),
            src(i.pool_wait_source)
        );
    }
    if !table.is_empty() {
        let joined_heads = if w.available {
            "<th>joined</th><th>of expected</th><th>of client spans</th><th>p99 joined ms</th><th>p99 recorded ms</th>"
        } else {
            ""
        };
        let _ = write!(
            h,
            r#"<table><tr><th>#</th>{joined_heads}<th>N<sub>eff</sub></th><th>in handler</th><th>waiting before</th><th>pool wait ms</th><th class="l">from (handler / pool)</th></tr>{table}</table>"#
        );
    }
    let (ratio, spans) = span_account(w);
    let _ = w.available
        && write!(
            h,
            "<p class=\"meta\">Parts at a quantile: the mean over a rank band around it; share: Σ part ÷ Σ latency. Expected = requests × sampling ratio ({ratio}). {}</p>",
            esc(&spans)
        )
    .is_ok();
    if !w.notes.is_empty() {
        h.push_str("<ul>");
        for n in &w.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
    h
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        fmt_num(v)
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn throughput_chart(d: &Diagnosis) -> String {
    let rows = &d.steps;
    let axis = if d.run.load_axis == LoadAxis::Rate {
        "offered rate (req/s)"
    } else {
        "concurrency N"
    };
    let max_load = rows.iter().map(|r| r.load).fold(1.0, f64::max);
    let max_x = rows.iter().map(|r| r.rps.max(r.ok_rps)).fold(1.0, f64::max);
    let fit = match (d.usl.sigma, d.usl.kappa, d.usl.lambda) {
        (Some(sigma), Some(kappa), Some(lambda)) => Some(UslFit {
            sigma,
            kappa,
            lambda,
            r2: d.usl.r2.unwrap_or(0.0),
        }),
        _ => None,
    };
    let mut c = Chart::new(
        CHART_TITLES[0],
        Axis::linear(0.0, max_load * 1.05, axis),
        Axis::linear(0.0, max_x * 1.15, "throughput (req/s)"),
    );
    if let Some(f) = fit {
        let pts: Vec<(f64, f64)> = (0..=200)
            .map(|i| {
                let n = 1.0 + (max_load * 1.05 - 1.0) * i as f64 / 200.0;
                (n, f.predict(n))
            })
            .collect();
        c.line(&pts, GREY, 2.0, Some("7 5"));
        c.legend("USL fit", GREY, false);
    }
    if let (Some(p), Some(step)) = (d.plateau.rps, d.plateau.step)
        && let Some(r) = rows.iter().find(|r| r.index == step)
    {
        c.vline(r.load, ORANGE, 1.5, Some("5 4"), Some("plateau"));
        c.hline(p, ORANGE, &format!("{} req/s", fmt_num(p)));
    }
    let mut all: Vec<(f64, f64)> = rows.iter().map(|r| (r.load, r.rps)).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut ok: Vec<(f64, f64)> = rows.iter().map(|r| (r.load, r.ok_rps)).collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0));
    if rows.iter().any(|r| r.rps > r.ok_rps * 1.01) {
        c.line(&all, "#93c5fd", 1.5, None);
        c.legend("all responses", "#93c5fd", false);
    }
    c.line(&ok, BLUE, 2.5, None);
    c.points(
        &rows
            .iter()
            .map(|r| {
                (
                    r.load,
                    r.ok_rps,
                    Some(format!(
                        "step {}: load {} → {} ok req/s ({})",
                        r.index,
                        fmt_num(r.load),
                        fmt_num(r.ok_rps),
                        r.verdict.label
                    )),
                )
            })
            .collect::<Vec<_>>(),
        BLUE,
        5.0,
    );
    c.legend("successful throughput", BLUE, false);
    c.render()
}

fn latency_chart(d: &Diagnosis) -> String {
    let rows = &d.steps;
    let vals = rows
        .iter()
        .flat_map(|r| [r.p50_ms, r.p999_ms.max(r.p99_ms)])
        .filter(|v| *v > 0.0);
    let (lo, hi) = vals.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let n = rows.len().max(1) as f64;
    let mut c = Chart::new(
        CHART_TITLES[1],
        Axis::linear(-0.5, n - 0.5, "step (load)"),
        Axis::log(lo, hi, "latency (ms, log)"),
    );
    c.x_categories(
        rows.iter()
            .enumerate()
            .map(|(i, r)| (i as f64, fmt_num(r.load)))
            .collect(),
    );
    type Pick = fn(&StepRow) -> f64;
    let series: [(&str, &str, Pick); 4] = [
        ("p50", GREEN, |r| r.p50_ms),
        ("p90", BLUE, |r| r.p90_ms),
        ("p99", ORANGE, |r| r.p99_ms),
        ("p99.9", RED, |r| r.p999_ms),
    ];
    for (name, color, f) in series {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i as f64, f(r)))
            .collect();
        c.line(&pts, color, 2.0, None);
        c.points(
            &pts.iter()
                .map(|&(x, y)| (x, y, Some(format!("{name}: {y:.2} ms"))))
                .collect::<Vec<_>>(),
            color,
            3.5,
        );
        c.legend(name, color, false);
    }
    c.render()
}

fn cpu_chart(d: &Diagnosis) -> String {
    let rows = &d.steps;
    let n = rows.len().max(1) as f64;
    let mut c = Chart::new(
        CHART_TITLES[2],
        Axis::linear(-0.5, n - 0.5, "step (load)"),
        Axis::linear(0.0, 100.0, "CPU (% of capacity)"),
    );
    c.x_categories(
        rows.iter()
            .enumerate()
            .map(|(i, r)| (i as f64, fmt_num(r.load)))
            .collect(),
    );
    c.hline(CPU_SATURATED * 100.0, RED, "saturated");
    for (i, r) in rows.iter().enumerate() {
        let x = i as f64;
        if let Some(u) = r.client_cpu {
            c.bar(
                x - 0.36,
                x - 0.02,
                u * 100.0,
                BLUE,
                &format!("client {:.0}%", u * 100.0),
            );
        }
        match r.server_cpu {
            Some(u) => c.bar(
                x + 0.02,
                x + 0.36,
                u * 100.0,
                ORANGE,
                &format!("server {:.0}%", u * 100.0),
            ),
            None => c.text(x + 0.19, 2.0, "n/a", GREY, "middle"),
        }
    }
    c.legend("client", BLUE, true);
    c.legend("server", ORANGE, true);
    c.render()
}

/// The spikes card: the sentence, the best event match when no spike verdict was given, and
/// each event kind's share of the tail.
fn spikes_card(d: &Diagnosis) -> String {
    let s = &d.spikes;
    let mut h = format!(
        r#"<section class="card"><b>Spikes.</b> {}{}"#,
        esc(&s.text),
        s.cause
            .as_ref()
            .filter(|_| !s.detected)
            .filter(|c| c.matched > 0)
            .map(|c| format!(
                " (best event match: {} {:.0}%, {})",
                c.kind.name(),
                c.matched_fraction * 100.0,
                fmt_p(c.p_value, c.null_shifts)
            ))
            .unwrap_or_default()
    );
    if let Some(e) = s.explains.as_ref().filter(|_| !s.by_cause.is_empty()) {
        let _ = write!(
            h,
            r#"<h2>The tail by cause</h2><table><tr><th class="l">event kind</th><th>events</th><th>slow bursts matched</th><th>requests &gt; p99 ({} ms)</th><th>requests &gt; p99.9 ({} ms)</th><th>by chance</th></tr>"#,
            num(e.p99_ms),
            num(e.p999_ms)
        );
        for c in &s.by_cause {
            let _ = write!(
                h,
                r#"<tr><td class="l"><span class="pill" style="background:{}">{}</span></td><td>{}</td><td>{} of {}</td><td>{:.0}%</td><td>{:.0}%</td><td>{:.0}%</td></tr>"#,
                event_color(c.kind),
                c.kind.name(),
                fmt_num(c.events as f64),
                fmt_num(c.bursts as f64),
                fmt_num(s.bursts as f64),
                c.p99 * 100.0,
                c.p999 * 100.0,
                c.time_share * 100.0
            );
        }
        h.push_str(
            r#"</table><div class="meta">Requests above the run's p99 and p99.9 that lie in a slow burst (of any severity) within 10 ms of an event of that kind. By chance: the share of the run within 10 ms of such an event, about what a kind unrelated to the tail would hold.</div>"#,
        );
    }
    h.push_str("</section>");
    h
}

fn timeline_chart(d: &Diagnosis) -> String {
    let t = &d.timeline;
    let span = t
        .points
        .last()
        .map(|p| p.t_s + t.bucket_s)
        .unwrap_or(1.0)
        .max(1e-3);
    let vals = t
        .points
        .iter()
        .flat_map(|p| [p.p50_ms, p.max_ms])
        .filter(|v| *v > 0.0);
    let (lo, hi) = vals.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    let mut c = Chart::new(
        CHART_TITLES[3],
        Axis::linear(0.0, span, "time since start (s)"),
        Axis::log(lo, hi, "latency (ms, log)"),
    );
    for s in &t.step_starts_s {
        if *s > 0.0 {
            c.vline(*s, "#d1d5db", 1.0, Some("2 3"), None);
        }
    }
    let mut kinds: Vec<EventKind> = Vec::new();
    // Many events: thinner lines so the latency stays readable.
    let width = if t.events.len() > 40 { 0.5 } else { 1.0 };
    for e in &t.events {
        let col = event_color(e.kind);
        c.vline(e.t_s, col, width, None, None);
        if !kinds.contains(&e.kind) {
            kinds.push(e.kind);
        }
    }
    let mx: Vec<(f64, f64)> = t.points.iter().map(|p| (p.t_s, p.max_ms)).collect();
    let md: Vec<(f64, f64)> = t.points.iter().map(|p| (p.t_s, p.p50_ms)).collect();
    c.line(&mx, "#93c5fd", 1.5, None);
    c.line(&md, BLUE, 2.0, None);
    // Undetected spikes are noise: drawn small and grey.
    let spike_color = if d.spikes.detected { RED } else { GREY };
    c.points(
        &d.spikes
            .marks
            .iter()
            .map(|m| {
                (
                    m.t_s,
                    m.peak_ms,
                    Some(format!(
                        "spike at {:.2} s (request #{}): {:.1} ms, {} slow requests{}",
                        m.t_s,
                        m.index,
                        m.peak_ms,
                        m.size,
                        if m.matched {
                            ", matched to an event"
                        } else {
                            ""
                        }
                    )),
                )
            })
            .collect::<Vec<_>>(),
        spike_color,
        if d.spikes.detected { 3.5 } else { 2.5 },
    );
    c.legend("median", BLUE, false);
    c.legend("max per bucket", "#93c5fd", false);
    if !d.spikes.marks.is_empty() {
        let label = if d.spikes.detected {
            "spike"
        } else {
            "slow burst"
        };
        c.legend(label, spike_color, true);
    }
    for k in kinds {
        c.legend(k.name(), event_color(k), false);
    }
    c.render()
}

fn event_color(kind: EventKind) -> &'static str {
    match kind {
        EventKind::GcPause => "#f59e0b",
        EventKind::PoolRecycle => "#8b5cf6",
        EventKind::CpuBurst => "#10b981",
        EventKind::Reported(_) => "#ef4444",
    }
}

fn errors_chart(d: &Diagnosis) -> String {
    let mut errs: Vec<(&Failure, &u64)> = d.errors.iter().collect();
    errs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let n = errs.len().max(1) as f64;
    let max = errs.iter().map(|e| *e.1 as f64).fold(1.0, f64::max);
    let mut c = Chart::new(
        CHART_TITLES[4],
        Axis::linear(-0.5, n - 0.5, "error kind"),
        Axis::linear(0.0, max * 1.15, "requests"),
    );
    if errs.is_empty() {
        c.x_categories(Vec::new());
        c.text(0.0, max * 0.5, "no failed requests", GREEN, "middle");
    } else {
        c.x_categories(
            errs.iter()
                .enumerate()
                .map(|(i, e)| (i as f64, e.0.to_string()))
                .collect(),
        );
        for (i, (k, v)) in errs.iter().enumerate() {
            let col = if k.is_socket() {
                PURPLE
            } else if k.status_code().is_some_and(|c| (400..600).contains(&c)) {
                ORANGE
            } else {
                GREY
            };
            let x = i as f64;
            c.bar(x - 0.3, x + 0.3, **v as f64, col, &format!("{k}: {v}"));
            c.text(x, **v as f64, &fmt_num(**v as f64), "#374151", "middle");
        }
        c.legend("connection phase", PURPLE, true);
        c.legend("HTTP status", ORANGE, true);
    }
    c.render()
}
