//! Redirects where the API should answer: a login portal (every request answered 301, 302, 303,
//! 307 or 308 with its sign-in page, or with no page at all), or a site moved elsewhere. The
//! client never follows one (the token header would go along); a run, a verify and an account
//! pull all stop at their first answers and say that the address is not the OpenAPI, and where it
//! redirects, instead of spending every row's retries.

mod common;

use common::hostile::*;
use common::*;

/// A portal's sign-in page.
const LOGIN_PAGE: &str = "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action=\"/login\" method=\"post\"><input name=\"user\"><input name=\"password\" type=\"password\"></form></body></html>";

/// Where the portal sends every request.
const LOGIN: &str = "/login?next=%2Fv1%2Fdevice%2Fsn%2Fadd";

/// A world of `n` rows on plant 1 / user 1 (`DEV00000`…) whose runs use [`TOKEN`].
fn fleet(n: usize) -> TestEnv {
    let mut text = String::from("plant_id,sn,c_user_id\n");
    for i in 0..n {
        text.push_str(&format!("1,DEV{i:05},1\n"));
    }
    TestEnv::offline().with_token(TOKEN).with_fleet(text)
}

/// A server that answers every request with `status`, `location` and `body` (HTML).
async fn redirecting(status: u16, location: &'static str, body: &'static str) -> Hostile {
    Hostile::start(move |_| {
        let headers = [("Location", location), ("Content-Type", "text/html")];
        Act::Send(http(status, &headers, body.as_bytes()))
    })
    .await
}

/// The world's fleet run against `srv` at a fast pace with quick retries.
async fn run(env: &TestEnv, srv: &Hostile) -> std::process::Output {
    let args = flags("--rate 1000/s --backoff 1ms --timeout 2 --no-progress");
    env.run_at(&srv.base_url(), &args).await
}

/// A login portal in front of every request, by every redirect status, with its sign-in page:
/// 200 rows stop after a handful of requests, none written off as failed, and the message says
/// the address is not the OpenAPI and where it redirects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_login_page_is_not_the_openapi() {
    for status in [301, 302, 303, 307, 308] {
        let srv = redirecting(status, LOGIN, LOGIN_PAGE).await;
        let env = fleet(200);
        let out = run(&env, &srv).await;
        assert_exit(&out, 1);
        let to = format!("{}{LOGIN}", srv.base_url());
        assert_said(&out, &["not the OpenAPI", "redirect to", &to]);
        let n = srv.requests();
        assert!((5..=12).contains(&n), "{status}: {n} requests");
        assert!(
            whole_lines(&env.results).is_empty(),
            "{status}: no row ended"
        );
        assert_no_token("stderr", &stderr(&out));
    }
}

/// A redirect with no page at all, to a sign-in page on another host: the same diagnosis, and
/// nothing is sent there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_redirect_to_a_sign_in_elsewhere_is_not_the_openapi() {
    let elsewhere = Hostile::start(|_| envelope(0, "")).await;
    let to = format!("{}/signin?token={TOKEN}", elsewhere.base_url());
    let srv =
        Hostile::start(move |_| Act::Send(http(302, &[("Location", to.as_str())], b""))).await;
    let env = fleet(50);
    let out = run(&env, &srv).await;
    assert_exit(&out, 1);
    let said = format!("redirect to {}/signin", elsewhere.base_url());
    assert_said(&out, &["not the OpenAPI", &said]);
    assert_no_token("stderr", &stderr(&out));
    assert!(srv.requests() <= 12, "{} requests", srv.requests());
    assert_eq!(elsewhere.accepted(), 0, "the redirect was not followed");
}

/// A site moved to another address (a redirect to the API itself): still not followed, and the
/// run stops and names where it moved instead of failing every row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_the_target_is_named() {
    let second = Hostile::start(|_| envelope(0, "")).await;
    let target = format!("{}/v1/device/sn/add", second.base_url());
    let location = target.clone();
    let srv = Hostile::start(move |_| {
        let headers = [
            ("Location", location.as_str()),
            ("Content-Type", "text/html"),
        ];
        Act::Send(http(301, &headers, b"<html><body>Moved</body></html>"))
    })
    .await;
    let env = fleet(4);
    let out = run(&env, &srv).await;
    assert_exit(&out, 1);
    assert_said(&out, &["not the OpenAPI", &format!("redirect to {target}")]);
    assert!(
        whole_lines(&env.results).is_empty(),
        "the rows stay for the next run"
    );
    assert_eq!(second.requests(), 0, "the redirect was not followed");
    assert_eq!(second.accepted(), 0, "not even a connection");
    srv.assert_requests_proper();
}

/// `verify` and `account pull` behind the same portal stop at their first answer with the same
/// words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_account_pull_behind_a_login_redirect_say_so() {
    let srv = redirecting(302, LOGIN, LOGIN_PAGE).await;
    let mut env = fleet(0);
    env.results = env.write(
        "r.csv",
        "row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n\
         2,1,DEV00001,1,registered,0,,1,200,5,2026-11-25T00:00:00.000Z\n",
    );
    let base = srv.base_url();
    let out = env
        .bin(&[
            "verify",
            arg(&env.results),
            "--base-url",
            &base,
            "--backoff",
            "1ms",
        ])
        .output()
        .await;
    assert_exit(&out, 1);
    assert_said(&out, &["not the OpenAPI", "redirect to"]);
    let before = srv.requests();
    assert!(before <= 6, "{before} requests");

    let out = env.account_at("pull", &base, &[]).output().await;
    assert_exit(&out, 1);
    assert_said(&out, &["not the OpenAPI", "redirect to"]);
    assert_eq!(srv.requests(), before + 1, "one listing call");
}
