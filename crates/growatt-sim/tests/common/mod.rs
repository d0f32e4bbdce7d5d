//! What the simulator's HTTP tests share: a server on an ephemeral loopback port, a client that
//! never goes through a proxy, and requests whose answer is read as JSON.
#![allow(dead_code)] // each test file uses the part it needs

use std::net::SocketAddr;

use growatt_sim::{start, SimConfig, SimServer};
use serde_json::Value;

/// A simulator started with `cfg` on `127.0.0.1:0`.
pub async fn serve(cfg: SimConfig) -> SimServer {
    start(SocketAddr::from(([127, 0, 0, 1], 0)), cfg)
        .await
        .unwrap()
}

/// A client that never asks a proxy, whatever the environment says.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Sends `req`, with the `token` header when there is one, and reads the answer as JSON. Every
/// answer the simulator's API and controls give here is HTTP 200.
pub async fn json(req: reqwest::RequestBuilder, token: Option<&str>) -> Value {
    let req = match token {
        Some(t) => req.header("token", t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}
