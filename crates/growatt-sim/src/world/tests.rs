//! Unit tests of the world: the order of the add checks, linking, paging and the open world.

use super::*;

fn form(plant_id: Option<&str>, sn: Option<&str>, c_user_id: Option<&str>) -> AddForm {
    AddForm {
        plant_id: plant_id.map(str::to_string),
        sn: sn.map(str::to_string),
        c_user_id: c_user_id.map(str::to_string),
    }
}

/// An add's `(plant_id, sn, c_user_id)`, each `None` when not sent, and the code it is answered.
type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, i64);

/// Sends each add in turn and checks the code it is answered.
fn expect_codes(world: &mut World, cases: &[Case<'_>]) {
    for &(p, sn, u, code) in cases {
        assert_eq!(
            world.add(&form(p, sn, u), 0).code,
            code,
            "{p:?} {sn:?} {u:?}"
        );
    }
}

/// A `device/list` query for a plant's page.
fn page(plant_id: &str, page: &str, perpage: &str) -> ListQuery {
    ListQuery {
        plant_id: Some(plant_id.into()),
        page: Some(page.into()),
        perpage: Some(perpage.into()),
    }
}

#[test]
fn add_checks_run_in_the_servers_order() {
    let mut w = World::new(&Fixture::small(), 0);
    let good = Some("AAA0A0001A");
    let one = Some("1001");
    let user = Some("501");
    expect_codes(
        &mut w,
        &[
            // plant id empty wins over everything else
            (None, None, None, 10002),
            (Some("  "), good, user, 10002),
            // then the user id
            (one, good, None, 10006),
            (Some("abc"), None, Some(""), 10006),
            // then the plant
            (Some("abc"), good, user, 10004),
            (Some("1001.0"), good, user, 10004),
            (Some("9999"), None, user, 10004),
            // then the serial, one serial per call
            (one, None, user, 10002),
            (one, Some(""), user, 10002),
            (one, Some("AAA0A0001A,AAA0A0002B"), user, 10002),
            // then the user
            (one, good, Some("503"), 10005),
            (one, good, Some("501.0"), 10005),
            (one, good, Some("999"), 10005),
            // then the association
            (one, Some("AAA0A0003C"), user, 10003),
        ],
    );
    // The two meanings of 10002 carry their own words.
    assert_eq!(w.add(&form(Some(""), good, user), 0), PLANT_ID_EMPTY);
    assert_eq!(w.add(&form(one, Some("ZZZ"), Some("x")), 0), SN_WRONG);
    // none of the refusals associated anything
    assert!(w.by_plant.is_empty());
    expect_codes(
        &mut w,
        &[
            (Some(" 1001 "), good, Some("502 "), 0),
            (Some("1002"), good, Some("503"), 10003),
        ],
    );
}

#[test]
fn serials_match_case_insensitively() {
    let mut w = World::new(&Fixture::small(), 0);
    let (plant, user) = (Some("1002"), Some("503"));
    expect_codes(
        &mut w,
        &[
            (plant, Some("aaa0a0002b"), user, 0),
            (plant, Some("AAA0A0002B"), user, 10003),
            // the fixture's associated list is lower case, the device upper case
            (plant, Some("AAA0A0003C"), user, 10003),
        ],
    );
}

#[test]
fn offline_devices_link_after_the_delay_or_when_marked_online() {
    let mut w = World::new(&Fixture::small(), 0);
    w.link_delay_ms = Some(1000);
    let q = page("1001", "1", "100");
    let (plant, user) = (Some("1001"), Some("501"));
    // AAA0A0004D is offline in the fixture.
    let offline = (plant, Some("AAA0A0004D"), user, 0);
    expect_codes(&mut w, &[offline, (plant, Some("AAA0A0001A"), user, 0)]);
    assert_eq!(
        w.list(&q, 500).unwrap()["count"],
        1,
        "online device linked at once"
    );
    // A second add of the pending serial is still 'already associated'.
    expect_codes(&mut w, &[(plant, Some("AAA0A0004D"), user, 10003)]);
    assert_eq!(
        w.list(&q, 1500).unwrap()["count"],
        2,
        "linked once the delay passed"
    );

    let mut w = World::new(&Fixture::small(), 0);
    expect_codes(&mut w, &[offline]);
    assert_eq!(
        w.list(&q, u64::MAX / 2).unwrap()["count"],
        0,
        "no delay: waits"
    );
    assert!(w.bring_online("AAA0A0004D", 10));
    assert_eq!(w.list(&q, 11).unwrap()["count"], 1);
    assert!(!w.bring_online("NOSUCHSN", 10));
}

#[test]
fn list_pages_through_the_plants_devices() {
    let mut w = World::new(&Fixture::small(), 0);
    for sn in ["AAA0A0001A", "AAA0A0002B", "aaa0a0004d"] {
        expect_codes(&mut w, &[(Some("1001"), Some(sn), Some("501"), 0)]);
    }
    let q = page;
    // The offline device's association waits until it comes online.
    assert_eq!(w.list(&q("1001", "1", "100"), 0).unwrap()["count"], 2);
    assert!(w.bring_online("AAA0A0004D", 0));
    w.devices.get_mut("AAA0A0004D").unwrap().online = false;
    let data = w.list(&q("1001", "2", "2"), 0).unwrap();
    // As live: `count` counts devices, with no paging fields beside it.
    assert_eq!(data["count"], 3);
    assert_eq!(data.as_object().unwrap().len(), 2, "{data}");
    let devices = data["devices"].as_array().unwrap();
    // One device on the second page, listed twice: type 1, and type 4 with status -1.
    assert_eq!(devices.len(), 2);
    // listed with the fixture's spelling, offline devices shown as lost
    assert_eq!(devices[0]["device_sn"], "AAA0A0004D");
    assert_eq!(devices[0]["lost"], true);
    assert_eq!(devices[0]["status"], 0);
    assert_eq!(devices[0]["type"], 1);
    assert_eq!(devices[0]["last_update_time"], "1970-01-01 00:00:00");
    assert_eq!(devices[0]["device_id"], 0);
    assert_eq!(devices[0]["manufacturer"], "Growatt");
    assert_eq!(devices[1]["device_sn"], "AAA0A0004D");
    assert_eq!(devices[1]["type"], 4);
    assert_eq!(devices[1]["status"], -1);

    let first = w.list(&q("1001", "1", "100"), 0).unwrap();
    assert_eq!(first["devices"][0]["device_sn"], "AAA0A0001A");
    assert_eq!(first["devices"][0]["lost"], false);
    let empty = w.list(&q("1002", "1", "10"), 0).unwrap();
    assert_eq!(empty["count"].as_u64(), Some(0));
    assert_eq!(empty["devices"], serde_json::json!([]));

    assert_eq!(w.list(&q("1001", "1", "101"), 0), Err(PAGE_SIZE_TOO_BIG));
    assert_eq!(w.list(&q("1001", "251", "10"), 0), Err(PAGE_TOO_HIGH));
    assert_eq!(w.list(&q(" ", "1", "10"), 0), Err(PLANT_ID_EMPTY));
    assert_eq!(w.list(&ListQuery::default(), 0), Err(PLANT_ID_EMPTY));
    assert_eq!(w.list(&q("4242", "1", "10"), 0), Err(LIST_PLANT_MISSING));
    assert_eq!(
        w.list(&q("x", "1", "10"), 0).map_err(|a| a.code),
        Err(10003)
    );
}

#[test]
fn open_world_knows_every_numeric_plant_and_user_and_alphanumeric_serial() {
    let mut w = World::new(&Fixture::small(), 0);
    w.open_world = true;
    let one = Some("1");
    // Anything numeric / alphanumeric exists, online, and links at once; a second add is still
    // 'already associated'.
    expect_codes(
        &mut w,
        &[
            (Some("987654"), Some("ZX12345678"), Some("42"), 0),
            (one, Some("zx12345678"), Some("7"), 10003),
        ],
    );
    let listed = w.list(&page("987654", "1", "10"), 0).unwrap();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["devices"][0]["lost"], false);
    // The fixture still applies, and the other checks are unchanged.
    let five = Some("5");
    let sn = Some("ZX1");
    expect_codes(
        &mut w,
        &[
            (Some("1001"), Some("AAA0A0003C"), one, 10003),
            (five, Some("NOT-A-SN"), one, 10002),
            (five, Some(""), one, 10002),
            (Some("abc"), sn, one, 10004),
            (five, sn, Some("x1"), 10005),
            (Some(""), sn, one, 10002),
            (five, sn, None, 10006),
        ],
    );
    // A closed world (the default) knows only the fixture.
    let mut closed = World::new(&Fixture::small(), 0);
    expect_codes(
        &mut closed,
        &[
            (Some("987654"), Some("AAA0A0001A"), Some("42"), 10004),
            (Some("1001"), Some("ZX12345678"), Some("501"), 10002),
            (Some("1001"), Some("AAA0A0001A"), Some("42"), 10005),
        ],
    );
}

#[test]
fn dates_format_like_the_api() {
    assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
    assert_eq!(format_datetime(1_767_225_600_000), "2026-01-01 00:00:00");
    assert_eq!(format_datetime(1_709_217_045_999), "2024-02-29 14:30:45");
    assert_eq!(format_datetime(951_782_400_000), "2000-02-29 00:00:00");
    assert_eq!(format_datetime(253_402_300_799_999), "9999-12-31 23:59:59");
    assert_eq!(
        format_datetime(253_402_300_800_000),
        "",
        "past the year 9999"
    );
    assert_eq!(format_datetime(u64::MAX), "");
}
