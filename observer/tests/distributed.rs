//! A distributed run on `observer serve`: three loadgen processes join one run on loopback
//! against one target-api, the observer splits the plan, starts them together, and merges
//! their records exactly. (`observer loadgen` and `observer target-api` run the other two
//! programs from the observer's own executable.)

mod common;

use observer::otlp::Store;
use observer::otlp::store::StoreLimits;
use satlab_record::distributed::DistributedRecord;
use satlab_record::summary::LoadgenSummary;
use satlab_record::{RequestLogReader, RunDir, fsio, histogram};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

const OBSERVER: &str = env!("CARGO_BIN_EXE_observer");

/// target-api on a free loopback port, ready; killed when dropped.
async fn target_api() -> (tokio::process::Child, String) {
    let port = observer::lab::free_port().unwrap();
    let child = tokio::process::Command::new(OBSERVER)
        .args(["target-api", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    for _ in 0..200 {
        let client = loadgen::observer_client::Client::new();
        if let Ok((200, _)) = client.send_bytes("GET", &ready, Vec::new()).await {
            return (child, format!("http://127.0.0.1:{port}/api/vector/add"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("target-api did not get ready on port {port}");
}

/// An `observer serve` API on loopback over a fresh runs directory.
async fn observer(runs: &Path) -> String {
    let store = Arc::new(Store::new(StoreLimits::default()));
    let app = observer::serve::router(store, runs.to_path_buf(), 256 << 20);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    base
}

fn spawn_loadgen(target: &str, run_url: &str, extra: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(OBSERVER)
        .args([
            "loadgen",
            target,
            "--join",
            run_url,
            "--quiet",
            "--threads",
            "1",
        ])
        .args(["--body", r#"{"a":[1,2],"b":[3,4]}"#])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start loadgen (built by cargo test --workspace)")
}

async fn create(base: &str, id: &str, def: serde_json::Value) -> (u16, String) {
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/api/runs/{id}/distributed"),
        &[],
        serde_json::to_vec(&def).unwrap(),
    )
    .await;
    (st, String::from_utf8_lossy(&body).into_owned())
}

async fn diagnose(base: &str, id: &str) -> (u16, String) {
    let (st, _, body) = common::request(
        "POST",
        &format!("{base}/api/runs/{id}/diagnose"),
        &[],
        vec![],
    )
    .await;
    (st, String::from_utf8_lossy(&body).into_owned())
}

/// The `error` of a JSON error body.
fn err_of(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"].as_str().unwrap_or_default().to_string()
}

fn all_latencies(dir: &Path) -> hdrhistogram::Histogram<u64> {
    let mut h = histogram::new_latency_histogram();
    for r in RequestLogReader::open(&dir.join("requests.bin")).unwrap() {
        histogram::record_clamped(&mut h, u64::from(r.unwrap().latency_us));
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_loadgens_merge_exactly_and_bad_parts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = observer(tmp.path()).await;
    let (_server, target) = target_api().await;
    let id = "dist-3";
    let (st, body) = create(
        &base,
        id,
        serde_json::json!({"loadgens": 3, "stages": "6:2s,10:2s", "settle": "0s",
                           "join_timeout": "60s", "start_delay": "1s"}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let run_url = format!("{base}/api/runs/{id}");
    // One asks for its id, as a Kubernetes Indexed Job's pod does; the others are given one.
    let children: Vec<_> = [&["--loadgen-id", "2"][..], &[], &[]]
        .into_iter()
        .map(|extra| spawn_loadgen(&target, &run_url, extra))
        .collect();
    for c in children {
        let out = c.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "loadgen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (st, body) = diagnose(&base, id).await;
    assert_eq!(st, 200, "{body}");

    let dir = RunDir::new(tmp.path().join(id));
    let record: DistributedRecord =
        fsio::read_json(&dir.loadgen().dir().join("distributed.json")).unwrap();
    let merged: LoadgenSummary = fsio::read_json(&dir.loadgen().summary()).unwrap();
    let parts: Vec<LoadgenSummary> = (0..3)
        .map(|k| {
            fsio::read_json(&dir.loadgen().dir().join(format!("parts/{k}/summary.json"))).unwrap()
        })
        .collect();
    // The shares: 6 and 10 workers split 2+2+2 and 4+3+3, each recorded.
    let specs: Vec<&str> = record.parts.iter().map(|p| p.spec.as_str()).collect();
    assert_eq!(specs, ["2:2s,4:2s", "2:2s,3:2s", "2:2s,3:2s"]);
    assert_eq!((record.planned, record.ran), (3, 3));
    assert!(record.parts.iter().all(|p| p.merged), "{record:?}");
    // Totals are the parts' sums, step by step.
    for i in 0..2 {
        let sum: u64 = parts.iter().map(|p| p.steps[i].requests).sum();
        assert_eq!(merged.steps[i].requests, sum);
        let workers: u32 = parts.iter().map(|p| p.steps[i].concurrency.unwrap()).sum();
        assert_eq!(merged.steps[i].concurrency, Some(workers));
    }
    let total: u64 = parts.iter().map(|p| p.overall.requests).sum();
    assert_eq!(merged.overall.requests, total);
    assert!(total > 1000, "{total}");
    // Rates are over the common measured windows: the parts' rates add up.
    let rps: f64 = parts.iter().map(|p| p.overall.rps).sum();
    assert!(
        (merged.overall.rps - rps).abs() < 1e-6 * rps,
        "{} vs {rps}",
        merged.overall.rps
    );
    // The merged histogram is one histogram fed every part's latencies.
    let hists: histogram::HistogramsFile = fsio::read_json(&dir.loadgen().histograms()).unwrap();
    let overall = histogram::decode(&hists.overall).unwrap();
    let mut direct = histogram::new_latency_histogram();
    for k in 0..3 {
        let f: histogram::HistogramsFile = fsio::read_json(
            &dir.loadgen()
                .dir()
                .join(format!("parts/{k}/histograms.json")),
        )
        .unwrap();
        direct.add(histogram::decode(&f.overall).unwrap()).unwrap();
    }
    assert_eq!(overall, direct);
    // ...and, with nothing dropped from the logs, the merged log holds every request, its
    // latencies giving the same percentiles at HdrHistogram's precision.
    assert_eq!(merged.request_log_dropped, 0);
    let logged = all_latencies(dir.loadgen().dir());
    assert_eq!(logged.len(), merged.request_log_records);
    assert_eq!(logged.len(), overall.len());
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        let a = overall.value_at_quantile(q);
        let b = logged.value_at_quantile(q);
        assert!(overall.equivalent(a, b), "q{q}: {a} vs {b}");
    }
    // Start skew measured from each loadgen's first actual send.
    eprintln!(
        "start skew {:.2} ms; first sends after the announced start (ms): {:?}",
        record.start_skew_ms,
        record
            .parts
            .iter()
            .map(|p| p.first_send_ms)
            .collect::<Vec<_>>()
    );
    assert!(
        record.start_skew_ms < 50.0,
        "start skew {} ms: {record:?}",
        record.start_skew_ms
    );
    assert!(record.parts.iter().all(|p| p.first_send_ms.is_some()));
    // Per second: counts are the parts' sums; percentiles are the merged log's own, by
    // completion second (at the 2 significant digits a second's figures are kept at).
    let seconds: Vec<satlab_record::series::SecondSample> =
        fsio::read_jsonl(&dir.loadgen().seconds()).unwrap();
    let part_seconds: u64 = (0..3)
        .map(|k| {
            fsio::read_jsonl::<satlab_record::series::SecondSample>(
                &dir.loadgen().dir().join(format!("parts/{k}/seconds.jsonl")),
            )
            .unwrap()
            .iter()
            .map(|s| s.requests)
            .sum::<u64>()
        })
        .sum();
    assert_eq!(
        seconds.iter().map(|s| s.requests).sum::<u64>(),
        part_seconds
    );
    let mut by_second: std::collections::BTreeMap<u64, hdrhistogram::Histogram<u32>> =
        Default::default();
    for r in RequestLogReader::open(&dir.loadgen().requests()).unwrap() {
        let r = r.unwrap();
        let done = (r.start_us + u64::from(r.latency_us)) / 1_000_000;
        by_second
            .entry(done)
            .or_insert_with(|| {
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2).unwrap()
            })
            .record(u64::from(r.latency_us).max(1))
            .unwrap();
    }
    for s in &seconds {
        if let Some(h) = by_second.get(&u64::from(s.t_s)) {
            assert_eq!(s.p99_us, h.value_at_quantile(0.99), "second {}", s.t_s);
            assert_eq!(s.max_us, h.max(), "second {}", s.t_s);
        }
    }
    let diagnosis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.diagnosis_json()).unwrap()).unwrap();
    assert!(diagnosis["verdict"]["kind"].is_string(), "{diagnosis}");

    // Bad parts are refused with the reason, and what was merged stays.
    let part0 = dir.loadgen().dir().join("parts/0/summary.json");
    let put = |k: u32, body: Vec<u8>| {
        let url = format!("{run_url}/loadgens/{k}/summary.json");
        async move { common::request("PUT", &url, &[], body).await }
    };
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&part0).unwrap()).unwrap();
    let (st, _, b) = put(0, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(st, 409, "duplicate: {}", err_of(&b));
    assert!(err_of(&b).contains("uploaded its record already"));
    // The same record under another id: wrong loadgen; another run: refused; another plan.
    let part2 = dir.loadgen().dir().join("parts/2");
    let part2_files: Vec<(&str, Vec<u8>)> = [
        "histograms.json",
        "seconds.jsonl",
        "requests.bin",
        "summary.json",
    ]
    .into_iter()
    .map(|f| (f, std::fs::read(part2.join(f)).unwrap()))
    .collect();
    std::fs::remove_dir_all(&part2).unwrap();
    let (st, _, b) = put(2, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(st, 409);
    assert!(err_of(&b).contains("loadgen 0's, uploaded as loadgen 2"));
    v["distributed"]["loadgen"] = 2.into();
    v["distributed"]["run"] = "another-run".into();
    let (st, _, b) = put(2, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(st, 409);
    assert!(err_of(&b).contains("from run \"another-run\""));
    v["distributed"]["run"] = id.into();
    let (st, _, b) = put(2, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(st, 409);
    assert!(
        err_of(&b).contains("but loadgen 2 was assigned \"2:2s,3:2s\""),
        "{}",
        err_of(&b)
    );
    let (st, _, _) = put(7, serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(st, 404);
    // Loadgen 2's own summary, but a histograms file that does not parse: refused when
    // the summary arrives, and nothing of it is kept.
    for (f, bytes) in &part2_files {
        let body = if *f == "histograms.json" {
            b"{not json".to_vec()
        } else {
            bytes.clone()
        };
        let url = format!("{run_url}/loadgens/2/{f}");
        let (st, _, b) = common::request("PUT", &url, &[], body).await;
        if *f == "summary.json" {
            assert_eq!(st, 409, "{}", err_of(&b));
            assert!(err_of(&b).contains("histograms.json"), "{}", err_of(&b));
        } else {
            assert_eq!(st, 201, "{f}: {}", err_of(&b));
        }
    }
    assert!(!part2.exists());
    // Loadgen 2's record is gone now: a new merge keeps the other two and names it.
    let (st, body) = diagnose(&base, id).await;
    assert_eq!(st, 200, "{body}");
    let record: DistributedRecord =
        fsio::read_json(&dir.loadgen().dir().join("distributed.json")).unwrap();
    let missing: Vec<u32> = record.missing().map(|p| p.loadgen).collect();
    assert_eq!(missing, [2]);
    let merged: LoadgenSummary = fsio::read_json(&dir.loadgen().summary()).unwrap();
    assert_eq!(
        merged.overall.requests,
        parts[0].overall.requests + parts[1].overall.requests
    );
    assert!(
        merged
            .interrupt_reason
            .as_deref()
            .is_some_and(|r| r.contains("loadgen 2 is missing")),
        "{merged:?}"
    );
    // The report says it too.
    let report = std::fs::read_to_string(dir.report_txt()).unwrap();
    let flat = report.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("loadgen 2 is missing"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_loadgen_is_named_and_the_others_are_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let base = observer(tmp.path()).await;
    let (_server, target) = target_api().await;
    let id = "dist-kill";
    let (st, body) = create(
        &base,
        id,
        serde_json::json!({"loadgens": 3, "stages": "6:3s", "start_delay": "500ms"}),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let run_url = format!("{base}/api/runs/{id}");
    let mut children: Vec<_> = (0..3)
        .map(|_| spawn_loadgen(&target, &run_url, &[]))
        .collect();
    // Let the run start, then kill one loadgen outright: it uploads nothing.
    let dir = RunDir::new(tmp.path().join(id));
    let record_path = dir.loadgen().dir().join("distributed.json");
    for _ in 0..200 {
        if record_path.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut victim = children.remove(1);
    victim.kill().await.unwrap();
    for c in children {
        let out = c.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (st, body) = diagnose(&base, id).await;
    assert_eq!(st, 200, "{body}");
    let record: DistributedRecord = fsio::read_json(&record_path).unwrap();
    let merged_ids: Vec<u32> = record
        .parts
        .iter()
        .filter(|p| p.merged)
        .map(|p| p.loadgen)
        .collect();
    let missing: Vec<&str> = record
        .missing()
        .filter_map(|p| p.missing.as_deref())
        .collect();
    assert_eq!(merged_ids.len(), 2, "{record:?}");
    assert_eq!(missing.len(), 1, "{record:?}");
    let merged: LoadgenSummary = fsio::read_json(&dir.loadgen().summary()).unwrap();
    let sum: u64 = merged_ids
        .iter()
        .map(|k| {
            fsio::read_json::<LoadgenSummary>(
                &dir.loadgen().dir().join(format!("parts/{k}/summary.json")),
            )
            .unwrap()
            .overall
            .requests
        })
        .sum();
    assert_eq!(merged.overall.requests, sum);
    assert!(merged.interrupted, "{merged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_and_joins_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let base = observer(tmp.path()).await;
    for (def, says) in [
        (
            serde_json::json!({"loadgens": 0, "stages": "6:1s"}),
            "loadgens 0 is out of range",
        ),
        (
            serde_json::json!({"loadgens": 4, "stages": "3:1s"}),
            "step 0 has 3 workers",
        ),
        (
            serde_json::json!({"loadgens": 2}),
            "exactly one of \"stages\"",
        ),
        (
            serde_json::json!({"loadgens": 2, "stages": "4:1s", "join_timeout": "soon"}),
            "join_timeout",
        ),
        (
            serde_json::json!({"loadgens": 2, "stages": "4:1s", "extra": 1}),
            "unknown field",
        ),
    ] {
        let (st, body) = create(&base, "bad", def).await;
        assert_eq!(st, 400, "{body}");
        let e = err_of(body.as_bytes());
        assert!(e.contains(says), "{e} lacks {says}");
    }
    let (st, _, b) =
        common::request("POST", &format!("{base}/api/runs/nope/join"), &[], vec![]).await;
    assert_eq!(st, 404);
    assert!(
        err_of(&b).contains("POST /api/runs/nope/distributed"),
        "{}",
        err_of(&b)
    );
    // Fewer loadgens than planned at the timeout: refused when asked to be, to every one.
    let (st, _) = create(
        &base,
        "short",
        serde_json::json!({"loadgens": 2, "stages": "4:1s", "join_timeout": "300ms",
                           "on_missing": "refuse"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _, b) =
        common::request("POST", &format!("{base}/api/runs/short/join"), &[], vec![]).await;
    assert_eq!(st, 409);
    assert!(err_of(&b).contains("1 of 2 loadgens joined"));
    // ...and re-split among those present by default.
    let (st, _) = create(
        &base,
        "resplit",
        serde_json::json!({"loadgens": 3, "stages": "4:1s", "join_timeout": "300ms"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _, b) = common::request(
        "POST",
        &format!("{base}/api/runs/resplit/join"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, 200);
    let reply: satlab_record::distributed::JoinReply = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (reply.loadgen, reply.of, reply.spec.as_str()),
        (0, 1, "4:1s")
    );
    let record: DistributedRecord = fsio::read_json(
        &RunDir::new(tmp.path().join("resplit"))
            .loadgen()
            .dir()
            .join("distributed.json"),
    )
    .unwrap();
    assert_eq!((record.planned, record.ran), (3, 1));
    // Ids asked for (a Kubernetes Job's completion index): a duplicate or one out of range
    // is refused at join, the others wait and get the share of their rank.
    let (st, _) = create(
        &base,
        "indexed",
        serde_json::json!({"loadgens": 2, "stages": "5:1s"}),
    )
    .await;
    assert_eq!(st, 201);
    let join = |k: &str| {
        let url = format!("{base}/api/runs/indexed/join?loadgen={k}");
        async move { common::request("POST", &url, &[], vec![]).await }
    };
    let first = tokio::spawn(join("1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, _, b) = join("1").await;
    assert_eq!(st, 409);
    assert!(
        err_of(&b).contains("two loadgens with one id"),
        "{}",
        err_of(&b)
    );
    let (st, _, b) = join("2").await;
    assert_eq!(st, 400);
    assert!(err_of(&b).contains("ids 0 to 1"), "{}", err_of(&b));
    let (st, _, b) = join("x").await;
    assert_eq!(st, 400);
    assert!(err_of(&b).contains("whole number"), "{}", err_of(&b));
    let (st, _, b0) = join("0").await;
    assert_eq!(st, 200);
    let (st, _, b1) = first.await.unwrap();
    assert_eq!(st, 200);
    let r0: satlab_record::distributed::JoinReply = serde_json::from_slice(&b0).unwrap();
    let r1: satlab_record::distributed::JoinReply = serde_json::from_slice(&b1).unwrap();
    assert_eq!((r0.loadgen, r0.spec.as_str()), (0, "3:1s"));
    assert_eq!((r1.loadgen, r1.spec.as_str()), (1, "2:1s"));
    assert_eq!(r0.start_unix_ns, r1.start_unix_ns);
    // A late joiner is told the run has started.
    let (st, _, b) = common::request(
        "POST",
        &format!("{base}/api/runs/resplit/join"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, 409);
    assert!(err_of(&b).contains("has started already"));
}
