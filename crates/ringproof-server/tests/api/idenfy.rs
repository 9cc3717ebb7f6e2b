//! The iDenfy face (`/fraud`): the whole fallback timeline driven by the injected clock,
//! with exactly what the sandbox phone received at each point; a restart in the middle of
//! it; every validation error in iDenfy's `{"identifier","message"}` body; attempts,
//! single use and isolation between clients.

use std::sync::Arc;

use reqwest::Response;
use ringproof_core::client::Product;
use ringproof_core::code::ScriptedCodeSource;
use ringproof_core::engine::ClientChange;
use ringproof_core::engine::fallback::Timeline;
use serde_json::{Value, json};

use crate::helpers::{Opts, TestApp, basic, on_both_stores, pg_database, temp_dir};

const SEND: &str = "/fraud/send-sms";
const VERIFY: &str = "/fraud/verify-sms";

fn auth(app: &TestApp) -> String {
    app.basic_auth()
}

async fn send_as(app: &TestApp, auth: &str, body: &Value) -> Response {
    app.post_as(auth, SEND, body).await
}

/// Sends an SMS and returns the `request_id` (asserting 200 and its shape).
async fn send(app: &TestApp, body: Value) -> String {
    let r = send_as(app, &auth(app), &body).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b.as_object().unwrap().len(), 1, "{b}");
    let id = b["request_id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32 && id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
        "{id}"
    );
    id
}

