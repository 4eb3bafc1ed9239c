//! A small SVG chart builder: axes with nice ticks (linear or log), lines, points, bars,
//! reference lines and a legend. Output is plain inline SVG: no scripts, no network.

use std::fmt::Write;

/// Chart width in SVG units.
pub const WIDTH: f64 = 900.0;
/// Chart height in SVG units.
pub const HEIGHT: f64 = 340.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 52.0;

/// Escape text for XML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One axis.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Smallest value shown.
    pub min: f64,
    /// Largest value shown.
    pub max: f64,
    /// Logarithmic scale.
    pub log: bool,
    /// Label.
    pub label: String,
}

impl Axis {
    /// A linear axis from 0 (or `min`) to a rounded-up `max`.
    pub fn linear(min: f64, max: f64, label: &str) -> Self {
        let max = if max.is_finite() && max > min {
            max
        } else {
            min + 1.0
        };
        let step = nice_step((max - min) / 5.0);
        Axis {
            min,
            max: (max / step).ceil() * step,
            log: false,
            label: label.into(),
        }
    }

    /// A log axis covering `[min, max]`, widened to powers of ten.
    pub fn log(min: f64, max: f64, label: &str) -> Self {
        let min = if min.is_finite() && min > 0.0 {
            min
        } else {
            0.01
        };
        let max = if max.is_finite() && max > min {
            max
        } else {
            min * 10.0
        };
        Axis {
            min: 10f64.powf(min.log10().floor()),
            max: 10f64.powf(max.log10().ceil()),
            log: true,
            label: label.into(),
        }
    }

    fn frac(&self, v: f64) -> f64 {
        if self.log {
            let v = v.max(self.min * 1e-3);
            (v.log10() - self.min.log10()) / (self.max.log10() - self.min.log10())
        } else {
            (v - self.min) / (self.max - self.min)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut out = Vec::new();
            let mut e = self.min.log10().round() as i32;
            while 10f64.powi(e) <= self.max * 1.0001 {
                out.push(10f64.powi(e));
                e += 1;
            }
            out
        } else {
            let step = nice_step((self.max - self.min) / 5.0);
            let mut out = Vec::new();
            let mut v = (self.min / step).ceil() * step;
            while v <= self.max + step * 1e-6 {
                out.push(v);
                v += step;
            }
            out
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * p
}

/// A compact tick label: 1,500 → `1.5k`, 0.25 → `0.25`.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A chart being drawn.
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    x: Axis,
    y: Axis,
    body: String,
    legend: Vec<(String, String, bool)>,
    x_labels: Option<Vec<(f64, String)>>,
}

impl Chart {
    /// A chart with a title and two axes.
    pub fn new(title: &str, x: Axis, y: Axis) -> Self {
        Chart {
            title: title.into(),
            x,
            y,
            body: String::new(),
            legend: Vec::new(),
            x_labels: None,
        }
    }

    /// Label the x axis at these positions instead of numeric ticks (categories).
    pub fn x_categories(&mut self, labels: Vec<(f64, String)>) {
        self.x_labels = Some(labels);
    }

    /// X data value to SVG x.
    pub fn px(&self, v: f64) -> f64 {
        LEFT + self.x.frac(v).clamp(-0.02, 1.02) * (WIDTH - LEFT - RIGHT)
    }

    /// Y data value to SVG y.
    pub fn py(&self, v: f64) -> f64 {
        HEIGHT - BOTTOM - self.y.frac(v).clamp(-0.02, 1.04) * (HEIGHT - TOP - BOTTOM)
    }

    /// Add a legend entry (`dot` draws a dot instead of a line).
    pub fn legend(&mut self, label: &str, color: &str, dot: bool) {
        self.legend.push((label.into(), color.into(), dot));
    }

    /// A polyline through the points (non-finite points break it).
    pub fn line(&mut self, pts: &[(f64, f64)], color: &str, width: f64, dash: Option<&str>) {
        let mut seg: Vec<String> = Vec::new();
        let flush = |seg: &mut Vec<String>, body: &mut String| {
            if seg.len() > 1 {
                let _ = write!(
                    body,
                    r#"<polyline fill="none" stroke="{color}" stroke-width="{width}" stroke-linejoin="round"{} points="{}"/>"#,
                    dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
                        .unwrap_or_default(),
                    seg.join(" ")
                );
            }
            seg.clear();
        };
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() && (!self.y.log || y > 0.0) {
                seg.push(format!("{:.1},{:.1}", self.px(x), self.py(y)));
            } else {
                flush(&mut seg, &mut self.body);
            }
        }
        flush(&mut seg, &mut self.body);
    }

    /// Dots at the points, with an optional tooltip each.
    pub fn points(&mut self, pts: &[(f64, f64, Option<String>)], color: &str, r: f64) {
        for (x, y, tip) in pts {
            if !(x.is_finite() && y.is_finite()) || (self.y.log && *y <= 0.0) {
                continue;
            }
            let _ = write!(
                self.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{color}" stroke="white" stroke-width="1">{}</circle>"#,
                self.px(*x),
                self.py(*y),
                tip.as_ref()
                    .map(|t| format!("<title>{}</title>", esc(t)))
                    .unwrap_or_default()
            );
        }
    }

