//! The simulator over HTTP, from outside: envelopes, counters, throttling, hangs and latency.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use growatt_sim::{Fixture, SimConfig, Stats, DEFAULT_TOKEN};
use serde_json::{json, Value};

use common::{client, serve};

/// The small world: plants 1001 (users 501, 502) and 1002 (user 503), four devices of which
/// `AAA0A0004D` is offline, and `AAA0A0003C` associated beforehand.
fn cfg() -> SimConfig {
    SimConfig {
        fixture: Fixture::small(),
        ..SimConfig::default()
    }
}

async fn post_add(
    c: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    fields: &[(&str, &str)],
) -> Value {
    let req = c.post(format!("{base}/v1/device/sn/add")).form(fields);
    common::json(req, token).await
}

#[tokio::test]
async fn http_round_trip_and_stats() {
    let server = serve(cfg()).await;
    let base = server.base_url();
    assert_eq!(base, format!("http://127.0.0.1:{}", server.addr().port()));
    let c = client();
    let good = [
        ("plant_id", "1001"),
        ("sn", "AAA0A0001A"),
        ("c_user_id", "501"),
    ];

    let first = post_add(&c, &base, Some(DEFAULT_TOKEN), &good).await;
    // The vendor's documented add answer: no `data`, `error_msg` empty.
    assert_eq!(first, json!({"error_code": 0, "error_msg": ""}));
    let again = post_add(&c, &base, Some(DEFAULT_TOKEN), &good).await;
    assert_eq!(again["error_code"], 10003);
    assert_eq!(again["error_msg"], "device already exists");
    let anon = post_add(&c, &base, None, &good).await;
    assert_eq!(anon["error_code"], 10011);
    let wrong = post_add(&c, &base, Some("nope"), &good).await;
    assert_eq!(wrong["error_msg"], "error_permission_denied");

    let list_url = format!("{base}/v1/device/list?plant_id=1001&page=1&perpage=10");
    let list = common::json(c.get(list_url), Some(DEFAULT_TOKEN)).await;
    assert_eq!(list["error_code"], 0);
    assert_eq!(list["data"]["devices"][0]["device_sn"], "AAA0A0001A");
    assert!(list["data"]["devices"][0]["last_update_time"]
        .as_str()
        .unwrap()
        .starts_with("20"));

    let other = c.get(format!("{base}/v1/nothing")).send().await.unwrap();
    assert_eq!(other.status(), 404);

    let served = common::json(c.get(format!("{base}/__sim/stats")), None).await;
    let served: Stats = serde_json::from_value(served).unwrap();
    assert_eq!(served, server.stats());
    assert_eq!(served.requests, 6, "stats endpoint itself is not counted");
    assert_eq!(served.requests_per_sn.get("AAA0A0001A"), Some(&4));
    assert_eq!(served.adds_per_sn.get("AAA0A0001A"), Some(&1));
    assert_eq!(served.by_code.get("0"), Some(&2), "the add and the list");
    assert_eq!(served.by_code.get("10003"), Some(&1));
    assert_eq!(served.by_code.get("10011"), Some(&2));
    assert_eq!((served.missing_token, served.wrong_token), (1, 1));
    assert_eq!(served.per_second.iter().sum::<u64>(), 6);
    assert!(served.first_request_unix_ms <= served.last_request_unix_ms);
    assert!(served.max_in_flight >= 1);

    let addr = server.addr();
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed"
    );
}

#[tokio::test]
async fn stats_summary_counts_serials_instead_of_listing_them() {
    let server = serve(SimConfig {
        open_world: true,
        hang_rate: 1.0,
        hang: Duration::ZERO,
        ..cfg()
    })
    .await;
    let c = client();
    let base = server.base_url();
    for sn in ["SN1", "SN1", "SN2"] {
        let f = [("plant_id", "77"), ("sn", sn), ("c_user_id", "88")];
        post_add(&c, &base, Some(DEFAULT_TOKEN), &f).await;
    }
    let get = |q: &str| common::json(c.get(format!("{base}/__sim/stats{q}")), None);
    let s = get("?summary=1").await;
    assert_eq!(s["requests"], 3);
    assert_eq!(s["by_code"], json!({"0": 2, "10003": 1}));
    assert_eq!(s["hung"], 3);
    assert_eq!(s["serials_requested"], 2);
    assert_eq!(s["serials_added"], 2);
    assert_eq!(s["serials_requested_more_than_once"], 1);
    assert_eq!(s["duplicate_adds"], 0);
    assert!(s.get("requests_per_sn").is_none() && s.get("adds_per_sn").is_none());
    // The full form still has the maps, which the summary left in place.
    let full = get("").await;
    assert_eq!(full["requests_per_sn"], json!({"SN1": 2, "SN2": 1}));
    assert_eq!(full["adds_per_sn"], json!({"SN1": 1, "SN2": 1}));
    assert_eq!(get("?summary=0").await, full);
    server.shutdown().await;
}

