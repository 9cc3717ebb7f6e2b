//! Expiry, resend cooldown and workflow timing, driven by the injected clock.

use serde_json::{Value, json};

use crate::helpers::{TestApp, code_in, error_code};

const TO: &str = "+14155550123";

#[tokio::test]
async fn code_expires_after_validity() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    app.clock.advance_secs(599);
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "pending");
    app.clock.advance_secs(1);
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "expired");
    let r = app.check(&id, &code).await;
    assert_eq!(error_code(r, 409).await, "verification_expired");
    // Terminal records stay queryable.
    app.clock.advance_secs(24 * 3600);
    assert_eq!(app.get(&format!("/v1/verifications/{id}")).await.status(), 200);
}

#[tokio::test]
async fn resend_cooldown_doubles_and_sends_are_capped() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let first = app.last_code(TO).await;
    let path = format!("/v1/verifications/{id}/resend");
    let empty = json!({});
    let resend = || app.post(&path, &empty);

    let r = resend().await;
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(error_code(r, 429).await, "resend_cooldown");
    app.clock.advance_secs(29);
    let r = resend().await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(error_code(r, 429).await, "resend_cooldown");
    app.clock.advance_secs(1);
    let r = resend().await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["send_attempts"], 2);
    app.drain().await;
    let second = app.last_code(TO).await;
    assert_eq!(app.messages(TO).await.len(), 2);

    // The old code stopped working; the new one is valid.
    let r = resend().await;
    assert_eq!(r.headers()["retry-after"], "60");
    app.clock.advance_secs(60);
    assert_eq!(resend().await.status(), 200);
    app.clock.advance_secs(120);
    assert_eq!(resend().await.status(), 200);
    app.clock.advance_secs(240);
    assert_eq!(resend().await.status(), 200);
    app.clock.advance_secs(480);
    // Five sends used (1 + 4 resends): the sixth is refused whatever the time.
    assert_eq!(error_code(resend().await, 429).await, "max_sends_reached");
    app.drain().await;
    let last = app.last_code(TO).await;
    if first != last {
        let r = app.check(&id, &first).await;
        assert_eq!(r.json::<Value>().await.unwrap()["valid"], false);
    }
    let _ = second;
    let r = app.check(&id, &last).await;
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);
}

/// The iDenfy timeline as a native workflow: SMS with code A, a call repeating A at 2 min,
/// a call with a new code B at 5 min (A stops working), expiry at 10 min.
#[tokio::test]
async fn fallback_workflow_runs_on_schedule() {
    let app = TestApp::spawn().await;
    let v = app
        .start(json!({"to": TO, "code_length": 4, "workflow": [
            {"channel": "sms", "valid_for_s": 300},
            {"channel": "voice", "after_s": 120, "code": "same"},
            {"channel": "voice", "after_s": 300, "code": "new", "valid_for_s": 300}
        ]}))
        .await;
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["expires_at"], "2026-01-01T00:10:00.000Z");
    assert_eq!(v["pending_steps"], 2);
    app.drain().await;
    let a = app.last_code(TO).await;

    // At 1:59 nothing more is due.
    app.clock.advance_secs(119);
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.messages(TO).await.len(), 1);

    // At 2:00 the call repeats code A.
    app.clock.advance_secs(1);
    assert_eq!(app.drain().await, 2, "the step job, then its delivery");
    let msgs = app.messages(TO).await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["channel"], "voice");
    assert_eq!(code_in(msgs[0]["text"].as_str().unwrap()), a);

    // At 5:00 a call with a new code B; A stops working.
    app.clock.advance_secs(180);
    app.drain().await;
    let msgs = app.messages(TO).await;
    assert_eq!(msgs.len(), 3);
    let b = code_in(msgs[0]["text"].as_str().unwrap());
    if a != b {
        let r = app.check(&id, &a).await;
        assert_eq!(r.json::<Value>().await.unwrap()["valid"], false);
    }
    let r = app.check(&id, &b).await;
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);
    // Nothing further is ever sent.
    app.clock.advance_secs(3600);
    assert_eq!(app.drain().await, 0);
    assert_eq!(app.messages(TO).await.len(), 3);
}

#[tokio::test]
async fn approval_cancels_later_steps() {
    let app = TestApp::spawn().await;
    let id = app.start_id(sms_then_call_after_2_minutes()).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    app.clock.advance_secs(60);
    let r = app.check(&id, &code).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    app.clock.advance_secs(600);
    assert_eq!(app.drain().await, 0, "the call step was cancelled with the approval");
    assert_eq!(app.messages(TO).await.len(), 1);
}

/// Stop the server before the 2-minute step is due, start it again on the same data: the
/// call is placed once, and the code still checks.
#[tokio::test]
async fn restart_resumes_scheduled_steps() {
    use crate::helpers::{Opts, temp_dir};
    let dir = temp_dir("restart");
    let app = TestApp::spawn_with(Opts::default().in_dir(dir.path())).await;
    let id = app.start_id(sms_then_call_after_2_minutes()).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    app.clock.advance_secs(60);
    app.stop().await;

    let app = TestApp::spawn_with(Opts::default().in_dir(dir.path())).await;
    app.clock.advance_secs(125);
    assert_eq!(app.drain().await, 2);
    assert_eq!(app.drain().await, 0);
    let msgs = app.messages(TO).await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["channel"], "voice");
    assert_eq!(code_in(msgs[0]["text"].as_str().unwrap()), code);
    let r = app.check(&id, &code).await;
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);
}

/// An SMS at once, then a call two minutes later.
fn sms_then_call_after_2_minutes() -> Value {
    json!({"to": TO, "workflow": [{"channel": "sms"}, {"channel": "voice", "after_s": 120}]})
}
