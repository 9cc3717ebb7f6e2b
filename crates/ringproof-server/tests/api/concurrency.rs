//! 50 concurrent wrong checks on one verification, through HTTP, on both backends: the
//! verification's attempt counter and the number's guess budget (across verifications)
//! both hold under the burst.

use serde_json::{Value, json};

use crate::helpers::{Opts, TestApp, pg_database};

async fn fifty_wrong_checks(app: &TestApp) {
    let to = "+14155550123";
    let id = app.start_sms(to).await;
    app.drain().await;
    let code = app.last_code(to).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, url, auth) = (
            app.http.clone(),
            format!("{}/v1/verifications/{id}/check", app.base),
            app.auth(),
        );
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("authorization", auth)
                .json(&json!({"code": wrong}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut evaluated = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => evaluated.push(body["remaining_attempts"].as_u64().unwrap()),
            // Too late for the verification's attempts…
            409 => {
                assert_eq!(body["error"]["code"], "max_attempts_reached");
                refused += 1;
            }
            // …or for the number's guess budget (10 in flight at most): not evaluated.
            429 => {
                assert_eq!(body["error"]["code"], "guess_budget_exhausted");
                refused += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    evaluated.sort_unstable();
    assert_eq!(
        evaluated,
        [0, 1, 2, 3, 4],
        "exactly five checks evaluated, each seeing its own count"
    );
    assert_eq!(refused, 45);
    let r = app.check(&id, &code).await;
    assert_eq!(r.status(), 409, "the right code afterwards is rejected");
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "max_attempts_reached");
    assert_eq!(v["remaining_check_attempts"], 0);

    // The number's budget counted exactly the 5 wrong codes evaluated, not the refused
    // checks: a new verification to it gets 5 more wrong guesses this hour, then none.
    app.clock.advance_secs(600);
    let id = app.start_sms(to).await;
    for n in 0..5 {
        assert_eq!(app.check(&id, wrong).await.status(), 200, "wrong guess {}", 6 + n);
    }
    // Ten wrong codes in the hour: the number gets no new code until the window passes.
    let r = app
        .post("/v1/verifications", &json!({"to": to, "channel": "sms"}))
        .await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "guess_budget_exhausted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_wrong_checks_sqlite() {
    let app = TestApp::spawn().await;
    fifty_wrong_checks(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn fifty_concurrent_wrong_checks_postgres() {
    let app = TestApp::spawn_with(Opts {
        postgres: Some(pg_database().await),
        ..Opts::default()
    })
    .await;
    fifty_wrong_checks(&app).await;
}
