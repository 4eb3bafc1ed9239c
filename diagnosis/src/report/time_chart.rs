//! "Where the time went" as an inline SVG: per step, two horizontal stacked bars: each
//! part's share of all the time the joined requests took, and the parts of the requests
//! around p99 as shares of their latency (the ms figure at the bar's end). A legend names
//! the parts; every segment has a tooltip.

use super::svg::{WIDTH, esc};
use crate::format::fmt_num;
use crate::time_model::{Decomposition, Parts, WhereTimeWent};
use std::fmt::Write;

/// The chart's title.
pub const TITLE: &str = "Where the time went";

/// Each part's colour and legend label, in [`Parts::NAMES`] order.
pub const PART_STYLE: [(&str, &str); 6] = [
    ("#9ca3af", "late (open loop)"),
    ("#7c3aed", "before the handler"),
    ("#ea580c", "pool wait"),
    ("#dc2626", "stalled"),
    ("#2563eb", "handler"),
    ("#16a34a", "after the handler"),
];

const LEFT: f64 = 130.0;
const RIGHT: f64 = 110.0;
const TOP: f64 = 64.0;
const BAR: f64 = 15.0;
const PAIR_GAP: f64 = 3.0;
const STEP_GAP: f64 = 14.0;
const BOTTOM: f64 = 36.0;

/// The quantile whose parts get the second bar.
const TAIL_QUANTILE: f64 = 0.99;

fn bar(s: &mut String, y: f64, parts: &Parts, what: &str) {
    let total = parts.total();
    if !(total.is_finite() && total > 0.0) {
        return;
    }
    let w = WIDTH - LEFT - RIGHT;
    let mut x = LEFT;
    for (i, v) in parts.values().iter().enumerate() {
        let share = v / total;
        if !(share.is_finite() && share > 0.0) {
            continue;
        }
        let (color, label) = PART_STYLE[i];
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{color}"><title>{}</title></rect>"#,
            (share * w).max(0.5),
            esc(&format!("{what}: {label} {:.1}%", share * 100.0))
        );
        x += share * w;
    }
}

fn label(s: &mut String, x: f64, y: f64, text: &str, anchor: &str, weight: &str) {
    let _ = write!(
        s,
        r##"<text x="{x:.1}" y="{:.1}" font-size="12" fill="#374151" text-anchor="{anchor}" font-weight="{weight}">{}</text>"##,
        y + BAR - 3.0,
        esc(text)
    );
}

fn step_bars(s: &mut String, y: f64, name: &str, d: &Decomposition) {
    label(s, 8.0, y, name, "start", "600");
    label(s, LEFT - 8.0, y, "overall", "end", "400");
    bar(s, y, &d.share, &format!("{name}, share of all time"));
    label(
        s,
        WIDTH - RIGHT + 6.0,
        y,
        &format!("mean {} ms", fmt_num(d.mean_ms)),
        "start",
        "400",
    );
    let y2 = y + BAR + PAIR_GAP;
    if let Some(q) = d.at.iter().find(|q| q.quantile == TAIL_QUANTILE) {
        label(s, LEFT - 8.0, y2, "at p99", "end", "400");
        bar(s, y2, &q.parts_ms, &format!("{name}, at p99"));
        label(
            s,
            WIDTH - RIGHT + 6.0,
            y2,
            &format!("{} ms", fmt_num(q.parts_ms.total())),
            "start",
            "400",
        );
    }
}

/// The chart, or `None` when nothing was decomposed.
pub fn render(w: &WhereTimeWent) -> Option<String> {
    let rows: Vec<(String, &Decomposition)> = w
        .steps
        .iter()
        .filter_map(|st| Some((format!("step {}", st.index), st.decomposition.as_ref()?)))
        .chain(w.run.as_ref().map(|r| ("all steps".to_string(), r)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let pair = 2.0 * BAR + PAIR_GAP;
    let height = TOP + rows.len() as f64 * (pair + STEP_GAP) + BOTTOM;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="chart" viewBox="0 0 {WIDTH} {height:.0}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"><title>{t}</title><rect x="0" y="0" width="{WIDTH}" height="{height:.0}" fill="white"/><text x="8" y="22" font-size="16" font-weight="700" fill="#1f2937">{t}</text>"##,
        t = esc(TITLE)
    );
    // Legend: one swatch per part.
    let mut lx = 8.0;
    for (color, name) in PART_STYLE {
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="36" width="12" height="12" fill="{color}"/><text x="{:.1}" y="46" font-size="12" fill="#374151">{}</text>"##,
            lx + 16.0,
            esc(name)
        );
        lx += 30.0 + name.chars().count() as f64 * 6.6;
    }
    // Grid: 0, 25, 50, 75, 100 %.
    let bottom = height - BOTTOM;
    for k in 0..=4 {
        let x = LEFT + (WIDTH - LEFT - RIGHT) * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{bottom:.1}" stroke="#e5e7eb"/><text x="{x:.1}" y="{:.1}" font-size="11" fill="#6b7280" text-anchor="middle">{}%</text>"##,
            bottom + 16.0,
            k * 25
        );
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#374151" text-anchor="middle">share of the latency</text>"##,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        height - 6.0
    );
    for (i, (name, d)) in rows.iter().enumerate() {
        step_bars(&mut s, TOP + 6.0 + i as f64 * (pair + STEP_GAP), name, d);
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_model::{QuantileParts, StepTime};

    fn dec(share: Parts, p99: Parts) -> Decomposition {
        Decomposition {
            joined: 10,
            expected_client_spans: Some(10.0),
            joined_share_expected: Some(1.0),
            joined_share_present: Some(1.0),
            joined_p99_ms: 2.0,
            recorded_p99_ms: Some(2.0),
            mean_ms: 1.0,
            share,
            at: vec![QuantileParts {
                quantile: 0.99,
                latency_ms: 2.0,
                band: 3,
                band_from: 0.9,
                band_to: 1.0,
                parts_ms: p99,
            }],
            clamped: 0,
        }
    }

    #[test]
    fn segments_legend_and_nothing_without_data() {
        let share = Parts {
            before_handler: 0.25,
            handler: 0.75,
            ..Parts::default()
        };
        let p99 = Parts {
            before_handler: 1.0,
            stalled: 40.0,
            handler: 1.0,
            ..Parts::default()
        };
        let mut w = WhereTimeWent {
            steps: vec![StepTime {
                index: 3,
                spans: Default::default(),
                decomposition: Some(dec(share, p99)),
                inside: Default::default(),
            }],
            ..Default::default()
        };
        w.run = Some(dec(share, p99));
        let svg = render(&w).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Two segments for the time bar, three for p99, twice (the step and the run).
        assert_eq!(svg.matches("<title>step 3").count(), 5);
        assert!(svg.contains("step 3, share of all time: before the handler 25.0%"));
        assert!(svg.contains("step 3, at p99: stalled 95.2%"));
        assert!(svg.contains("42 ms") && svg.contains("all steps"));
        for (_, name) in PART_STYLE {
            assert!(svg.contains(name), "legend names {name}");
        }
        assert!(render(&WhereTimeWent::default()).is_none());
    }
}
