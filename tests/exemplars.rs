//! Exemplars end to end with a real Prometheus: `observer serve` receives the spans of a
//! short load (target-api's server spans, loadgen's client spans, every request sampled),
//! Prometheus scrapes its `/metrics` in OpenMetrics with exemplar storage on, and every
//! exemplar query of the Saturation dashboard's latency panels must return exemplars whose
//! trace and span ids are spans the observer received, on the panel's side.
//!
//! Needs `prometheus` (Debian's 2.42 or later): skipped without it, a failure under
//! `SATLAB_REQUIRE_ALL=1`. Every wait has a deadline; the children are killed on drop.

use satlab_tests::bins::observer_bin;
use satlab_tests::dashboard;
use satlab_tests::http::{self, Answer};
use satlab_tests::tools::{require_tool, workspace_root};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The load: modest, bounded, every request's trace sampled.
const LOAD: [&str; 6] = ["--rate", "50/s", "--duration", "3s", "--trace-sample", "1"];

/// A child process killed (and reaped) when dropped.
struct Kid {
    name: &'static str,
    child: Child,
}

impl Kid {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Kid {
        let out = std::fs::File::create(log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Kid { name, child }
    }

    /// SIGTERM, then wait up to `grace` for the exit.
    fn terminate(&mut self, grace: Duration) {
        // SAFETY: kill(2) on our own child's pid; no memory is shared.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not exit within {grace:?} of SIGTERM", self.name);
    }

    /// Wait up to `limit` for the exit; its success.
    fn wait(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} still running after {limit:?}", self.name);
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

fn port() -> u16 {
    observer::lab::free_port().expect("a free loopback port")
}

fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
    http::request(addr, "GET", target, headers, Duration::from_secs(5))
}

/// Poll `f` every 200 ms until it gives a value or `limit` passes (then panic with `what`
/// and `log`'s tail).
fn until<T>(what: &str, limit: Duration, log: &Path, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            panic!(
                "{what}: not within {limit:?}; {}:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The spans the observer kept for a run (`otlp/spans.jsonl`): (trace id, span id) → kind.
fn stored_spans(run: &Path) -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(run.join("otlp/spans.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}", run.display()));
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            ((s("trace_id"), s("span_id")), s("kind"))
        })
        .collect()
}

