//! The Signzy face's OTP pair: send-otp (built-in and client templates, both number forms,
//! the text read back from the sandbox), verify-otp, superseding, expiry by the injected
//! clock, attempts, isolation between clients, and every error body exactly, with the
//! HTTP status equal to `error.status`.

use std::sync::Arc;

use reqwest::Response;
use ringproof_core::client::Product;
use ringproof_core::code::ScriptedCodeSource;
use ringproof_core::engine::ClientChange;
use serde_json::{Value, json};

use crate::helpers::{
    DownSender, Opts, TestApp, code_in, error_code, on_both_stores, pg_database, signzy_body as body,
    signzy_login as login, signzy_token as token,
};

const SEND: &str = "/api/v3/otp-verification/send-otp";
const VERIFY: &str = "/api/v3/otp-verification/verify-otp";
const TO: &str = "+14155550123";
const TO_HYPHEN: &str = "+1-4155550123";

fn sent() -> Value {
    json!({"result": {"status": 200, "statusDescription": "Success OTP Sent"}})
}

fn verified() -> Value {
    json!({"result": {"status": 200, "statusDescription": "OTP verified", "verified": true}})
}

fn error(message: &str, status: u16, kind: &str) -> Value {
    json!({"error": {"name": "Error", "message": message, "status": status, "reason": "error",
        "type": kind, "statusCode": status}})
}

/// `body` with ringproof's `error.field` naming the parameter at fault (docs/compat-signzy.md).
fn at(field: &str, mut body: Value) -> Value {
    body["error"]["field"] = json!(field);
    body
}

fn required(field: &str) -> Value {
    json!({"error": {"name": "Error", "message": format!("{field} is required"), "status": 400,
        "reason": "validation error", "type": "bad request", "statusCode": "400", "field": field}})
}

fn invalid_parameter(field: &str) -> Value {
    at(field, error("Parameter is invalid", 400, "conflict"))
}
fn invalid_number() -> Value {
    at(
        "phoneNumber",
        error("Mobile number is not valid/allowed", 400, "bad request"),
    )
}
fn customer_not_found() -> Value {
    at("clientId", error("Customer not found", 400, "bad request"))
}
fn no_custom_text() -> Value {
    at("customTextId", error("Custom text does not exist", 400, "bad request"))
}
fn invalid_otp() -> Value {
    at("otp", error("Invalid OTP", 400, "bad request"))
}
fn expired() -> Value {
    error("OTP expired", 400, "bad request")
}
fn exhausted() -> Value {
    error("Maximum OTP attempts exceeded", 429, "too many requests")
}
fn none_pending() -> Value {
    error("No OTP pending for this phone number", 404, "not found")
}

async fn send(app: &TestApp, token: &str, phone: &str, text_id: &str) -> Response {
    let b = json!({"clientId": app.client_id, "phoneNumber": phone, "channel": "smsOtp", "customTextId": text_id});
    app.post_as(token, SEND, &b).await
}

async fn verify(app: &TestApp, token: &str, phone: &str, otp: &str) -> Response {
    let b = json!({"clientId": app.client_id, "phoneNumber": phone, "otp": otp});
    app.post_as(token, VERIFY, &b).await
}

/// Delivers what is due and returns the newest SMS text to `TO`.
async fn last_text(app: &TestApp) -> String {
    app.drain().await;
    app.messages(TO).await[0]["text"].as_str().unwrap().to_owned()
}

async fn send_and_verify_with_builtin_and_client_templates(app: TestApp) {
    let t = login(&app).await;
    assert_eq!(body(send(&app, &t, TO_HYPHEN, "6").await, 200).await, sent());
    let text = last_text(&app).await;
    let code = code_in(&text);
    assert_eq!(code.len(), 6);
    assert_eq!(text, format!("Your OTP for verification is {code}"));
    // The other number form names the same number.
    assert_eq!(body(verify(&app, &t, TO, &code).await, 200).await, verified());
    // Single use.
    assert_eq!(body(verify(&app, &t, TO, &code).await, 404).await, none_pending());

    // A client template, set through the engine (the CLI's path): 4 digits, its own text.
    let id = app.demo_id();
    app.engine
        .set_otp_template(&id, "41", "Acme: Your OTP for login is ####")
        .await
        .unwrap();
    app.clock.advance_secs(1);
    assert_eq!(body(send(&app, &t, TO, "41").await, 200).await, sent());
    let text = last_text(&app).await;
    let code = code_in(&text);
    assert_eq!(code.len(), 4);
    assert_eq!(text, format!("Acme: Your OTP for login is {code}"));
    assert_eq!(body(verify(&app, &t, TO_HYPHEN, &code).await, 200).await, verified());

    // The other built-in lengths (ten minutes apart: one number gets 5 sends per 10 min).
    for (id, len) in [("4", 4), ("5", 5), ("7", 7), ("8", 8)] {
        app.clock.advance_secs(600);
        assert_eq!(body(send(&app, &t, TO, id).await, 200).await, sent());
        let text = last_text(&app).await;
        assert_eq!(code_in(&text).len(), len, "{id}");
        assert_eq!(text, format!("Your OTP for verification is {}", code_in(&text)));
    }
    app.stop().await;
}

