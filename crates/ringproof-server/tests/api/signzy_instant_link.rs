//! The Signzy face's instant link: send-instant-link (the SMS read back from the sandbox),
//! the click confirmed through the engine (the link page is its own route), polling
//! (waiting, final, expired), the VFP exchange, isolation between clients, and every error
//! body exactly, with the HTTP status equal to `error.status`.

use ringproof_core::client::Product;
use ringproof_core::engine::ClientChange;
use ringproof_core::ids::LinkId;
use serde_json::{Value, json};

use crate::helpers::{
    DownSender, Opts, TestApp, on_both_stores, signzy_body as body, signzy_login as login, signzy_token as token,
};

const SEND: &str = "/api/v3/us-kyc/send-instant-link";
const RESULT: &str = "/api/v3/us-kyc/instant-link-result";
const MOBILE: &str = "4155550100";
const TO: &str = "+14155550100";
const TARGET: &str = "http://localhost:8080/done?x=1";

fn poll_path(request_id: &str, session_id: &str) -> String {
    format!("/api/v3/us-kyc/poll-check-verify/request/{request_id}/session/{session_id}")
}

fn error(message: &str, status: u16, kind: &str, status_code: u16) -> Value {
    json!({"error": {"name": "Error", "message": message, "status": status, "reason": "error",
        "type": kind, "statusCode": status_code}})
}

fn conflict(message: &str, status: u16) -> Value {
    error(message, status, "conflict", status)
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
    at(field, conflict("Parameter is invalid", 400))
}

fn not_valid_number() -> Value {
    at("mobileNumber", conflict("Not a valid or active number", 400))
}

fn invalid_ids() -> Value {
    error("Invalid requestId or sessionId", 401, "unauthorized", 500)
}

fn not_completed() -> Value {
    at("vfp", conflict("Transaction has not completed", 400))
}

fn waiting() -> Value {
    json!({"result": {"message": "Please wait for sometime"}})
}

fn send_body(mobile: &str) -> Value {
    json!({"targetUrl": TARGET, "mobileNumber": mobile, "countryCode": "US", "sourceIp": "203.0.113.7"})
}

/// Sends a link and returns (requestId, sessionId), asserting the success shape.
async fn send_ok(app: &TestApp, t: &str, b: &Value) -> (String, String) {
    let v = body(app.post_as(t, SEND, b).await, 200).await;
    let r = &v["result"];
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    assert_eq!(r.as_object().unwrap().len(), 2, "{v}");
    let ids = (
        r["requestId"].as_str().unwrap().to_owned(),
        r["sessionId"].as_str().unwrap().to_owned(),
    );
    for id in [&ids.0, &ids.1] {
        assert!(LinkId::parse(id).is_some(), "24 lowercase hex: {id}");
    }
    ids
}

/// The token of the newest link SMS to `to`, and the SMS text.
async fn link_token(app: &TestApp, to: &str) -> (String, String) {
    app.drain().await;
    let text = app.messages(to).await[0]["text"].as_str().unwrap().to_owned();
    let token = text.split("/l/").nth(1).expect("a link in the SMS").to_owned();
    (text, token)
}

async fn transaction_id(app: &TestApp, request_id: &str, session_id: &str) -> String {
    let id = app.demo_id();
    app.engine
        .link_result(
            &id,
            &LinkId::parse(request_id).unwrap(),
            &LinkId::parse(session_id).unwrap(),
        )
        .await
        .unwrap()
        .record
        .transaction_id
}

