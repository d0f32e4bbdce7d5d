//! The simulator answers in the shapes the live server was recorded sending: JSON labelled
//! `text/html;charset=UTF-8`, `data: ""` on errors, `error_msg: ""` on success, each device
//! listed twice (type 1 and type 4) with `count` counting devices, and `plant/list`
//! Brotli-compressed when the client accepts it and the flag is on.

mod common;

use std::io::Read;
use std::time::Duration;

use growatt_sim::{SimConfig, ThrottleModel, DEFAULT_TOKEN};
use serde_json::{json, Value};

use common::{client, serve};

/// Status, content type, content encoding and raw body of a request.
async fn raw(req: reqwest::RequestBuilder) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let resp = req.header("token", DEFAULT_TOKEN).send().await.unwrap();
    let header = |name| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let ct = header(reqwest::header::CONTENT_TYPE);
    let ce = header(reqwest::header::CONTENT_ENCODING);
    let status = resp.status().as_u16();
    (status, ct, ce, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn envelopes_are_labelled_and_shaped_as_live() {
    let server = serve(SimConfig {
        throttle_model: ThrottleModel::Cooldown,
        cooldown: Duration::from_secs(300),
        ..SimConfig::default()
    })
    .await;
    let base = server.base_url();
    let c = client();
    let f = growatt_sim::Fixture::builtin();
    let plant = f.plants[0].plant_id.to_string();
    let user = f.plants[0].c_user_ids[0].to_string();
    let sn = f
        .devices
        .iter()
        .find(|d| d.online && !f.associated.contains(&d.sn))
        .unwrap()
        .sn
        .clone();
    let form = [
        ("plant_id", plant.as_str()),
        ("sn", sn.as_str()),
        ("c_user_id", user.as_str()),
    ];
    let add = || c.post(format!("{base}/v1/device/sn/add")).form(&form);

    let (status, ct, _, body) = raw(add()).await;
    assert_eq!(status, 200);
    assert_eq!(ct.as_deref(), Some("text/html;charset=UTF-8"));
    assert_eq!(body, br#"{"error_code":0,"error_msg":""}"#);

    // The identical request within the cooldown: the recorded 10012 body, byte for byte.
    let (status, ct, _, body) = raw(add()).await;
    assert_eq!(status, 200);
    assert_eq!(ct.as_deref(), Some("text/html;charset=UTF-8"));
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"error_msg":"error_frequently_access","data":"","error_code":10012}"#
    );

    // Another error: `data: ""`, in the live key order.
    let (_, _, _, body) = raw(c.get(format!("{base}/v1/device/list?plant_id=999999999"))).await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(r#"{"error_msg":"#), "{text}");
    assert!(
        text.ends_with(r#","data":"","error_code":10003}"#),
        "{text}"
    );

    // A success with data: `error_msg: ""`, then the data.
    let (_, ct, _, body) = raw(c.get(format!(
        "{base}/v1/device/list?plant_id={plant}&page=1&perpage=100"
    )))
    .await;
    assert_eq!(ct.as_deref(), Some("text/html;charset=UTF-8"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with(r#"{"error_msg":"","data":{"#), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn device_list_lists_each_device_twice_and_counts_devices() {
    let server = serve(SimConfig::default()).await;
    let base = server.base_url();
    let c = client();
    let f = growatt_sim::Fixture::builtin();
    let plant = f.plants[0].plant_id;
    let user = f.plants[0].c_user_ids[0].to_string();
    let online: Vec<String> = f
        .devices
        .iter()
        .filter(|d| d.online && !f.associated.contains(&d.sn))
        .take(3)
        .map(|d| d.sn.clone())
        .collect();
    for sn in &online {
        let form = [
            ("plant_id", plant.to_string()),
            ("sn", sn.clone()),
            ("c_user_id", user.clone()),
        ];
        let (_, _, _, body) = raw(c.post(format!("{base}/v1/device/sn/add")).form(&form)).await;
        assert_eq!(body, br#"{"error_code":0,"error_msg":""}"#);
    }
    let (_, _, _, body) = raw(c.get(format!(
        "{base}/v1/device/list?plant_id={plant}&page=1&perpage=2"
    )))
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let data = &v["data"];
    assert_eq!(data["count"], 3, "devices, not rows: {v}");
    let rows = data["devices"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "two devices a page, two rows each: {v}");
    for pair in rows.chunks(2) {
        assert_eq!(pair[0]["device_sn"], pair[1]["device_sn"]);
        assert_eq!((&pair[0]["type"], &pair[1]["type"]), (&json!(1), &json!(4)));
        assert_eq!(pair[1]["status"], -1);
        assert_eq!(pair[0]["status"], 1, "online");
        for key in [
            "datalogger_sn",
            "model",
            "manufacturer",
            "device_id",
            "lost",
        ] {
            assert!(pair[0].get(key).is_some(), "{key} missing: {v}");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn plant_list_is_brotli_compressed_when_asked_and_the_flag_is_on() {
    let path = "/v1/plant/list?page=1&perpage=100";
    let server = serve(SimConfig {
        brotli_plant_list: true,
        ..SimConfig::default()
    })
    .await;
    let base = server.base_url();
    let c = client();
    let (_, ct, ce, body) = raw(c
        .get(format!("{base}{path}"))
        .header("Accept-Encoding", "gzip, deflate, br"))
    .await;
    assert_eq!(ct.as_deref(), Some("text/html;charset=UTF-8"));
    assert_eq!(ce.as_deref(), Some("br"));
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "compressed"
    );
    let mut text = String::new();
    brotli::Decompressor::new(&body[..], 4096)
        .read_to_string(&mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error_code"], 0);
    assert!(v["data"]["plants"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));

    // Not asked: plain JSON. Other endpoints are never compressed.
    let (_, _, ce, body) = raw(c.get(format!("{base}{path}"))).await;
    assert_eq!(ce, None);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error_code"],
        0
    );
    let (_, _, ce, _) = raw(c
        .get(format!("{base}/v1/user/c_user_list?page=1&perpage=100"))
        .header("Accept-Encoding", "br"))
    .await;
    assert_eq!(ce, None);
    server.shutdown().await;

    // The flag off (the default): never compressed, even when asked.
    let server = serve(SimConfig::default()).await;
    let (_, _, ce, _) = raw(client()
        .get(format!("{}{path}", server.base_url()))
        .header("Accept-Encoding", "br"))
    .await;
    assert_eq!(ce, None);
    server.shutdown().await;
}