on_both_stores!(send_and_verify, send_and_verify_with_builtin_and_client_templates);

#[tokio::test]
async fn send_otp_errors_have_the_seed_bodies_and_send_nothing() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let cid = app.client_id.clone();
    let full = json!({"clientId": cid, "phoneNumber": TO, "channel": "smsOtp", "customTextId": "6"});
    for field in ["clientId", "phoneNumber", "channel", "customTextId"] {
        for missing in [Value::Null, json!("")] {
            let mut b = full.clone();
            b[field] = missing;
            assert_eq!(body(app.post_as(&t, SEND, &b).await, 400).await, required(field));
        }
        let mut b = full.clone();
        b.as_object_mut().unwrap().remove(field);
        assert_eq!(body(app.post_as(&t, SEND, &b).await, 400).await, required(field));
        let mut b = full.clone();
        b[field] = json!(6);
        assert_eq!(
            body(app.post_as(&t, SEND, &b).await, 400).await,
            invalid_parameter(field)
        );
    }
    let with = |field: &str, v: &str| {
        let mut b = full.clone();
        b[field] = json!(v);
        b
    };
    let cases = [
        // Another client's id (or any other) is not this token's customer.
        (with("clientId", "0123456789abcdef01234567"), 400, customer_not_found()),
        (with("channel", "whatsappOtp"), 400, invalid_parameter("channel")),
        (with("channel", "smsotp"), 400, invalid_parameter("channel")),
        // Wrong length for +1; unknown calling code; not a number; no `+`.
        (with("phoneNumber", "+1-415555012"), 400, invalid_number()),
        (with("phoneNumber", "+999-123456789"), 400, invalid_number()),
        (with("phoneNumber", "+1-41555501ab"), 400, invalid_number()),
        (with("phoneNumber", "14155550123"), 400, invalid_number()),
        // In the seed's table but not a valid North American number (the seed's example).
        (with("phoneNumber", "+1-9907676111"), 400, invalid_number()),
        (with("customTextId", "3"), 400, no_custom_text()),
        (with("customTextId", "41"), 400, no_custom_text()),
    ];
    for (b, status, expected) in cases {
        assert_eq!(body(app.post_as(&t, SEND, &b).await, status).await, expected, "{b}");
    }
    // Not JSON; no token; a bad token.
    let r = app
        .http
        .post(format!("{}{SEND}", app.base))
        .header("authorization", &t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(body(r, 400).await, error("Request parse failure", 400, "conflict"));
    let r = app.post_anonymous(SEND, &full).await;
    assert_eq!(body(r, 401).await, json!({"message": "No API key found in request"}));
    let r = app.post_as(&app.auth(), SEND, &full).await;
    assert_eq!(
        body(r, 401).await["error"]["message"],
        "Invalid authentication credentials"
    );

    assert_eq!(app.drain().await, 0, "no SMS for a refused request");
    assert!(app.messages(TO).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn verify_otp_outcomes_are_distinct() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;

    // Nothing sent yet.
    assert_eq!(body(verify(&app, &t, TO, "123456").await, 404).await, none_pending());

    // Wrong codes count; the right one still works while attempts remain.
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(body(verify(&app, &t, TO, wrong).await, 400).await, invalid_otp());
    // A malformed otp is a parameter error and does not count.
    for bad in ["12ab56", "123", "12345678901", " 123456"] {
        assert_eq!(
            body(verify(&app, &t, TO, bad).await, 400).await,
            invalid_parameter("otp"),
            "{bad}"
        );
    }
    let b = json!({"clientId": app.client_id, "phoneNumber": TO, "otp": 123456});
    assert_eq!(
        body(app.post_as(&t, VERIFY, &b).await, 400).await,
        invalid_parameter("otp")
    );
    for field in ["clientId", "phoneNumber", "otp"] {
        let mut b = json!({"clientId": app.client_id, "phoneNumber": TO, "otp": code});
        b.as_object_mut().unwrap().remove(field);
        assert_eq!(body(app.post_as(&t, VERIFY, &b).await, 400).await, required(field));
    }
    let b = json!({"clientId": "0123456789abcdef01234567", "phoneNumber": TO, "otp": code});
    assert_eq!(body(app.post_as(&t, VERIFY, &b).await, 400).await, customer_not_found());
    assert_eq!(
        body(verify(&app, &t, "+1-415555012", &code).await, 400).await,
        invalid_number()
    );
    // Another (valid) number has nothing pending.
    assert_eq!(
        body(verify(&app, &t, "+14155550124", &code).await, 404).await,
        none_pending()
    );
    assert_eq!(body(verify(&app, &t, TO_HYPHEN, &code).await, 200).await, verified());

    // Attempts exhausted: 5 allowed (default policy); the 5th wrong one ends it, and then
    // even the right code is refused the same way.
    app.clock.advance_secs(1);
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        assert_eq!(body(verify(&app, &t, TO, wrong).await, 400).await, invalid_otp());
    }
    assert_eq!(body(verify(&app, &t, TO, wrong).await, 429).await, exhausted());
    assert_eq!(body(verify(&app, &t, TO, &code).await, 429).await, exhausted());

    // Expired: valid for 600 s (default policy).
    app.clock.advance_secs(1);
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    app.clock.advance_secs(599);
    app.clock.advance_secs(1);
    assert_eq!(body(verify(&app, &t, TO, &code).await, 400).await, expired());
    assert_eq!(body(verify(&app, &t, TO, &code).await, 400).await, expired());
    // A new OTP after those works.
    assert_eq!(body(send(&app, &t, TO, "4").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    assert_eq!(body(verify(&app, &t, TO, &code).await, 200).await, verified());
    app.stop().await;
}

#[tokio::test]
async fn expiry_is_exact() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    app.clock.advance_secs(599);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(body(verify(&app, &t, TO, wrong).await, 400).await, invalid_otp());
    app.clock.advance_secs(1);
    assert_eq!(body(verify(&app, &t, TO, &code).await, 400).await, expired());
    app.stop().await;
}

#[tokio::test]
async fn a_new_otp_supersedes_the_previous_one() {
    let codes = Arc::new(ScriptedCodeSource::new(["111111", "222222", "333333"]));
    let app = TestApp::spawn_with(Opts {
        codes: Some(codes),
        ..Opts::default()
    })
    .await;
    let t = login(&app).await;
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    assert_eq!(last_text(&app).await, "Your OTP for verification is 111111");
    app.clock.advance_secs(5);
    assert_eq!(body(send(&app, &t, TO_HYPHEN, "6").await, 200).await, sent());
    assert_eq!(last_text(&app).await, "Your OTP for verification is 222222");
    // The old code is now just a wrong code for the new OTP.
    assert_eq!(body(verify(&app, &t, TO, "111111").await, 400).await, invalid_otp());
    assert_eq!(body(verify(&app, &t, TO, "222222").await, 200).await, verified());
    assert_eq!(body(verify(&app, &t, TO, "111111").await, 404).await, none_pending());
    app.stop().await;
}

#[tokio::test]
async fn another_client_cannot_verify_this_clients_otp() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let other = app.engine.create_client("other", vec![]).await.unwrap();
    let ot = token(&app, &other.client.username, &other.password).await;

    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    // Naming this client with the other's token: not its customer.
    assert_eq!(
        body(verify(&app, &ot, TO, &code).await, 400).await,
        customer_not_found()
    );
    // Naming itself: it has nothing pending for the number, even with the right code.
    let b = json!({"clientId": other.client.id.as_str(), "phoneNumber": TO, "otp": code});
    assert_eq!(body(app.post_as(&ot, VERIFY, &b).await, 404).await, none_pending());
    // Nor can it send for this client, or supersede this client's OTP by sending its own.
    assert_eq!(body(send(&app, &ot, TO, "6").await, 400).await, customer_not_found());
    let b = json!({"clientId": other.client.id.as_str(), "phoneNumber": TO, "channel": "smsOtp", "customTextId": "6"});
    assert_eq!(body(app.post_as(&ot, SEND, &b).await, 200).await, sent());
    // None of that touched this client's OTP.
    assert_eq!(body(verify(&app, &t, TO, &code).await, 200).await, verified());
    app.stop().await;
}