async fn verify(app: &TestApp, request_id: &str, code: &str) -> bool {
    let r = app
        .post_as(
            &auth(app),
            VERIFY,
            &json!({"request_id": request_id, "received_code": code}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b.as_object().unwrap().len(), 1, "{b}");
    b["is_verified"].as_bool().unwrap()
}

/// An error response: the status, and iDenfy's body with exactly these two fields.
async fn error(r: Response, status: u16) -> (String, String) {
    assert_eq!(r.status(), status);
    assert!(r.headers().contains_key("x-request-id"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b.as_object().unwrap().len(), 2, "{b}");
    (
        b["identifier"].as_str().unwrap().to_owned(),
        b["message"].as_str().unwrap().to_owned(),
    )
}

/// One message the sandbox phone received: channel, sender id, text.
type Msg = (String, String, String);

/// What the sandbox phone received, oldest first.
async fn inbox(app: &TestApp, to: &str) -> Vec<Msg> {
    let mut msgs: Vec<Msg> = app
        .messages(to)
        .await
        .iter()
        .map(|m| {
            (
                m["channel"].as_str().unwrap().to_owned(),
                m["sender"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    msgs.reverse();
    msgs
}

/// An SMS from `sender` (its first word) reading `text`.
fn sms(text: &str) -> Msg {
    let sender = text.split(" code: ").next().unwrap();
    ("sms".to_owned(), sender.to_owned(), text.to_owned())
}

/// A call from `sender`, which it also names as the brand, speaking `code`.
fn call(sender: &str, code: &str) -> Msg {
    let spoken: Vec<String> = code.chars().map(String::from).collect();
    let spoken = spoken.join(", ");
    (
        "voice".to_owned(),
        sender.to_owned(),
        format!("Your {sender} verification code is {spoken}. Again: {spoken}."),
    )
}

fn scripted() -> Opts {
    Opts {
        codes: Some(Arc::new(ScriptedCodeSource::new([
            "1234", "2345", "3456", "4567", "5678", "6789",
        ]))),
        ..Opts::default()
    }
}

/// Four requests, each verified at another point of the timeline (1, 3, 6 and 11 minutes
/// after its SMS), with exactly what the phone received.
async fn whole_timeline(app: TestApp) {
    const N1: &str = "+12025550161";
    const N2: &str = "+12025550162";
    const N3: &str = "+12025550163";
    const N4: &str = "+12025550164";
    let sms_a = |sender: &str, code: &str| sms(&format!("{sender} code: {code}. Valid for 5 minutes."));

    // Verified at 1 minute: no call is ever placed.
    let id = send(&app, json!({"phone_number": N1, "sender_name": "The Sender"})).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(inbox(&app, N1).await, [sms_a("The Sender", "1234")]);
    app.clock.advance_secs(60);
    assert_eq!(app.drain().await, 0);
    assert!(verify(&app, &id, "1234").await);
    app.clock.advance_secs(900);
    assert_eq!(app.drain().await, 0, "approval canceled the calls");
    assert_eq!(inbox(&app, N1).await, [sms_a("The Sender", "1234")]);
    // Single use: the approved request answers false from now on.
    assert!(!verify(&app, &id, "1234").await);

    // Verified at 3 minutes with code A, after the first call; the sender defaults to the
    // client's brand ("demo"), which the call speaks too.
    let id = send(&app, json!({"phone_number": N2})).await;
    app.drain().await;
    app.clock.advance_secs(119);
    assert_eq!(app.drain().await, 0, "nothing before 2 minutes");
    app.clock.advance_secs(1);
    assert_eq!(app.drain().await, 2, "the step, then its call");
    assert_eq!(inbox(&app, N2).await, [sms_a("demo", "2345"), call("demo", "2345")]);
    app.clock.advance_secs(60);
    assert!(verify(&app, &id, "2345").await);
    app.clock.advance_secs(900);
    assert_eq!(app.drain().await, 0);
    assert_eq!(inbox(&app, N2).await, [sms_a("demo", "2345"), call("demo", "2345")]);

    // Verified at 6 minutes with code B; code A is refused after the second call.
    let id = send(&app, json!({"phone_number": N3, "sender_name": "Acme"})).await;
    app.drain().await;
    app.clock.advance_secs(120);
    app.drain().await;
    app.clock.advance_secs(179);
    assert_eq!(app.drain().await, 0, "nothing between 2 and 5 minutes");
    app.clock.advance_secs(1);
    assert_eq!(app.drain().await, 2);
    assert_eq!(
        inbox(&app, N3).await,
        [sms_a("Acme", "3456"), call("Acme", "3456"), call("Acme", "4567")]
    );
    app.clock.advance_secs(60);
    assert!(!verify(&app, &id, "3456").await, "code A stopped working at 5 minutes");
    assert!(verify(&app, &id, "4567").await);
    app.clock.advance_secs(900);
    assert_eq!(app.drain().await, 0);
    assert_eq!(inbox(&app, N3).await.len(), 3);

    // At 11 minutes code B has expired.
    let id = send(&app, json!({"phone_number": N4, "sender_name": "Acme"})).await;
    app.drain().await;
    app.clock.advance_secs(120);
    app.drain().await;
    app.clock.advance_secs(180);
    app.drain().await;
    assert_eq!(
        inbox(&app, N4).await,
        [sms_a("Acme", "5678"), call("Acme", "5678"), call("Acme", "6789")]
    );
    app.clock.advance_secs(359);
    assert_eq!(app.drain().await, 0);
    app.clock.advance_secs(1);
    assert!(!verify(&app, &id, "6789").await, "code B expired at 10 minutes");
    assert!(!verify(&app, &id, "5678").await);
    app.clock.advance_secs(3600);
    assert_eq!(app.drain().await, 0);
    assert_eq!(inbox(&app, N4).await.len(), 3);
    app.stop().await;
}

on_both_stores!(idenfy_timeline, whole_timeline, scripted());

/// Code A is checked at 4:59 (valid) on one request, and at 5:00 before the second call's
/// job has run (the worker is late): no longer valid either way.
#[tokio::test]
async fn code_a_is_valid_until_the_second_call_is_due() {
    let app = TestApp::spawn_with(scripted()).await;
    let early = send(&app, json!({"phone_number": "+12025550161"})).await;
    let late = send(&app, json!({"phone_number": "+12025550162"})).await;
    app.drain().await;
    app.clock.advance_secs(299);
    assert!(verify(&app, &early, "1234").await);
    app.clock.advance_secs(1);
    assert!(!verify(&app, &late, "2345").await);
}

/// Shorter durations from `[idenfy]`: the SMS states code A's validity, and the calls come
/// on the configured schedule.
#[tokio::test]
async fn configured_durations_set_the_schedule_and_the_text() {
    const TO: &str = "+12025550163";
    let app = TestApp::spawn_with(Opts {
        idenfy: Some(Timeline {
            first_call_after_s: 20,
            second_call_after_s: 60,
            second_code_valid_s: 30,
        }),
        ..scripted()
    })
    .await;
    let id = send(&app, json!({"phone_number": TO, "sender_name": "Acme"})).await;
    app.drain().await;
    let a = sms("Acme code: 1234. Valid for 1 minute.");
    assert_eq!(inbox(&app, TO).await, std::slice::from_ref(&a));
    app.clock.advance_secs(19);
    assert_eq!(app.drain().await, 0);
    app.clock.advance_secs(1);
    app.drain().await;
    assert_eq!(inbox(&app, TO).await, [a.clone(), call("Acme", "1234")]);
    app.clock.advance_secs(40);
    app.drain().await;
    assert_eq!(
        inbox(&app, TO).await,
        [a.clone(), call("Acme", "1234"), call("Acme", "2345")]
    );
    app.clock.advance_secs(30);
    assert!(!verify(&app, &id, "2345").await, "code B is valid 30 s");

    let app = TestApp::spawn_with(Opts {
        idenfy: Some(Timeline {
            first_call_after_s: 10,
            second_call_after_s: 30,
            second_code_valid_s: 30,
        }),
        ..scripted()
    })
    .await;
    send(&app, json!({"phone_number": TO, "sender_name": "Acme"})).await;
    app.drain().await;
    assert_eq!(inbox(&app, TO).await, [sms("Acme code: 1234. Valid for 30 seconds.")]);
}

/// Stop the server before the 2-minute call is due, start a new one on the same data after
/// it is due: the call is placed exactly once, and the code still verifies.
#[tokio::test]
async fn restart_places_the_due_call_exactly_once() {
    const TO: &str = "+12025550163";
    let dir = temp_dir("idenfy-restart");
    let app = TestApp::spawn_with(scripted().in_dir(dir.path())).await;
    let id = send(&app, json!({"phone_number": TO, "sender_name": "Acme"})).await;
    app.drain().await;
    app.clock.advance_secs(100);
    assert_eq!(app.drain().await, 0);
    app.stop().await;

    // The new server's clock starts at the same instant as the first one's.
    let app = TestApp::spawn_with(scripted().in_dir(dir.path())).await;
    app.clock.advance_secs(150);
    assert_eq!(app.drain().await, 2, "the step, then its call");
    assert_eq!(app.drain().await, 0);
    assert_eq!(
        inbox(&app, TO).await,
        [sms("Acme code: 1234. Valid for 5 minutes."), call("Acme", "1234")]
    );
    assert!(verify(&app, &id, "1234").await);
    app.clock.advance_secs(900);
    assert_eq!(app.drain().await, 0);
    assert_eq!(inbox(&app, TO).await.len(), 2);
}

/// Down across the 2-minute call *and* the end of code A: on restart (at 6 min) the call
/// that would speak A is skipped and recorded as skipped, and the call with code B is
/// placed, once.
#[tokio::test]
async fn restart_after_code_a_ended_skips_its_call_and_places_the_new_code_call() {
    const TO: &str = "+12025550163";
    let dir = temp_dir("idenfy-restart-skip");
    let app = TestApp::spawn_with(scripted().in_dir(dir.path())).await;
    let id = send(&app, json!({"phone_number": TO, "sender_name": "Acme"})).await;
    app.drain().await;
    app.clock.advance_secs(60);
    app.stop().await;

    let app = TestApp::spawn_with(Opts {
        data_dir: Some(dir.path().to_path_buf()),
        codes: Some(Arc::new(ScriptedCodeSource::new(["9876"]))),
        ..Opts::default()
    })
    .await;
    app.clock.advance_secs(360);
    app.drain().await;
    assert_eq!(app.drain().await, 0);
    assert_eq!(
        inbox(&app, TO).await,
        [sms("Acme code: 1234. Valid for 5 minutes."), call("Acme", "9876")]
    );
    let kinds = app.event_details(&format!("VE{id}")).await;
    let skipped: Vec<_> = kinds.iter().filter(|(k, _)| k == "step_skipped").collect();
    assert_eq!(skipped.len(), 1, "{kinds:?}");
    assert!(skipped[0].1.starts_with("step 2"), "{kinds:?}");
    assert!(!verify(&app, &id, "1234").await, "code A ended at 5 minutes");
    assert!(verify(&app, &id, "9876").await);
}

/// The 5th wrong code ends the request: then even the right code is false, and no call
/// is placed any more.
#[tokio::test]
async fn after_five_wrong_codes_even_the_right_one_is_false() {
    const TO: &str = "+12025550163";
    let app = TestApp::spawn_with(scripted()).await;
    let id = send(&app, json!({"phone_number": TO})).await;
    app.drain().await;
    for wrong in ["0000", "1111", "2222", "3333"] {
        assert!(!verify(&app, &id, wrong).await);
    }
    // Four wrong: the right code still works on another request…
    let other = send(&app, json!({"phone_number": "+12025550164"})).await;
    app.drain().await;
    for wrong in ["0000", "1111", "2222", "3333", "4444"] {
        assert!(!verify(&app, &other, wrong).await);
    }
    assert!(!verify(&app, &other, "2345").await, "locked after the 5th wrong code");
    // …and on this one after four.
    assert!(verify(&app, &id, "1234").await);
    app.clock.advance_secs(900);
    assert_eq!(app.drain().await, 0, "no call after the lockout or the approval");
    assert_eq!(inbox(&app, "+12025550164").await.len(), 1);
}

/// Every bad field is a 400 naming it, nothing is stored or sent, and the body is always
/// iDenfy's two-field envelope.
#[tokio::test]
async fn send_sms_validation() {
    let app = TestApp::spawn().await;
    let a = auth(&app);
    let post = |body: Value| {
        let a = a.clone();
        let app = &app;
        async move { send_as(app, &a, &body).await }
    };
    let e164 = "Field 'phone_number' must be in E.164 format: '+', the country code and the number, digits only (e.g. +12025550163).";
    let required = "Field 'phone_number' is required.";
    let digits = "Field 'phone_number' has the wrong number of digits for country code +1.";
    let charset = "Field 'sender_name' may hold only letters A-Z and a-z, digits and spaces.";
    // A valid number with sender name `name`.
    let with_sender = |name: Value| json!({"phone_number": "+12025550163", "sender_name": name});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "MISSING_VALUE", required),
        (json!({"phone_number": null}), "MISSING_VALUE", required),
        (json!({"sender_name": "Acme"}), "MISSING_VALUE", required),
        (
            json!({"phone_number": 12025550163_u64}),
            "BAD_VALUE",
            "Field 'phone_number' must be a string.",
        ),
        (json!({"phone_number": ""}), "BAD_VALUE", e164),
        (json!({"phone_number": "12025550163"}), "BAD_VALUE", e164),
        (json!({"phone_number": "+1-2025550163"}), "BAD_VALUE", e164),
        (json!({"phone_number": "+1 202 555 0163"}), "BAD_VALUE", e164),
        (json!({"phone_number": " +12025550163"}), "BAD_VALUE", e164),
        (
            json!({"phone_number": "+999123456789"}),
            "BAD_VALUE",
            "Field 'phone_number' has a country code that is not supported.",
        ),
        (json!({"phone_number": "+120255501"}), "BAD_VALUE", digits),
        (json!({"phone_number": "+1202555016300"}), "BAD_VALUE", digits),
        (
            json!({"phone_number": "+19907676111"}),
            "BAD_VALUE",
            "Field 'phone_number' is not a valid number for its country.",
        ),
        (
            with_sender(json!("ABCDEFGHIJKL")),
            "BAD_VALUE",
            "Field 'sender_name' must be at most 11 characters.",
        ),
        (with_sender(json!("Acme!")), "BAD_VALUE", charset),
        (with_sender(json!("Acme-Bank")), "BAD_VALUE", charset),
        (
            with_sender(json!("")),
            "BAD_VALUE",
            "Field 'sender_name' must not be empty.",
        ),
        (
            with_sender(json!(" Acme")),
            "BAD_VALUE",
            "Field 'sender_name' must not start or end with a space.",
        ),
        (
            with_sender(json!(7)),
            "BAD_VALUE",
            "Field 'sender_name' must be a string.",
        ),
    ];
    for (body, identifier, message) in cases {
        let got = error(post(body.clone()).await, 400).await;
        assert_eq!(got, (identifier.to_owned(), message.to_owned()), "{body}");
    }
    assert_eq!(app.drain().await, 0, "nothing was stored or sent");
    // 11 characters, letters, digits and spaces: accepted.
    send(
        &app,
        json!({"phone_number": "+12025550163", "sender_name": "Bank 24 ABC"}),
    )
    .await;
    app.drain().await;
    assert_eq!(
        inbox(&app, "+12025550163").await[0].2,
        "Bank 24 ABC code: ".to_owned() + &app.last_code("+12025550163").await + ". Valid for 5 minutes."
    );
}

#[tokio::test]
async fn verify_sms_validation_and_isolation() {
    let app = TestApp::spawn_with(scripted()).await;
    let id = send(&app, json!({"phone_number": "+12025550163"})).await;
    app.drain().await;
    let a = auth(&app);
    let post = |body: Value| {
        let a = a.clone();
        let app = &app;
        async move { app.post_as(&a, VERIFY, &body).await }
    };
    let rid_len = "Field 'request_id' must be 32 to 40 characters.";
    let four = "Field 'received_code' must be exactly 4 digits.";
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"received_code": "1234"}),
            "MISSING_VALUE",
            "Field 'request_id' is required.",
        ),
        (
            json!({"request_id": id}),
            "MISSING_VALUE",
            "Field 'received_code' is required.",
        ),
        (
            json!({"request_id": null, "received_code": "1234"}),
            "MISSING_VALUE",
            "Field 'request_id' is required.",
        ),
        (
            json!({"request_id": 5, "received_code": "1234"}),
            "BAD_VALUE",
            "Field 'request_id' must be a string.",
        ),
        (
            json!({"request_id": &id[..31], "received_code": "1234"}),
            "BAD_VALUE",
            rid_len,
        ),
        (
            json!({"request_id": "a".repeat(41), "received_code": "1234"}),
            "BAD_VALUE",
            rid_len,
        ),
        (json!({"request_id": "", "received_code": "1234"}), "BAD_VALUE", rid_len),
        (json!({"request_id": id, "received_code": "123"}), "BAD_VALUE", four),
        (json!({"request_id": id, "received_code": "12345"}), "BAD_VALUE", four),
        (json!({"request_id": id, "received_code": "12a4"}), "BAD_VALUE", four),
        (json!({"request_id": id, "received_code": "١٢٣٤"}), "BAD_VALUE", four),
        (
            json!({"request_id": id, "received_code": 1234}),
            "BAD_VALUE",
            "Field 'received_code' must be a string.",
        ),
    ];
    for (body, identifier, message) in cases {
        let got = error(post(body.clone()).await, 400).await;
        assert_eq!(got, (identifier.to_owned(), message.to_owned()), "{body}");
    }

    // Unknown ids of any accepted length, and another client's, answer the same bytes.
    let not_found = |r: Response| async move {
        assert_eq!(r.status(), 404);
        r.bytes().await.unwrap()
    };
    let unknown = not_found(post(json!({"request_id": "0".repeat(32), "received_code": "1234"})).await).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&unknown).unwrap(),
        json!({"identifier": "TOKEN_NOT_VALID", "message": "No SMS verification with this request_id."})
    );
    for rid in [
        "Z".repeat(32),
        "0".repeat(40),
        id.to_uppercase(),
        format!("VE{}", &id[..30]),
    ] {
        let got = not_found(post(json!({"request_id": rid, "received_code": "1234"})).await).await;
        assert_eq!(got, unknown, "{rid}");
    }
    let other = app.engine.create_client("other", vec![]).await.unwrap();
    let other_auth = basic(&other.client.api_key, &other.api_secret);
    let r = app
        .post_as(&other_auth, VERIFY, &json!({"request_id": id, "received_code": "1234"}))
        .await;
    assert_eq!(not_found(r).await, unknown, "another client's id is unknown");
    // The probes counted no attempt and the code still works for its own client.
    assert!(verify(&app, &id, "1234").await);
    // And the other client's own request is invisible to this one.
    let r = send_as(&app, &other_auth, &json!({"phone_number": "+12025550164"})).await;
    let theirs = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post(json!({"request_id": theirs, "received_code": "2345"})).await;
    assert_eq!(not_found(r).await, unknown);
}

