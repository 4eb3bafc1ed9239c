//! Server events end to end: exact count-driven scheduling, the stop-the-world stall,
//! shedding, pool recycling and the periodic CPU burst.

mod common;

use common::{add, client, config, events, send, start};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"a":[1,2],"b":[3,4]}"#;

fn indices(evs: &[serde_json::Value], kind: &str) -> Vec<u64> {
    evs.iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["request_index"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn pause_fires_on_exactly_every_nth_request() {
    let mut cfg = config();
    cfg.settings.events.pause_every = 5;
    cfg.settings.events.pause_duration = Duration::from_millis(20);
    let server = start(cfg);
    let (c, addr) = (client(), server.addr());
    let mut slow = Vec::new();
    for i in 1..=23u64 {
        let t0 = Instant::now();
        assert_eq!(add(&c, addr, "", BODY).await.status, 200);
        if t0.elapsed() >= Duration::from_millis(20) {
            slow.push(i);
        }
    }
    let evs = events(&c, addr).await;
    assert_eq!(indices(&evs, "gc_pause"), vec![5, 10, 15, 20]);
    let seqs: Vec<u64> = evs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    for e in &evs {
        assert!(e["duration_ns"].as_u64().unwrap() >= 20_000_000, "{e}");
        assert!(e["start_unix_ns"].as_u64().unwrap() > 1_600_000_000_000_000_000);
    }
    for i in [5, 10, 15, 20] {
        assert!(
            slow.contains(&i),
            "request {i} triggered a pause but was fast: slow = {slow:?}"
        );
    }
}

#[tokio::test]
async fn pause_stalls_in_flight_and_new_requests_for_its_duration() {
    let pause = Duration::from_millis(300);
    let mut cfg = config();
    cfg.settings.events.pause_every = 4;
    cfg.settings.events.pause_duration = pause;
    let server = start(cfg);
    let addr = server.addr();
    // Requests 1-3 are in flight (awaiting 100 ms of I/O) when request 4 stops the world.
    let mut in_flight = Vec::new();
    for _ in 0..3 {
        in_flight.push(tokio::spawn(async move {
            let c = client();
            let t0 = Instant::now();
            let r = add(&c, addr, "io=100ms", BODY).await;
            (r.status, t0.elapsed(), satlab_record::now_unix_ns())
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let trigger = tokio::spawn(async move { add(&client(), addr, "", BODY).await.status });
    tokio::time::sleep(Duration::from_millis(60)).await;
    // A new request arriving during the pause waits for its end too.
    let late = tokio::spawn(async move {
        let r = add(&client(), addr, "", BODY).await;
        (r.status, satlab_record::now_unix_ns())
    });
    assert_eq!(trigger.await.unwrap(), 200);
    let (late_status, late_done_ns) = late.await.unwrap();
    assert_eq!(late_status, 200);
    let evs = events(&client(), addr).await;
    assert_eq!(indices(&evs, "gc_pause"), vec![4]);
    let end_ns =
        evs[0]["start_unix_ns"].as_u64().unwrap() + evs[0]["duration_ns"].as_u64().unwrap();
    for h in in_flight {
        let (status, latency, done_ns) = h.await.unwrap();
        assert_eq!(status, 200);
        assert!(
            latency >= pause,
            "in-flight request took {latency:?}, less than the {pause:?} pause"
        );
        assert!(
            done_ns >= end_ns,
            "an in-flight request finished before the pause ended"
        );
    }
    assert!(
        late_done_ns >= end_ns,
        "a request sent during the pause finished before it ended"
    );
}

#[tokio::test]
async fn shedding_answers_429_above_the_bound_and_503_with_retry_after() {
    let mut cfg = config();
    cfg.settings.events.shed_above = 2;
    let server = start(cfg);
    let addr = server.addr();
    let burst = || async move {
        let hs: Vec<_> = (0..6)
            .map(|_| tokio::spawn(async move { add(&client(), addr, "io=300ms", BODY).await }))
            .collect();
        let mut out = Vec::new();
        for h in hs {
            out.push(h.await.unwrap());
        }
        out
    };
    let rs = burst().await;
    let ok = rs.iter().filter(|r| r.status == 200).count();
    let shed: Vec<_> = rs.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        (ok, shed.len()),
        (2, 4),
        "{:?}",
        rs.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(shed.iter().all(|r| r.code() == "overloaded"));
    let r = send(
        &client(),
        addr,
        "PUT",
        "/admin/config",
        &[("content-type", "application/json")],
        r#"{"events":{"shed_status":503}}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let rs = burst().await;
    let shed: Vec<_> = rs.iter().filter(|r| r.status == 503).collect();
    assert_eq!(shed.len(), 4);
    assert!(
        shed.iter()
            .all(|r| r.headers.get("retry-after").is_some_and(|v| v == "1"))
    );
    // Shed requests are not admitted: only the 4 served ones count.
    assert_eq!(server.stop().unwrap().admitted, 4);
}

#[tokio::test]
async fn pool_recycles_on_every_nth_use() {
    let mut cfg = config();
    cfg.pool_size = 2;
    cfg.settings.events.recycle_every = 3;
    cfg.settings.events.recycle_cost = Duration::from_millis(15);
    let server = start(cfg);
    let (c, addr) = (client(), server.addr());
    for _ in 0..7 {
        assert_eq!(add(&c, addr, "pool_hold=1ms", BODY).await.status, 200);
    }
    let evs = events(&c, addr).await;
    assert_eq!(indices(&evs, "pool_recycle"), vec![3, 6]);
    assert!(
        evs.iter()
            .all(|e| e["duration_ns"].as_u64().unwrap() >= 15_000_000)
    );
}

#[tokio::test]
async fn cpu_burst_repeats_on_its_period() {
    let mut cfg = config();
    cfg.settings.events.burst_every = Duration::from_millis(100);
    cfg.settings.events.burst_duration = Duration::from_millis(20);
    let server = start(cfg);
    tokio::time::sleep(Duration::from_millis(480)).await;
    let evs = events(&client(), server.addr()).await;
    let starts: Vec<u64> = evs
        .iter()
        .filter(|e| e["kind"] == "cpu_burst")
        .map(|e| e["start_unix_ns"].as_u64().unwrap())
        .collect();
    assert!(starts.len() >= 3, "only {} bursts in 480 ms", starts.len());
    for w in starts.windows(2) {
        let gap = Duration::from_nanos(w[1] - w[0]);
        assert!(gap >= Duration::from_millis(90), "bursts {gap:?} apart");
    }
    assert!(
        evs.iter()
            .all(|e| e["duration_ns"].as_u64().unwrap() >= 20_000_000
                && e["request_index"].is_null())
    );
}
