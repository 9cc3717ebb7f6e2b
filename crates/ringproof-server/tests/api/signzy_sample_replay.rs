//! Each sample request of Signzy's reference pages (docs/compat-signzy.md: Send Link for
//! send-instant-link, Check Link Status for poll-check-verify, Send OTP for send-otp, and
//! the VFP exchange of DESIGN.md) replayed against the real server with only the base URL
//! changed (plus the substitutions noted at each step), checking that the response has
//! exactly the page sample's shape: the same keys and the same JSON types. The pages' sample
//! error bodies that a sample request itself produces (a placeholder left in, a field left
//! out) are checked word for word, with one documented exception: ringproof's `error.field`
//! (docs/compat-signzy.md, "Error bodies"), which [`seed_body`] asserts and takes out
//! before the comparison. No other difference passes.

use ringproof_core::engine::ClientChange;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_both_stores, signzy_body as body, signzy_login as login};

const SEND: &str = "/api/v3/us-kyc/send-instant-link";
const RESULT: &str = "/api/v3/us-kyc/instant-link-result";
const SEND_OTP: &str = "/api/v3/otp-verification/send-otp";

/// Every leaf replaced by its JSON type name; objects and arrays keep their structure.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Asserts that `got` has the page sample's shape.
fn assert_shape(got: &Value, sample: &Value) {
    assert_eq!(shape(got), shape(sample), "response {got} vs page sample {sample}");
}

/// Signzy's Send Link page's sample request body (camelCase restored from the parameter table).
fn sample_send_link_body() -> Value {
    json!({"targetUrl": "https://www.google.com", "mobileNumber": "2001001686", "countryCode": "US"})
}

/// Signzy's Send Link page's sample response.
fn sample_send_link_response() -> Value {
    json!({"result": {"requestId": "f64d44f8-3b0c-449c-8b79-9e2bbe0b2f3b",
        "sessionId": "f64d44f8-3b0c-449c-8b79-9e2bbe0b2f3b"}})
}

/// Signzy's Check Link Status page's sample response after the click.
fn sample_final_result() -> Value {
    json!({"result": {"transactionId": "12225083692", "carrier": "T-Mobile USA", "lineType": "mobile",
        "countryCode": "US", "linkClicked": true, "phoneMatch": "indeterminate",
        "sessionId": "646214d929c23b4d42c1fc39", "ipAddressMatch": true, "_id": "6462150e29c23b4d42352a63"}})
}

/// Signzy's Check Link Status page's intermediate response (till the link is clicked).
fn sample_waiting() -> Value {
    json!({"result": {"message": "Please wait for sometime"}})
}

/// Signzy's Send OTP page's sample success response.
fn sample_otp_sent() -> Value {
    json!({"result": {"status": 200, "statusDescription": "Success OTP Sent"}})
}

/// The response as the page shows it: ringproof's one addition, `error.field`, asserted to
/// name `field` (or to be absent for `None`) and taken out. The rest must then equal the
/// page's body exactly.
fn seed_body(mut got: Value, field: Option<&str>) -> Value {
    let added = got
        .get_mut("error")
        .and_then(Value::as_object_mut)
        .and_then(|e| e.remove("field"));
    assert_eq!(added, field.map(|f| json!(f)), "error.field in {got}");
    got
}

fn required(field: &str) -> Value {
    json!({"error": {"name": "Error", "message": format!("{field} is required"), "status": 400,
        "reason": "validation error", "type": "bad request", "statusCode": "400"}})
}

fn error(message: &str, status: u16, kind: &str, status_code: u16) -> Value {
    json!({"error": {"name": "Error", "message": message, "status": status, "reason": "error",
        "type": kind, "statusCode": status_code}})
}

fn pattern(param: &str) -> Value {
    json!({"error": {"statusCode": 400,
        "message": format!("params {param} should match pattern \"^[0-9a-fA-F]{{24}}$\""),
        "status": 400, "reason": "Bad Request", "type": "Bad Request"}})
}

