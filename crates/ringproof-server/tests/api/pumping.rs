//! The SMS-pumping guard and geo permissions through the real server, on both stores: the
//! issue's burst (100 sends in a minute to sequential numbers of one prefix) delivers at
//! most 15 messages, and all 100 with the rule switched off; each refusal in each face's
//! envelope (native 403 `prefix_blocked` / `country_not_allowed`, Signzy, iDenfy); a block
//! listed, audited, lifted; a resend refused by a block in the verification's events; the
//! safe list.

use ringproof_core::engine::ClientChange;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, on_both_stores, signzy_body, signzy_login};

/// A GB mobile prefix (the number minus its last four digits).
const PREFIX: &str = "+44740012";
/// Another GB prefix, where an approval makes GB a country the client serves.
const KNOWN: &str = "+447400993456";

/// A verification to `KNOWN`, approved: GB becomes a familiar country.
async fn approve_one(app: &TestApp) {
    let id = app.start_sms(KNOWN).await;
    app.drain().await;
    let code = app.last_code(KNOWN).await;
    assert_eq!(app.check(&id, &code).await.status(), 200);
}

/// 100 starts on /v1 within one minute to `prefix`0000…0099; returns the messages the
/// worker then delivered, and the error codes of the refusals.
async fn burst(app: &TestApp, prefix: &str) -> (usize, Vec<String>) {
    let mut refused = Vec::new();
    for k in 0..100 {
        let r = app
            .post("/v1/verifications", &json!({"to": format!("{prefix}{k:04}")}))
            .await;
        if r.status() != 201 {
            assert!(r.headers().get("retry-after").is_some(), "a block says when it ends");
            refused.push(error_code(r, 403).await);
        }
        if k % 5 == 4 {
            app.clock.advance_secs(3);
        }
    }
    app.drain().await;
    let mut delivered = 0;
    for k in 0..100 {
        delivered += app.messages(&format!("{prefix}{k:04}")).await.len();
    }
    (delivered, refused)
}

