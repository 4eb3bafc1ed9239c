//! The OTLP receiver over gRPC and HTTP: our own requests, malformed and oversized
//! payloads, partial success, and interoperability with exporters we did not write (the
//! Python OpenTelemetry SDK, target-api's opentelemetry-otlp).

mod common;

use observer::otlp::{self, ReceiverConfig, Store, StoreLimits};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use satlab_record::EventKind;
use std::sync::Arc;
use std::time::Duration;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn pause_logs(service: &str, n: u64) -> ExportLogsServiceRequest {
    let records = (1..=n)
        .map(|i| LogRecord {
            time_unix_nano: 1_000 + i,
            event_name: "satlab.gc_pause".into(),
            attributes: vec![
                kv("satlab.event.seq", any_value::Value::IntValue(i as i64)),
                kv(
                    "satlab.event.start_unix_nano",
                    any_value::Value::IntValue(5_000 + i as i64),
                ),
                kv(
                    "satlab.event.duration_ns",
                    any_value::Value::IntValue(40_000_000),
                ),
                kv(
                    "satlab.event.request_index",
                    any_value::Value::IntValue(1000 * i as i64),
                ),
            ],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: common::resource(service),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn spans(service: &str, good: usize, bad: usize) -> ExportTraceServiceRequest {
    let mut v: Vec<Span> = (0..good)
        .map(|i| Span {
            trace_id: vec![i as u8 + 1; 16],
            span_id: vec![1; 8],
            name: "POST /api/vector/add".into(),
            ..Default::default()
        })
        .collect();
    v.extend((0..bad).map(|_| Span {
        trace_id: vec![1, 2, 3],
        span_id: vec![1; 8],
        name: "broken".into(),
        ..Default::default()
    }));
    common::trace_export(service, v)
}

async fn start(max: usize) -> (Arc<Store>, otlp::Receiver) {
    let store = Arc::new(Store::new(StoreLimits::default()));
    let lo = ([127, 0, 0, 1], 0).into();
    let r = otlp::start(
        store.clone(),
        lo,
        lo,
        ReceiverConfig {
            max_message_bytes: max,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (store, r)
}

#[tokio::test]
async fn grpc_logs_become_events_and_bad_spans_are_a_partial_success() {
    let (store, r) = start(64 * 1024).await;
    let url = format!("http://{}", r.grpc_addr);
    let mut logs = LogsServiceClient::connect(url.clone())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let resp = logs
        .export(pause_logs("svc", 3))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.partial_success, None);
    let ev = store.events();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].kind, EventKind::GcPause);
    assert_eq!(ev[1].start_unix_ns, 5_002);
    assert_eq!(ev[2].request_index, Some(3000));
    assert_eq!(ev[0].duration_ns, 40_000_000);
    assert_eq!(ev[0].service, "svc");

    let mut traces = TraceServiceClient::connect(url).await.unwrap();
    let resp = traces
        .export(spans("svc", 2, 1))
        .await
        .unwrap()
        .into_inner();
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_spans, 1);
    assert!(
        ps.error_message.contains("16 bytes"),
        "{}",
        ps.error_message
    );
    assert_eq!(store.spans().services["svc"].spans, 2);

    // Over the message limit: ResourceExhausted, and the receiver keeps working.
    let big = pause_logs("svc", 2_000);
    assert!(big.encoded_len() > 64 * 1024);
    let err = logs.export(big).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err}");
    logs.export(pause_logs("svc", 1)).await.unwrap();
    assert_eq!(store.events().len(), 4);
    r.shutdown().await;
}