/// Credentials: HTTP Basic with the key and secret; anything else is 401 with iDenfy's body
/// and `WWW-Authenticate`, checked before the body.
#[tokio::test]
async fn auth_is_http_basic() {
    let app = TestApp::spawn().await;
    let body = json!({"phone_number": "+12025550163"});
    let unauthorized = (
        "UNAUTHORIZED".to_owned(),
        "Invalid authorization credentials: send HTTP Basic auth with the API key as user name and the API secret as password."
            .to_owned(),
    );
    for path in [SEND, VERIFY] {
        let r = app.post_anonymous(path, &body).await;
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"ringproof\"");
        assert_eq!(error(r, 401).await, unauthorized);
        for bad in [
            basic(&app.key, "rs_wrong"),
            basic("rk_unknown", &app.secret),
            "Basic !!!".to_owned(),
            basic(&app.key, ""),
            "Digest abc".to_owned(),
        ] {
            let r = app.post_as(&bad, path, &body).await;
            assert_eq!(error(r, 401).await, unauthorized, "{bad}");
        }
        // Authentication comes first: bad credentials with a bad body are still 401.
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .header("authorization", basic(&app.key, "rs_wrong"))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(error(r, 401).await, unauthorized);
    }
    assert_eq!(app.drain().await, 0);
    // The API key and secret work as HTTP Basic.
    send(&app, body).await;
}

