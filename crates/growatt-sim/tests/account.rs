//! The account endpoints over HTTP: `plant/list` and `user/c_user_list` (paging, limits, the
//! daily cap and the simulated day), and `plant/sn_plant` (where a device sits, its cooldown).

mod common;

use growatt_sim::{
    Fixture, FixtureAccount, FixtureDevice, FixtureLocation, SimConfig, SimServer,
    DAILY_LISTING_CAP, DEFAULT_TOKEN,
};
use serde_json::Value;

use common::{client, json, serve};

/// The small world with a device on a previous owner's plant (`OLD0000001`), one associated
/// but nowhere to be found (`GONE000001`), and 250 extra plants: more than one page of plants.
async fn server() -> SimServer {
    let fixture = Fixture {
        devices: ["AAA0A0001A", "OLD0000001", "GONE000001"]
            .iter()
            .map(|sn| FixtureDevice {
                sn: sn.to_string(),
                online: true,
            })
            .collect(),
        associated: vec!["GONE000001".into()],
        account: FixtureAccount {
            located: vec![FixtureLocation {
                sn: "old0000001".into(),
                plant_id: 7777,
                user_id: 888,
            }],
            extra_plants: 250,
            extra_users: 0,
        },
        ..Fixture::small()
    };
    serve(SimConfig {
        fixture,
        ..SimConfig::default()
    })
    .await
}

async fn get(base: &str, path: &str) -> Value {
    json(client().get(format!("{base}{path}")), Some(DEFAULT_TOKEN)).await
}

async fn post(base: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let req = client().post(format!("{base}{path}")).form(form);
    json(req, Some(DEFAULT_TOKEN)).await
}

/// The code `sn/add` answers for the serial on the plant for the user.
async fn add(base: &str, plant_id: &str, sn: &str, c_user_id: &str) -> Value {
    let form = [("plant_id", plant_id), ("sn", sn), ("c_user_id", c_user_id)];
    post(base, "/v1/device/sn/add", &form).await["error_code"].clone()
}

#[tokio::test]
async fn plant_list_pages_with_owners_and_paging_limits() {
    let server = server().await;
    let base = server.base_url();
    let first = get(&base, "/v1/plant/list?page=1&perpage=100").await;
    assert_eq!(first["error_code"], 0);
    assert_eq!(first["data"]["count"], 252);
    let plants = first["data"]["plants"].as_array().unwrap();
    assert_eq!(plants.len(), 100);
    assert_eq!(plants[0]["plant_id"], 1001);
    assert_eq!(plants[0]["user_id"], 501, "the first user owns the plant");
    assert_eq!(plants[2]["plant_id"], 2_000_001);
    assert_eq!(
        plants[2]["user_id"], 501,
        "without extra users, the first user owns extras"
    );
    let last = get(&base, "/v1/plant/list?page=3&perpage=100").await;
    assert_eq!(last["data"]["plants"].as_array().unwrap().len(), 52);
    assert_eq!(
        get(&base, "/v1/plant/list?page=1&perpage=101").await["error_code"],
        10013
    );
    assert_eq!(
        get(&base, "/v1/plant/list?page=251&perpage=10").await["error_code"],
        10014
    );
    let users = get(&base, "/v1/user/c_user_list?page=1&perpage=100").await;
    assert_eq!(users["data"]["count"], 3);
    let ids: Vec<u64> = users["data"]["c_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["c_user_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [501, 502, 503]);
    // Extra plants exist for adds too.
    assert_eq!(add(&base, "2000250", "AAA0A0001A", "501").await, 0);
}

#[tokio::test]
async fn listings_allow_ten_calls_a_simulated_day_each() {
    let server = server().await;
    let base = server.base_url();
    for _ in 0..DAILY_LISTING_CAP {
        assert_eq!(
            get(&base, "/v1/plant/list?page=1&perpage=100").await["error_code"],
            0
        );
    }
    let over = get(&base, "/v1/plant/list?page=1&perpage=100").await;
    assert_eq!(over["error_code"], 10012);
    assert!(over["error_msg"].as_str().unwrap().contains("daily limit"));
    // The other listing has its own cap.
    assert_eq!(
        get(&base, "/v1/user/c_user_list?page=1").await["error_code"],
        0
    );
    let a = server.account_stats();
    assert_eq!(
        (a.plant_list_today, a.over_cap, a.user_list_today),
        (11, 1, 1)
    );
    assert_eq!(a.max_listing_calls_in_a_day, 11);

    // Over HTTP too: the next day starts the count over.
    let day = json(client().post(format!("{base}/__sim/next_day")), None).await;
    assert_eq!(day["day"], 1);
    assert_eq!(day["plant_list_today"], 0);
    assert_eq!(
        get(&base, "/v1/plant/list?page=2&perpage=100").await["error_code"],
        0
    );
    server.next_day();
    assert_eq!(server.account_stats().day, 2);
}

#[tokio::test]
async fn sn_plant_says_where_a_device_sits_once_per_cooldown() {
    let server = server().await;
    let base = server.base_url();
    // A device the fixture places on a previous owner's plant.
    let old = post(&base, "/v1/plant/sn_plant", &[("device_sn", "OLD0000001")]).await;
    assert_eq!(old["error_code"], 0);
    assert_eq!(old["data"]["plant"]["plant_id"], 7777);
    assert_eq!(old["data"]["plant"]["user_id"], 888);
    // The identical request within the cooldown is refused.
    let again = post(&base, "/v1/plant/sn_plant", &[("device_sn", "OLD0000001")]).await;
    assert_eq!(again["error_code"], 10012);
    // A device added here sits on the plant it was added to, with that plant's owner.
    assert_eq!(add(&base, "1001", "AAA0A0001A", "502").await, 0);
    let here = post(&base, "/v1/plant/sn_plant", &[("device_sn", "aaa0a0001a")]).await;
    assert_eq!(here["data"]["plant"]["plant_id"], 1001);
    assert_eq!(here["data"]["plant"]["user_id"], 501);
    // Associated without a known place, or unknown: 10005.
    let gone = post(&base, "/v1/plant/sn_plant", &[("device_sn", "GONE000001")]).await;
    assert_eq!(gone["error_code"], 10005);
    let none = post(&base, "/v1/plant/sn_plant", &[("device_sn", "NOPE")]).await;
    assert_eq!(none["error_code"], 10005);
    let a = server.account_stats();
    assert_eq!(a.sn_plant_per_sn.get("OLD0000001"), Some(&2));
    assert_eq!(a.sn_plant_too_soon, 1);
    // The located device counts as associated: adding it answers 10003.
    assert_eq!(add(&base, "1001", "OLD0000001", "501").await, 10003);
}
