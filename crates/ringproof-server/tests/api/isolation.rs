use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Client B gets, for A's verification id, exactly what it gets for a made-up id.
#[tokio::test]
async fn another_clients_id_is_just_unknown() {
    let app = TestApp::spawn().await;
    let a_id = app.start_sms("+14155550123").await;
    app.drain().await;
    let code = app.last_code("+14155550123").await;
    let b = app.other_client_auth().await;
    let made_up = "VE0123456789abcdef0123456789abcdef";

    let strip = |mut v: Value| {
        v["error"]["request_id"] = Value::Null;
        v
    };
    for (method, suffix, body) in [
        ("GET", "", None),
        ("GET", "/events", None),
        ("POST", "/check", Some(json!({"code": code}))),
        ("POST", "/cancel", Some(json!({}))),
        ("POST", "/resend", Some(json!({}))),
    ] {
        let mut answers = Vec::new();
        for id in [a_id.as_str(), made_up, "not-an-id"] {
            let path = format!("/v1/verifications/{id}{suffix}");
            let r = match &body {
                None => app.get_as(&b, &path).await,
                Some(body) => app.post_as(&b, &path, body).await,
            };
            answers.push((r.status().as_u16(), strip(r.json::<Value>().await.unwrap())));
        }
        assert_eq!(answers[0].0, 404, "{method} {suffix}");
        assert_eq!(answers[0], answers[1], "{method} {suffix}");
        assert_eq!(answers[0], answers[2], "{method} {suffix}");
        assert_eq!(answers[0].1["error"]["code"], "verification_not_found");
    }
    // B's attempts changed nothing: A's verification is untouched and A's code still works.
    let v: Value = app
        .get(&format!("/v1/verifications/{a_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "pending");
    assert_eq!(v["remaining_check_attempts"], 5);
    let r = app.check(&a_id, &code).await;
    assert_eq!(r.json::<Value>().await.unwrap()["valid"], true);
}