/// Malformed bodies, wrong content types, oversized bodies, unknown routes and wrong
/// methods under `/fraud` all answer in iDenfy's envelope, never 5xx.
#[tokio::test]
async fn malformed_requests_get_the_idenfy_envelope() {
    let app = TestApp::spawn().await;
    let raw = |path: &str, ctype: Option<&str>, body: Vec<u8>| {
        let mut req = app
            .http
            .post(format!("{}{path}", app.base))
            .header("authorization", auth(&app))
            .body(body);
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        req.send()
    };
    let json_error = (
        "JSON_ERROR".to_owned(),
        "The request body must be a JSON object.".to_owned(),
    );
    for path in [SEND, VERIFY] {
        for body in [&b"{not json"[..], b"[1,2]", b"\"+12025550163\"", b"", b"null"] {
            let r = raw(path, Some("application/json"), body.to_vec()).await.unwrap();
            assert_eq!(error(r, 400).await, json_error, "{}", String::from_utf8_lossy(body));
        }
        let r = raw(path, Some("application/json"), b"{\"phone_number\": \"\xff\"}".to_vec())
            .await
            .unwrap();
        assert_eq!(
            error(r, 400).await,
            (
                "ENCODING_ERROR".to_owned(),
                "The request body must be UTF-8.".to_owned()
            )
        );
        let media = (
            "VALIDATION_ERROR".to_owned(),
            "Content-Type must be application/json.".to_owned(),
        );
        for ctype in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            let r = raw(path, ctype, br#"{"phone_number":"+12025550163"}"#.to_vec())
                .await
                .unwrap();
            assert_eq!(error(r, 415).await, media, "{ctype:?}");
        }
        let big = format!(r#"{{"phone_number":"+12025550163","pad":"{}"}}"#, "x".repeat(20_000));
        let r = raw(path, Some("application/json"), big.into_bytes()).await.unwrap();
        assert_eq!(
            error(r, 413).await,
            (
                "VALIDATION_ERROR".to_owned(),
                "The request body is larger than 16 KiB.".to_owned()
            )
        );
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let r = app
                .http
                .request(method.clone(), format!("{}{path}", app.base))
                .header("authorization", auth(&app))
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["allow"], "POST");
            assert_eq!(
                error(r, 405).await,
                (
                    "METHOD_NOT_ALLOWED".to_owned(),
                    "This endpoint accepts only POST.".to_owned()
                ),
                "{method} {path}"
            );
        }
    }
    for path in ["/fraud", "/fraud/", "/fraud/send-email", "/fraud/send-sms/extra"] {
        let r = raw(path, Some("application/json"), b"{}".to_vec()).await.unwrap();
        assert_eq!(
            error(r, 404).await,
            ("NOT_FOUND".to_owned(), "No such endpoint.".to_owned()),
            "{path}"
        );
    }
    // Outside /fraud the native envelope is untouched.
    let r = app.http.get(format!("{}/fraudulent", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_string());
    assert_eq!(app.drain().await, 0);
}

