//! Metric names referenced by a PromQL expression (as written in Grafana panels).
//!
//! A small tokenizer, not a full parser: it skips strings, label matchers (`{...}`,
//! except a `__name__="..."` matcher, whose value is a metric name), ranges (`[...]`),
//! numbers and durations, Grafana variables (`$x`, `${x}`), function and aggregation
//! names (identifiers followed by `(`), keywords, and the label lists of `by`,
//! `without`, `on`, `ignoring`, `group_left` and `group_right`. What is left are the
//! metric names.

use std::collections::BTreeSet;

/// Keywords and operators written as words.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
    "atan2",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// What an expression refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// Metric names (selectors and `__name__` matchers).
    pub metrics: BTreeSet<String>,
    /// Label names in matchers and in `by`/`without`/`on`/`ignoring`/`group_*` lists.
    pub labels: BTreeSet<String>,
}

/// The metric names in `expr`.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    references(expr).metrics
}

/// The label names `expr` uses (matchers and grouping lists; not `__name__`).
pub fn label_names(expr: &str) -> BTreeSet<String> {
    references(expr).labels
}

/// The metric and label names in `expr`.
pub fn references(expr: &str) -> Refs {
    let chars: Vec<char> = expr.chars().collect();
    let mut refs = Refs::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => {
                let end = matching(&chars, i, '{', '}');
                let inner = &chars[i + 1..end.min(chars.len())];
                for (label, value) in matchers(inner) {
                    if label == "__name__" {
                        refs.metrics.extend(value);
                    } else {
                        refs.labels.insert(label);
                    }
                }
                i = end + 1;
            }
            '[' => i = matching(&chars, i, '[', ']') + 1,
            '$' => i = skip_variable(&chars, i),
            '#' => {
                // A comment runs to the end of the line.
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = next_non_space(&chars, i);
                let lower = word.to_ascii_lowercase();
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) {
                    if let Some(j) = next.filter(|&j| chars[j] == '(') {
                        let end = matching(&chars, j, '(', ')');
                        let list: String = chars[j + 1..end.min(chars.len())].iter().collect();
                        refs.labels.extend(
                            list.split(',')
                                .map(str::trim)
                                .filter(|l| !l.is_empty())
                                .map(str::to_string),
                        );
                        i = end + 1;
                    }
                } else if KEYWORDS.contains(&lower.as_str()) {
                    // An operator or modifier.
                } else if next.is_some_and(|j| chars[j] == '(') || followed_by_grouping(&chars, i) {
                    // A function or aggregation name (`sum by (le) (...)`).
                } else {
                    refs.metrics.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    refs
}

/// `(label, Some(value) for __name__)` of each matcher in a selector's braces.
fn matchers(inner: &[char]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < inner.len() && (inner[i].is_ascii_alphanumeric() || inner[i] == '_') {
                i += 1;
            }
            let label: String = inner[start..i].iter().collect();
            // Skip the operator, then read the quoted value.
            let mut j = i;
            while j < inner.len() && "=!~ ".contains(inner[j]) {
                j += 1;
            }
            let value = if j < inner.len() && (inner[j] == '"' || inner[j] == '\'') {
                let end = skip_string(inner, j);
                i = end;
                Some(
                    inner[j + 1..end.saturating_sub(1).max(j + 1)]
                        .iter()
                        .collect(),
                )
            } else {
                i = j;
                None
            };
            let name = (label == "__name__").then_some(value).flatten();
            out.push((label, name));
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_string(inner, i);
        } else {
            i += 1;
        }
    }
    out
}

/// The metric names in a Grafana Prometheus variable query: `label_values(METRIC,
/// label)` and `query_result(EXPR)` forms, or a plain expression.
pub fn variable_query_metric_names(query: &str) -> BTreeSet<String> {
    let q = query.trim();
    if let Some(rest) = q.strip_prefix("label_values(") {
        let inner = rest.strip_suffix(')').unwrap_or(rest);
        // `label_values(label)` names no metric; `label_values(expr, label)` does.
        return match inner.rfind(',') {
            Some(comma) => metric_names(&inner[..comma]),
            None => BTreeSet::new(),
        };
    }
    if let Some(rest) = q.strip_prefix("query_result(") {
        return metric_names(rest.strip_suffix(')').unwrap_or(rest));
    }
    if q.starts_with("label_names(") {
        return BTreeSet::new();
    }
    metric_names(q)
}

fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

fn skip_variable(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    if i < chars.len() && chars[i] == '{' {
        return matching(chars, i, '{', '}') + 1;
    }
    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    i
}

/// Index of the bracket closing the one at `open_at` (or the end), skipping strings.
fn matching(chars: &[char], open_at: usize, open: char, close: char) -> usize {
    let mut depth = 0usize;
    let mut i = open_at;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(chars, i);
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return i;
            }
        }
        i += 1;
    }
    chars.len()
}

/// True when the next word after `from` is `by` or `without` (an aggregation written
/// with its grouping first: `sum by (le) (x)`).
fn followed_by_grouping(chars: &[char], from: usize) -> bool {
    let Some(start) = next_non_space(chars, from) else {
        return false;
    };
    let word: String = chars[start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
        .collect();
    let word = word.to_ascii_lowercase();
    word == "by" || word == "without"
}

fn next_non_space(chars: &[char], from: usize) -> Option<usize> {
    (from..chars.len()).find(|&j| !chars[j].is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn quantile_over_bucket_rates() {
        assert_eq!(
            names(
                "histogram_quantile(0.99, sum by (le, service_name) \
                 (rate(http_server_request_duration_seconds_bucket{job=\"target-api\"}[$__rate_interval])))"
            ),
            ["http_server_request_duration_seconds_bucket"]
        );
    }

    #[test]
    fn binary_operations_and_modifiers() {
        assert_eq!(
            names(
                "sum(rate(a_total[1m])) by (kind) / on(kind) group_left(x) \
                 sum without (le) (b_count offset 5m) > bool 0.5 and c unless d or e"
            ),
            ["a_total", "b_count", "c", "d", "e"]
        );
    }

    #[test]
    fn strings_matchers_and_variables_are_not_names() {
        assert_eq!(
            names(
                "label_replace(increase(x_count{satlab_event_name=~\"gc_pause|y\", job=\"$job\"}[${__interval}]), \"dst\", \"$1\", \"src\", \"(.*)\")"
            ),
            ["x_count"]
        );
        assert_eq!(
            names("{__name__=\"only_by_matcher\", a=\"b\"}"),
            ["only_by_matcher"]
        );
        assert_eq!(names("1e3 * 2.5 + Inf - NaN"), Vec::<String>::new());
    }

    #[test]
    fn a_misspelt_metric_is_still_a_name() {
        // The check must fail on typos, so unknown identifiers are reported, not dropped.
        assert_eq!(
            names("rate(http_server_reqest_total[5m])"),
            ["http_server_reqest_total"]
        );
    }

    #[test]
    fn label_names_from_matchers_and_groupings() {
        let l: Vec<String> = label_names(
            "sum by (le, job) (rate(a_bucket{x=\"1\", y!~\"a,b\", __name__=\"a_bucket\"}[5m])) \
             / on(job) group_left(z) b",
        )
        .into_iter()
        .collect();
        assert_eq!(l, ["job", "le", "x", "y", "z"]);
    }

    #[test]
    fn variable_queries() {
        let v: Vec<String> =
            variable_query_metric_names("label_values(satlab_observer_verdict, run)")
                .into_iter()
                .collect();
        assert_eq!(v, ["satlab_observer_verdict"]);
        assert!(variable_query_metric_names("label_values(job)").is_empty());
    }
}