async fn a_burst_to_one_prefix_delivers_at_most_15(app: TestApp) {
    approve_one(&app).await;
    let (delivered, refused) = burst(&app, PREFIX).await;
    println!("burst of 100 to one prefix: {delivered} messages delivered");
    assert!(delivered <= 15, "{delivered} messages delivered");
    assert_eq!(delivered + refused.len(), 100);
    assert!(refused.iter().all(|c| c == "prefix_blocked"), "{refused:?}");
    // Listed with its figures, audited, counted.
    let blocks = app.engine.guard_blocks(Some(&app.demo_id())).await.unwrap();
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let b = &blocks[0].1;
    assert_eq!(
        (b.range.as_str(), b.country.as_str(), b.kind.as_str()),
        (PREFIX, "GB", "pumping_prefix")
    );
    assert!(b.why.contains("0 approved"), "{}", b.why);
    assert_eq!(b.until.millis() - b.since.millis(), 12 * 3_600_000);
    let audit = app
        .engine
        .audit_log(&ringproof_core::audit::AuditQuery {
            client_id: Some(app.demo_id()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    let blocked = audit
        .iter()
        .find(|e| e.action.as_str() == "guard.blocked")
        .expect("audited");
    assert_eq!(blocked.detail["rule"], "pumping_prefix");
    assert_eq!(blocked.detail["country"], "GB");
    assert!(
        !blocked.detail.to_string().contains(PREFIX),
        "no number-like text in the audit log"
    );

    // The same burst with the guard's rules switched off for the client: all 100 go out
    // (so the bound above is the guard's doing, not another limit's).
    app.update_client(ClientChange {
        limits: vec![
            ("pump_block_hours".into(), "0".into()),
            ("pump_country_block_hours".into(), "0".into()),
        ],
        ..Default::default()
    })
    .await;
    let (all, refused) = burst(&app, "+44740034").await;
    assert_eq!((all, refused.len()), (100, 0));
}
on_both_stores!(burst_is_stopped, a_burst_to_one_prefix_delivers_at_most_15);

async fn blocks_refuse_on_every_face_and_are_lifted(app: TestApp) {
    let client = app.demo_id();
    let to = format!("{PREFIX}3456");
    let engine = app.engine.acting_as(ringproof_core::audit::Actor::cli(Some("alice")));
    let b = engine
        .guard_block(&client, PREFIX, 2, Some("fraud report 17"))
        .await
        .unwrap();
    assert_eq!((b.country.as_str(), b.by.as_str()), ("GB", "cli:alice"));
    assert!(
        engine.guard_block(&client, "+4474", 2, None).await.is_err(),
        "not a prefix"
    );
    assert!(
        engine
            .guard_block(&client, "+44740013", 2, Some("see +447400123456"))
            .await
            .is_err(),
        "a reason with a number is refused (it goes to the audit log)"
    );

    // Native: 403 prefix_blocked with Retry-After (the block's end).
    let r = app.post("/v1/verifications", &json!({"to": to})).await;
    assert_eq!(r.headers()["retry-after"], "7200");
    assert_eq!(error_code(r, 403).await, "prefix_blocked");
    // Signzy: the seed's blocked number.
    let t = signzy_login(&app).await;
    let body = json!({"clientId": app.client_id, "phoneNumber": to, "channel": "smsOtp", "customTextId": "6"});
    let v = signzy_body(app.post_as(&t, "/api/v3/otp-verification/send-otp", &body).await, 404).await;
    assert_eq!(v["error"]["message"], "Blocked phone number");
    // iDenfy: 403 PERMISSIONS_ERROR naming the reason.
    let r = app
        .post_as(&app.basic_auth(), "/fraud/send-sms", &json!({"phone_number": to}))
        .await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["identifier"], "PERMISSIONS_ERROR");
    assert!(v["message"].as_str().unwrap().contains("suspected SMS pumping"), "{v}");
    // A safe number in the range still passes.
    app.update_client(ClientChange {
        safe_numbers: Some(vec![to.clone()]),
        ..Default::default()
    })
    .await;
    assert_eq!(app.post("/v1/verifications", &json!({"to": to})).await.status(), 201);
    let other = format!("{PREFIX}3457");
    assert_eq!(
        error_code(app.post("/v1/verifications", &json!({"to": other})).await, 403).await,
        "prefix_blocked"
    );

    // Lifted: listed no more, audited, sends pass.
    let lifted = engine.guard_unblock(&client, PREFIX).await.unwrap();
    assert_eq!(lifted.map(|b| b.why), Some("fraud report 17".to_owned()));
    assert!(engine.guard_blocks(Some(&client)).await.unwrap().is_empty());
    assert!(engine.guard_unblock(&client, PREFIX).await.unwrap().is_none());
    assert_eq!(app.post("/v1/verifications", &json!({"to": other})).await.status(), 201);
    let audit = app
        .engine
        .audit_log(&ringproof_core::audit::AuditQuery {
            client_id: Some(client.clone()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = audit.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
    assert!(actions.contains(&("guard.blocked", "cli:alice")), "{actions:?}");
    assert!(actions.contains(&("guard.unblocked", "cli:alice")), "{actions:?}");
}
on_both_stores!(blocks_on_every_face, blocks_refuse_on_every_face_and_are_lifted);

async fn a_resend_refused_by_a_block_is_in_the_events(app: TestApp) {
    let to = format!("{PREFIX}7777");
    let id = app.start_sms(&to).await;
    app.engine.guard_block(&app.demo_id(), PREFIX, 1, None).await.unwrap();
    app.clock.advance_secs(60);
    let r = app.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
    assert_eq!(error_code(r, 403).await, "prefix_blocked");
    let events = app.event_details(&id).await;
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "send_refused" && d.contains("manual_block")),
        "{events:?}"
    );
}
on_both_stores!(resend_refused_event, a_resend_refused_by_a_block_is_in_the_events);

async fn countries_are_allowed_per_channel_on_every_face(app: TestApp) {
    app.update_client(ClientChange {
        limits: vec![
            ("allowed_countries_sms".into(), "GB,US".into()),
            ("allowed_countries_voice".into(), "GB".into()),
        ],
        ..Default::default()
    })
    .await;
    const US: &str = "+14155550123";
    const FR: &str = "+33612345678";
    // Native: SMS to US passes, a call to US does not; SMS to FR does not.
    assert_eq!(app.post("/v1/verifications", &json!({"to": US})).await.status(), 201);
    let r = app
        .post("/v1/verifications", &json!({"to": "+14155550124", "channel": "voice"}))
        .await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "country_not_allowed");
    assert!(v["error"]["message"].as_str().unwrap().contains("US"), "{v}");
    let r = app.post("/v1/verifications", &json!({"to": FR})).await;
    assert_eq!(error_code(r, 403).await, "country_not_allowed");
    // A workflow whose later step is a call: the step is skipped, with the rule.
    let id = app
        .start_id(json!({"to": "+14155550125", "workflow": [
            {"channel": "sms"}, {"channel": "voice", "after_s": 60}
        ]}))
        .await;
    app.clock.advance_secs(61);
    app.drain().await;
    let events = app.event_details(&id).await;
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "step_skipped" && d.contains("country_not_allowed")),
        "{events:?}"
    );
    // Signzy: a 403 in its envelope naming the country.
    let t = signzy_login(&app).await;
    let body = json!({"clientId": app.client_id, "phoneNumber": FR, "channel": "smsOtp", "customTextId": "6"});
    let v = signzy_body(app.post_as(&t, "/api/v3/otp-verification/send-otp", &body).await, 403).await;
    assert_eq!(v["error"]["message"], "SMS to FR is not allowed for this client");
    assert_eq!(v["error"]["type"], "forbidden");
    // iDenfy: 403 PERMISSIONS_ERROR naming the country.
    let r = app
        .post_as(&app.basic_auth(), "/fraud/send-sms", &json!({"phone_number": FR}))
        .await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["identifier"], "PERMISSIONS_ERROR");
    assert!(v["message"].as_str().unwrap().contains("FR"), "{v}");
    // `default` gives the server's list (every country) back.
    app.update_client(ClientChange {
        limits: vec![("allowed_countries_sms".into(), "default".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(app.post("/v1/verifications", &json!({"to": FR})).await.status(), 201);
}
on_both_stores!(geo_permissions, countries_are_allowed_per_channel_on_every_face);