async fn send_poll_click_and_exchange_the_vfp(app: TestApp) {
    let t = login(&app).await;
    let (rid, sid) = send_ok(&app, &t, &send_body(MOBILE)).await;
    assert_ne!(rid, sid);
    assert_eq!(body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await, waiting());

    let (text, link) = link_token(&app, TO).await;
    // The default text, then `<public_base_url>/l/<token>` (the base is configuration).
    let (words, url) = text.rsplit_once(' ').unwrap();
    assert_eq!(
        words,
        "Your identity verification journey has started, please click on the following link to verify \
         possession of the device"
    );
    assert!(url.starts_with("http") && url.ends_with(&format!("/l/{link}")), "{url}");
    app.clock.advance_secs(20);
    let redirect = crate::helpers::click(&app.engine, &link, "203.0.113.7".parse().unwrap(), "Mozilla/5.0")
        .await
        .unwrap();
    let vfp = redirect
        .strip_prefix("http://localhost:8080/done?x=1&vfp=")
        .unwrap()
        .to_owned();

    let tx = transaction_id(&app, &rid, &sid).await;
    assert!(tx.len() == 11 && tx.bytes().all(|b| b.is_ascii_digit()), "{tx}");
    let expected = json!({"result": {
        "transactionId": tx,
        "carrier": "Sandbox Mobile",
        "lineType": "mobile",
        "countryCode": "US",
        "linkClicked": true,
        "phoneMatch": "indeterminate",
        "sessionId": sid,
        "ipAddressMatch": true,
        "_id": rid,
    }});
    let polled = body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await;
    assert_eq!(polled, expected);
    // Mixed-case ids match the pattern and name the same session.
    let upper = poll_path(&rid.to_ascii_uppercase(), &sid.to_ascii_uppercase());
    assert_eq!(body(app.get_as(&t, &upper).await, 200).await, expected);
    // The VFP exchange gives the same result.
    let b = json!({"vfp": vfp});
    assert_eq!(body(app.post_as(&t, RESULT, &b).await, 200).await, expected);

    // Another client: its token with these ids, or this VFP, finds nothing.
    let other = app.engine.create_client("other", vec![]).await.unwrap();
    let ot = token(&app, &other.client.username, &other.password).await;
    assert_eq!(
        body(app.get_as(&ot, &poll_path(&rid, &sid)).await, 401).await,
        invalid_ids()
    );
    assert_eq!(body(app.post_as(&ot, RESULT, &b).await, 400).await, not_completed());
    // Unknown ids, and the two ids of different sessions.
    let (rid2, sid2) = send_ok(&app, &t, &send_body(MOBILE)).await;
    for (r, s) in [(&rid, &sid2), (&rid2, &sid), (&"0".repeat(24), &"0".repeat(24))] {
        assert_eq!(body(app.get_as(&t, &poll_path(r, s)).await, 401).await, invalid_ids());
    }

    // The VFP expires with the link (300 s); polling still shows the final result.
    app.clock.advance_secs(280);
    assert_eq!(body(app.post_as(&t, RESULT, &b).await, 400).await, not_completed());
    assert_eq!(body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await, expected);
    app.stop().await;
}

on_both_stores!(
    send_poll_click_and_exchange_the_vfp,
    send_poll_click_and_exchange_the_vfp
);

#[tokio::test]
async fn an_unclicked_link_expires_by_the_clock() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    // Lower-case countryCode, no sourceIp, a custom text with its placeholder.
    let b = json!({"targetUrl": TARGET, "mobileNumber": MOBILE, "countryCode": "us",
        "customSms": "Acme: tap {link} to continue"});
    let (rid, sid) = send_ok(&app, &t, &b).await;
    let (text, _) = link_token(&app, TO).await;
    assert!(text.starts_with("Acme: tap http") && text.contains("/l/") && text.ends_with(" to continue"));
    app.clock.advance_secs(299);
    assert_eq!(body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await, waiting());
    app.clock.advance_secs(1);
    let tx = transaction_id(&app, &rid, &sid).await;
    assert_eq!(
        body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await,
        json!({"result": {
            "transactionId": tx,
            "carrier": "Sandbox Mobile",
            "lineType": "mobile",
            "countryCode": "US",
            "linkClicked": false,
            "phoneMatch": "false",
            "sessionId": sid,
            "ipAddressMatch": false,
            "_id": rid,
        }})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_canadian_number_reports_ca_and_a_plan_number_reports_its_carrier_unknown() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let b = json!({"targetUrl": TARGET, "mobileNumber": "6135550123", "countryCode": "CA"});
    let (rid, sid) = send_ok(&app, &t, &b).await;
    let (_, link) = link_token(&app, "+16135550123").await;
    crate::helpers::click(&app.engine, &link, "198.51.100.9".parse().unwrap(), "UA")
        .await
        .unwrap();
    let v = body(app.get_as(&t, &poll_path(&rid, &sid)).await, 200).await;
    let r = &v["result"];
    assert_eq!(
        (&r["countryCode"], &r["carrier"], &r["lineType"], &r["ipAddressMatch"]),
        (&json!("CA"), &json!("unknown"), &json!("mobile"), &json!(false))
    );
    app.stop().await;
}

