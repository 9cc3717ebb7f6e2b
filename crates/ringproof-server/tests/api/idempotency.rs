use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

async fn create_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/verifications", app.base))
        .header("authorization", app.auth())
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn same_key_same_body_replays_different_body_is_refused() {
    let app = TestApp::spawn().await;
    let body = json!({"to": "+14155550123"});
    let first = create_with_key(&app, "order-42", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    app.clock.advance_secs(3600);
    let again = create_with_key(&app, "order-42", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    // Only one SMS went out for the two requests.
    app.drain().await;
    assert_eq!(app.messages("+14155550123").await.len(), 1);

    let other = create_with_key(&app, "order-42", &json!({"to": "+14155550124"})).await;
    assert_eq!(error_code(other, 422).await, "idempotency_key_reused");

    // Keys are per client: another client may use the same key.
    let b = app.other_client_auth().await;
    let r = app
        .http
        .post(format!("{}/v1/verifications", app.base))
        .header("authorization", b)
        .header("idempotency-key", "order-42")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_ne!(r.json::<Value>().await.unwrap()["id"], first["id"]);

    // After 24 h the key is free again.
    app.clock.advance_secs(24 * 3600);
    let later = create_with_key(&app, "order-42", &body).await;
    assert_eq!(later.status(), 201);
    assert!(later.headers().get("idempotent-replayed").is_none());
    assert_ne!(later.json::<Value>().await.unwrap()["id"], first["id"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_verification() {
    let app = TestApp::spawn().await;
    let body = json!({"to": "+14155550123"});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, auth, body) = (app.http.clone(), app.base.clone(), app.auth(), body.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/verifications"))
                .header("authorization", auth)
                .header("idempotency-key", "same")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    app.drain().await;
    assert_eq!(app.messages("+14155550123").await.len(), 1);
}
