//! OpenMetrics 1.0.0 text: a counter is declared without `_total` and sampled with it,
//! histogram buckets carry their exemplar (` # {trace_id="…",span_id="…"} VALUE TS`), and
//! the exposition ends with `# EOF`.

use super::model::{Exemplar, Family, header, number, sample_line};

/// Its content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// ` # {trace_id="…",span_id="…"} VALUE SECONDS.MILLIS`.
fn exemplar(e: &Exemplar) -> String {
    format!(
        " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {}.{:03}",
        e.trace_id,
        e.span_id,
        number(e.value),
        e.unix_ns / 1_000_000_000,
        e.unix_ns % 1_000_000_000 / 1_000_000
    )
}

/// Render the families.
pub fn render(families: &[Family]) -> String {
    let mut o = String::new();
    for f in families {
        o.push_str(&header(f, f.name));
        for s in &f.samples {
            o.push_str(&sample_line(f, s));
            if let Some(e) = &s.exemplar {
                o.push_str(&exemplar(e));
            }
            o.push('\n');
        }
    }
    o.push_str("# EOF\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promexport::families::tests::sample_families;
    use std::collections::BTreeMap;

    /// A parsed sample line: name, labels, value, exemplar (labels, value, timestamp).
    type Line = (
        String,
        BTreeMap<String, String>,
        f64,
        Option<(BTreeMap<String, String>, f64, f64)>,
    );

    /// `{a="x",b="y"}` at the start of `s`: the labels and the rest.
    fn labels(s: &str) -> (BTreeMap<String, String>, &str) {
        let mut out = BTreeMap::new();
        let Some(mut rest) = s.strip_prefix('{') else {
            return (out, s);
        };
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                return (out, r);
            }
            rest = rest.strip_prefix(',').unwrap_or(rest);
            let (name, r) = rest.split_once("=\"").expect("label=\"value\"");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "label name {name:?}"
            );
            let mut value = String::new();
            let mut chars = r.char_indices();
            let end = loop {
                match chars.next().expect("a closing quote") {
                    (_, '\\') => match chars.next().expect("an escape").1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c}"),
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            out.insert(name.to_string(), value);
            rest = &r[end + 1..];
        }
    }

    fn parse_line(line: &str) -> Line {
        let name_end = line.find(['{', ' ']).expect("a value");
        let (name, rest) = line.split_at(name_end);
        let (l, rest) = labels(rest);
        let rest = rest.strip_prefix(' ').expect("a space before the value");
        let (value, ex) = match rest.split_once(" # ") {
            Some((v, e)) => (v, Some(e)),
            None => (rest, None),
        };
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let ex = ex.map(|e| {
            let (el, r) = labels(e);
            let r = r
                .strip_prefix(' ')
                .expect("a space before the exemplar value");
            let mut parts = r.split(' ');
            let v: f64 = parts.next().unwrap().parse().expect("exemplar value");
            let ts: f64 = parts.next().expect("a timestamp").parse().expect("ts");
            assert_eq!(parts.next(), None, "{line:?}");
            (el, v, ts)
        });
        (name.to_string(), l, value, ex)
    }

    #[test]
    fn parses_as_openmetrics_with_exemplars() {
        let text = render(&sample_families());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| *l != "# EOF") {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(
                    types.insert(name.into(), kind.into()).is_none(),
                    "{name} twice"
                );
            } else if !line.starts_with("# HELP ") {
                samples.push(parse_line(line));
            }
        }
        for (name, kind) in &types {
            if kind == "counter" {
                assert!(
                    !name.ends_with("_total"),
                    "counter {name} declared with _total"
                );
            }
        }
        let mut exemplars = 0;
        for (name, l, value, ex) in &samples {
            // A sample belongs to the family it follows, by an allowed suffix.
            let (family, suffix) = types
                .keys()
                .filter_map(|f| name.strip_prefix(f.as_str()).map(|s| (f, s)))
                .max_by_key(|(f, _)| f.len())
                .unwrap_or_else(|| panic!("{name} belongs to no family"));
            let allowed: &[&str] = match types[family].as_str() {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                _ => &[""],
            };
            assert!(allowed.contains(&suffix), "{name} in {family}");
            if let Some((el, v, ts)) = ex {
                exemplars += 1;
                assert_eq!(suffix, "_bucket", "exemplars only on buckets: {name}");
                assert_eq!(el.len(), 2, "{el:?}");
                let hex = |s: &str, n: usize| {
                    s.len() == n
                        && s.chars()
                            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                };
                assert!(
                    hex(&el["trace_id"], 32) && hex(&el["span_id"], 16),
                    "{el:?}"
                );
                let le: f64 = l["le"].replace("+Inf", "inf").parse().unwrap();
                assert!(*v <= le, "exemplar {v} above its bucket's le {le}");
                assert!(*value >= 1.0);
                assert!(*ts > 1.6e9, "{ts}");
            }
        }
        assert_eq!(exemplars, 1);
        assert!(text.contains(
            "satlab_observer_span_duration_seconds_bucket{side=\"server\",service=\"target-api\",le=\"0.025\"} 1 \
             # {trace_id=\"0123456789abcdef0011223344556677\",span_id=\"feedbeef00000001\"} 0.0123 1700000000.012\n"
        ), "{text}");
        assert!(text.contains("# TYPE satlab_observer_otlp_received counter\n"));
        assert!(text.contains("satlab_observer_otlp_received_total{signal=\"logs\"} 5\n"));
        assert!(text.contains("le=\"+Inf\"} 1\n"));
    }
}
