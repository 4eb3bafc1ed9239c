//! Structural checks of `docker-compose.yml` beyond what `docker-compose config`
//! validates: pinned images, which ports reach the host, start order by health, and
//! bind mounts that exist.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The services of a compose file.
fn services(compose: &Value) -> Vec<(&String, &Value)> {
    compose
        .get("services")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// Service names.
pub fn service_names(compose: &Value) -> BTreeSet<String> {
    services(compose)
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect()
}

/// Problems with image pinning: an image without a tag or digest, or tagged `latest`.
pub fn unpinned_images(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, s) in services(compose) {
        let Some(image) = s.get("image").and_then(Value::as_str) else {
            if s.get("build").is_none() {
                problems.push(format!("{name}: neither image nor build"));
            }
            continue;
        };
        if s.get("build").is_some() {
            // A locally built image: its name is ours to choose.
            continue;
        }
        let last = image.rsplit('/').next().unwrap_or(image);
        let pinned = image.contains("@sha256:")
            || last
                .split_once(':')
                .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest" && !tag.contains('$'));
        if !pinned {
            problems.push(format!(
                "{name}: image {image:?} is not pinned to a version"
            ));
        }
    }
    problems
}

/// Host ports each service publishes (short and long syntax). A port published without
/// a host part gets a random host port: it is reported as `0`.
pub fn published_ports(compose: &Value) -> BTreeMap<String, BTreeSet<u16>> {
    let mut out: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (name, s) in services(compose) {
        for p in s
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let host = match p {
                Value::String(spec) => short_port_host(spec),
                Value::Number(_) => Some(0),
                Value::Object(o) => match o.get("published") {
                    Some(Value::String(s)) => s.parse().ok(),
                    Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                    _ => Some(0),
                },
                _ => None,
            };
            if let Some(h) = host {
                out.entry(name.clone()).or_default().insert(h);
            }
        }
    }
    out
}

/// Host port of a short-syntax mapping: `HOST:CONTAINER`, `IP:HOST:CONTAINER`,
/// `CONTAINER` (random host port: 0); a `/proto` suffix is ignored.
fn short_port_host(spec: &str) -> Option<u16> {
    let spec = spec.split('/').next().unwrap_or(spec);
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    match parts.as_slice() {
        [_container] => Some(0),
        [_container, host, ..] => host.parse().ok(),
        _ => None,
    }
}

/// Problems with start order: a dependency that is not a service, an unknown
/// condition, or `service_healthy` on a service without a healthcheck.
pub fn start_order_problems(compose: &Value) -> Vec<String> {
    let names = service_names(compose);
    let all = services(compose);
    let has_healthcheck = |svc: &str| {
        all.iter().any(|(n, s)| {
            n.as_str() == svc
                && s.get("healthcheck").is_some_and(|h| {
                    h.get("disable").and_then(Value::as_bool) != Some(true)
                        && h.get("test").is_some()
                })
        })
    };
    let mut problems = Vec::new();
    for (name, s) in &all {
        let deps: Vec<(String, String)> = match s.get("depends_on") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|d| {
                    d.as_str()
                        .map(|d| (d.to_string(), "service_started".into()))
                })
                .collect(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(d, c)| {
                    let cond = c
                        .get("condition")
                        .and_then(Value::as_str)
                        .unwrap_or("service_started");
                    (d.clone(), cond.to_string())
                })
                .collect(),
            _ => Vec::new(),
        };
        for (dep, cond) in deps {
            if !names.contains(&dep) {
                problems.push(format!("{name}: depends on unknown service {dep:?}"));
            }
            match cond.as_str() {
                "service_healthy" if !has_healthcheck(&dep) => problems.push(format!(
                    "{name}: waits for {dep} to be healthy, but {dep} has no healthcheck"
                )),
                "service_healthy" | "service_started" | "service_completed_successfully" => {}
                other => problems.push(format!("{name}: unknown depends_on condition {other:?}")),
            }
        }
    }
    problems
}

/// Bind-mount sources (relative to `dir`) that do not exist.
pub fn missing_bind_sources(compose: &Value, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, s) in services(compose) {
        for v in s
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let source = match v {
                Value::String(spec) => spec.split(':').next().map(str::to_string),
                Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("bind") => {
                    o.get("source").and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            };
            let Some(source) = source else { continue };
            let is_path = source.starts_with('.') || source.starts_with('/');
            if is_path && !dir.join(&source).exists() {
                problems.push(format!(
                    "{name}: bind mount source {source:?} does not exist"
                ));
            }
        }
    }
    problems
}

/// Replace compose's `${VAR:-default}` and `${VAR-default}` with their defaults, as
/// `docker compose` does when VAR is unset (a bare `${VAR}` becomes empty).
pub fn with_defaults(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        if let Some((_, default)) = inner.split_once(":-").or_else(|| inner.split_once('-')) {
            out.push_str(default);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpolation_defaults() {
        assert_eq!(with_defaults("--t=${TOKEN:-lab}"), "--t=lab");
        assert_eq!(with_defaults("${A-x}/${B}/z"), "x//z");
        assert_eq!(with_defaults("plain"), "plain");
    }

    #[test]
    fn pinning() {
        let c = json!({"services": {
            "a": {"image": "grafana/grafana:13.1.0"},
            "b": {"image": "prom/prometheus"},
            "c": {"image": "quay.io:443/x/y:latest"},
            "d": {"image": "satlab:local", "build": {"context": "."}},
            "e": {"image": "x@sha256:abc"}
        }});
        let p = unpinned_images(&c).join("\n");
        assert!(p.contains("b:") && p.contains("c:"), "{p}");
        assert!(
            !p.contains("a:") && !p.contains("d:") && !p.contains("e:"),
            "{p}"
        );
    }

    #[test]
    fn ports() {
        let c = json!({"services": {
            "a": {"ports": ["3000:3000", "127.0.0.1:9090:9090/tcp", "4317"]},
            "b": {"ports": [{"target": 80, "published": "8080"}]}
        }});
        let p = published_ports(&c);
        assert_eq!(p["a"], [0, 3000, 9090].into());
        assert_eq!(p["b"], [8080].into());
    }

    #[test]
    fn start_order() {
        let c = json!({"services": {
            "a": {"depends_on": {"b": {"condition": "service_healthy"}, "z": {"condition": "service_started"}}},
            "b": {},
            "c": {"depends_on": ["a"], "healthcheck": {"test": ["CMD", "true"]}},
            "d": {"depends_on": {"c": {"condition": "service_healthy"}}}
        }});
        let p = start_order_problems(&c).join("\n");
        assert!(p.contains("b has no healthcheck"), "{p}");
        assert!(p.contains("unknown service \"z\""), "{p}");
        assert!(!p.contains("d:"), "{p}");
    }

    #[test]
    fn bind_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("here.yml"), "").unwrap();
        let c = json!({"services": {"a": {"volumes": [
            "./here.yml:/etc/x.yml:ro", "./gone.yml:/etc/y.yml", "named:/data",
            {"type": "bind", "source": "./also-gone", "target": "/z"}
        ]}}});
        let p = missing_bind_sources(&c, dir.path()).join("\n");
        assert!(p.contains("gone.yml") && p.contains("also-gone"), "{p}");
        assert!(!p.contains("here.yml") && !p.contains("named"), "{p}");
    }
}