    /// A vertical reference line with an optional label at the top.
    pub fn vline(
        &mut self,
        x: f64,
        color: &str,
        width: f64,
        dash: Option<&str>,
        label: Option<&str>,
    ) {
        if !x.is_finite() {
            return;
        }
        let px = self.px(x);
        let _ = write!(
            self.body,
            r#"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{:.1}" stroke="{color}" stroke-width="{width}"{} opacity="0.8"/>"#,
            HEIGHT - BOTTOM,
            dash.map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default()
        );
        if let Some(l) = label {
            let _ = write!(
                self.body,
                r#"<text x="{:.1}" y="{:.1}" fill="{color}" font-size="12" font-weight="600">{}</text>"#,
                px + 4.0,
                TOP + 14.0,
                esc(l)
            );
        }
    }

    /// A horizontal reference line with a label at the right.
    pub fn hline(&mut self, y: f64, color: &str, label: &str) {
        let py = self.py(y);
        let _ = write!(
            self.body,
            r#"<line x1="{LEFT}" x2="{:.1}" y1="{py:.1}" y2="{py:.1}" stroke="{color}" stroke-width="1.2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="{color}" font-size="11" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            WIDTH - RIGHT - 4.0,
            py - 4.0,
            esc(label)
        );
    }

    /// A bar from the axis base to `y`, spanning `[x0, x1]` in data units.
    pub fn bar(&mut self, x0: f64, x1: f64, y: f64, color: &str, tip: &str) {
        let base = if self.y.log {
            self.y.min
        } else {
            self.y.min.max(0.0)
        };
        let (a, b) = (self.px(x0), self.px(x1));
        let (top, bot) = (self.py(y), self.py(base));
        let _ = write!(
            self.body,
            r#"<rect x="{a:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{color}" rx="2"><title>{}</title></rect>"#,
            (b - a).max(1.0),
            (bot - top).max(0.0),
            esc(tip)
        );
    }

    /// Text at a data position.
    pub fn text(&mut self, x: f64, y: f64, s: &str, color: &str, anchor: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{:.1}" y="{:.1}" fill="{color}" font-size="11" text-anchor="{anchor}">{}</text>"#,
            self.px(x),
            self.py(y) - 4.0,
            esc(s)
        );
    }

    /// The finished `<svg>` element.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"><title>{t}</title><rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{LEFT}" y="24" font-size="16" font-weight="700" fill="#1f2937">{t}</text>"##,
            t = esc(&self.title)
        );
        let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
        // Grid and y ticks.
        for v in self.y.ticks() {
            let py = self.py(v);
            let _ = write!(
                s,
                r##"<line x1="{x0}" x2="{x1}" y1="{py:.1}" y2="{py:.1}" stroke="#e5e7eb"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#6b7280" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                py + 4.0,
                tick_label(v)
            );
        }
        match &self.x_labels {
            Some(labels) => {
                for (v, l) in labels {
                    let _ = write!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#6b7280" text-anchor="middle">{}</text>"##,
                        self.px(*v),
                        y1 + 16.0,
                        esc(l)
                    );
                }
            }
            None => {
                for v in self.x.ticks() {
                    let px = self.px(v);
                    let _ = write!(
                        s,
                        r##"<line x1="{px:.1}" x2="{px:.1}" y1="{y0}" y2="{y1}" stroke="#f3f4f6"/><text x="{px:.1}" y="{:.1}" font-size="11" fill="#6b7280" text-anchor="middle">{}</text>"##,
                        y1 + 16.0,
                        tick_label(v)
                    );
                }
            }
        }
        let _ = write!(
            s,
            r##"<line x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}" stroke="#9ca3af"/><line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="#9ca3af"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#374151" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" font-size="12" fill="#374151" text-anchor="middle">{}</text>"##,
            (x0 + x1) / 2.0,
            HEIGHT - 12.0,
            esc(&self.x.label),
            (y0 + y1) / 2.0,
            esc(&self.y.label)
        );
        s.push_str(&self.body);
        // Legend, right-aligned in the title row.
        let mut lx = WIDTH - RIGHT;
        for (label, color, dot) in self.legend.iter().rev() {
            let w = 22.0 + label.chars().count() as f64 * 6.6;
            lx -= w + 12.0;
            if *dot {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="20" r="5" fill="{color}"/>"#,
                    lx + 7.0
                );
            } else {
                let _ = write!(
                    s,
                    r#"<line x1="{lx:.1}" x2="{:.1}" y1="20" y2="20" stroke="{color}" stroke-width="3"/>"#,
                    lx + 16.0
                );
            }
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="24" font-size="12" fill="#374151">{}</text>"##,
                lx + 21.0,
                esc(label)
            );
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_labels_compact() {
        let a = Axis::linear(0.0, 937.0, "x");
        assert_eq!(a.max, 1000.0);
        assert_eq!(a.ticks(), vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        let l = Axis::log(0.3, 4200.0, "ms");
        assert_eq!(l.ticks(), vec![0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]);
        assert_eq!(tick_label(15000.0), "15k");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(esc("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }

    #[test]
    fn a_chart_renders_its_parts() {
        let mut c = Chart::new(
            "T <1>",
            Axis::linear(0.0, 10.0, "N"),
            Axis::log(1.0, 100.0, "ms"),
        );
        c.line(
            &[(1.0, 2.0), (2.0, f64::NAN), (3.0, 4.0), (4.0, 5.0)],
            "red",
            2.0,
            None,
        );
        c.points(&[(1.0, 2.0, Some("a".into()))], "blue", 3.0);
        c.vline(5.0, "green", 1.0, Some("4 2"), Some("plateau"));
        c.legend("p99", "red", false);
        let s = c.render();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("T &lt;1&gt;"));
        assert_eq!(s.matches("<polyline").count(), 1);
        assert!(s.contains("plateau") && s.contains("<circle"));
    }
}
