//! The metric model both exposition formats render: families of samples, each sample
//! with its labels and, on histogram buckets, an optional exemplar.

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic counter; its sample is named `NAME_total`.
    Counter,
    /// A gauge.
    Gauge,
    /// A histogram: `NAME_bucket{le}`, `NAME_sum`, `NAME_count`.
    Histogram,
}

impl Kind {
    /// The `# TYPE` word.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family: its name (a counter's without `_total`), type, help and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name (`satlab_observer_otlp_received`, not `..._total`).
    pub name: &'static str,
    /// Type.
    pub kind: Kind,
    /// One-line help text.
    pub help: &'static str,
    /// Samples, in order.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name: `_total`, `_bucket`, `_sum`, `_count` or empty.
    pub suffix: &'static str,
    /// Label names and (unescaped) values.
    pub labels: Vec<(&'static str, String)>,
    /// Value.
    pub value: f64,
    /// The exemplar (OpenMetrics only renders it).
    pub exemplar: Option<Exemplar>,
}

/// An exemplar: the span behind one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The observed value.
    pub value: f64,
    /// When it was observed, Unix ns.
    pub unix_ns: u64,
}

impl Sample {
    /// A sample without exemplar.
    pub fn new(suffix: &'static str, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        Sample {
            suffix,
            labels,
            value,
            exemplar: None,
        }
    }
}

/// Escape a label value (backslash, double quote, newline).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A number as both formats write it: `+Inf`, `-Inf`, `NaN`, else the shortest decimal
/// that reads back the same.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// `{a="x",b="y"}`, or nothing for no labels.
pub fn label_set(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// `# HELP` and `# TYPE` of a family declared as `declared`.
pub fn header(f: &Family, declared: &str) -> String {
    format!(
        "# HELP {declared} {}\n# TYPE {declared} {}\n",
        f.help,
        f.kind.word()
    )
}

/// `NAME_SUFFIX{labels} VALUE` (no newline).
pub fn sample_line(f: &Family, s: &Sample) -> String {
    format!(
        "{}{}{} {}",
        f.name,
        s.suffix,
        label_set(&s.labels),
        number(s.value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_label_sets() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(0.00025), "0.00025");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(label_set(&[]), "");
        assert_eq!(
            label_set(&[("a", "x\"y".into()), ("b", "1\\\n".into())]),
            "{a=\"x\\\"y\",b=\"1\\\\\\n\"}"
        );
    }
}
