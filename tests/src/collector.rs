//! Structural checks of an OpenTelemetry Collector configuration, without running a
//! Collector: every pipeline's components are defined, every defined component is used,
//! each component type exists in the pinned Collector (contrib) release under the name
//! used there, and supports the pipeline's signal.

use serde_json::Value;
use std::collections::BTreeSet;

/// The Collector release the lab pins (`docker-compose.yml`), whose component names the
/// table below follows (0.144 renamed `otlp` → `otlp_grpc` and `otlphttp` → `otlp_http`).
pub const PINNED_VERSION: &str = "0.157.0";

const T: &[&str] = &["traces"];
const M: &[&str] = &["metrics"];
const TML: &[&str] = &["traces", "metrics", "logs"];

/// Component types known in the pinned release, by section, with their signals.
const KNOWN: &[(&str, &str, &[&str])] = &[
    ("receivers", "otlp", TML),
    ("receivers", "prometheus", M),
    ("processors", "memory_limiter", TML),
    ("processors", "batch", TML),
    ("processors", "resource", TML),
    ("processors", "resourcedetection", TML),
    ("processors", "attributes", TML),
    ("processors", "filter", TML),
    ("processors", "transform", TML),
    ("exporters", "otlp_grpc", TML),
    ("exporters", "otlp_http", TML),
    ("exporters", "debug", TML),
    ("exporters", "prometheus", M),
    ("exporters", "prometheusremotewrite", M),
    ("extensions", "health_check", &[]),
    ("extensions", "pprof", &[]),
    ("extensions", "zpages", &[]),
    ("connectors", "spanmetrics", T),
];

/// Names that still load in the pinned release but are deprecated aliases.
const DEPRECATED: &[(&str, &str, &str)] = &[
    ("exporters", "otlp", "otlp_grpc"),
    ("exporters", "otlphttp", "otlp_http"),
];

const SECTIONS: &[&str] = &["receivers", "processors", "exporters", "connectors"];

/// The type part of a component id (`otlp_http/prometheus` → `otlp_http`).
pub fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

