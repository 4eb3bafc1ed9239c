//! OTLP export: sampled client spans carry the ids sent in `traceparent`,
//! `http.client.request.duration` counts every request under its class's attributes
//! (status code, `error.type`, method, step), and the loadgen's own
//! `process.cpu.utilization` arrives. A tiny OTLP/HTTP receiver stands in for the
//! Collector.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadgen::otel::config::OtelConfig;
use loadgen::plan::{Load, Plan, parse_rate_stages, parse_stages};
use loadgen::{CancellationToken, Options, RequestSpec, run};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use satlab_common::otel_env::Protocol;
use satlab_record::telemetry::ATTR_INTENDED_START;
use satlab_record::{ErrorKind, Failure};
use satlab_testkit::http_server::{Behaviour, TestServer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

async fn receiver() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Received = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let g = g.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let g = g.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        if let Ok(b) = body {
                            g.lock().unwrap().push((path, b));
                        }
                        let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                        resp.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("application/x-protobuf"),
                        );
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), got)
}

/// The loadgen's OTLP settings from `vars` alone.
fn config(
    vars: &[(&str, &str)],
) -> Result<Option<OtelConfig>, satlab_common::otel_env::OtelEnvError> {
    OtelConfig::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
    })
}

#[test]
fn config_comes_from_the_standard_variables() {
    assert_eq!(config(&[]).unwrap(), None);
    let c = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(c.protocol, Protocol::HttpProtobuf);
    assert_eq!(c.service_name, "loadgen");
    assert_eq!(c.traces.as_deref(), Some("http://collector:4318/v1/traces"));
    assert_eq!(
        c.metrics.as_deref(),
        Some("http://collector:4318/v1/metrics")
    );
    let g = config(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4317")])
        .unwrap()
        .unwrap();
    assert_eq!(g.protocol, Protocol::Grpc);
    assert_eq!(g.traces.as_deref(), Some("http://c:4317"));
    assert_eq!(
        g.metrics, None,
        "no metrics endpoint: metrics are not exported"
    );
}

#[test]
fn sdk_disabled_and_per_signal_endpoints_are_honoured() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
    assert_eq!(
        config(&[base, ("OTEL_SDK_DISABLED", "true")]).unwrap(),
        None
    );
    let c = config(&[
        base,
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:4317"),
        ("OTEL_SERVICE_NAME", "lg-2"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(c.traces.as_deref(), Some("http://collector:4317"));
    assert_eq!(c.metrics.as_deref(), Some("http://metrics:4317"));
    assert_eq!(c.service_name, "lg-2");
    assert_eq!(c.metric_interval, Duration::from_secs(1));
}

#[test]
fn resource_attributes_name_the_service_unless_otel_service_name_does() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
    let res = (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=lg-res,deployment.environment.name=lab",
    );
    let c = config(&[base, res]).unwrap().unwrap();
    assert_eq!(c.service_name, "lg-res", "beats the default name");
    assert_eq!(
        c.resource_attributes,
        vec![("deployment.environment.name".into(), "lab".into())]
    );
    let c = config(&[base, res, ("OTEL_SERVICE_NAME", "lg-named")])
        .unwrap()
        .unwrap();
    assert_eq!(c.service_name, "lg-named");
}

#[test]
fn a_bad_otel_variable_is_refused_with_its_name() {
    let e = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ])
    .unwrap_err();
    assert_eq!(e.var, "OTEL_EXPORTER_OTLP_PROTOCOL");
    assert!(e.to_string().contains("http/protobuf"), "{e}");
    // The binary refuses to start: a usage error naming the variable.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["http://127.0.0.1:9/", "--stages", "1:1s", "--quiet"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains("grpc"),
        "{err}"
    );
}

/// Attributes as `key → value` text.
fn attrs(kv: &[KeyValue]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|a| {
            let v = match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (a.key.clone(), v)
        })
        .collect()
}

/// What the metric exports of one service held.
#[derive(Default, Debug)]
struct Metrics {
    /// Client duration histogram: per attribute set, the largest (cumulative, so the last)
    /// count.
    duration: BTreeMap<BTreeMap<String, String>, u64>,
    /// Count of every export's duration points together, per export.
    duration_totals: Vec<u64>,
    /// `process.cpu.utilization` values.
    cpu: Vec<f64>,
}

