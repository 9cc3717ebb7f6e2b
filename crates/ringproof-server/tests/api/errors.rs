use serde_json::json;

use crate::helpers::{TestApp, error_code};

#[tokio::test]
async fn bad_input_gets_4xx_in_the_envelope() {
    let app = TestApp::spawn().await;
    let url = format!("{}/v1/verifications", app.base);
    let send = |body: String, ct: Option<&'static str>| {
        let mut rb = app.http.post(&url).header("authorization", app.auth()).body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb.send()
    };
    let json_ct = Some("application/json");
    let cases: Vec<(String, Option<&'static str>, u16, &str)> = vec![
        ("{\"to\":".into(), json_ct, 400, "malformed_json"),
        ("not json".into(), json_ct, 400, "malformed_json"),
        (
            json!({"to": 14155550123u64}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123", "colour": "red"}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123", "channel": "fax"}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (json!({}).to_string(), json_ct, 400, "invalid_parameter"),
        (
            json!({"to": "4155550123"}).to_string(),
            json_ct,
            400,
            "invalid_phone_number",
        ),
        (
            json!({"to": "+10005550123"}).to_string(),
            json_ct,
            400,
            "invalid_phone_number",
        ),
        (
            json!({"to": "+14155550123", "code_length": 3}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123", "code_length": 300}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123", "channel": "sms", "workflow": [{"channel": "sms"}]}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123", "workflow": [{"channel": "sms"}, {"channel": "voice", "after_s": 0}]})
                .to_string(),
            json_ct,
            400,
            "invalid_workflow",
        ),
        (
            json!({"to": "+14155550123", "workflow": []}).to_string(),
            json_ct,
            400,
            "invalid_workflow",
        ),
        (
            json!({"to": "+14155550123", "locale": "en; DROP"}).to_string(),
            json_ct,
            400,
            "invalid_parameter",
        ),
        (
            json!({"to": "+14155550123"}).to_string(),
            None,
            415,
            "unsupported_media_type",
        ),
        (
            format!("{{\"to\":\"+14155550123\",\"brand\":\"{}\"}}", "x".repeat(17 * 1024)),
            json_ct,
            413,
            "payload_too_large",
        ),
    ];
    for (body, ct, status, code) in cases {
        let shown = body.chars().take(80).collect::<String>();
        let r = send(body, ct).await.unwrap();
        assert_eq!(r.status(), status, "{shown}");
        assert_eq!(error_code(r, status).await, code, "{shown}");
    }
    // The workflow error names the step.
    let r = app
        .post(
            "/v1/verifications",
            &json!({"to": "+14155550123", "workflow": [{"channel": "sms"}, {"channel": "voice", "after_s": 0}]}),
        )
        .await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("workflow step 2:"),
        "{body}"
    );
}

#[tokio::test]
async fn credentials_are_required_and_checked() {
    let app = TestApp::spawn().await;
    let body = json!({"to": "+14155550123"});
    let r = app.post_anonymous("/v1/verifications", &body).await;
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"ringproof\"");
    assert_eq!(error_code(r, 401).await, "unauthorized");
    let wrong = format!("Bearer {}:rs_wrong", app.key);
    assert_eq!(
        error_code(app.post_as(&wrong, "/v1/verifications", &body).await, 401).await,
        "unauthorized"
    );
    let unknown = "Bearer rk_000000000000000000000000:rs_x";
    assert_eq!(
        error_code(app.post_as(unknown, "/v1/verifications", &body).await, 401).await,
        "unauthorized"
    );
    // HTTP Basic works as well as Bearer.
    let r = app
        .http
        .post(format!("{}/v1/verifications", app.base))
        .basic_auth(&app.key, Some(&app.secret))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn check_input_and_unknown_routes() {
    let app = TestApp::spawn().await;
    let id = app.start_sms("+14155550123").await;
    for bad in [
        json!({"code": "12"}),
        json!({"code": "12345678901"}),
        json!({"code": "12ab56"}),
    ] {
        let r = app.post(&format!("/v1/verifications/{id}/check"), &bad).await;
        assert_eq!(error_code(r, 400).await, "invalid_parameter", "{bad}");
    }
    // Malformed codes are not counted as attempts.
    let v: serde_json::Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["remaining_check_attempts"], 5);
    let r = app
        .post(&format!("/v1/verifications/{id}/check"), &json!({"code": 123456}))
        .await;
    assert_eq!(error_code(r, 400).await, "invalid_parameter");
    assert_eq!(error_code(app.get("/v1/nothing-here").await, 404).await, "not_found");
    let r = app
        .http
        .delete(format!("{}/v1/verifications/{id}", app.base))
        .header("authorization", app.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r, 405).await, "method_not_allowed");
    let r = app
        .post(&format!("/v1/verifications/{id}/resend"), &json!({"channel": "pigeon"}))
        .await;
    assert_eq!(error_code(r, 400).await, "invalid_parameter");
}

#[tokio::test]
async fn bad_query_parameters_get_the_envelope() {
    let app = TestApp::spawn().await;
    for q in ["limit=0", "limit=501", "limit=abc", "limit=99999999999"] {
        for path in ["/sandbox/api/messages", "/sandbox"] {
            let r = app.http.get(format!("{}{path}?{q}", app.base)).send().await.unwrap();
            assert_eq!(error_code(r, 400).await, "invalid_parameter", "{path}?{q}");
        }
    }
}

/// A 400 names the request field at fault in `error.field`, in the request's own terms.
#[tokio::test]
async fn a_bad_field_is_named() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"to": "+1415"}), "to"),
        (json!({"to": "+14155550100", "code_length": 3}), "code_length"),
        (json!({"to": "+14155550100", "locale": "no such"}), "locale"),
        (
            json!({"to": "+14155550100", "workflow": [{"channel": "sms"}, {"channel": "voice", "after_s": 0}]}),
            "workflow[1]",
        ),
    ] {
        let r = app.post("/v1/verifications", &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    // Errors about no field have none.
    let r = app.get("/v1/verifications/VE00000000000000000000000000000000").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].get("field").is_none(), "{v}");
    app.stop().await;
}
