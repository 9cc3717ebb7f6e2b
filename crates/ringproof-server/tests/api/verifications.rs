use serde_json::json;

use crate::helpers::{TestApp, error_code};

const TO: &str = "+14155550123";

#[tokio::test]
async fn sms_code_round_trip() {
    let app = TestApp::spawn().await;
    let v = app.start(json!({"to": TO})).await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["channel"], "sms");
    assert_eq!(v["to"], TO);
    assert_eq!(v["code_length"], 6);
    assert_eq!(v["send_attempts"], 1);
    assert_eq!(v["remaining_check_attempts"], 5);
    assert_eq!(v["expires_at"], "2026-01-01T00:10:00.000Z");
    let id = v["id"].as_str().unwrap();

    // Nothing is delivered until the outbox job runs; then exactly one SMS.
    assert!(app.messages(TO).await.is_empty());
    assert_eq!(app.drain().await, 1);
    let msgs = app.messages(TO).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["channel"], "sms");
    let code = app.last_code(TO).await;
    assert_eq!(code.len(), 6);
    assert_eq!(msgs[0]["text"], format!("Your demo verification code is: {code}"));

    let r = app.check(id, &code).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "approved", "valid": true, "remaining_attempts": 5})
    );

    // Single use: the same code again is refused, naming the status.
    let r = app.check(id, &code).await;
    assert_eq!(error_code(r, 409).await, "verification_approved");
    let v = app
        .get(&format!("/v1/verifications/{id}"))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(v["status"], "approved");
    assert_eq!(v["pending_steps"], 0);
}

#[tokio::test]
async fn wrong_codes_count_down_then_lock() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in (0..5).rev() {
        let r = app.check(&id, wrong).await;
        assert_eq!(r.status(), 200);
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["valid"], false);
        assert_eq!(b["remaining_attempts"], remaining);
        assert_eq!(
            b["status"],
            if remaining == 0 {
                "max_attempts_reached"
            } else {
                "pending"
            }
        );
    }
    let r = app.check(&id, &code).await;
    assert_eq!(error_code(r, 409).await, "max_attempts_reached");
}

#[tokio::test]
async fn voice_channel_speaks_digits_twice() {
    let app = TestApp::spawn().await;
    app.start(json!({"to": TO, "channel": "voice", "code_length": 4, "brand": "Acme"}))
        .await;
    app.drain().await;
    let msgs = app.messages(TO).await;
    assert_eq!(msgs[0]["channel"], "voice");
    let text = msgs[0]["text"].as_str().unwrap();
    let code = crate::helpers::code_in(text);
    let spoken: Vec<String> = code.chars().map(String::from).collect();
    let spoken = spoken.join(", ");
    assert_eq!(
        text,
        format!("Your Acme verification code is {spoken}. Again: {spoken}.")
    );
}

#[tokio::test]
async fn cancel_stops_the_code() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    let r = app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["status"], "canceled");
    let r = app.check(&id, &code).await;
    assert_eq!(error_code(r, 409).await, "verification_canceled");
    let r = app.post(&format!("/v1/verifications/{id}/cancel"), &json!({})).await;
    assert_eq!(error_code(r, 409).await, "verification_canceled");
}

#[tokio::test]
async fn events_tell_the_story() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    app.check(&id, "000000").await;
    app.check(&id, &code).await;
    let kinds = app.event_kinds(&id).await;
    let expected_wrong = if code == "000000" { vec![] } else { vec!["check_wrong"] };
    let mut expected = vec!["created", "send_queued", "sent"];
    expected.extend(expected_wrong);
    expected.push("approved");
    assert_eq!(kinds, expected);
}

/// E.164 numbers as short as 7 digits are real (Niue +683 and Tokelau +690 have 4 national
/// digits): accepted and delivered; 6 digits are not a number.
#[tokio::test]
async fn seven_digit_numbers_are_accepted() {
    let app = TestApp::spawn().await;
    for to in ["+6834002", "+6907290"] {
        let v = app.start(json!({"to": to})).await;
        assert_eq!(v["status"], "pending");
        assert_eq!(v["to"], to);
        assert_eq!(app.drain().await, 1);
        assert_eq!(app.messages(to).await.len(), 1, "{to}");
    }
    let r = app.post("/v1/verifications", &json!({"to": "+683400"})).await;
    assert_eq!(error_code(r, 400).await, "invalid_phone_number");
}

/// The native API obeys the client's blocklist and test-mode allowlist as the Signzy and
/// iDenfy faces do: refused before anything is stored or sent, with a code naming the rule.
#[tokio::test]
async fn the_client_blocklist_and_test_mode_allowlist_hold_on_v1() {
    use ringproof_core::engine::ClientChange;

    let app = TestApp::spawn().await;
    let allowed = "+14155550164";
    app.update_client(ClientChange {
        blocked_numbers: Some(vec![TO.into()]),
        ..Default::default()
    })
    .await;
    let r = app.post("/v1/verifications", &json!({"to": TO})).await;
    assert_eq!(error_code(r, 403).await, "destination_blocked");
    // Another number is served while test mode is off.
    app.start_sms(allowed).await;

    app.update_client(ClientChange {
        blocked_numbers: Some(vec![]),
        test_mode: Some(true),
        allowed_numbers: Some(vec![allowed.into()]),
        ..Default::default()
    })
    .await;
    let r = app.post("/v1/verifications", &json!({"to": TO})).await;
    assert_eq!(error_code(r, 403).await, "number_not_allowed");
    // Also with a workflow, and through an Idempotency-Key: nothing is stored for it.
    let r = app
        .http
        .post(format!("{}/v1/verifications", app.base))
        .header("authorization", app.auth())
        .header("idempotency-key", "k1")
        .json(&json!({"to": TO, "workflow": [{"channel": "sms"}, {"channel": "voice", "after_s": 60}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 403).await, "number_not_allowed");
    app.start_sms(allowed).await;

    assert_eq!(app.drain().await, 2);
    assert!(app.messages(TO).await.is_empty());
    assert_eq!(app.messages(allowed).await.len(), 2);

    // Out of test mode and off the blocklist, the number is served again.
    app.update_client(ClientChange {
        test_mode: Some(false),
        ..Default::default()
    })
    .await;
    app.start_sms(TO).await;
    app.drain().await;
    assert_eq!(app.messages(TO).await.len(), 1);
}
