//! `/metrics` through every face. A test binary of its own (see `[[test]]` in Cargo.toml):
//! the metrics registry is process-wide, and `tests/api/main.rs` runs many servers at once,
//! so exact counts need a process with one server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../ringproof-store/tests/support/eventually.rs"]
mod eventually;
#[allow(dead_code, unused_macros, unused_imports)]
#[path = "helpers.rs"]
mod helpers;
#[path = "../../../ringproof-store/tests/support/pg.rs"]
mod pg;

use base64::Engine as _;
use helpers::{TestApp, signzy_login};
use serde_json::{Value, json};

/// The value of the sample `series` (name and labels as rendered) in a `/metrics` text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn each_face_counts_its_starts_checks_and_approvals_and_every_metric_has_help() {
    let app = TestApp::spawn().await;

    // Native /v1: a wrong code first, then the right one.
    let native = "+14155550123";
    let id = app.start_sms(native).await;
    app.drain().await;
    let code = app.last_code(native).await;
    let wrong = if code.starts_with('9') { "1" } else { "9" }.repeat(code.len());
    let r = app.check(&id, &wrong).await;
    assert_eq!(r.status(), 200);
    let r = app.check(&id, &code).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");

    // A start replayed by its Idempotency-Key is not counted again.
    for _ in 0..2 {
        let r = app
            .http
            .post(format!("{}/v1/verifications", app.base))
            .header("authorization", app.auth())
            .header("idempotency-key", "metrics-once")
            .json(&json!({"to": "+14155550126"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // Signzy: send-otp, verify-otp.
    let signzy = "+14155550124";
    let t = signzy_login(&app).await;
    let send = json!({"clientId": app.client_id, "phoneNumber": signzy, "channel": "smsOtp", "customTextId": "6"});
    let r = app.post_as(&t, "/api/v3/otp-verification/send-otp", &send).await;
    assert_eq!(r.status(), 200);
    app.drain().await;
    let code = app.last_code(signzy).await;
    let verify = json!({"clientId": app.client_id, "phoneNumber": signzy, "otp": code});
    let r = app.post_as(&t, "/api/v3/otp-verification/verify-otp", &verify).await;
    assert_eq!(r.json::<Value>().await.unwrap()["result"]["verified"], true);

    // iDenfy: send-sms, verify-sms.
    let idenfy = "+14155550125";
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", app.key, app.secret))
    );
    let r = app
        .post_as(&basic, "/fraud/send-sms", &json!({"phone_number": idenfy}))
        .await;
    assert_eq!(r.status(), 200);
    let request_id = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.drain().await;
    let code = app.last_code(idenfy).await;
    let r = app
        .post_as(
            &basic,
            "/fraud/verify-sms",
            &json!({"request_id": request_id, "received_code": code}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["is_verified"], true);

    // The throttle, on each face: a sixth failure in a row from one address is refused
    // unchecked (the schedule's backoff) and counted by face and rule.
    for _ in 0..6 {
        let login = json!({"username": "nobody", "password": "wrong"});
        app.post_anonymous("/api/v3/patrons/login", &login).await;
        app.get_as("Bearer rk_nobody:wrong", "/v1/verifications/VE00").await;
        let basic = base64::engine::general_purpose::STANDARD.encode("rk_nobody2:wrong");
        app.post_as(&format!("Basic {basic}"), "/fraud/verify-sms", &json!({}))
            .await;
    }

    let text = app.get("/metrics").await.text().await.unwrap();
    for (series, want) in [
        ("ringproof_auth_throttled_total{face=\"signzy\",rule=\"backoff\"}", 1.0),
        ("ringproof_auth_throttled_total{face=\"native\",rule=\"backoff\"}", 1.0),
        ("ringproof_auth_throttled_total{face=\"idenfy\",rule=\"backoff\"}", 1.0),
        ("ringproof_verifications_started_total{channel=\"sms\"}", 4.0),
        ("ringproof_verifications_approved_total{channel=\"sms\"}", 3.0),
        ("ringproof_checks_total{outcome=\"approved\"}", 3.0),
        ("ringproof_checks_total{outcome=\"wrong\"}", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
    }

    // Every metric family has a # HELP line, and every sample belongs to a family.
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert!(families.len() >= 6, "{text}");
    for f in &families {
        assert!(text.contains(&format!("# HELP {f} ")), "no # HELP for {f} in\n{text}");
    }
    for l in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let name = l.split(['{', ' ']).next().unwrap();
        assert!(
            families
                .iter()
                .any(|f| name == *f || name.strip_prefix(f).is_some_and(|s| s.starts_with('_'))),
            "{name} has no # TYPE (so no # HELP) in\n{text}"
        );
    }
}