/// The client's controls (`ringproof client update --disable-product/--block-number/
/// --test-mode/--allow-number`) refuse send-otp with Signzy's Send Link and Send OTP pages' bodies, before
/// anything is stored or sent.
#[tokio::test]
async fn client_controls_refuse_send_otp_with_the_seed_bodies_and_send_nothing() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    const OTHER: &str = "+14155550124";

    // The product switched off (the link product stays on).
    app.update_client(ClientChange {
        disable_products: vec![Product::NumberOtp],
        ..Default::default()
    })
    .await;
    assert_eq!(
        body(send(&app, &t, TO_HYPHEN, "6").await, 400).await,
        error("ApiClient or Operator not enabled for this service", 400, "conflict")
    );
    // Blocklisted (Signzy's Send OTP page's quirk: status 404, statusCode 200), in either number form.
    app.update_client(ClientChange {
        enable_products: vec![Product::NumberOtp],
        disable_products: vec![Product::Link],
        blocked_numbers: Some(vec![TO.into()]),
        ..Default::default()
    })
    .await;
    let blocked = json!({"error": {"name": "Error", "message": "Blocked phone number", "status": 404,
        "reason": "error", "type": "not found", "statusCode": 200}});
    assert_eq!(body(send(&app, &t, TO, "6").await, 404).await, blocked);
    assert_eq!(body(send(&app, &t, TO_HYPHEN, "6").await, 404).await, blocked);
    // Test mode: a number not on the allowlist.
    app.update_client(ClientChange {
        blocked_numbers: Some(vec![]),
        test_mode: Some(true),
        allowed_numbers: Some(vec![OTHER.into()]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        body(send(&app, &t, TO, "6").await, 403).await,
        error("Subscriber is not found on the required whitelist", 403, "conflict")
    );
    // Nothing was sent, and nothing is pending.
    app.drain().await;
    assert!(app.messages(TO).await.is_empty());
    assert_eq!(body(verify(&app, &t, TO, "123456").await, 404).await, none_pending());

    // The allowlisted number is served in test mode; the link product being off does not
    // matter to OTPs.
    assert_eq!(body(send(&app, &t, OTHER, "6").await, 200).await, sent());
    app.drain().await;
    assert_eq!(app.messages(OTHER).await.len(), 1);
    // Test mode off: every number again.
    app.update_client(ClientChange {
        test_mode: Some(false),
        ..Default::default()
    })
    .await;
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    app.stop().await;
}

/// The provider reports that nothing can be sent (`Sender::available` false, as a circuit
/// breaker with every route open would): send-otp answers Signzy's Send OTP page's "Upstream down" at
/// once and stores nothing; the native start answers 503 `upstream_down`.
#[tokio::test]
async fn send_otp_is_upstream_down_when_the_provider_is_unavailable() {
    let app = TestApp::spawn_with(Opts {
        sender: Some(Arc::new(DownSender)),
        ..Opts::default()
    })
    .await;
    let t = login(&app).await;
    let upstream_down = json!({"error": {"name": "Error", "message": "Upstream down", "status": 409,
        "reason": "error", "type": "conflict", "statusCode": 409}});
    assert_eq!(body(send(&app, &t, TO_HYPHEN, "6").await, 409).await, upstream_down);
    // Field errors still come first.
    let b = json!({"clientId": app.client_id, "phoneNumber": TO, "channel": "smsOtp"});
    assert_eq!(
        body(app.post_as(&t, SEND, &b).await, 400).await,
        required("customTextId")
    );
    // Nothing stored: no OTP pending, no job queued.
    assert_eq!(body(verify(&app, &t, TO, "123456").await, 404).await, none_pending());
    assert_eq!(app.job_counts().await, (0, 0, 0));
    // The native API: 503 upstream_down, nothing stored either.
    let r = app.post("/v1/verifications", &json!({"to": TO})).await;
    assert_eq!(error_code(r, 503).await, "upstream_down");
    let stats = app.job_stats().await;
    assert_eq!(stats.due, 0);
    app.stop().await;
}

/// A well-formed `otp` whose length is not the pending OTP's cannot be its code: 422
/// "Unprocessable entity" (Signzy's Send OTP page), and no attempt is counted; once the OTP has expired
/// the answer is "OTP expired" whatever the length.
#[tokio::test]
async fn an_otp_of_the_wrong_length_is_unprocessable_and_not_counted() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let unprocessable = json!({"error": {"name": "Error", "message": "Unprocessable entity", "status": 422,
        "reason": "error", "type": "unprocessable entity", "statusCode": 422, "field": "otp"}});
    assert_eq!(body(send(&app, &t, TO, "6").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    assert_eq!(code.len(), 6);
    // More than max_checks (5) of them: none counts.
    for bad in ["1234", "12345", "1234567", "12345678", "1234567890", "0000", "99999"] {
        assert_eq!(body(verify(&app, &t, TO, bad).await, 422).await, unprocessable, "{bad}");
    }
    assert_eq!(body(verify(&app, &t, TO_HYPHEN, &code).await, 200).await, verified());
    // Verified: nothing pending, whatever the length.
    assert_eq!(body(verify(&app, &t, TO, "1234").await, 404).await, none_pending());

    // A 4-digit template: a 6-digit guess is unprocessable, a wrong 4-digit one counts.
    assert_eq!(body(send(&app, &t, TO, "4").await, 200).await, sent());
    let code = code_in(&last_text(&app).await);
    assert_eq!(code.len(), 4);
    assert_eq!(body(verify(&app, &t, TO, "123456").await, 422).await, unprocessable);
    let wrong = if code == "0000" { "1111" } else { "0000" };
    assert_eq!(body(verify(&app, &t, TO, wrong).await, 400).await, invalid_otp());
    // Expired: the expiry answers, not the length.
    app.clock.advance_secs(600);
    assert_eq!(body(verify(&app, &t, TO, "123456").await, 400).await, expired());
    app.stop().await;
}

/// `signzy.request_timeout_ms`: a Signzy request past the deadline gets Signzy's Send Link page's 408
/// "Request timeout". With 1 ms, a login with the right password (an argon2id check of
/// tens of ms on a blocking thread) always runs past it. The native API has no such layer.
#[tokio::test]
async fn a_signzy_request_past_its_deadline_is_a_request_timeout() {
    let app = TestApp::spawn_with(Opts {
        signzy_request_timeout_ms: Some(1),
        ..Opts::default()
    })
    .await;
    let timeout = json!({"error": {"name": "Error", "message": "Request timeout", "status": 408,
        "reason": "error", "type": "conflict", "statusCode": 408}});
    let r = app
        .http
        .post(format!("{}/api/v3/patrons/login", app.base))
        .json(&json!({"username": app.username, "password": app.password}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-request-id").is_some());
    assert_eq!(body(r, 408).await, timeout);
    // The native face is not under the Signzy deadline.
    app.start_sms(TO).await;
    app.stop().await;
}

/// The database goes away under a running server (PostgreSQL: the test drops it): the face
/// answers Signzy's Send Link page's "Request cannot be processed at this time" (503, with Retry-After),
/// never a 500, and the native API its `service_unavailable`. Runs where PostgreSQL is
/// available (CI always).
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn a_lost_database_is_request_cannot_be_processed() {
    let db = pg_database().await;
    let app = TestApp::spawn_with(Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default()
    })
    .await;
    let t = login(&app).await;
    // Dropping the guard drops the database `WITH (FORCE)`.
    drop(db);

    let body_json = json!({"clientId": "000000000000000000000000", "phoneNumber": "+1-4155550123",
        "channel": "smsOtp", "customTextId": "6"});
    let r = app.post_as(&t, "/api/v3/otp-verification/send-otp", &body_json).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"name": "Error", "message": "Request cannot be processed at this time", "status": 503,
            "reason": "error", "type": "conflict", "statusCode": 503}})
    );
    let r = app.post("/v1/verifications", &json!({"to": "+14155550123"})).await;
    assert_eq!(crate::helpers::error_code(r, 503).await, "service_unavailable");
}
