//! The retention job as the worker runs it (`worker::run_retention`): verifications and
//! the sandbox's messages older than `personal_data_retention_s` are gone, newer ones
//! stay; audit entries stay until `audit_retention_s`.

use ringproof_core::audit::{AuditAction, AuditQuery};
use ringproof_server::config::Config;
use ringproof_server::worker::{Retention, run_retention};
use serde_json::json;

use crate::helpers::{TestApp, on_both_stores};

const DAY_S: i64 = 86_400;

on_both_stores!(
    retention_job_erases_numbers_past_the_period_and_keeps_newer,
    retention_job_erases_numbers_past_the_period_and_keeps_newer
);

async fn retention_job_erases_numbers_past_the_period_and_keeps_newer(app: TestApp) {
    let (old_to, new_to) = ("+14155550111", "+14155550122");
    let old = app.start_sms(old_to).await;
    app.drain().await;
    app.engine
        .audit(AuditAction::GuardChanged, None, json!({"rule": "test"}))
        .await
        .unwrap();
    app.clock.advance_secs(31 * DAY_S);
    let new = app.start_sms(new_to).await;
    app.drain().await;
    assert_eq!(app.messages(old_to).await.len(), 1);

    // The sandbox outbox of this server, opened as the server's worker holds it.
    let sandbox = app.sandbox_outbox().await;
    let config = Config::default();
    assert_eq!(config.personal_data_retention_s, 30 * DAY_S, "the documented default");
    // Finished verifications are kept longer than the personal data here, so only the
    // erasure can remove the old one.
    let retention = Retention {
        retention_s: 90 * DAY_S,
        ..Retention::new(&config, Some(sandbox))
    };
    run_retention(&app.engine, &retention).await;

    assert_eq!(app.get(&format!("/v1/verifications/{old}")).await.status(), 404);
    assert!(
        app.messages(old_to).await.is_empty(),
        "the sandbox forgot the old number"
    );
    let kept: serde_json::Value = app.get(&format!("/v1/verifications/{new}")).await.json().await.unwrap();
    assert_eq!(kept["to"], new_to);
    assert_eq!(app.messages(new_to).await.len(), 1);
    let audit = |app: &TestApp| {
        let engine = app.engine.clone();
        async move {
            engine
                .audit_log(&AuditQuery {
                    client_id: None,
                    since: None,
                    limit: 100,
                })
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.action == AuditAction::GuardChanged)
                .count()
        }
    };
    assert_eq!(audit(&app).await, 1, "audit entries outlive the personal data");

    app.clock.advance_secs(365 * DAY_S);
    run_retention(&app.engine, &retention).await;
    assert_eq!(audit(&app).await, 0, "and go after a year");
    assert_eq!(app.get(&format!("/v1/verifications/{new}")).await.status(), 404);
}