#[tokio::test]
async fn each_invalid_field_gets_its_seed_body_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let with = |field: &str, value: Value| {
        let mut b = send_body(MOBILE);
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = send_body(MOBILE);
        b.as_object_mut().unwrap().remove(field);
        b
    };
    for field in ["targetUrl", "mobileNumber", "countryCode"] {
        for b in [without(field), with(field, Value::Null), with(field, json!(""))] {
            assert_eq!(body(app.post_as(&t, SEND, &b).await, 400).await, required(field), "{b}");
        }
    }
    // All three missing: the first in the seed's order.
    assert_eq!(
        body(app.post_as(&t, SEND, &json!({})).await, 400).await,
        required("targetUrl")
    );
    // Each names the field at fault.
    for (field, value) in [
        ("countryCode", json!("MX")),
        ("countryCode", json!("USA")),
        ("countryCode", json!(1)),
        ("mobileNumber", json!("415555010")),
        ("mobileNumber", json!("41555501000")),
        ("mobileNumber", json!("415-555-010")),
        ("mobileNumber", json!("+4155550100")),
        ("mobileNumber", json!(4155550100_u64)),
        ("sourceIp", json!("not-an-ip")),
        ("sourceIp", json!("203.0.113.300")),
        ("sourceIp", json!(5)),
        ("targetUrl", json!("ftp://localhost:8080/done")),
        ("targetUrl", json!("javascript:alert(1)")),
        ("targetUrl", json!("https://evil.example/")),
        ("targetUrl", json!("http://localhost:8080@evil.example/")),
        ("customSms", json!("   ")),
        ("customSms", json!("x".repeat(481))),
        ("customSms", json!(["a"])),
        // A valid US number named as Canadian: the country named does not fit it.
        ("countryCode", json!("CA")),
    ] {
        let b = with(field, value);
        assert_eq!(
            body(app.post_as(&t, SEND, &b).await, 400).await,
            invalid_parameter(field),
            "{b}"
        );
    }
    // The seed's sample number: area code 200 does not exist.
    assert_eq!(
        body(
            app.post_as(&t, SEND, &with("mobileNumber", json!("2001001686"))).await,
            400
        )
        .await,
        not_valid_number()
    );
    // Not JSON; no token; a bad token.
    let r = app
        .http
        .post(format!("{}{SEND}", app.base))
        .header("authorization", &t)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(body(r, 400).await, conflict("Request parse failure", 400));
    let r = app
        .http
        .post(format!("{}{SEND}", app.base))
        .json(&send_body(MOBILE))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r, 401).await, json!({"message": "No API key found in request"}));
    assert_eq!(
        body(app.post_as("nope", SEND, &send_body(MOBILE)).await, 401).await,
        json!({"error": {"name": "Error", "message": "Invalid authentication credentials", "status": 401,
            "reason": "authentication error", "type": "bad request", "statusCode": 401}})
    );
    app.drain().await;
    assert!(app.messages(TO).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn each_sandbox_lookup_number_gets_its_seed_body() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let unsupported = conflict("Subscriber is not supported for this service", 400);
    for (mobile, expected, status) in [
        ("4155550101", unsupported.clone(), 400),
        ("4155550102", unsupported.clone(), 400),
        ("4155550111", unsupported, 400),
        ("4155550103", conflict("Subscriber is suspended", 403), 403),
        ("4155550104", conflict("Subscriber is deactivated", 403), 403),
        (
            "4155550105",
            conflict("Subscriber is not eligible for the service", 403),
            403,
        ),
        (
            "4155550106",
            error("Cannot identify subscriber", 404, "conflict", 409),
            404,
        ),
        ("4155550107", conflict("No CRM data available", 404), 404),
        ("4155550108", conflict("Carrier mismatch", 400), 400),
        ("4155550109", not_valid_number(), 400),
        (
            "4155550110",
            conflict("The external provider cannot be reached", 503),
            503,
        ),
    ] {
        let r = app.post_as(&t, SEND, &send_body(mobile)).await;
        assert_eq!(body(r, status).await, expected, "{mobile}");
        app.drain().await;
        assert!(app.messages(&format!("+1{mobile}")).await.is_empty(), "{mobile}");
    }
    app.stop().await;
}

