//! The Signzy face's authentication: login, the token on `/api/v3/patrons/me` in both
//! header forms, expiry, revocation, isolation, the lockout rule, and the exact error
//! bodies (HTTP status always equal to `error.status`).

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{T0, TestApp, signzy_body as body, signzy_token as token};

const ME: &str = "/api/v3/patrons/me";
const LOGIN: &str = "/api/v3/patrons/login";

fn invalid_credentials() -> Value {
    json!({"error": {"name": "Error", "message": "Invalid authentication credentials", "status": 401,
        "reason": "authentication error", "type": "bad request", "statusCode": 401}})
}

fn login_failed() -> Value {
    json!({"error": {"name": "Error", "message": "login failed", "status": 401,
        "reason": "authentication error", "type": "unauthorized", "statusCode": 401}})
}

async fn login(app: &TestApp, username: &str, password: &str) -> Response {
    app.http
        .post(format!("{}{LOGIN}", app.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestApp, auth: Option<&str>) -> Response {
    let mut req = app.http.get(format!("{}{ME}", app.base));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn login_gives_a_token_that_works_in_both_header_forms() {
    let app = TestApp::spawn().await;
    let r = login(&app, &app.username, &app.password).await;
    let v = body(r, 200).await;
    let t = v["id"].as_str().unwrap();
    assert_eq!(t.len(), 64);
    assert!(t.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(v["ttl"], 86400);
    assert_eq!(v["created"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["userId"], app.client_id.as_str());
    assert_eq!(v.as_object().unwrap().len(), 4, "{v}");

    let expected = json!({"userId": app.client_id, "name": "demo"});
    assert_eq!(body(me(&app, Some(t)).await, 200).await, expected);
    assert_eq!(body(me(&app, Some(&format!("Bearer {t}"))).await, 200).await, expected);
    // Each login is a new token; both work.
    let t2 = token(&app, &app.username, &app.password).await;
    assert_ne!(t, t2);
    assert_eq!(me(&app, Some(&t2)).await.status(), 200);
    // The native API's credentials are not a Signzy token.
    assert_eq!(
        body(me(&app, Some(&app.auth())).await, 401).await,
        invalid_credentials()
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_password_unknown_user_and_bad_tokens_get_the_exact_bodies() {
    let app = TestApp::spawn().await;
    assert_eq!(
        body(login(&app, &app.username, "wrong").await, 401).await,
        login_failed()
    );
    assert_eq!(
        body(login(&app, "nobody", &app.password).await, 401).await,
        login_failed()
    );
    for bad in ["x", "Bearer x", &"A".repeat(64), &format!("Bearer {}", "b".repeat(64))] {
        assert_eq!(
            body(me(&app, Some(bad)).await, 401).await,
            invalid_credentials(),
            "{bad}"
        );
    }
    let missing = json!({"message": "No API key found in request"});
    assert_eq!(body(me(&app, None).await, 401).await, missing);
    assert_eq!(body(me(&app, Some("")).await, 401).await, missing);
    assert_eq!(body(me(&app, Some("Bearer ")).await, 401).await, missing);
    app.stop().await;
}

#[tokio::test]
async fn a_token_is_its_clients_only() {
    let app = TestApp::spawn().await;
    let other = app.engine.create_client("Other Co", vec![]).await.unwrap();
    let ta = token(&app, &app.username, &app.password).await;
    let tb = token(&app, &other.client.username, &other.password).await;
    let a = body(me(&app, Some(&ta)).await, 200).await;
    let b = body(me(&app, Some(&tb)).await, 200).await;
    assert_eq!(a["userId"], app.client_id.as_str());
    assert_eq!(b["userId"], other.client.id.as_str());
    assert_eq!(b["name"], "Other Co");
    // A's password does not log in as B.
    assert_eq!(login(&app, &other.client.username, &app.password).await.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn tokens_expire_after_the_ttl() {
    let app = TestApp::spawn().await;
    let t = token(&app, &app.username, &app.password).await;
    app.clock.set(T0.plus_secs(86_399));
    assert_eq!(me(&app, Some(&t)).await.status(), 200);
    app.clock.set(T0.plus_secs(86_400));
    assert_eq!(body(me(&app, Some(&t)).await, 401).await, invalid_credentials());
    app.stop().await;
}

#[tokio::test]
async fn revoking_ends_every_token_of_the_client_only() {
    let app = TestApp::spawn().await;
    let other = app.engine.create_client("Other Co", vec![]).await.unwrap();
    let t1 = token(&app, &app.username, &app.password).await;
    let t2 = token(&app, &app.username, &app.password).await;
    let tb = token(&app, &other.client.username, &other.password).await;
    let id = app.demo_id();
    assert_eq!(app.engine.revoke_tokens(&id).await.unwrap(), 2);
    for t in [&t1, &t2] {
        assert_eq!(body(me(&app, Some(t)).await, 401).await, invalid_credentials());
    }
    assert_eq!(me(&app, Some(&tb)).await.status(), 200);
    // A fresh login works again.
    let t3 = token(&app, &app.username, &app.password).await;
    assert_eq!(me(&app, Some(&t3)).await.status(), 200);
    app.stop().await;
}

async fn refused(r: Response, retry_after: &str, locked: bool) {
    assert_eq!(r.headers()["retry-after"], retry_after);
    let v = body(r, 429).await;
    let message = if locked {
        "Too many failed login attempts; login is locked for 15 minutes"
    } else {
        "Too many failed login attempts; retry later"
    };
    assert_eq!(
        v,
        json!({"error": {"name": "Error", "message": message, "status": 429, "reason": "rate limit",
            "type": "too many requests", "statusCode": 429}})
    );
}

#[tokio::test]
async fn repeated_failures_slow_down_then_lock_and_success_resets() {
    let app = TestApp::spawn().await;
    let (user, pw) = (app.username.clone(), app.password.clone());
    for _ in 0..5 {
        assert_eq!(login(&app, &user, "wrong").await.status(), 401);
    }
    // Refused without a password check: even the right password is refused now.
    refused(login(&app, &user, &pw).await, "1", false).await;
    app.clock.advance_secs(1);
    assert_eq!(login(&app, &user, "wrong").await.status(), 401); // 6th
    refused(login(&app, &user, "wrong").await, "2", false).await;
    app.clock.advance_secs(1);
    refused(login(&app, &user, &pw).await, "1", false).await;
    app.clock.advance_secs(1);
    assert_eq!(login(&app, &user, "wrong").await.status(), 401); // 7th
    refused(login(&app, &user, "wrong").await, "4", false).await;
    for wait in [4, 8, 16] {
        app.clock.advance_secs(wait);
        assert_eq!(login(&app, &user, "wrong").await.status(), 401); // 8th, 9th, 10th
    }
    // Ten failures: locked for 15 minutes, the right password included.
    refused(login(&app, &user, &pw).await, "900", true).await;
    app.clock.advance_secs(899);
    refused(login(&app, &user, &pw).await, "1", true).await;
    app.clock.advance_secs(1);
    // The lock is over; a success resets the count.
    assert_eq!(login(&app, &user, &pw).await.status(), 200);
    for _ in 0..5 {
        assert_eq!(login(&app, &user, "wrong").await.status(), 401);
    }
    refused(login(&app, &user, &pw).await, "1", false).await;

    // Unknown usernames are counted the same way: probing reveals nothing.
    for _ in 0..5 {
        assert_eq!(body(login(&app, "ghost", "x").await, 401).await, login_failed());
    }
    refused(login(&app, "ghost", "x").await, "1", false).await;
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_only_the_checks_the_rule_allows() {
    let app = TestApp::spawn().await;
    let (user, pw) = (app.username.clone(), app.password.clone());
    // 20 wrong passwords at once, at one clock instant: 5 are checked (and fail), 15 are
    // refused without a check.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (http, url, user) = (app.http.clone(), format!("{}{LOGIN}", app.base), user.clone());
            tokio::spawn(async move {
                http.post(url)
                    .json(&json!({"username": user, "password": "wrong"}))
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let (mut failed, mut refused_n) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status().as_u16() {
            401 => {
                assert_eq!(body(r, 401).await, login_failed());
                failed += 1;
            }
            429 => {
                refused(r, "1", false).await;
                refused_n += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((failed, refused_n), (5, 15));
    // At the same instant even the right password is refused, unchecked.
    refused(login(&app, &user, &pw).await, "1", false).await;
    app.clock.advance_secs(1);
    assert_eq!(login(&app, &user, &pw).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_the_400_envelope() {
    let app = TestApp::spawn().await;
    let parse_failure = json!({"error": {"name": "Error", "message": "Request parse failure", "status": 400,
        "reason": "error", "type": "conflict", "statusCode": 400}});
    for raw in ["{not json", "[1,2]", "", "\"str\""] {
        let r = app
            .http
            .post(format!("{}{LOGIN}", app.base))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(body(r, 400).await, parse_failure, "{raw:?}");
    }
    let required = |f: &str| {
        json!({"error": {"name": "Error", "message": format!("{f} is required"), "status": 400,
            "reason": "validation error", "type": "bad request", "statusCode": "400", "field": f}})
    };
    for (b, field) in [
        (json!({"password": "x"}), "username"),
        (json!({"username": "", "password": "x"}), "username"),
        (json!({"username": "demo"}), "password"),
        (json!({"username": "demo", "password": null}), "password"),
    ] {
        let r = app.post_anonymous(LOGIN, &b).await;
        assert_eq!(body(r, 400).await, required(field), "{b}");
    }
    let r = app
        .http
        .post(format!("{}{LOGIN}", app.base))
        .json(&json!({"username": 5, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(r, 400).await,
        json!({"error": {"name": "Error", "message": "Parameter is invalid", "status": 400,
            "reason": "error", "type": "conflict", "statusCode": 400, "field": "username"}})
    );
    let r = app
        .http
        .post(format!("{}{LOGIN}", app.base))
        .header("content-type", "application/json")
        .body(format!("{{\"username\":\"{}\"}}", "a".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r, 413).await["error"]["message"], "Request body too large");
    // None of these counted as a failed login.
    assert_eq!(login(&app, &app.username, &app.password).await.status(), 200);
    app.stop().await;
}