/// The client's controls refuse send-sms before anything is stored or sent; a brand that is
/// not a valid sender id is reduced to one.
#[tokio::test]
async fn client_controls_and_the_default_sender() {
    const TO: &str = "+12025550163";
    let app = TestApp::spawn_with(scripted()).await;
    let a = auth(&app);
    let body = json!({"phone_number": TO});
    app.update_client(ClientChange {
        disable_products: vec![Product::SmsThenCall],
        ..Default::default()
    })
    .await;
    assert_eq!(
        error(send_as(&app, &a, &body).await, 403).await,
        (
            "PARTNER_CONTRACT_ERROR".to_owned(),
            "This client is not enabled for SMS verification (idenfy-sms).".to_owned()
        )
    );
    app.update_client(ClientChange {
        enable_products: vec![Product::SmsThenCall],
        blocked_numbers: Some(vec![TO.into()]),
        ..Default::default()
    })
    .await;
    assert_eq!(error(send_as(&app, &a, &body).await, 403).await.0, "PERMISSIONS_ERROR");
    app.update_client(ClientChange {
        blocked_numbers: Some(vec![]),
        test_mode: Some(true),
        allowed_numbers: Some(vec!["+12025550164".into()]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        error(send_as(&app, &a, &body).await, 403).await,
        (
            "PERMISSIONS_ERROR".to_owned(),
            "Field 'phone_number' is not on this client's test-mode allowlist.".to_owned()
        )
    );
    assert_eq!(app.drain().await, 0);
    assert!(inbox(&app, TO).await.is_empty());

    app.update_client(ClientChange {
        test_mode: Some(false),
        brand: Some("Acme Bank, Ltd.".into()),
        ..Default::default()
    })
    .await;
    send(&app, body).await;
    app.drain().await;
    assert_eq!(
        inbox(&app, TO).await,
        [sms("Acme Bank L code: 1234. Valid for 5 minutes.")]
    );
}

/// The provider reports that nothing can be sent: send-sms answers 503 at once (field
/// errors first) and stores and queues nothing.
#[tokio::test]
async fn send_sms_is_unavailable_when_the_provider_is() {
    let app = TestApp::spawn_with(Opts {
        sender: Some(Arc::new(crate::helpers::DownSender)),
        ..Opts::default()
    })
    .await;
    let a = auth(&app);
    let r = send_as(&app, &a, &json!({"phone_number": "+12025550163"})).await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        error(r, 503).await,
        (
            "INTERNAL_ERROR".to_owned(),
            "The SMS provider is unavailable; retry later.".to_owned()
        )
    );
    let r = send_as(&app, &a, &json!({"phone_number": "+120255501"})).await;
    assert_eq!(error(r, 400).await.0, "BAD_VALUE");
    assert_eq!(app.job_counts().await, (0, 0, 0));
    app.stop().await;
}

/// The database goes away under a running server (PostgreSQL: the test drops it): 503 in
/// iDenfy's body with `Retry-After`, never a 500. Runs where PostgreSQL is available.
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn a_lost_database_is_a_503_in_the_idenfy_body() {
    let db = pg_database().await;
    let app = TestApp::spawn_with(Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default()
    })
    .await;
    // Dropping the guard drops the database `WITH (FORCE)`.
    drop(db);
    let unavailable = (
        "INTERNAL_ERROR".to_owned(),
        "The request cannot be processed at this time; retry later.".to_owned(),
    );
    for (path, body) in [
        (SEND, json!({"phone_number": "+12025550163"})),
        (VERIFY, json!({"request_id": "0".repeat(32), "received_code": "1234"})),
    ] {
        let r = app.post_as(&auth(&app), path, &body).await;
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(error(r, 503).await, unavailable, "{path}");
    }
}

/// A Niue number (+683, 4 national digits: 7 digits in all) is in the table and valid in
/// its plan: send-sms takes it.
#[tokio::test]
async fn seven_digit_numbers_are_accepted() {
    let app = TestApp::spawn().await;
    send(&app, json!({"phone_number": "+6834002"})).await;
    app.drain().await;
    assert_eq!(inbox(&app, "+6834002").await.len(), 1);
}