#[tokio::test]
async fn malformed_ids_get_the_seed_pattern_bodies_word_for_word() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let good = "6462150e29c23b4d42352a63";
    let pattern = |param: &str| {
        format!(
            r#"{{"error":{{"statusCode":400,"message":"params {param} should match pattern \"^[0-9a-fA-F]{{24}}$\"","status":400,"reason":"Bad Request","type":"Bad Request","field":"{param}"}}}}"#
        )
    };
    for (rid, sid, param) in [
        ("6462150e29c23b4d42352a6", good, "requestId"),
        ("6462150e29c23b4d42352a6g", good, "requestId"),
        ("f64d44f8-3b0c-449c-8b79-9e2bbe0b2f3b", good, "requestId"),
        (good, "646214d929c23b4d42c1fc390", "sessionId"),
        (good, "zzzzzzzzzzzzzzzzzzzzzzzz", "sessionId"),
        // Both bad: requestId, the first in the path, is named.
        ("x", "y", "requestId"),
    ] {
        let r = app.get_as(&t, &poll_path(rid, sid)).await;
        assert_eq!(r.status(), 400, "{rid} {sid}");
        assert_eq!(r.text().await.unwrap(), pattern(param), "{rid} {sid}");
    }
    // instant-link-result: missing, wrong type, unknown.
    assert_eq!(
        body(app.post_as(&t, RESULT, &json!({})).await, 400).await,
        required("vfp")
    );
    assert_eq!(
        body(app.post_as(&t, RESULT, &json!({"vfp": 7})).await, 400).await,
        invalid_parameter("vfp")
    );
    for vfp in ["AAAAAAAAAAAAAAAAAAAAAA", "not a vfp"] {
        assert_eq!(
            body(app.post_as(&t, RESULT, &json!({"vfp": vfp})).await, 400).await,
            not_completed()
        );
    }
    app.stop().await;
}

/// The whole journey over HTTP only, as an integrator and a phone would make it: login,
/// send the link, the SMS arrives, a link-preview bot GETs the link (nothing consumed), the
/// phone's page POSTs the confirm, 303 to the target with `vfp`, the poll shows the result,
/// the VFP exchange gives the same, and a second click is refused.
#[tokio::test]
async fn the_whole_journey_over_http() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let (request_id, session_id) = send_ok(&app, &t, &send_body(MOBILE)).await;
    assert_eq!(
        body(app.get_as(&t, &poll_path(&request_id, &session_id)).await, 200).await,
        waiting()
    );
    app.drain().await;
    let sms = app.messages(TO).await[0]["text"].as_str().unwrap().to_owned();
    let link = sms.rsplit(' ').next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/l/", app.base)), "{link}");

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..2 {
        let page = no_redirect.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200, "a preview GET is harmless");
    }
    assert_eq!(
        body(app.get_as(&t, &poll_path(&request_id, &session_id)).await, 200).await,
        waiting()
    );

    let click = no_redirect
        .post(&link)
        .header("user-agent", "PhoneBrowser/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(click.status(), 303);
    let location = click.headers()["location"].to_str().unwrap().to_owned();
    let vfp = location
        .strip_prefix("http://localhost:8080/done?x=1&vfp=")
        .expect("target kept, vfp added")
        .to_owned();

    let polled = body(app.get_as(&t, &poll_path(&request_id, &session_id)).await, 200).await;
    let r = &polled["result"];
    assert_eq!(r["linkClicked"], true);
    assert_eq!(r["phoneMatch"], "indeterminate");
    assert_eq!(
        r["ipAddressMatch"], false,
        "clicked from 127.0.0.1, sourceIp was 203.0.113.7"
    );
    assert_eq!(r["sessionId"], session_id.as_str());
    assert_eq!(r["_id"], request_id.as_str());
    assert_eq!(r["countryCode"], "US");
    let by_vfp = body(app.post_as(&t, RESULT, &json!({"vfp": vfp})).await, 200).await;
    assert_eq!(by_vfp, polled);

    let again = no_redirect.post(&link).send().await.unwrap();
    assert_eq!(again.status(), 410);
    assert!(
        again.headers().get("location").is_none(),
        "a used link redirects nowhere"
    );
}