#[test]
fn prometheus_stores_the_observers_exemplars_for_every_latency_panel() {
    let Some(prometheus) = require_tool("prometheus", "apt-get install prometheus") else {
        return;
    };
    let bin = observer_bin();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let started = now_s();
    let (grpc, otlp_http, api, target, prom) = (port(), port(), port(), port(), port());
    let (api, target, prom) = (loopback(api), loopback(target), loopback(prom));

    let observer_log = dir.join("observer.log");
    let _observer = Kid::spawn(
        "observer serve",
        Command::new(bin)
            .arg("serve")
            .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http", &format!("127.0.0.1:{otlp_http}")])
            .args(["--listen", &api.to_string()])
            .arg("--runs-dir")
            .arg(dir.join("runs")),
        &observer_log,
    );
    until(
        "observer serve healthy",
        Duration::from_secs(30),
        &observer_log,
        || get(api, "/healthz", &[]).ok().filter(|a| a.status == 200),
    );

    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: observer\n    static_configs:\n      \
             - targets: [\"{api}\"]\n"
        ),
    )
    .unwrap();
    let prom_log = dir.join("prometheus.log");
    let _prometheus = Kid::spawn(
        "prometheus",
        Command::new(&prometheus)
            .arg("--enable-feature=exemplar-storage")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom}")),
        &prom_log,
    );
    until(
        "prometheus ready",
        Duration::from_secs(60),
        &prom_log,
        || get(prom, "/-/ready", &[]).ok().filter(|a| a.status == 200),
    );

    let otel = |cmd: &mut Command, service: &str| {
        cmd.env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{grpc}"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_SERVICE_NAME", service);
    };
    let target_log = dir.join("target-api.log");
    let mut cmd = Command::new(bin);
    cmd.args(["target-api", "--listen", &target.to_string()]);
    otel(&mut cmd, "target-api");
    let mut target_api = Kid::spawn("target-api", &mut cmd, &target_log);
    until(
        "target-api ready",
        Duration::from_secs(30),
        &target_log,
        || {
            (observer::lab::http_get_status(target, "/readyz", Duration::from_secs(1)) == Some(200))
                .then_some(())
        },
    );

    let record = dir.join("record");
    let mut cmd = Command::new(bin);
    cmd.args(["loadgen", &format!("http://{target}/api/vector/add")])
        .args(LOAD)
        .args(["--body", r#"{"a":[1,2],"b":[3,4]}"#, "--quiet", "--out"])
        .arg(&record);
    otel(&mut cmd, "loadgen");
    let loadgen_log = dir.join("loadgen.log");
    let ok = Kid::spawn("loadgen", &mut cmd, &loadgen_log).wait(Duration::from_secs(60));
    let log = std::fs::read_to_string(&loadgen_log).unwrap_or_default();
    assert!(ok, "loadgen failed:\n{log}");
    // target-api exports its last spans on the way out.
    target_api.terminate(Duration::from_secs(15));

    // Both sides reached the observer's histogram.
    until(
        "server and client spans at the observer",
        Duration::from_secs(20),
        &observer_log,
        || {
            let a = get(api, "/metrics", &[]).ok()?;
            let text = String::from_utf8(a.body).ok()?;
            let has = |side: &str| {
                text.contains(&format!(
                    "satlab_observer_span_duration_seconds_count{{side=\"{side}\""
                ))
            };
            (has("server") && has("client")).then_some(())
        },
    );

    // What the observer stored: the run's spans.
    let out = Command::new(bin)
        .arg("submit")
        .arg(&record)
        .args(["--to", &format!("http://{api}"), "--id", "exemplars"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "observer submit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = http::request(
        api,
        "POST",
        "/api/runs/exemplars/diagnose",
        &[],
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(
        [200, 422].contains(&a.status),
        "diagnose: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    let spans = stored_spans(&dir.join("runs/exemplars"));
    assert!(spans.len() >= 100, "{} spans stored", spans.len());

    // Every exemplar query of the dashboard's latency panels.
    let path = workspace_root().join("grafana/dashboards/saturation.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let queries: Vec<dashboard::Query> = dashboard::queries(&d)
        .into_iter()
        .filter(|q| q.exemplar)
        .collect();
    assert!(queries.len() >= 2, "exemplar queries: {queries:#?}");
    for q in &queries {
        let expr = dashboard::with_intervals(q.expr.as_deref().unwrap(), "1m");
        let side = ["server", "client"]
            .into_iter()
            .find(|s| expr.contains(&format!("side=\"{s}\"")))
            .unwrap_or_else(|| panic!("{}: which side? {expr}", q.place));
        let target = format!(
            "/api/v1/query_exemplars?query={}&start={:.3}&end={:.3}",
            http::encode(&expr),
            started - 60.0,
            now_s() + 60.0
        );
        let series = until(
            &format!("{}: exemplars for {expr}", q.place),
            Duration::from_secs(30),
            &prom_log,
            || {
                let a = get(prom, &target, &[]).ok()?;
                let v: Value = serde_json::from_slice(&a.body).ok()?;
                assert_eq!(v["status"], "success", "{v}");
                let data = v["data"].as_array()?.clone();
                let any = data
                    .iter()
                    .any(|s| s["exemplars"].as_array().is_some_and(|e| !e.is_empty()));
                any.then_some(data)
            },
        );
        let mut count = 0;
        let mut sample = String::new();
        for s in &series {
            assert_eq!(s["seriesLabels"]["side"], side, "{s}");
            for e in s["exemplars"].as_array().into_iter().flatten() {
                let id = |k: &str| e["labels"][k].as_str().unwrap_or_default().to_string();
                let (trace, span) = (id("trace_id"), id("span_id"));
                let kind = spans
                    .get(&(trace.clone(), span.clone()))
                    .unwrap_or_else(|| {
                        panic!(
                            "{}: exemplar {trace}/{span} is no span the observer received",
                            q.place
                        )
                    });
                assert_eq!(kind, side, "{}: exemplar {trace}/{span}", q.place);
                let value: f64 = e["value"].as_str().and_then(|v| v.parse().ok()).unwrap();
                assert!(value > 0.0 && value < 10.0, "{e}");
                count += 1;
                sample = trace;
            }
        }
        println!(
            "{}: Prometheus returned {count} exemplars in {} series for {expr}; e.g. trace {sample}",
            q.place,
            series.len()
        );
    }
}
