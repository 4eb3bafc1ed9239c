//! The HTTP API end to end: sums, the table of bad inputs, probes and the admin API.

mod common;

use common::{add, client, config, send, start};

/// (method, path, headers, body, expected status, expected error code)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    String,
    u16,
    &'a str,
);

#[tokio::test]
async fn adds_vectors_and_scalars() {
    let server = start(config());
    let c = client();
    let r = add(&c, server.addr(), "", r#"{"a":[1,2,3],"b":[4,5,6]}"#).await;
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"result":[5,7,9]}"#));
    assert_eq!(r.headers["content-type"], "application/json");
    let r = add(&c, server.addr(), "", r#"{"a":1,"b":2}"#).await;
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"result":3}"#));
    let report = server.stop().unwrap();
    assert_eq!(report.admitted, 2);
    assert!(report.drained);
}

#[tokio::test]
async fn table_of_bad_inputs() {
    let mut cfg = config();
    cfg.max_body = 1024;
    cfg.max_len = 8;
    let server = start(cfg);
    let addr = server.addr();
    let c = client();
    let json = [("content-type", "application/json")];
    let big = format!(r#"{{"a":[{}],"b":[1]}}"#, vec!["1"; 600].join(","));
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/vector/add",
            &json,
            "{".into(),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            "".into(),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            "\u{0}\u{1}garbage".into(),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/api/vector/add",
            &[],
            r#"{"a":1,"b":2}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/api/vector/add",
            &[("content-type", "text/plain")],
            r#"{"a":1,"b":2}"#.into(),
            415,
            "unsupported_media_type",
        ),
        ("POST", "/api/vector/add", &json, big, 413, "body_too_large"),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":[1,2],"b":[1]}"#.into(),
            422,
            "length_mismatch",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":[1,2,3,4,5,6,7,8,9],"b":[1,2,3,4,5,6,7,8,9]}"#.into(),
            422,
            "too_long",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":1e308,"b":1e308}"#.into(),
            422,
            "non_finite",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":[1e308],"b":[1e308]}"#.into(),
            422,
            "non_finite",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":[1],"b":1}"#.into(),
            422,
            "shape_mismatch",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"a":"x","b":1}"#.into(),
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/api/vector/add",
            &json,
            r#"{"b":1}"#.into(),
            422,
            "invalid_body",
        ),
        (
            "POST",
            "/api/vector/add?io=5parsecs",
            &json,
            r#"{"a":1,"b":2}"#.into(),
            400,
            "invalid_query",
        ),
        (
            "POST",
            "/api/vector/add?turbo=1",
            &json,
            r#"{"a":1,"b":2}"#.into(),
            400,
            "invalid_query",
        ),
        (
            "POST",
            "/api/vector/add?io=1m",
            &json,
            r#"{"a":1,"b":2}"#.into(),
            422,
            "over_cap",
        ),
        (
            "POST",
            "/api/vector/add?cpu=2s",
            &json,
            r#"{"a":1,"b":2}"#.into(),
            422,
            "over_cap",
        ),
        (
            "POST",
            "/api/vector/add?pool=1",
            &json,
            r#"{"a":1,"b":2}"#.into(),
            422,
            "no_pool",
        ),
        (
            "GET",
            "/api/vector/add",
            &[],
            "".into(),
            405,
            "method_not_allowed",
        ),
        ("GET", "/nope", &[], "".into(), 404, "not_found"),
    ];
    for (method, path, headers, body, status, code) in cases {
        let r = send(&c, addr, method, path, headers, body.clone()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{method} {path} {body:.60}: {}",
            r.body
        );
        assert_eq!(r.headers["content-type"], "application/json", "{path}");
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // The server is unharmed.
    assert_eq!(add(&c, addr, "", r#"{"a":1,"b":2}"#).await.status, 200);
}

#[tokio::test]
async fn body_over_the_limit_without_content_length_is_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cfg = config();
    cfg.max_body = 100;
    let server = start(cfg);
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let chunk = "x".repeat(150);
    let req = format!(
        "POST /api/vector/add HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    assert!(out.contains("body_too_large"));
}

#[tokio::test]
async fn probes() {
    let server = start(config());
    let c = client();
    let r = send(&c, server.addr(), "GET", "/healthz", &[], "").await;
    assert_eq!(r.status, 200);
    let r = send(&c, server.addr(), "GET", "/readyz", &[], "").await;
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ready"}"#));
}

#[tokio::test]
async fn admin_reads_merges_validates_and_applies() {
    let mut cfg = config();
    cfg.pool_size = 2;
    let server = start(cfg);
    let (c, addr) = (client(), server.addr());
    let r = send(&c, addr, "GET", "/admin/config", &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["events"]["pause_every"], 0);
    assert_eq!(v["fixed"]["pool_size"], 2);
    let json = [("content-type", "application/json")];
    let r = send(
        &c,
        addr,
        "PUT",
        "/admin/config",
        &json,
        r#"{"profile":{"io_delay":"30ms"}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["profile"]["io_delay"], "30ms");
    assert_eq!(
        v["events"]["shed_status"], 429,
        "untouched fields keep their values"
    );
    // Takes effect without a restart.
    let t0 = std::time::Instant::now();
    assert_eq!(
        common::add(&c, addr, "", r#"{"a":1,"b":2}"#).await.status,
        200
    );
    assert!(t0.elapsed() >= std::time::Duration::from_millis(30));
    for (bad, field) in [
        (r#"{"profile":{"io_delay":"11s"}}"#, "io_delay"),
        (r#"{"events":{"shed_status":500}}"#, "shed_status"),
        (r#"{"events":{"pause_every":10}}"#, "pause_duration"),
        (r#"{"events":{"warp":1}}"#, "warp"),
    ] {
        let r = send(&c, addr, "PUT", "/admin/config", &json, bad).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_settings"),
            "{bad}"
        );
        assert!(r.body.contains(field), "{bad}: {}", r.body);
    }
    let r = send(&c, addr, "PUT", "/admin/config", &json, "{oops").await;
    assert_eq!(r.status, 400);
    // A rejected update changed nothing.
    let r = send(&c, addr, "GET", "/admin/config", &[], "").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["profile"]["io_delay"], "30ms");
    assert_eq!(v["events"]["shed_status"], 429);
}

#[tokio::test]
async fn admin_token_is_required_when_set() {
    let mut cfg = config();
    cfg.admin_token = Some("s3cret".into());
    let server = start(cfg);
    let (c, addr) = (client(), server.addr());
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("s3cret"),
        Some("Bearer s3cret2"),
    ] {
        let h: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let r = send(&c, addr, "GET", "/admin/config", &h, "").await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{auth:?}"
        );
    }
    let r = send(
        &c,
        addr,
        "GET",
        "/admin/config",
        &[("authorization", "Bearer s3cret")],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        &c,
        addr,
        "PUT",
        "/admin/config",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(r.status, 401);
}

#[test]
fn non_loopback_listen_without_token_refuses_to_start() {
    let mut cfg = config();
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let err = target_api::ServerHandle::start(cfg, target_api::TelemetryConfig::default(), 1)
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("--admin-token"), "{err}");
}