/// The client's controls refuse send-instant-link with Signzy's Send Link and Send OTP pages' bodies, before
/// the lookup and before anything is stored or sent.
#[tokio::test]
async fn client_controls_refuse_send_instant_link_with_the_seed_bodies_and_send_nothing() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    const OTHER: &str = "4155550124";

    app.update_client(ClientChange {
        disable_products: vec![Product::Link],
        ..Default::default()
    })
    .await;
    assert_eq!(
        body(app.post_as(&t, SEND, &send_body(MOBILE)).await, 400).await,
        conflict("ApiClient or Operator not enabled for this service", 400)
    );
    app.update_client(ClientChange {
        enable_products: vec![Product::Link],
        disable_products: vec![Product::NumberOtp],
        blocked_numbers: Some(vec![TO.into()]),
        ..Default::default()
    })
    .await;
    // Signzy's Send OTP page's quirk: status 404, statusCode 200.
    assert_eq!(
        body(app.post_as(&t, SEND, &send_body(MOBILE)).await, 404).await,
        error("Blocked phone number", 404, "not found", 200)
    );
    app.update_client(ClientChange {
        blocked_numbers: Some(vec![]),
        test_mode: Some(true),
        allowed_numbers: Some(vec![format!("+1{OTHER}")]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        body(app.post_as(&t, SEND, &send_body(MOBILE)).await, 403).await,
        conflict("Subscriber is not found on the required whitelist", 403)
    );
    app.drain().await;
    assert!(app.messages(TO).await.is_empty());

    // The allowlisted number gets its link in test mode; the OTP product being off does
    // not matter to links.
    send_ok(&app, &t, &send_body(OTHER)).await;
    app.drain().await;
    assert_eq!(app.messages(&format!("+1{OTHER}")).await.len(), 1);
    app.stop().await;
}

/// The provider reports that nothing can be sent (`Sender::available` false):
/// send-instant-link answers Signzy's Send Link page's "Upstream down" at once; no session is created
/// and no SMS queued.
#[tokio::test]
async fn send_instant_link_is_upstream_down_when_the_provider_is_unavailable() {
    let app = TestApp::spawn_with(Opts {
        sender: Some(std::sync::Arc::new(DownSender)),
        ..Opts::default()
    })
    .await;
    let t = login(&app).await;
    assert_eq!(
        body(app.post_as(&t, SEND, &send_body(MOBILE)).await, 409).await,
        conflict("Upstream down", 409)
    );
    // Field errors still come first.
    let mut b = send_body(MOBILE);
    b.as_object_mut().unwrap().remove("targetUrl");
    assert_eq!(body(app.post_as(&t, SEND, &b).await, 400).await, required("targetUrl"));
    assert_eq!(app.job_counts().await, (0, 0, 0));
    assert_eq!(app.drain().await, 0);
    app.stop().await;
}

/// A client's own link text applies when a request brings no `customSms`; `customSms`
/// still wins; removing it restores the default text.
#[tokio::test]
async fn the_clients_link_text_is_used_without_custom_sms() {
    let app = TestApp::spawn().await;
    let t = login(&app).await;
    let id = app.demo_id();
    app.engine
        .set_link_template(&id, None, Some("Acme: tap {link} to continue"))
        .await
        .unwrap();
    send_ok(&app, &t, &send_body(MOBILE)).await;
    let (text, _) = link_token(&app, TO).await;
    let token = text
        .strip_prefix(&format!("Acme: tap {}/l/", app.base))
        .and_then(|rest| rest.strip_suffix(" to continue"))
        .unwrap_or_else(|| panic!("the client's text with the link in place: {text}"));
    assert_eq!(token.len(), 22, "{text}");
    let mut with_custom = send_body(MOBILE);
    with_custom["customSms"] = json!("Custom {link}");
    send_ok(&app, &t, &with_custom).await;
    let (text, _) = link_token(&app, TO).await;
    assert!(text.starts_with("Custom http"), "{text}");
    app.engine.set_link_template(&id, None, None).await.unwrap();
    send_ok(&app, &t, &send_body(MOBILE)).await;
    let (text, _) = link_token(&app, TO).await;
    assert!(
        text.starts_with("Your identity verification journey has started"),
        "{text}"
    );
    assert!(app.engine.set_link_template(&id, None, Some("  ")).await.is_err());
}

/// `sandbox_numbers_file` replaces the built-in table of test numbers.
#[tokio::test]
async fn a_sandbox_numbers_file_replaces_the_builtin_table() {
    let dir = crate::helpers::temp_dir("numbers");
    let file = dir.path().join("numbers.tsv");
    std::fs::write(
        &file,
        "number\tline_type\tcarrier\tstate\n+14155550124\tmobile\tTest Carrier\tsuspended\n",
    )
    .unwrap();
    let app = TestApp::spawn_with(Opts {
        sandbox_numbers_file: Some(file),
        ..Opts::default()
    })
    .await;
    let t = login(&app).await;
    let r = app.post_as(&t, SEND, &send_body("4155550124")).await;
    assert_eq!(body(r, 403).await, conflict("Subscriber is suspended", 403));
    // The built-in table no longer applies: its "suspended" number is now just a number.
    send_ok(&app, &t, &send_body("4155550103")).await;
}
