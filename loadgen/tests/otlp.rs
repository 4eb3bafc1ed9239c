//! OTLP export: sampled client spans carry the ids sent in `traceparent`, and
//! `http.client.request.duration` counts every request. A tiny OTLP/HTTP receiver stands
//! in for the Collector.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use loadgen::otel::OtelConfig;
use loadgen::plan::{Load, Plan, parse_stages};
use loadgen::testserver::{Behaviour, TestServer};
use loadgen::{CancellationToken, Options, RequestSpec, run};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
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

#[test]
fn config_comes_from_the_standard_variables() {
    assert_eq!(OtelConfig::from_vars(|_| None), None);
    let c = OtelConfig::from_vars(|k| match k {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".into()),
        "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".into()),
        _ => None,
    })
    .unwrap();
    assert!(!c.grpc);
    assert_eq!(c.service_name, "loadgen");
    assert_eq!(c.endpoint.as_deref(), Some("http://collector:4318"));
    let g = OtelConfig::from_vars(|k| {
        (k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").then(|| "http://c:4317".to_string())
    })
    .unwrap();
    assert!(g.grpc && g.endpoint.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_client_spans_and_the_duration_metric_are_exported() {
    let server = TestServer::start(Behaviour {
        delay: Duration::from_millis(2),
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
    o.otel = Some(OtelConfig {
        service_name: "loadgen-test".into(),
        grpc: false,
        endpoint: Some(endpoint),
        metric_interval: Duration::from_millis(500),
    });
    let plan = Plan::new(
        Load::Closed(parse_stages("2:1500ms").unwrap()),
        Duration::from_millis(100),
        "2:1500ms",
    )
    .unwrap();
    let out = run(plan, o, CancellationToken::new()).await.unwrap();
    assert_eq!(out.summary.spans_dropped, 0);
    let total: u64 = out.seconds.iter().map(|s| s.requests).sum();

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
    let mut metric_counts = Vec::new();
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
        } else if path == "/v1/metrics" {
            let req = ExportMetricsServiceRequest::decode(body.as_ref()).unwrap();
            for rm in req.resource_metrics {
                for sm in rm.scope_metrics {
                    for m in sm.metrics {
                        if m.name == satlab_record::telemetry::HTTP_CLIENT_REQUEST_DURATION {
                            assert_eq!(m.unit, "s");
                            if let Some(Data::Histogram(h)) = m.data {
                                metric_counts
                                    .push(h.data_points.iter().map(|p| p.count).sum::<u64>());
                            }
                        }
                    }
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
    }
    // Cumulative temporality: the last export counts every request.
    assert_eq!(
        metric_counts.iter().max().copied(),
        Some(total),
        "{metric_counts:?}"
    );
}