#[tokio::test]
async fn http_accepts_protobuf_and_gzip_and_refuses_bad_payloads() {
    let (store, r) = start(64 * 1024).await;
    let base = format!("http://{}", r.http_addr);
    let pb = [("content-type", "application/x-protobuf")];
    let (st, h, body) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &pb,
        pause_logs("h", 2).encode_to_vec(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "application/x-protobuf");
    let resp = ExportLogsServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(resp.partial_success, None);
    assert_eq!(store.events().len(), 2);

    // gzip, with a partial success in the protobuf response.
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/v1/traces"),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        common::gzip(&spans("h", 3, 2).encode_to_vec()),
    )
    .await;
    assert_eq!(st, 200);
    let resp = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(resp.partial_success.unwrap().rejected_spans, 2);

    // Malformed protobuf → 400 with a JSON error.
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/v1/metrics"),
        &pb,
        vec![0xff, 0xff, 0xff, 0x0f, 0x01],
    )
    .await;
    assert_eq!(st, 400);
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(j["error"].as_str().unwrap().contains("malformed"), "{j}");

    // Invalid gzip → 400.
    let (st, _, _) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        b"not gzip at all".to_vec(),
    )
    .await;
    assert_eq!(st, 400);

    // Over the limit → 413; a gzip bomb that inflates past the limit → 413.
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &pb,
        vec![0u8; 70 * 1024],
    )
    .await;
    assert_eq!(st, 413);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    let bomb = common::gzip(&vec![0u8; 8 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let (st, _, _) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        bomb,
    )
    .await;
    assert_eq!(st, 413);

    // Wrong media type or encoding → 415.
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(st, 415);
    assert!(String::from_utf8_lossy(&body).contains("x-protobuf"));
    let (st, _, _) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "br"),
        ],
        vec![],
    )
    .await;
    assert_eq!(st, 415);

    // Still alive, and the refusals are counted for /metrics.
    let (st, _, _) = common::request(
        "POST",
        &format!("{base}/v1/logs"),
        &pb,
        pause_logs("h", 1).encode_to_vec(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(store.events().len(), 3);
    let stats = store.stats();
    assert_eq!(stats.rejected[&("metrics", "malformed".to_string())], 1);
    assert_eq!(stats.rejected[&("logs", "too_large".to_string())], 2);
    assert_eq!(
        stats.rejected[&("logs", "unsupported_media_type".to_string())],
        1
    );
    r.shutdown().await;
}

#[tokio::test]
async fn a_flood_stays_bounded() {
    let store = Arc::new(Store::new(StoreLimits {
        max_events: 100,
        ..StoreLimits::default()
    }));
    let lo = ([127, 0, 0, 1], 0).into();
    let r = otlp::start(store.clone(), lo, lo, ReceiverConfig::default())
        .await
        .unwrap();
    let mut logs = LogsServiceClient::connect(format!("http://{}", r.grpc_addr))
        .await
        .unwrap();
    let mut rejected = 0;
    for _ in 0..5 {
        let resp = logs.export(pause_logs("f", 50)).await.unwrap().into_inner();
        rejected += resp.partial_success.map_or(0, |p| p.rejected_log_records);
    }
    assert_eq!(store.events().len(), 100);
    assert_eq!(rejected, 150);
    r.shutdown().await;
}

fn python_sdk_available() -> bool {
    common::runs(
        "python3",
        &[
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_exports_over_grpc_and_http() {
    if !common::available(
        python_sdk_available(),
        "python3 with the OpenTelemetry SDK",
        "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc opentelemetry-exporter-otlp-proto-http",
    ) {
        return;
    }
    let (store, r) = start(otlp::DEFAULT_MAX_MESSAGE_BYTES).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otlp_send.py");
    for (proto, addr, service) in [
        ("grpc", r.grpc_addr, "py-grpc"),
        ("http", r.http_addr, "py-http"),
    ] {
        let out = tokio::process::Command::new("python3")
            .args([script, proto, &format!("http://{addr}"), service])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{proto}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ev = store.events();
    for service in ["py-grpc", "py-http"] {
        let e = ev.iter().find(|e| e.service == service).expect(service);
        assert_eq!(e.kind, EventKind::GcPause);
        assert_eq!(e.duration_ns, 40_000_000);
        assert_eq!(e.request_index, Some(1000));
        let spans = &store.spans().services[service];
        assert_eq!(spans.spans, 3, "{service}");
        let names = &store.received().services[service];
        assert!(
            names.metrics.contains("http.server.request.duration"),
            "{names:?}"
        );
        assert!(names.log_events.contains("satlab.gc_pause"), "{names:?}");
    }
    assert!(
        store
            .points()
            .iter()
            .any(|p| p.name == "http.server.request.duration" && p.count == Some(3))
    );
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_api_exports_pause_events_over_grpc() {
    let (store, r) = start(otlp::DEFAULT_MAX_MESSAGE_BYTES).await;
    let port = observer::lab::free_port().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_observer"))
        .args([
            "target-api",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--pause-every",
            "50",
            "--pause-duration",
            "20ms",
        ])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", r.grpc_addr),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .env("OTEL_SERVICE_NAME", "target-api")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut ready = false;
    for _ in 0..200 {
        if observer::lab::http_get_status(addr, "/readyz", Duration::from_millis(200)) == Some(200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "target-api did not become ready");
    let url = format!("http://{addr}/api/vector/add");
    for _ in 0..120 {
        let (st, _, _) = common::request(
            "POST",
            &url,
            &[("content-type", "application/json")],
            br#"{"a":[1,2],"b":[3,4]}"#.to_vec(),
        )
        .await;
        assert_eq!(st, 200);
    }
    // SIGTERM: target-api flushes its telemetry on the way out.
    let pid = child.id().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    for _ in 0..40 {
        if store.events().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ev = store.events();
    assert!(ev.len() >= 2, "pause events received: {ev:?}");
    for e in &ev {
        assert_eq!(e.kind, EventKind::GcPause);
        assert_eq!(e.service, "target-api");
        let ms = e.duration_ns as f64 / 1e6;
        assert!((19.0..200.0).contains(&ms), "pause of {ms} ms");
    }
    assert_eq!(ev[0].request_index, Some(50));
    let names = &store.received().services["target-api"];
    assert!(names.log_events.contains("satlab.gc_pause"));
    r.shutdown().await;
}
