//! The Prometheus text exposition format 0.0.4: a counter's `# TYPE` names its `_total`
//! series; no exemplars.

use super::model::{Family, Kind, label_set, number};
use std::fmt::Write;

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
        let declared = declared_name(f);
        let _ = writeln!(o, "# HELP {declared} {}", f.help);
        let _ = writeln!(o, "# TYPE {declared} {}", f.kind.word());
        for s in &f.samples {
            let _ = writeln!(
                o,
                "{}{}{} {}",
                f.name,
                s.suffix,
                label_set(&s.labels),
                number(s.value)
            );
        }
    }
    o
}