fn metrics_of(got: &[(String, Bytes)], service: &str) -> Metrics {
    let mut m = Metrics::default();
    for (path, body) in got {
        if path != "/v1/metrics" {
            continue;
        }
        let req = ExportMetricsServiceRequest::decode(body.as_ref()).unwrap();
        for rm in req.resource_metrics {
            let res = attrs(&rm.resource.unwrap().attributes);
            if res.get("service.name").map(String::as_str) != Some(service) {
                continue;
            }
            for sm in rm.scope_metrics {
                for metric in sm.metrics {
                    if metric.name == satlab_record::telemetry::HTTP_CLIENT_REQUEST_DURATION {
                        assert_eq!(metric.unit, "s");
                        let Some(Data::Histogram(h)) = metric.data else {
                            panic!("{} is not a histogram", metric.name)
                        };
                        m.duration_totals
                            .push(h.data_points.iter().map(|p| p.count).sum());
                        for p in h.data_points {
                            let n = m.duration.entry(attrs(&p.attributes)).or_default();
                            *n = (*n).max(p.count);
                        }
                    } else if metric.name == satlab_record::telemetry::PROCESS_CPU_UTILIZATION {
                        assert_eq!(metric.unit, "1");
                        let Some(Data::Gauge(g)) = metric.data else {
                            panic!("{} is not a gauge", metric.name)
                        };
                        for p in g.data_points {
                            use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as N;
                            match p.value {
                                Some(N::AsDouble(v)) => m.cpu.push(v),
                                other => panic!("cpu value {other:?}"),
                            }
                        }
                    }
                }
            }
        }
    }
    m
}

