//! Delivery receipts: a provider's report about a message it accepted moves the send
//! forward once and lands in the verification's history (and fails it when nothing else
//! can reach the person).

use ringproof_core::ids::ClientId;
use ringproof_core::ports::{DeliveryReceipt, DeliveryStatus};
use serde_json::Value;

use crate::helpers::TestApp;

const TO: &str = "+14155550123";

fn receipt(mid: &str, status: DeliveryStatus) -> DeliveryReceipt {
    DeliveryReceipt {
        provider: "sandbox".into(),
        provider_message_id: mid.into(),
        status,
        reason: Some("30003".into()),
    }
}

#[tokio::test]
async fn a_delivered_receipt_is_recorded_once() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let mid = app.messages(TO).await[0]["id"].as_str().unwrap().to_owned();

    let first = app
        .engine
        .delivery_receipt(&receipt(&mid, DeliveryStatus::Delivered))
        .await
        .unwrap();
    assert!(matches!(
        first,
        ringproof_core::delivery::ReceiptOutcome::Recorded { .. }
    ));
    let again = app
        .engine
        .delivery_receipt(&receipt(&mid, DeliveryStatus::Delivered))
        .await
        .unwrap();
    assert_eq!(again, ringproof_core::delivery::ReceiptOutcome::Ignored, "a repeat");
    let unknown = app
        .engine
        .delivery_receipt(&receipt("SBnope", DeliveryStatus::Failed))
        .await
        .unwrap();
    assert_eq!(unknown, ringproof_core::delivery::ReceiptOutcome::Ignored);

    let k = app.event_kinds(&id).await;
    assert_eq!(k.iter().filter(|k| *k == "delivered").count(), 1, "{k:?}");
    assert_eq!(k.last().map(String::as_str), Some("delivered"));
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "pending", "delivery does not approve anything");
}

#[tokio::test]
async fn an_undelivered_last_message_fails_the_verification() {
    let app = TestApp::spawn().await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let mid = app.messages(TO).await[0]["id"].as_str().unwrap().to_owned();
    app.engine
        .delivery_receipt(&receipt(&mid, DeliveryStatus::Undelivered))
        .await
        .unwrap();
    let k = app.event_kinds(&id).await;
    assert_eq!(&k[k.len() - 2..], ["delivery_failed", "failed"], "{k:?}");
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "failed");
    // Receipts are matched per provider and message id only: another client's
    // verification is never touched by them, and this one's is now final.
    let later = app
        .engine
        .delivery_receipt(&receipt(&mid, DeliveryStatus::Delivered))
        .await
        .unwrap();
    assert_eq!(later, ringproof_core::delivery::ReceiptOutcome::Ignored);
    let _ = ClientId::parse(&app.client_id).unwrap();
}

#[tokio::test]
async fn callbacks_for_a_provider_without_them_are_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    for path in ["/callbacks/sandbox", "/callbacks/nope"] {
        let r = app
            .http
            .post(format!("{}{path}", app.base))
            .body("x=1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "not_found");
    }
}

/// A late failure of an earlier send does not end a verification that a later send (here
/// the fallback call) still serves; the failure of the latest one does.
#[tokio::test]
async fn only_the_latest_send_failing_fails_the_verification() {
    let app = TestApp::spawn().await;
    let v = app
        .start(serde_json::json!({"to": TO, "workflow": [
            {"channel": "sms"},
            {"channel": "voice", "after_s": 60}
        ]}))
        .await;
    let id = v["id"].as_str().unwrap().to_owned();
    app.drain().await;
    app.clock.advance_secs(60);
    app.drain().await;
    let msgs = app.messages(TO).await;
    assert_eq!(msgs.len(), 2);
    let id_of = |channel: &str| {
        msgs.iter().find(|m| m["channel"] == channel).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    app.engine
        .delivery_receipt(&receipt(&id_of("sms"), DeliveryStatus::Undelivered))
        .await
        .unwrap();
    assert_eq!(
        status(&app, &id).await,
        "pending",
        "the call may still reach the person"
    );
    assert!(app.event_kinds(&id).await.contains(&"delivery_failed".to_owned()));
    app.engine
        .delivery_receipt(&receipt(&id_of("voice"), DeliveryStatus::Failed))
        .await
        .unwrap();
    assert_eq!(status(&app, &id).await, "failed");
}

async fn status(app: &TestApp, id: &str) -> String {
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    v["status"].as_str().unwrap().to_owned()
}
