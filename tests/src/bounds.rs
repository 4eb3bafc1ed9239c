//! Resource bounds of the docker lab: memory sizes as compose and the Go runtime write
//! them, and checks that every service is bounded (memory, restarts, log rotation) and
//! that a Go service's memory settings follow its container's limit.

use serde_json::Value;
use std::collections::BTreeSet;

/// A compose byte size (`512m`, `1g`, `300M`, `1024k`, `2048`, `1gb`) in bytes.
pub fn compose_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => s.split_at(at),
        None => (s, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A `GOMEMLIMIT` value (`410MiB`, `1GiB`, `123456`, suffixes B KiB MiB GiB TiB) in bytes.
pub fn go_mem_limit_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(at);
    let n: u64 = digits.parse().ok()?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A service's `mem_limit` in bytes.
pub fn mem_limit(service: &Value) -> Option<u64> {
    text(service.get("mem_limit")).and_then(|s| compose_bytes(&s))
}

/// Services without a bound: each needs a `mem_limit` and rotated json-file logs
/// (`max-size`, `max-file`); long-running ones `restart: unless-stopped`, the `one_shot`
/// ones no restart at all.
pub fn service_bound_problems(compose: &Value, one_shot: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let services = compose.get("services").and_then(Value::as_object);
    for (name, s) in services.into_iter().flatten() {
        if mem_limit(s).is_none() {
            problems.push(format!("{name}: no mem_limit (e.g. mem_limit: 512m)"));
        }
        let restart = text(s.get("restart"));
        if one_shot.contains(name) {
            if restart.as_deref().is_some_and(|r| r != "no") {
                problems.push(format!("{name}: a one-shot service must not restart"));
            }
        } else if restart.as_deref() != Some("unless-stopped") {
            problems.push(format!("{name}: restart must be unless-stopped"));
        }
        let log = s.get("logging");
        let driver = log.and_then(|l| text(l.get("driver")));
        let opt = |k: &str| log.and_then(|l| text(l.pointer(&format!("/options/{k}"))));
        if driver.as_deref() != Some("json-file")
            || opt("max-size").and_then(|v| compose_bytes(&v)).is_none()
            || opt("max-file")
                .and_then(|v| v.parse::<u32>().ok())
                .is_none()
        {
            problems.push(format!(
                "{name}: logs must rotate (logging: driver json-file, options max-size, max-file)"
            ));
        }
    }
    problems
}

/// A Go service's memory against its container limit: `GOMEMLIMIT` set, between half and
/// 95% of `mem_limit`.
pub fn go_limit_problems(service_name: &str, service: &Value) -> Vec<String> {
    let Some(limit) = mem_limit(service) else {
        return vec![format!("{service_name}: no mem_limit")];
    };
    let go = text(service.pointer("/environment/GOMEMLIMIT"));
    match go.as_deref().map(|g| (g, go_mem_limit_bytes(g))) {
        None => vec![format!("{service_name}: no GOMEMLIMIT in its environment")],
        Some((g, None)) => vec![format!("{service_name}: GOMEMLIMIT {g:?} is not a size")],
        Some((g, Some(bytes))) if bytes * 100 > limit * 95 || bytes * 2 < limit => vec![format!(
            "{service_name}: GOMEMLIMIT {g} should be ~80% of mem_limit ({limit} bytes)"
        )],
        Some(_) => Vec::new(),
    }
}

/// A Collector-format config (the Collector, Jaeger v2) whose `memory_limiter` is not
/// bounded or not first in every pipeline. With `limit_mib`, it must fit in `mem_limit`.
pub fn memory_limiter_problems(config: &Value, mem_limit: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(ml) = config.pointer("/processors/memory_limiter") else {
        return vec!["no processors.memory_limiter".into()];
    };
    let num = |k: &str| ml.get(k).and_then(Value::as_u64);
    match (num("limit_percentage"), num("limit_mib")) {
        (Some(p), None) => {
            let spike = num("spike_limit_percentage").unwrap_or(0);
            if p == 0 || p > 95 || spike >= p {
                problems.push(format!(
                    "memory_limiter: limit_percentage {p} must be 1-95 and above spike_limit_percentage {spike}"
                ));
            }
        }
        (None, Some(mib)) => {
            if mem_limit.is_some_and(|l| mib << 20 >= l) {
                problems.push(format!(
                    "memory_limiter: limit_mib {mib} does not fit in the container's mem_limit"
                ));
            }
        }
        _ => problems.push("memory_limiter: give limit_percentage or limit_mib (one)".into()),
    }
    if ml.get("check_interval").and_then(Value::as_str).is_none() {
        problems.push("memory_limiter: no check_interval".into());
    }
    let pipelines = config
        .pointer("/service/pipelines")
        .and_then(Value::as_object);
    if pipelines.is_none_or(|p| p.is_empty()) {
        problems.push("no service.pipelines".into());
    }
    for (name, p) in pipelines.into_iter().flatten() {
        let first = p.pointer("/processors/0").and_then(Value::as_str);
        if first != Some("memory_limiter") {
            problems.push(format!(
                "pipeline {name}: memory_limiter must be the first processor"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes() {
        assert_eq!(compose_bytes("512m"), Some(512 << 20));
        assert_eq!(compose_bytes("1G"), Some(1 << 30));
        assert_eq!(compose_bytes("1gb"), Some(1 << 30));
        assert_eq!(compose_bytes("2048"), Some(2048));
        assert_eq!(compose_bytes("5 parsecs"), None);
        assert_eq!(go_mem_limit_bytes("410MiB"), Some(410 << 20));
        assert_eq!(go_mem_limit_bytes("410MB"), None);
    }

    #[test]
    fn unbounded_services_are_named() {
        let c = json!({"services": {
            "ok": {"mem_limit": "64m", "restart": "unless-stopped",
                   "logging": {"driver": "json-file", "options": {"max-size": "5m", "max-file": "2"}}},
            "loose": {"restart": "always"},
            "job": {"mem_limit": "64m", "restart": "on-failure",
                    "logging": {"driver": "json-file", "options": {"max-size": "5m", "max-file": "2"}}}
        }});
        let p = service_bound_problems(&c, &BTreeSet::from(["job".to_string()]));
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p.iter().all(|m| !m.starts_with("ok:")), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("job: a one-shot")), "{p:?}");
    }

    #[test]
    fn go_limits_and_memory_limiters() {
        let s = json!({"mem_limit": "512m", "environment": {"GOMEMLIMIT": "600MiB"}});
        assert_eq!(go_limit_problems("x", &s).len(), 1);
        let s = json!({"mem_limit": "512m", "environment": {"GOMEMLIMIT": "410MiB"}});
        assert!(go_limit_problems("x", &s).is_empty());
        let cfg = json!({
            "processors": {"memory_limiter": {"check_interval": "1s", "limit_mib": 600}, "batch": {}},
            "service": {"pipelines": {"traces": {"processors": ["batch", "memory_limiter"]}}}
        });
        assert_eq!(memory_limiter_problems(&cfg, Some(512 << 20)).len(), 2);
        let cfg = json!({
            "processors": {"memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25}},
            "service": {"pipelines": {"traces": {"processors": ["memory_limiter"]}}}
        });
        assert!(memory_limiter_problems(&cfg, Some(512 << 20)).is_empty());
    }
}
