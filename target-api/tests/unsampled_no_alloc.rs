//! A request whose `traceparent` is not sampled costs target-api's telemetry no allocation,
//! and a sampled one none of its own: with traces and metrics exported (to an address
//! nobody listens on: the hot path does not wait for the exporter), a counting global
//! allocator, counting on the request's thread only, sees the same number of allocations
//! for 200 unsampled requests as for 2,000 once every series is bound, and for sampled
//! ones only the span buffer's (one per batch of 512 spans, and its growth).

use satlab_testkit::alloc_count;
use target_api::telemetry::{Telemetry, TelemetryConfig};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// Allocations on this thread for `n` requests, and how many of them were sampled.
fn allocations(t: &Telemetry, headers: &http::HeaderMap, n: usize) -> (usize, u64) {
    let local = Some(([127, 0, 0, 1], 8080).into());
    let route = Some(0); // routes::ALL[0], POST /api/vector/add
    let (spans, count) = alloc_count::allocations_in(|| {
        let mut spans = 0;
        for _ in 0..n {
            let r = t.start_request(
                &http::Method::POST,
                route,
                "/api/vector/add",
                headers,
                local,
            );
            spans += usize::from(r.span_context().is_some());
            t.finish_request(r, 200, None, &[]);
        }
        spans
    });
    (spans, count)
}

fn traceparent(flags: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let value = format!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}");
    headers.insert("traceparent", value.parse().unwrap());
    headers
}

#[test]
fn an_unsampled_request_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cfg = TelemetryConfig::from_lookup(|k| {
        (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://127.0.0.1:9".to_string())
    })
    .unwrap();
    let t = rt.block_on(async { Telemetry::init(&cfg) }).unwrap();
    let headers = traceparent("00");
    allocations(&t, &headers, 50); // binds the series
    let (spans, few) = allocations(&t, &headers, 200);
    let (more_spans, many) = allocations(&t, &headers, 2000);
    assert_eq!(
        spans + more_spans,
        0,
        "unsampled requests got a span context"
    );
    assert_eq!(
        few, many,
        "allocations grow with requests: {few} for 200, {many} for 2,000"
    );
    assert_eq!(many, 0, "{many} allocations for 2,000 unsampled requests");
    // Sampled: the span is encoded into the thread's buffer, which is handed over (and
    // replaced: one allocation) every 512 spans.
    let sampled = traceparent("01");
    allocations(&t, &sampled, 1100); // the buffer grows to a batch's size
    let (spans, count) = allocations(&t, &sampled, 5120);
    assert_eq!(spans, 5120);
    assert!(
        count <= 12,
        "{count} allocations for 5,120 sampled requests: one per batch of 512 (10), and at most a channel block, expected"
    );
    // The control: an allocation on this thread is counted.
    let ((), control) = alloc_count::allocations_in(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert_eq!(control, 1);
    rt.block_on(async {
        tokio::task::spawn_blocking(move || t.shutdown(std::time::Duration::from_millis(500)))
            .await
            .unwrap()
    });
}