/// Send raw bytes as one HTTP/1.1 request and return (status line, body).
async fn raw_request(addr: SocketAddr, request: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[tokio::test]
async fn broken_bodies_still_get_the_envelope() {
    let server = serve(cfg()).await;
    let body: &[u8] = b"plant_id=%%1001&sn=\xff\xfe&c_user_id";
    let mut req = format!(
        "POST /v1/device/sn/add HTTP/1.1\r\nHost: x\r\ntoken: {DEFAULT_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let (status, body) = raw_request(server.addr(), &req).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_code"], 10006, "c_user_id present but empty: {v}");
    // As live: an error carries `data: ""`.
    assert_eq!(v["data"], "");

    let req = "POST /v1/device/sn/add HTTP/1.1\r\nHost: x\r\ntoken: wrong\r\n\
               Content-Length: 0\r\nConnection: close\r\n\r\n";
    let (status, body) = raw_request(server.addr(), req.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_code"], 10011);
    assert_eq!(server.stats().wrong_token, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn throttle_over_http_answers_10012_in_the_body() {
    let server = serve(SimConfig {
        throttle_per_sec: Some(0.5),
        ..cfg()
    })
    .await;
    let c = client();
    let base = server.base_url();
    let f = [
        ("plant_id", "1002"),
        ("sn", "AAA0A0002B"),
        ("c_user_id", "503"),
    ];
    let codes: Vec<Value> =
        futures::future::join_all((0..3).map(|_| post_add(&c, &base, Some(DEFAULT_TOKEN), &f)))
            .await
            .into_iter()
            .map(|v| v["error_code"].clone())
            .collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 10012).count(),
        2,
        "{codes:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn hung_request_keeps_its_association_and_shutdown_is_prompt() {
    let server = serve(SimConfig {
        hang_rate: 1.0,
        hang: Duration::from_secs(600),
        ..cfg()
    })
    .await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = c
        .post(format!("{}/v1/device/sn/add", server.base_url()))
        .header("token", DEFAULT_TOKEN)
        .form(&[
            ("plant_id", "1001"),
            ("sn", "AAA0A0001A"),
            ("c_user_id", "501"),
        ])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let stats = server.stats();
    assert_eq!(stats.adds_per_sn.get("AAA0A0001A"), Some(&1));
    assert_eq!(stats.by_code.get("0"), Some(&1));

    // a second request is also held; shutdown must answer it rather than wait 600 s
    let base = server.base_url();
    let pending = tokio::spawn(async move {
        post_add(
            &client(),
            &base,
            Some(DEFAULT_TOKEN),
            &[
                ("plant_id", "1001"),
                ("sn", "aaa0a0001a"),
                ("c_user_id", "501"),
            ],
        )
        .await
    });
    while server.stats().requests < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = Instant::now();
    server.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let v = pending.await.unwrap();
    assert_eq!(
        v["error_code"], 10003,
        "the retry meets the earlier association"
    );
}

#[tokio::test]
async fn latency_delays_answers_and_overlaps_count_in_flight() {
    let server = serve(SimConfig {
        latency: Duration::from_millis(300),
        jitter: Duration::from_millis(50),
        ..cfg()
    })
    .await;
    let c = client();
    let base = server.base_url();
    let t = Instant::now();
    let answers = futures::future::join_all((0..3).map(|_| {
        post_add(
            &c,
            &base,
            Some(DEFAULT_TOKEN),
            &[("plant_id", "1001"), ("sn", "nope"), ("c_user_id", "501")],
        )
    }))
    .await;
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert!(answers.iter().all(|v| v["error_code"] == 10002));
    let stats = server.stats();
    assert_eq!(stats.max_in_flight, 3);
    assert_eq!(stats.max_in_one_second, 3);
    server.shutdown().await;
}
