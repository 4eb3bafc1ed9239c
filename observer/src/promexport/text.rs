//! The Prometheus text exposition format 0.0.4: a counter's `# TYPE` names its `_total`
//! series; no exemplars.

use super::model::{Family, Kind, header, sample_line};

/// Its content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The name `# HELP` and `# TYPE` give a family in this format.
pub fn declared_name(f: &Family) -> String {
    match f.kind {
        Kind::Counter => format!("{}_total", f.name),
        _ => f.name.to_string(),
    }
}

/// Render the families.
pub fn render(families: &[Family]) -> String {
    let mut o = String::new();
    for f in families {
        o.push_str(&header(f, &declared_name(f)));
        for s in &f.samples {
            o.push_str(&sample_line(f, s));
            o.push('\n');
        }
    }
    o
}