fn defined(config: &Value, section: &str) -> BTreeSet<String> {
    config
        .get(section)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn id_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// Every problem found (empty when the configuration is sound).
pub fn check(config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(top) = config.as_object() else {
        return vec!["the configuration is not a mapping".into()];
    };
    for key in top.keys() {
        if !SECTIONS.contains(&key.as_str()) && key != "extensions" && key != "service" {
            problems.push(format!("unknown top-level section {key:?}"));
        }
    }
    for section in SECTIONS.iter().chain(&["extensions"]) {
        for id in defined(config, section) {
            let ty = component_type(&id);
            if let Some((_, _, new)) = DEPRECATED
                .iter()
                .find(|(s, old, _)| s == section && *old == ty)
            {
                problems.push(format!(
                    "{section}.{id}: {ty:?} is a deprecated alias in {PINNED_VERSION}; use {new:?}"
                ));
            } else if !KNOWN.iter().any(|(s, t, _)| s == section && *t == ty) {
                problems.push(format!(
                    "{section}.{id}: unknown {section} type {ty:?} (known for {PINNED_VERSION}: tests/src/collector.rs)"
                ));
            }
        }
    }
    let pipelines = config
        .pointer("/service/pipelines")
        .and_then(Value::as_object);
    let Some(pipelines) = pipelines.filter(|p| !p.is_empty()) else {
        problems.push("service.pipelines is missing or empty".into());
        return problems;
    };
    let connectors = defined(config, "connectors");
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for (pid, p) in pipelines {
        let signal = component_type(pid);
        if !["traces", "metrics", "logs"].contains(&signal) {
            problems.push(format!("pipeline {pid:?}: unknown signal {signal:?}"));
            continue;
        }
        for (role, required) in [
            ("receivers", true),
            ("processors", false),
            ("exporters", true),
        ] {
            let ids = id_list(p.get(role));
            if required && ids.is_empty() {
                problems.push(format!("pipeline {pid}: no {role}"));
            }
            for id in ids {
                let section = if role != "processors" && connectors.contains(&id) {
                    "connectors"
                } else {
                    role
                };
                if !defined(config, section).contains(&id) {
                    problems.push(format!("pipeline {pid}: {role} {id:?} is not defined"));
                    continue;
                }
                let ty = component_type(&id);
                let signals = KNOWN
                    .iter()
                    .find(|(s, t, _)| *s == section && *t == ty)
                    .map(|(_, _, sig)| *sig);
                if let Some(signals) = signals {
                    // Connectors are checked on their exporter side only.
                    let side_ok = section != "connectors" || role == "exporters";
                    if side_ok && !signals.contains(&signal) {
                        problems.push(format!(
                            "pipeline {pid}: {id:?} does not support {signal} (supports {signals:?})"
                        ));
                    }
                }
                used.insert((section.to_string(), id));
            }
        }
    }
    for section in SECTIONS {
        for id in defined(config, section) {
            if !used.contains(&(section.to_string(), id.clone())) {
                problems.push(format!("{section}.{id} is defined but used by no pipeline"));
            }
        }
    }
    let enabled: BTreeSet<String> = id_list(config.pointer("/service/extensions"))
        .into_iter()
        .collect();
    let extensions = defined(config, "extensions");
    for id in enabled.difference(&extensions) {
        problems.push(format!(
            "service.extensions names {id:?}, which is not defined"
        ));
    }
    for id in extensions.difference(&enabled) {
        problems.push(format!(
            "extensions.{id} is defined but not in service.extensions"
        ));
    }
    problems
}

/// `(exporter id, endpoint)` of every exporter that states one.
pub fn exporter_endpoints(config: &Value) -> Vec<(String, String)> {
    let Some(exporters) = config.get("exporters").and_then(Value::as_object) else {
        return Vec::new();
    };
    exporters
        .iter()
        .filter_map(|(id, c)| {
            let ep = c.get("endpoint").and_then(Value::as_str)?;
            Some((id.clone(), ep.to_string()))
        })
        .collect()
}

/// The host of an endpoint (`http://prometheus:9090/api` or `observer:4317`).
pub fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "receivers": {"otlp": {"protocols": {"grpc": null}}},
            "processors": {"memory_limiter": {}},
            "exporters": {"otlp_grpc/jaeger": {"endpoint": "jaeger:4317"},
                          "otlp_http/prometheus": {"endpoint": "http://prometheus:9090/api/v1/otlp"}},
            "extensions": {"health_check": {}},
            "service": {"extensions": ["health_check"], "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": ["otlp_grpc/jaeger"]},
                "metrics": {"receivers": ["otlp"], "exporters": ["otlp_http/prometheus"]}
            }}
        })
    }

    #[test]
    fn a_sound_config_has_no_problems() {
        assert_eq!(check(&good()), Vec::<String>::new());
    }

    #[test]
    fn undefined_unused_deprecated_and_wrong_signal() {
        let mut c = good();
        c["exporters"]["otlphttp/old"] = json!({});
        c["exporters"]["prometheus"] = json!({});
        c["processors"]["batch"] = json!({});
        c["service"]["pipelines"]["logs"] =
            json!({"receivers": ["otlp"], "exporters": ["prometheus", "missing"]});
        let p = check(&c).join("\n");
        assert!(p.contains("deprecated alias"), "{p}");
        assert!(p.contains("\"missing\" is not defined"), "{p}");
        assert!(p.contains("does not support logs"), "{p}");
        assert!(
            p.contains("processors.batch is defined but used by no pipeline"),
            "{p}"
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(
            endpoint_host("http://prometheus:9090/api/v1/otlp"),
            "prometheus"
        );
        assert_eq!(endpoint_host("observer:4317"), "observer");
        assert_eq!(endpoint_host("jaeger"), "jaeger");
    }
}
