//! Telemetry end to end with a real OTLP/gRPC receiver in the test: server spans carry the
//! caller's trace id, pause events arrive as log records with their durations, metrics use
//! the shared names, and a dead collector neither fails nor stalls requests.

mod common;

use common::{add, client, config, otlp_sink};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use satlab_record::telemetry as names;
use std::time::{Duration, Instant};
use target_api::telemetry::Protocol;
use target_api::{ServerHandle, TelemetryConfig};

const BODY: &str = r#"{"a":[1,2],"b":[3,4]}"#;

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn int(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key) {
        Some(Value::IntValue(i)) => Some(*i),
        _ => None,
    }
}

/// `POST /api/vector/add` with [`BODY`] and `traceparent`.
async fn add_traced(
    c: &common::HttpClient,
    addr: std::net::SocketAddr,
    traceparent: &str,
) -> common::Resp {
    let headers = [
        ("content-type", "application/json"),
        ("traceparent", traceparent),
    ];
    common::send(c, addr, "POST", "/api/vector/add", &headers, BODY).await
}

fn telemetry_to(endpoint: String) -> TelemetryConfig {
    TelemetryConfig {
        endpoint: Some(endpoint),
        metric_interval: Duration::from_millis(200),
        ..TelemetryConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_the_callers_trace_and_pauses_arrive_as_log_records() {
    let (sink_addr, got) = otlp_sink::start("127.0.0.1:0".parse().unwrap(), true).await;
    let mut cfg = config();
    cfg.settings.events.pause_every = 3;
    cfg.settings.events.pause_duration = Duration::from_millis(25);
    let server = ServerHandle::start(cfg, telemetry_to(format!("http://{sink_addr}")), 2).unwrap();
    let addr = server.addr();
    let c = client();
    let trace_hex = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_hex = "00f067aa0ba902b7";
    for _ in 0..6 {
        let r = add_traced(&c, addr, &format!("00-{trace_hex}-{parent_hex}-01")).await;
        assert_eq!(r.status, 200);
    }
    // Give the metric reader one interval, then shut down: that flushes every signal.
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();

    let spans = got.spans.lock().unwrap().clone();
    let server_spans: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "POST /api/vector/add")
        .collect();
    assert_eq!(
        server_spans.len(),
        6,
        "spans: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for s in &server_spans {
        assert_eq!(
            hex(&s.trace_id),
            trace_hex,
            "server span not in the caller's trace"
        );
        assert_eq!(hex(&s.parent_span_id), parent_hex);
        assert_eq!(s.kind, 2, "SPAN_KIND_SERVER");
        assert_eq!(int(&s.attributes, "http.response.status_code"), Some(200));
        assert_eq!(
            int(&s.attributes, "server.port"),
            Some(i64::from(addr.port()))
        );
        assert!(
            matches!(attr(&s.attributes, "url.path"), Some(Value::StringValue(p)) if p == "/api/vector/add")
        );
        assert!(
            matches!(attr(&s.attributes, "http.route"), Some(Value::StringValue(r)) if r == "/api/vector/add")
        );
        assert!(
            matches!(attr(&s.attributes, "http.request.method"), Some(Value::StringValue(m)) if m == "POST")
        );
    }
    // The requests that triggered a pause carry it as a span event.
    let with_pause = server_spans
        .iter()
        .filter(|s| s.events.iter().any(|e| e.name == "satlab.gc_pause"))
        .count();
    assert!(
        with_pause >= 2,
        "only {with_pause} spans carry a pause event"
    );

    let logs = got.logs.lock().unwrap().clone();
    let pauses: Vec<_> = logs
        .iter()
        .filter(|l| l.event_name == "satlab.gc_pause")
        .collect();
    assert_eq!(pauses.len(), 2, "log records: {logs:?}");
    let mut idx: Vec<i64> = pauses
        .iter()
        .map(|l| int(&l.attributes, names::ATTR_EVENT_REQUEST_INDEX).unwrap())
        .collect();
    idx.sort();
    assert_eq!(idx, vec![3, 6]);
    for l in &pauses {
        let d = int(&l.attributes, names::ATTR_EVENT_DURATION_NS).unwrap();
        assert!(d >= 25_000_000, "pause duration {d} ns below 25 ms");
        let start = int(&l.attributes, names::ATTR_EVENT_START).unwrap();
        assert_eq!(l.time_unix_nano as i64, start);
        assert!(int(&l.attributes, names::ATTR_EVENT_SEQ).unwrap() >= 1);
        assert_eq!(
            hex(&l.trace_id),
            trace_hex,
            "the event log record is in the triggering request's trace"
        );
    }

    let metrics = got.metric_names.lock().unwrap().clone();
    for name in [
        names::HTTP_SERVER_REQUEST_DURATION,
        names::HTTP_SERVER_ACTIVE_REQUESTS,
        names::PROCESS_CPU_UTILIZATION,
        names::EVENT_DURATION,
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics:?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn serve_and_time(endpoint: String, protocol: Protocol) -> (Duration, Duration) {
    let mut cfg = config();
    cfg.settings.events.pause_every = 10;
    cfg.settings.events.pause_duration = Duration::from_millis(1);
    let telemetry = TelemetryConfig {
        protocol,
        ..telemetry_to(endpoint)
    };
    let server = ServerHandle::start(cfg, telemetry, 2).unwrap();
    let (c, addr) = (client(), server.addr());
    let t0 = Instant::now();
    let mut worst = Duration::ZERO;
    for _ in 0..300 {
        let t = Instant::now();
        assert_eq!(add(&c, addr, "", BODY).await.status, 200);
        worst = worst.max(t.elapsed());
    }
    let total = t0.elapsed();
    let t = Instant::now();
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();
    // The flush is bounded (5 s) however dead the collector is.
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        t.elapsed()
    );
    (total, worst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_collector_neither_fails_nor_stalls_requests() {
    // Nothing listens on the first endpoint (refused); the second accepts connections and
    // never answers (a hung collector).
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    for (endpoint, protocol) in [
        (format!("http://{refused}"), Protocol::Grpc),
        (format!("http://{hung_addr}"), Protocol::Grpc),
        (format!("http://{refused}"), Protocol::HttpProtobuf),
    ] {
        let (total, worst) = serve_and_time(endpoint.clone(), protocol).await;
        // 300 tiny requests; a stalled export path would show as seconds.
        assert!(
            worst < Duration::from_millis(500),
            "{endpoint}: slowest request {worst:?}"
        );
        assert!(
            total < Duration::from_secs(5),
            "{endpoint}: 300 requests took {total:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_signal_endpoints_and_the_resource_service_name_reach_the_exporters() {
    let (sink_addr, got) = otlp_sink::start("127.0.0.1:0".parse().unwrap(), true).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // Traces go to the sink by their own variable; the base endpoint, set in code, points
    // nowhere and must not take the traces away.
    let traces = format!("http://{sink_addr}");
    let mut telemetry = TelemetryConfig::from_lookup(|k| match k {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(traces.clone()),
        "OTEL_RESOURCE_ATTRIBUTES" => {
            Some("service.name=from-resource,deployment.environment.name=lab%2C1".into())
        }
        _ => None,
    })
    .unwrap();
    telemetry.endpoint = Some(format!("http://{refused}"));
    telemetry.metric_interval = Duration::from_millis(200);
    let server = ServerHandle::start(config(), telemetry, 2).unwrap();
    let (c, addr) = (client(), server.addr());
    for _ in 0..3 {
        assert_eq!(add(&c, addr, "", BODY).await.status, 200);
    }
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();
    let spans = got.spans.lock().unwrap().clone();
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.name == "POST /api/vector/add")
            .count(),
        3
    );
    let resource = got.span_resources.lock().unwrap().clone();
    for kv in [
        ("service.name", "from-resource"),
        ("deployment.environment.name", "lab,1"),
    ] {
        assert!(
            resource.contains(&(kv.0.to_string(), kv.1.to_string())),
            "{kv:?} missing from {resource:?}"
        );
    }
    // Metrics went to the base endpoint, not to the traces' sink.
    assert!(got.metric_names.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_carry_the_pool_wait_when_the_pool_was_used() {
    let (sink_addr, got) = otlp_sink::start("127.0.0.1:0".parse().unwrap(), true).await;
    let mut cfg = config();
    cfg.pool_size = 1;
    let server = ServerHandle::start(cfg, telemetry_to(format!("http://{sink_addr}")), 2).unwrap();
    let addr = server.addr();
    let c = client();
    // Two requests at once on a one-permit pool held 40 ms: one waits about 40 ms.
    let hold = "pool=1&pool_hold=40ms";
    let (a, b) = tokio::join!(add(&c, addr, hold, BODY), add(&c, addr, hold, BODY));
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(add(&c, addr, "pool=0", BODY).await.status, 200);
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();

    let spans = got.spans.lock().unwrap().clone();
    let server_spans: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "POST /api/vector/add")
        .collect();
    assert_eq!(server_spans.len(), 3);
    let mut waits: Vec<i64> = server_spans
        .iter()
        .filter_map(|s| int(&s.attributes, names::ATTR_POOL_WAIT_NS))
        .collect();
    waits.sort();
    assert_eq!(
        waits.len(),
        2,
        "only the pool's users carry a wait: {waits:?}"
    );
    assert!(waits[0] >= 0 && waits[0] < 30_000_000, "{waits:?}");
    assert!(
        waits[1] >= 30_000_000,
        "the second user waited for the hold: {waits:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_running_at_shutdown_is_cut_there_and_still_exported() {
    let (sink_addr, got) = otlp_sink::start("127.0.0.1:0".parse().unwrap(), true).await;
    let mut cfg = config();
    cfg.settings.events.burst_every = Duration::from_secs(1);
    cfg.settings.events.burst_duration = Duration::from_millis(950);
    let server = ServerHandle::start(cfg, telemetry_to(format!("http://{sink_addr}")), 2).unwrap();
    // The first burst starts 1 s in and would run 950 ms: the server stops inside it.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let stop_ns = satlab_record::now_unix_ns();
    let t0 = Instant::now();
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();
    let stopping = t0.elapsed();
    assert!(
        stopping < Duration::from_secs(5),
        "stopping took {stopping:?}"
    );
    let logs = got.logs.lock().unwrap().clone();
    let last = logs
        .iter()
        .filter(|l| l.event_name == "satlab.cpu_burst")
        .map(|l| {
            let start = int(&l.attributes, names::ATTR_EVENT_START).unwrap() as u64;
            let d = int(&l.attributes, names::ATTR_EVENT_DURATION_NS).unwrap() as u64;
            (start, d)
        })
        .max()
        .unwrap_or_else(|| panic!("no burst exported: {logs:?}"));
    let (start, d) = last;
    assert!(start < stop_ns, "burst at {start}, stop at {stop_ns}");
    if stop_ns < start + 950_000_000 {
        // Stopped inside it (the usual case): it ran up to the stop and no further.
        assert!(d < 950_000_000, "burst of {d} ns");
        assert!(
            start + d + 5_000_000 >= stop_ns,
            "burst ended {} ns before the stop",
            stop_ns - start - d
        );
    }
}

/// What an OTLP/HTTP collector's trace endpoint received.
#[derive(Default)]
struct Received {
    spans: Vec<opentelemetry_proto::tonic::trace::v1::Span>,
    tenants: Vec<String>,
    gzipped: usize,
}

/// An OTLP/HTTP collector's trace endpoint: decodes each POST with prost (gunzipping it
/// first when it says so), keeps the spans and the `x-tenant` header, and answers each
/// export with a partial success rejecting `reject` spans (0: a plain success).
async fn http_trace_collector(
    reject: i64,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Received>>,
) {
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use prost::Message;
    use std::io::Read as _;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Received::default()));
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
            let kept = kept.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let gzipped = headers.get("content-encoding").is_some_and(|v| v == "gzip");
                let body = if gzipped {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut out)
                        .expect("a gzip body");
                    bytes::Bytes::from(out)
                } else {
                    body
                };
                let req = ExportTraceServiceRequest::decode(body).expect("a protobuf body");
                let mut got = kept.lock().unwrap();
                got.gzipped += usize::from(gzipped);
                if let Some(t) = headers.get("x-tenant") {
                    got.tenants.push(t.to_str().unwrap().to_string());
                }
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        got.spans.extend(ss.spans);
                    }
                }
                let answer = ExportTraceServiceResponse {
                    partial_success: (reject > 0).then(|| ExportTracePartialSuccess {
                        rejected_spans: reject,
                        error_message: "over quota".into(),
                    }),
                };
                (http::StatusCode::OK, answer.encode_to_vec())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_http_collector_as_protobuf() {
    let (addr, got) = http_trace_collector(0).await;
    let telemetry = TelemetryConfig {
        protocol: Protocol::HttpProtobuf,
        ..telemetry_to(format!("http://{addr}"))
    };
    let server = ServerHandle::start(config(), telemetry, 2).unwrap();
    let (c, target) = (client(), server.addr());
    let trace_hex = "0af7651916cd43dd8448eb211c80319c";
    for _ in 0..5 {
        let r = add_traced(&c, target, &format!("00-{trace_hex}-b7ad6b7169203331-01")).await;
        assert_eq!(r.status, 200);
    }
    tokio::task::spawn_blocking(move || server.stop().unwrap())
        .await
        .unwrap();
    let spans = std::mem::take(&mut got.lock().unwrap().spans);
    assert_eq!(spans.len(), 5, "spans: {spans:?}");
    for s in &spans {
        assert_eq!(s.name, "POST /api/vector/add");
        assert_eq!(hex(&s.trace_id), trace_hex);
        assert_eq!(int(&s.attributes, "http.response.status_code"), Some(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_export_sends_its_headers_gzipped_and_counts_what_the_collector_rejected() {
    let (addr, got) = http_trace_collector(2).await;
    let cfg = TelemetryConfig {
        protocol: Protocol::HttpProtobuf,
        trace_export: satlab_common::otel_env::ExportSettings {
            headers: vec![("x-tenant".into(), "lab".into())],
            timeout: Duration::from_secs(5),
            gzip: true,
        },
        ..telemetry_to(format!("http://{addr}"))
    };
    let telemetry = target_api::Telemetry::init(&cfg).unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    for _ in 0..5 {
        let r = telemetry.start_request(&http::Method::GET, None, "/x", &headers, None);
        telemetry.finish_request(r, 200, None, &[]);
    }
    let dropped = tokio::task::spawn_blocking(move || {
        telemetry.shutdown(Duration::from_secs(5));
        telemetry.dropped()
    })
    .await
    .unwrap();
    let got = got.lock().unwrap();
    assert_eq!(got.spans.len(), 5);
    assert_eq!(
        got.tenants,
        vec!["lab".to_string()],
        "one export, with its header"
    );
    assert_eq!(got.gzipped, 1);
    // The collector took 5 spans and rejected 2 of them: those count as not exported.
    assert_eq!(dropped.0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_spans_are_those_the_configured_sampler_chooses() {
    use opentelemetry::trace::{SpanKind, TraceId};
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
    use satlab_common::otel_env::SamplerSpec;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let parent = |flags: &str| {
        let mut h = http::HeaderMap::new();
        let value = format!("00-{trace}-b7ad6b7169203331-{flags}");
        h.insert("traceparent", value.parse().unwrap());
        h
    };
    // The ratio sampler on this parent's trace id, as the SDK decides it.
    let ratio_takes_it = target_api::telemetry::sdk_sampler(SamplerSpec::TraceIdRatio(0.5))
        .should_sample(
            None,
            TraceId::from_hex(trace).unwrap(),
            "POST",
            &SpanKind::Server,
            &[],
            &[],
        )
        .decision
        == SamplingDecision::RecordAndSample;
    let all_or_none = if ratio_takes_it { 400..=400 } else { 0..=0 };
    let cases = [
        // Asked: a new trace id each root, about half kept.
        (
            SamplerSpec::TraceIdRatio(0.5),
            http::HeaderMap::new(),
            140..=260,
        ),
        (SamplerSpec::TraceIdRatio(0.5), parent("00"), all_or_none),
        (SamplerSpec::AlwaysOff, parent("01"), 0..=0),
        // Known beforehand: a parent-based sampler follows the parent.
        (SamplerSpec::ParentBasedAlwaysOff, parent("01"), 400..=400),
        (SamplerSpec::ParentBasedAlwaysOn, parent("00"), 0..=0),
        (
            SamplerSpec::ParentBasedTraceIdRatio(0.5),
            http::HeaderMap::new(),
            140..=260,
        ),
    ];
    for (sampler, headers, want) in cases {
        let cfg = TelemetryConfig {
            sampler,
            ..telemetry_to(format!("http://{refused}"))
        };
        let telemetry = target_api::Telemetry::init(&cfg).unwrap();
        let mut sampled = 0;
        for _ in 0..400 {
            let r = telemetry.start_request(&http::Method::POST, Some(0), "/x", &headers, None);
            if let Some(sc) = r.span_context() {
                sampled += 1;
                assert!(sc.is_sampled() && sc.is_valid(), "{sampler:?}: {sc:?}");
                if headers.contains_key("traceparent") {
                    assert_eq!(format!("{}", sc.trace_id()), trace, "{sampler:?}");
                }
            }
            telemetry.finish_request(r, 200, None, &[]);
        }
        assert!(
            want.contains(&sampled),
            "{sampler:?}: {sampled} of 400 sampled"
        );
    }
}