fn poll_path(request_id: &str, session_id: &str) -> String {
    format!("/api/v3/us-kyc/poll-check-verify/request/{request_id}/session/{session_id}")
}

/// Adds the page's target origin to the demo client's allowed origins.
async fn allow_sample_target(app: &TestApp) {
    let id = app.demo_id();
    let mut origins = app
        .engine
        .store()
        .client_by_id(&id)
        .await
        .unwrap()
        .unwrap()
        .allowed_origins;
    origins.push("https://www.google.com".into());
    app.engine
        .update_client(
            &id,
            ClientChange {
                allowed_origins: Some(origins),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn replay_instant_link(app: TestApp) {
    let t = login(&app).await;
    allow_sample_target(&app).await;

    // The curl exactly, `Authorization: <auth token>` placeholder included: Signzy's Check Link Status page's 401.
    assert_eq!(
        seed_body(
            body(app.post_as("<auth token>", SEND, &sample_send_link_body()).await, 401).await,
            None
        ),
        json!({"error": {"name": "Error", "message": "Invalid authentication credentials", "status": 401,
            "reason": "authentication error", "type": "bad request", "statusCode": 401}})
    );

    // Signzy's Send Link page's sample errors, each from the sample body with that field left out.
    for field in ["targetUrl", "mobileNumber", "countryCode"] {
        let mut b = sample_send_link_body();
        b.as_object_mut().unwrap().remove(field);
        assert_eq!(
            seed_body(body(app.post_as(&t, SEND, &b).await, 400).await, Some(field)),
            required(field),
            "{field}"
        );
    }

    // The sample body as is: its number 2001001686 has no area code 200, so the number plan
    // refuses it (documented in docs/compat-signzy.md) with Signzy's Send Link page's body (listed under
    // "404" but with status 400; we follow the body).
    assert_eq!(
        seed_body(
            body(app.post_as(&t, SEND, &sample_send_link_body()).await, 400).await,
            Some("mobileNumber")
        ),
        error("Not a valid or active number", 400, "conflict", 400)
    );

    // Substitution: mobileNumber 2001001686 → 4155550100, the sandbox's active mobile
    // (the page's number is not a valid number of the plan, above). Everything else as the
    // page's sample, targetUrl https://www.google.com included.
    const MOBILE: &str = "4155550100";
    let mut b = sample_send_link_body();
    b["mobileNumber"] = json!(MOBILE);
    let sent = body(app.post_as(&t, SEND, &b).await, 200).await;
    assert_shape(&sent, &sample_send_link_response());
    let rid = sent["result"]["requestId"].as_str().unwrap().to_owned();
    let sid = sent["result"]["sessionId"].as_str().unwrap().to_owned();

    // Signzy's Check Link Status page's curl with its `:requestId` / `:sessionId` placeholders left in: the
    // pattern errors, word for word (requestId is checked first).
    assert_eq!(
        seed_body(
            body(app.get_as(&t, &poll_path(":requestId", ":sessionId")).await, 400).await,
            Some("requestId")
        ),
        pattern("requestId")
    );
    assert_eq!(
        seed_body(
            body(app.get_as(&t, &poll_path(&rid, ":sessionId")).await, 400).await,
            Some("sessionId")
        ),
        pattern("sessionId")
    );
    // Signzy's Check Link Status page's sample ids belong to no session of ours.
    assert_eq!(
        seed_body(
            body(
                app.get_as(&t, &poll_path("6462150e29c23b4d42352a63", "646214d929c23b4d42c1fc39"))
                    .await,
                401
            )
            .await,
            None
        ),
        error("Invalid requestId or sessionId", 401, "unauthorized", 500)
    );

    // Signzy's Check Link Status page with the ids our send returned: waiting until the click (exact body).
    let waiting = body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await;
    assert_shape(&waiting, &sample_waiting());
    assert_eq!(waiting, sample_waiting());

    // The click: the SMS's /l/{token} page, its confirm POST (303 to the page's target
    // with `vfp`).
    app.drain().await;
    let text = app.messages(&format!("+1{MOBILE}")).await[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = text.rsplit(' ').next().unwrap().to_owned();
    assert!(url.contains("/l/"), "{text}");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(browser.get(&url).send().await.unwrap().status(), 200);
    app.clock.advance_secs(15);
    let r = browser.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let vfp = location
        .strip_prefix("https://www.google.com?vfp=")
        .unwrap_or_else(|| panic!("{location}"))
        .to_owned();

    // Signzy's Check Link Status page after the click: the final result's shape.
    let polled = body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await;
    assert_shape(&polled, &sample_final_result());
    assert_eq!(polled["result"]["_id"], json!(rid));
    assert_eq!(polled["result"]["sessionId"], json!(sid));
    assert_eq!(polled["result"]["linkClicked"], json!(true));

    // instant-link-result (DESIGN.md) with the VFP of the click: the same final result.
    let exchanged = body(app.post_as(&t, RESULT, &json!({"vfp": vfp})).await, 200).await;
    assert_shape(&exchanged, &sample_final_result());
    assert_eq!(exchanged, polled);
    app.stop().await;
}

on_both_stores!(send_link_and_check_link_status_pages_replay, replay_instant_link);

/// Signzy's Send OTP page's sample request body (camelCase restored; its masked number as printed).
fn sample_send_otp_body() -> Value {
    json!({"clientId": "64c1115454eb66846d026abf", "phoneNumber": "+1-99XXXXXXX1", "channel": "smsOtp",
        "customTextId": "6"})
}

async fn replay_send_otp(app: TestApp) {
    let t = login(&app).await;
    let invalid_number = error("Mobile number is not valid/allowed", 400, "bad request", 400);

    // Without the Authorization header: Signzy's Send OTP page's 401 body, exactly.
    let r = app
        .http
        .post(format!("{}{SEND_OTP}", app.base))
        .json(&sample_send_otp_body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        seed_body(body(r, 401).await, None),
        json!({"message": "No API key found in request"})
    );

    // The sample body as is: Signzy's clientId is not our client → "Customer not found".
    assert_eq!(
        seed_body(
            body(app.post_as(&t, SEND_OTP, &sample_send_otp_body()).await, 400).await,
            Some("clientId")
        ),
        error("Customer not found", 400, "bad request", 400)
    );

    // Substitution 1: clientId → our client's id (the login's userId). The page's masked
    // number, and its parameter table's example +1-9907676111 (no area code 990, refused by
    // the number plan, see docs/compat-signzy.md), are both "Mobile number is not
    // valid/allowed".
    let mut b = sample_send_otp_body();
    b["clientId"] = json!(app.client_id);
    let phone = Some("phoneNumber");
    assert_eq!(
        seed_body(body(app.post_as(&t, SEND_OTP, &b).await, 400).await, phone),
        invalid_number
    );
    b["phoneNumber"] = json!("+1-9907676111");
    assert_eq!(
        seed_body(body(app.post_as(&t, SEND_OTP, &b).await, 400).await, phone),
        invalid_number
    );

    // Substitution 2: phoneNumber +1-9907676111 → +1-4155550123, a valid US number in the
    // page's `+<cc>-<digits>` form, because the page's numbers are not valid in the plan.
    b["phoneNumber"] = json!("+1-4155550123");
    let sent = body(app.post_as(&t, SEND_OTP, &b).await, 200).await;
    assert_shape(&sent, &sample_otp_sent());
    assert_eq!(sent, sample_otp_sent());

    // customTextId "6": a 6-digit code in the default text.
    app.drain().await;
    let text = app.messages("+14155550123").await[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = text
        .strip_prefix("Your OTP for verification is ")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(code.len() == 6 && code.bytes().all(|c| c.is_ascii_digit()), "{text}");
    app.stop().await;
}

on_both_stores!(send_otp_page_replay, replay_send_otp);
