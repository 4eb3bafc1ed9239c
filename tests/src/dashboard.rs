//! Walking a Grafana dashboard JSON: panels (rows included), their datasources and
//! queries, annotations and template variables.

use serde_json::Value;
use std::collections::BTreeSet;

/// Datasource uids Grafana provides itself (the built-in annotation source).
pub const BUILTIN_UIDS: &[&str] = &["-- Grafana --", "grafana"];

/// One query found in a dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Where: panel title, `annotation NAME` or `variable NAME`.
    pub place: String,
    /// Datasource uid in force (the target's, else the panel's), if stated.
    pub datasource_uid: Option<String>,
    /// Datasource type in force, if stated.
    pub datasource_type: Option<String>,
    /// The PromQL (`expr`, or a variable's `query`), if any.
    pub expr: Option<String>,
    /// True for a template-variable query (`label_values(...)` syntax).
    pub is_variable: bool,
    /// True for a panel target with `"exemplar": true` (Grafana asks Prometheus for the
    /// exemplars of its series).
    pub exemplar: bool,
}

/// A problem with a dashboard's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

fn ds(v: Option<&Value>) -> (Option<String>, Option<String>) {
    match v {
        Some(Value::Object(o)) => (
            o.get("uid").and_then(Value::as_str).map(str::to_string),
            o.get("type").and_then(Value::as_str).map(str::to_string),
        ),
        // Old dashboards name the datasource by a plain string.
        Some(Value::String(s)) => (Some(s.clone()), None),
        _ => (None, None),
    }
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: Option<&'a Value>, out: &mut Vec<&'a Value>) {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            out.push(p);
            walk(p.get("panels"), out);
        }
    }
    let mut out = Vec::new();
    walk(dashboard.get("panels"), &mut out);
    out
}

/// Every query of the dashboard, with the datasource in force.
pub fn queries(dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for p in panels(dashboard) {
        let title = p
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("(untitled)");
        let (puid, ptype) = ds(p.get("datasource"));
        for t in p
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (tuid, ttype) = ds(t.get("datasource"));
            out.push(Query {
                place: format!("panel {title:?}"),
                datasource_uid: tuid.or_else(|| puid.clone()),
                datasource_type: ttype.or_else(|| ptype.clone()),
                expr: t.get("expr").and_then(Value::as_str).map(str::to_string),
                is_variable: false,
                exemplar: t.get("exemplar").and_then(Value::as_bool) == Some(true),
            });
        }
    }
    let annotations = dashboard
        .pointer("/annotations/list")
        .and_then(Value::as_array);
    for a in annotations.into_iter().flatten() {
        let name = a.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        let (uid, ty) = ds(a.get("datasource"));
        let expr = a
            .get("expr")
            .or_else(|| a.pointer("/target/expr"))
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(Query {
            place: format!("annotation {name:?}"),
            datasource_uid: uid,
            datasource_type: ty,
            expr,
            is_variable: false,
            exemplar: false,
        });
    }
    let variables = dashboard
        .pointer("/templating/list")
        .and_then(Value::as_array);
    for v in variables.into_iter().flatten() {
        if v.get("type").and_then(Value::as_str) != Some("query") {
            continue;
        }
        let name = v.get("name").and_then(Value::as_str).unwrap_or("(unnamed)");
        let (uid, ty) = ds(v.get("datasource"));
        let query = match v.get("query") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("query").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        out.push(Query {
            place: format!("variable {name:?}"),
            datasource_uid: uid,
            datasource_type: ty,
            expr: query,
            is_variable: true,
            exemplar: false,
        });
    }
    out
}

/// A panel query's text as Grafana sends it, with `$__rate_interval` and `$__interval`
/// replaced by `interval` (e.g. `1m`).
pub fn with_intervals(expr: &str, interval: &str) -> String {
    expr.replace("$__rate_interval", interval)
        .replace("$__interval", interval)
}

/// Shape problems: a dashboard without `uid` or `title`, a panel with queries but no
/// datasource stated, a query whose datasource uid is not in `provisioned`.
pub fn check(dashboard: &Value, provisioned: &BTreeSet<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for key in ["uid", "title"] {
        if dashboard
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(Problem(format!("dashboard has no {key}")));
        }
    }
    for p in panels(dashboard) {
        let is_row = p.get("type").and_then(Value::as_str) == Some("row");
        let has_targets = p
            .get("targets")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
        if !is_row && has_targets && p.get("datasource").is_none() {
            let title = p.get("title").and_then(Value::as_str).unwrap_or("?");
            problems.push(Problem(format!(
                "panel {title:?} states no datasource (the default one would be used)"
            )));
        }
    }
    for q in queries(dashboard) {
        match &q.datasource_uid {
            None => problems.push(Problem(format!("{}: no datasource uid", q.place))),
            Some(uid) if uid.starts_with('$') => problems.push(Problem(format!(
                "{}: datasource {uid} is a variable; name a provisioned uid",
                q.place
            ))),
            Some(uid) if !provisioned.contains(uid) && !BUILTIN_UIDS.contains(&uid.as_str()) => {
                problems.push(Problem(format!(
                    "{}: datasource uid {uid:?} is not provisioned (have {provisioned:?})",
                    q.place
                )))
            }
            Some(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provisioned() -> BTreeSet<String> {
        ["prom".to_string()].into()
    }

    #[test]
    fn finds_queries_in_rows_annotations_and_variables() {
        let d = json!({
            "uid": "u", "title": "t",
            "panels": [
                {"type": "row", "title": "r", "panels": [
                    {"type": "timeseries", "title": "p", "datasource": {"type": "prometheus", "uid": "prom"},
                     "targets": [{"expr": "a", "exemplar": true},
                                 {"expr": "b", "datasource": {"uid": "other"}}]}
                ]}
            ],
            "annotations": {"list": [{"name": "ev", "datasource": {"uid": "prom"}, "expr": "c"}]},
            "templating": {"list": [{"type": "query", "name": "run", "datasource": {"uid": "prom"},
                                      "query": {"query": "label_values(d, run)"}}]}
        });
        let qs = queries(&d);
        let exprs: Vec<_> = qs.iter().filter_map(|q| q.expr.clone()).collect();
        assert_eq!(exprs, ["a", "b", "c", "label_values(d, run)"]);
        assert!(qs[3].is_variable);
        let exemplars: Vec<bool> = qs.iter().map(|q| q.exemplar).collect();
        assert_eq!(exemplars, [true, false, false, false]);
        assert_eq!(
            with_intervals("rate(x[$__rate_interval]) + rate(y[$__interval])", "1m"),
            "rate(x[1m]) + rate(y[1m])"
        );
        let problems = check(&d, &provisioned());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.contains("\"other\""));
    }

    #[test]
    fn flags_missing_datasource_and_identity() {
        let d = json!({"panels": [{"type": "stat", "title": "p", "targets": [{"expr": "a"}]}]});
        let problems = check(&d, &provisioned());
        let text = format!("{problems:?}");
        assert!(text.contains("no uid"));
        assert!(text.contains("no title"));
        assert!(text.contains("states no datasource"));
    }
}
