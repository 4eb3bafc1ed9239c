//! OTLP load for `bench/otlp-ingest.sh`: sends span batches to a receiver as fast as it
//! accepts them, over gRPC or HTTP/protobuf, for a bounded time, then prints the spans
//! sent per second.
//!
//! Usage: `otlp_flood grpc|http ADDR SECONDS [CONCURRENCY] [SPANS_PER_BATCH]` (ADDR is a
//! loopback `host:port`).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn batch(n: usize, seed: u64) -> ExportTraceServiceRequest {
    let attr = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    };
    let spans = (0..n)
        .map(|i| {
            let id = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let mut trace_id = id.to_be_bytes().to_vec();
            trace_id.extend_from_slice(&id.to_le_bytes());
            Span {
                trace_id,
                span_id: id.to_le_bytes().to_vec(),
                name: "POST /api/vector/add".into(),
                start_time_unix_nano: 1,
                end_time_unix_nano: 2,
                attributes: vec![
                    attr("http.request.method", "POST"),
                    attr("http.route", "/api/vector/add"),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "flood")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: otlp_flood grpc|http ADDR SECONDS [CONCURRENCY] [SPANS_PER_BATCH]");
        std::process::exit(2);
    }
    let proto = args[1].clone();
    let addr = args[2].clone();
    let secs: f64 = args[3].parse()?;
    let conc: usize = args.get(4).map_or(Ok(4), |s| s.parse())?;
    let per: usize = args.get(5).map_or(Ok(512), |s| s.parse())?;
    if !(0.5..=300.0).contains(&secs) || !(1..=256).contains(&conc) || !(1..=10_000).contains(&per)
    {
        eprintln!("SECONDS 0.5-300, CONCURRENCY 1-256, SPANS_PER_BATCH 1-10000");
        std::process::exit(2);
    }
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..conc {
        let (proto, addr, sent, failed) =
            (proto.clone(), addr.clone(), sent.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut seq = w as u64 * 1_000_000_000;
            if proto == "grpc" {
                let mut c = TraceServiceClient::connect(format!("http://{addr}")).await?;
                while Instant::now() < end {
                    seq += 1;
                    match c.export(batch(per, seq)).await {
                        Ok(_) => sent.fetch_add(per as u64, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            } else {
                use http_body_util::{BodyExt, Full};
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build_http::<Full<bytes::Bytes>>();
                let url: hyper::Uri = format!("http://{addr}/v1/traces").parse()?;
                while Instant::now() < end {
                    seq += 1;
                    let req = hyper::Request::post(url.clone())
                        .header("content-type", "application/x-protobuf")
                        .body(Full::new(bytes::Bytes::from(
                            batch(per, seq).encode_to_vec(),
                        )))?;
                    match client.request(req).await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.into_body().collect().await;
                            sent.fetch_add(per as u64, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        if let Ok(Err(e)) = t.await {
            eprintln!("worker failed: {e}");
        }
    }
    let el = start.elapsed().as_secs_f64();
    let n = sent.load(Ordering::Relaxed);
    println!(
        "{proto}: {n} spans in {el:.1} s = {:.0} spans/s ({} failed requests, batch {per}, concurrency {conc})",
        n as f64 / el,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