/// OTLP/HTTP export of every signal to `endpoint` as `service`, metrics every 500 ms.
fn otel(endpoint: String, service: &str) -> OtelConfig {
    config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_SERVICE_NAME", service),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
    ])
    .unwrap()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_client_spans_and_the_duration_metric_are_exported() {
    // Every third request is answered 503: two request classes.
    let server = TestServer::start(Behaviour {
        delay: Duration::from_millis(2),
        other_status_every: 3,
        other_status: 503,
        ..Default::default()
    })
    .await
    .unwrap();
    let (endpoint, got) = receiver().await;
    let mut o = Options::new(
        RequestSpec::new(
            &server.url("/api/vector/add"),
            "POST",
            &[],
            Bytes::from("{}"),
        )
        .unwrap(),
    );
    o.trace_sample = 0.5;
    o.otel = Some(otel(endpoint, "loadgen-test"));
    let plan = Plan::new(
        Load::Closed(parse_stages("2:1500ms").unwrap()),
        Duration::from_millis(100),
        "2:1500ms",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    assert_eq!(out.summary.spans_dropped, 0);
    let total: u64 = out.seconds.iter().map(|s| s.requests).sum();
    let ok: u64 = out.seconds.iter().map(|s| s.ok).sum();
    let unavailable: u64 = out
        .seconds
        .iter()
        .filter_map(|s| s.errors.get(&Failure::Status(503)))
        .sum();
    assert!(ok > 0 && unavailable > 0, "ok {ok}, 503 {unavailable}");
    assert_eq!(ok + unavailable, total);

    let sampled: std::collections::HashSet<(String, String)> = server
        .traceparents()
        .iter()
        .filter(|tp| tp.ends_with("-01"))
        .map(|tp| {
            let p: Vec<&str> = tp.split('-').collect();
            (p[1].to_string(), p[2].to_string())
        })
        .collect();
    assert!(!sampled.is_empty());

    let got = got.lock().unwrap().clone();
    let mut spans = Vec::new();
    for (path, body) in &got {
        if path == "/v1/traces" {
            let req = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
            for rs in req.resource_spans {
                let res = rs.resource.unwrap();
                assert!(res.attributes.iter().any(|a| a.key == "service.name"
                    && format!("{:?}", a.value).contains("loadgen-test")));
                for ss in rs.scope_spans {
                    spans.extend(ss.spans);
                }
            }
        }
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        spans.len(),
        sampled.len(),
        "every sampled request has one client span"
    );
    for s in &spans {
        assert_eq!(s.kind, 3, "SPAN_KIND_CLIENT");
        assert_eq!(s.name, "POST");
        assert!(s.end_time_unix_nano > s.start_time_unix_nano);
        assert!(sampled.contains(&(hex(&s.trace_id), hex(&s.span_id))));
        let a = attrs(&s.attributes);
        assert!(
            !a.contains_key(ATTR_INTENDED_START),
            "closed loop: no intended start"
        );
        assert_eq!(
            a.get("server.address").map(String::as_str),
            Some("127.0.0.1")
        );
        assert_eq!(a.get("server.port"), Some(&server.addr.port().to_string()));
        assert_eq!(a.get("url.scheme").map(String::as_str), Some("http"));
        // Client spans are errors from 400 (the 503s here), unset otherwise.
        let code = s.status.as_ref().map(|st| st.code).unwrap_or(0);
        match a.get("http.response.status_code").map(String::as_str) {
            Some("503") => assert_eq!(code, 2, "STATUS_CODE_ERROR: {a:?}"),
            _ => assert_eq!(code, 0, "STATUS_CODE_UNSET: {a:?}"),
        }
        // The sampled flag is the trace id's rule at the run's ratio.
        let id = u128::from_be_bytes(s.trace_id.as_slice().try_into().unwrap());
        assert!(satlab_record::trace_sampling::sampled(id, 0.5));
    }
    let unsampled = server
        .traceparents()
        .iter()
        .filter(|tp| tp.ends_with("-00"))
        .map(|tp| u128::from_str_radix(tp.split('-').nth(1).unwrap(), 16).unwrap())
        .collect::<Vec<_>>();
    assert!(!unsampled.is_empty());
    assert!(
        unsampled
            .iter()
            .all(|&id| !satlab_record::trace_sampling::sampled(id, 0.5))
    );

    let m = metrics_of(&got, "loadgen-test");
    // Cumulative temporality: the last export counts every request.
    assert_eq!(
        m.duration_totals.iter().max().copied(),
        Some(total),
        "{:?}",
        m.duration_totals
    );
    // Each request class has its own attributes.
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for (a, n) in &m.duration {
        assert_eq!(
            a.get("http.request.method").map(String::as_str),
            Some("POST")
        );
        assert_eq!(a.get("satlab.step").map(String::as_str), Some("0"), "{a:?}");
        assert_eq!(
            a.get("server.address").map(String::as_str),
            Some("127.0.0.1")
        );
        assert_eq!(a.get("server.port"), Some(&server.addr.port().to_string()));
        let status = a
            .get("http.response.status_code")
            .unwrap_or_else(|| panic!("a response arrived: {a:?}"));
        match status.as_str() {
            "200" => assert!(!a.contains_key("error.type"), "{a:?}"),
            "503" => assert_eq!(a.get("error.type").map(String::as_str), Some("503")),
            other => panic!("unexpected status {other}"),
        }
        *by_status.entry(status.clone()).or_default() += n;
    }
    assert_eq!(by_status.get("200"), Some(&ok), "{:?}", m.duration);
    assert_eq!(by_status.get("503"), Some(&unavailable), "{:?}", m.duration);
    // The loadgen's own CPU, for the client-vs-server CPU panel.
    assert!(
        !m.cpu.is_empty(),
        "no {}",
        satlab_record::telemetry::PROCESS_CPU_UTILIZATION
    );
    assert!(m.cpu.iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", m.cpu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_response_carry_their_error_type() {
    // A port nothing listens on: every connect is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (endpoint, got) = receiver().await;
    let mut o = Options::new(
        RequestSpec::new(
            &format!("http://127.0.0.1:{port}/api/vector/add"),
            "POST",
            &[],
            Bytes::from("{}"),
        )
        .unwrap(),
    );
    o.trace_sample = 0.0;
    o.otel = Some(otel(endpoint, "loadgen-refused"));
    let plan = Plan::new(
        Load::Closed(parse_stages("1:600ms").unwrap()),
        Duration::from_millis(100),
        "1:600ms",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    let total: u64 = out.seconds.iter().map(|s| s.requests).sum();
    let refused: u64 = out
        .seconds
        .iter()
        .filter_map(|s| s.errors.get(&Failure::Error(ErrorKind::ConnectRefused)))
        .sum();
    assert!(refused > 0);
    assert_eq!(refused, total);

    let m = metrics_of(&got.lock().unwrap(), "loadgen-refused");
    assert!(!m.duration.is_empty(), "no duration points");
    let mut counted = 0;
    for (a, n) in &m.duration {
        assert_eq!(
            a.get("error.type").map(String::as_str),
            Some("connect_refused"),
            "{a:?}"
        );
        assert!(!a.contains_key("http.response.status_code"), "{a:?}");
        assert_eq!(
            a.get("http.request.method").map(String::as_str),
            Some("POST")
        );
        assert!(a.contains_key("satlab.step"), "{a:?}");
        assert_eq!(
            a.get("server.address").map(String::as_str),
            Some("127.0.0.1")
        );
        assert_eq!(a.get("server.port"), Some(&port.to_string()));
        counted += n;
    }
    assert_eq!(counted, total);
    assert!(!m.cpu.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_only_endpoint_exports_no_spans() {
    let server = TestServer::start(Behaviour::default()).await.unwrap();
    let (endpoint, got) = receiver().await;
    let mut o = Options::new(RequestSpec::new(&server.url("/"), "GET", &[], Bytes::new()).unwrap());
    o.otel = config(&[
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            &format!("{endpoint}/v1/metrics"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_SERVICE_NAME", "loadgen-metrics-only"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
    ])
    .unwrap();
    assert!(o.otel.as_ref().is_some_and(|c| c.traces.is_none()));
    let plan = Plan::new(
        Load::Closed(parse_stages("1:600ms").unwrap()),
        Duration::from_millis(100),
        "1:600ms",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    let total: u64 = out.seconds.iter().map(|s| s.requests).sum();
    assert!(total > 0);
    let got = got.lock().unwrap().clone();
    assert!(
        got.iter().all(|(path, _)| path == "/v1/metrics"),
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    let m = metrics_of(&got, "loadgen-metrics-only");
    assert_eq!(m.duration.values().sum::<u64>(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_client_spans_carry_the_intended_start() {
    let server = TestServer::start(Behaviour {
        delay: Duration::from_millis(1),
        ..Default::default()
    })
    .await
    .unwrap();
    let (endpoint, got) = receiver().await;
    let mut o = Options::new(
        RequestSpec::new(
            &server.url("/api/vector/add"),
            "POST",
            &[],
            Bytes::from("{}"),
        )
        .unwrap(),
    );
    o.otel = Some(otel(endpoint, "loadgen-open"));
    let plan = Plan::new(
        Load::Open {
            stages: parse_rate_stages("200:500ms,400:500ms").unwrap(),
            max_in_flight: 16,
        },
        Duration::from_millis(100),
        "200:500ms,400:500ms",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    assert_eq!(out.summary.spans_dropped, 0);
    let total: u64 = out.seconds.iter().map(|s| s.requests).sum();
    let mut spans = Vec::new();
    for (path, body) in got.lock().unwrap().iter() {
        if path == "/v1/traces" {
            let req = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    spans.extend(ss.spans);
                }
            }
        }
    }
    assert_eq!(
        spans.len() as u64,
        total,
        "ratio 1: every request has its span"
    );
    let mut steps = std::collections::BTreeSet::new();
    for s in &spans {
        let a = attrs(&s.attributes);
        let intended: u64 = a
            .get(ATTR_INTENDED_START)
            .unwrap_or_else(|| panic!("no intended start: {a:?}"))
            .parse()
            .unwrap();
        // Sent at or after it was due (µs resolution), and never long before the span.
        assert!(
            intended <= s.start_time_unix_nano,
            "{intended} > {}",
            s.start_time_unix_nano
        );
        assert!(s.start_time_unix_nano - intended < 1_000_000_000);
        steps.insert(a["satlab.step"].clone());
    }
    assert_eq!(steps.into_iter().collect::<Vec<_>>(), ["0", "1"]);
}
