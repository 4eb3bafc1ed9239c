//! `observer serve`'s HTTP API and `observer submit`: uploads (validated ids, size limit),
//! run listing, OTLP data windowed into the run, `/metrics`.

mod common;

use observer::otlp::Store;
use observer::otlp::store::StoreLimits;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::Span;
use satlab_record::{RunDir, ServerEvent, fsio};
use std::path::Path;
use std::sync::Arc;

fn pause_at(start: u64) -> ExportLogsServiceRequest {
    let kv = |k: &str, v: i64| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    event_name: "satlab.gc_pause".into(),
                    attributes: vec![
                        kv("satlab.event.start_unix_nano", start as i64),
                        kv("satlab.event.duration_ns", 40_000_000),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// One server span of target-api ending at `end` after `dur` ns.
fn server_span(end: u64, dur: u64) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0xab; 8],
        kind: 2,
        start_time_unix_nano: end - dur,
        end_time_unix_nano: end,
        ..Default::default()
    };
    common::trace_export("target-api", vec![span])
}

/// A real loadgen summary with its window moved to [start, end].
fn summary(start: u64, end: u64) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/loadgen-summary.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["started_unix_ns"] = start.into();
    v["ended_unix_ns"] = end.into();
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_window_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::new(StoreLimits::default()));
    let app = observer::serve::router(store.clone(), tmp.path().to_path_buf(), 64 * 1024);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });

    let t0 = 1_000_000_000_000u64;
    // One event inside the run's window, one long after it.
    store.ingest_logs(&pause_at(t0 + 5_000_000_000));
    store.ingest_logs(&pause_at(t0 + 500_000_000_000));

    let (st, _, body) = common::request(
        "PUT",
        &format!("{base}/api/runs/bad%20id/loadgen/summary.json"),
        &[],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"].is_string());
    let (st, _, _) = common::request(
        "PUT",
        &format!("{base}/api/runs/r1/loadgen/passwd"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, 404);
    let (st, _, _) = common::request(
        "PUT",
        &format!("{base}/api/runs/r1/loadgen/requests.bin"),
        &[],
        vec![0; 100 * 1024],
    )
    .await;
    assert_eq!(st, 413);
    let (st, _, _) = common::request(
        "PUT",
        &format!("{base}/api/runs/r1/loadgen/summary.json"),
        &[],
        b"not json".to_vec(),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _, body) =
        common::request("POST", &format!("{base}/api/runs/r1/diagnose"), &[], vec![]).await;
    assert_eq!(
        st,
        409,
        "diagnose before a summary: {}",
        String::from_utf8_lossy(&body)
    );
    let (st, _, _) = common::request(
        "PUT",
        &format!("{base}/api/runs/r1/loadgen/summary.json"),
        &[],
        summary(t0, t0 + 10_000_000_000),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _, body) = common::request("GET", &format!("{base}/api/runs"), &[], vec![]).await;
    assert_eq!(st, 200);
    let runs: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(runs[0]["id"], "r1");
    let (st, _, _) =
        common::request("GET", &format!("{base}/api/runs/r1/diagnosis"), &[], vec![]).await;
    assert_eq!(st, 404);

    let (st, _, body) =
        common::request("POST", &format!("{base}/api/runs/r1/diagnose"), &[], vec![]).await;
    assert!(
        [200, 422, 501].contains(&st),
        "{st}: {}",
        String::from_utf8_lossy(&body)
    );
    let dir = RunDir::new(tmp.path().join("r1"));
    let events: Vec<ServerEvent> = fsio::read_jsonl(&dir.events()).unwrap();
    assert_eq!(
        events.len(),
        1,
        "only the event inside the window: {events:?}"
    );
    assert!(dir.received().is_file() && dir.spans().is_file());

    let (st, h, body) = common::request("GET", &format!("{base}/metrics"), &[], vec![]).await;
    assert_eq!(st, 200);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("satlab_observer_server_events_total{event=\"gc_pause\"} 2"),
        "{text}"
    );
    assert!(text.contains("\nsatlab_observer_runs 1\n"), "{text}");
    assert!(
        !text.contains("trace_id="),
        "no exemplars in the 0.0.4 format"
    );

    // A scraper asking for OpenMetrics gets it, with the span's exemplar on its bucket.
    store.ingest_traces(&server_span(t0 + 1_000_000_000, 3_000_000));
    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (st, h, body) = common::request(
        "GET",
        &format!("{base}/metrics"),
        &[("accept", accept)],
        vec![],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        h["content-type"].to_str().unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE satlab_observer_server_events counter\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "satlab_observer_span_duration_seconds_bucket{side=\"server\",service=\"target-api\",\
             le=\"0.005\"} 1 # {trace_id=\"0102030405060708090a0b0c0d0e0f10\",\
             span_id=\"abababababababab\"} 0.003 1001.000\n"
        ),
        "{text}"
    );
    let (st, _, body) = common::request("GET", &format!("{base}/healthz"), &[], vec![]).await;
    assert_eq!((st, body), (200, b"ok\n".to_vec()));
    let (st, _, body) = common::request("GET", &format!("{base}/nope"), &[], vec![]).await;
    assert_eq!(st, 404);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());

    // `observer submit` uploads a record directory under its own id.
    let rec = tmp.path().join("lg");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::write(rec.join("summary.json"), summary(t0, t0 + 10_000_000_000)).unwrap();
    std::fs::write(rec.join("seconds.jsonl"), b"").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["submit"])
        .arg(&rec)
        .args(["--to", &base, "--id", "sub-1"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uploaded summary.json"), "{err}");
    assert!(tmp.path().join("sub-1/loadgen/seconds.jsonl").is_file());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["submit", "/nonexistent", "--to", &base])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.json"));
}
