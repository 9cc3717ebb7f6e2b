//! The generic HTTP provider against a mock gateway (wiremock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{OutboundMessage, SendError, Sender};
use ringproof_core::workflow::Channel;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use ringproof_providers::http::HttpSender;
use ringproof_providers::registry::ProviderConfig;

/// A text with everything that must be escaped: quotes, `&`, braces, non-ASCII.
const TEXT: &str = "Your code is 123456. \"Don't\" share & {keep} it — ça va ✓";
const TO: &str = "+447911123456";

fn msg() -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "JB-42".into(),
        to: PhoneNumber::parse_e164(TO).unwrap(),
        channel: Channel::Sms,
        text: TEXT.into(),
        locale: "en".into(),
        sender: None,
        verification: None,
    }
}

/// The provider from a `[providers.gw]` table, given as JSON (the config's shape).
fn sender(table: serde_json::Value) -> Result<HttpSender, String> {
    let mut table = table;
    table["kind"] = json!("http");
    let cfg: ProviderConfig = serde_json::from_value(table).map_err(|e| e.to_string())?;
    let ProviderConfig::Http(c) = cfg else {
        return Err("not http".into());
    };
    HttpSender::new("gw", &c).map_err(|e| e.to_string())
}

fn assert_no_personal_data(e: &SendError) {
    let s = e.to_string();
    assert!(!s.contains("123456") && !s.contains("7911123456"), "{s}");
}

#[tokio::test]
async fn json_post_substitutes_and_escapes_every_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/send"))
        .and(header("authorization", "Bearer s3cret"))
        .and(header("content-type", "application/json"))
        .and(header("x-idempotency-key", "JB-42"))
        .and(header("x-static", "yes"))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"ok":true,"id":"msg-789"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let s = sender(json!({
        "url": format!("{}/v2/send", server.uri()),
        "headers": {"X-Idempotency-Key": "{idempotency_key}", "X-Static": "yes"},
        "auth_header_value": "Bearer s3cret",
        "body": r#"{"to":"{to}","msisdn":"{to_digits}","from":"{sender}","text":"{text}","ref":"{idempotency_key}","lang":"{locale}","opts":{}}"#,
        "sender": "Acme",
        "success_regex": r#""ok":\s*true"#,
        "message_id_regex": r#""id":"([^"]+)""#,
    }))
    .unwrap();
    let r = s.send(&msg()).await.unwrap();
    assert_eq!(r.provider, "gw");
    assert_eq!(r.provider_message_id.as_deref(), Some("msg-789"));

    let reqs = server.received_requests().await.unwrap();
    let got: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        got,
        json!({"to": TO, "msisdn": "447911123456", "from": "Acme", "text": TEXT,
               "ref": "JB-42", "lang": "en", "opts": {}})
    );
}

#[tokio::test]
async fn form_post_encodes_values_and_uses_the_messages_sender() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK 5f3a"))
        .expect(1)
        .mount(&server)
        .await;
    let s = sender(json!({
        "url": format!("{}/send", server.uri()),
        "body": "user=me&to={to_digits}&from={sender}&msg={text}",
        "content_type": "application/x-www-form-urlencoded",
        "sender": "Default",
        "message_id_regex": "^OK ([0-9a-f]+)",
    }))
    .unwrap();
    let mut m = msg();
    m.sender = Some("Brand & Co".into());
    let r = s.send(&m).await.unwrap();
    assert_eq!(r.provider_message_id.as_deref(), Some("5f3a"));

    let reqs = server.received_requests().await.unwrap();
    let body = std::str::from_utf8(&reqs[0].body).unwrap();
    let fields: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(
        fields,
        vec![
            ("user".into(), "me".into()),
            ("to".into(), "447911123456".into()),
            ("from".into(), "Brand & Co".into()),
            ("msg".into(), TEXT.into()),
        ]
    );
    // No raw `&`, `{` or non-ASCII left in the encoded text.
    assert!(
        body.contains("msg=Your+code+is+123456.+%22Don%27t%22+share+%26+%7Bkeep%7D"),
        "{body}"
    );
}

#[tokio::test]
async fn get_puts_percent_encoded_values_in_the_url() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/%2B447911123456"))
        .and(query_param("text", TEXT))
        .and(query_param("key", "JB-42"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let s = sender(json!({
        "method": "GET",
        "url": format!("{}/api/{{to}}?text={{text}}&key={{idempotency_key}}", server.uri()),
    }))
    .unwrap();
    let r = s.send(&msg()).await.unwrap();
    assert_eq!(r.provider_message_id, None);
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].body.is_empty());
    assert!(reqs[0].url.query().unwrap().contains("%7Bkeep%7D"));
}

async fn answer(status: u16, body: &str, extra: serde_json::Value) -> Result<(), SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    let mut cfg = json!({"url": format!("{}/send", server.uri()), "body": r#"{"text":"{text}"}"#});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        cfg[k] = v;
    }
    sender(cfg).unwrap().send(&msg()).await.map(|_| ())
}

#[tokio::test]
async fn statuses_classify() {
    // The gateway echoes the request; the error must not.
    let echo = format!(r#"{{"error":"bad","to":"{TO}","text":"{TEXT}"}}"#);
    for (status, retryable) in [
        (400, false),
        (401, true),
        (404, false),
        (408, true),
        (429, true),
        (500, true),
        (503, true),
    ] {
        let e = answer(status, &echo, json!({})).await.unwrap_err();
        assert_eq!(matches!(e, SendError::Retryable(_)), retryable, "{status}: {e}");
        assert!(e.to_string().contains(&format!("HTTP {status}")), "{e}");
        assert_no_personal_data(&e);
    }
    assert!(answer(204, "", json!({})).await.is_ok());
    // An explicit list: a 200 where only 202 means accepted is permanent.
    assert!(answer(202, "", json!({"success_status": [202]})).await.is_ok());
    let e = answer(200, "", json!({"success_status": [202]})).await.unwrap_err();
    assert!(
        matches!(e, SendError::Permanent(ref m) if m.contains("HTTP 200 is not in success_status")),
        "{e}"
    );
}

#[tokio::test]
async fn error_in_a_200_body() {
    let rules = json!({"success_regex": r#""status":\s*"queued""#, "retry_regex": "THROTTLED|SYSTEM_BUSY"});
    assert!(answer(200, r#"{"status":"queued"}"#, rules.clone()).await.is_ok());
    let e = answer(
        200,
        &format!(r#"{{"status":"THROTTLED","text":"{TEXT}"}}"#),
        rules.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SendError::Retryable(_)), "{e}");
    assert_no_personal_data(&e);
    let e = answer(200, &format!(r#"{{"status":"INVALID_NUMBER","to":"{TO}"}}"#), rules)
        .await
        .unwrap_err();
    assert!(
        matches!(e, SendError::Permanent(ref m) if m.contains("success_regex")),
        "{e}"
    );
    assert_no_personal_data(&e);
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let s = sender(json!({"url": format!("{}/send", server.uri()), "body": "{text}", "timeout_s": 1})).unwrap();
    let e = s.send(&msg()).await.unwrap_err();
    assert_eq!(e, SendError::Retryable("gw: timed out".into()));
}

#[tokio::test]
async fn voice_is_refused_permanently() {
    let s = sender(json!({"url": "https://gw.example/send", "body": "{text}"})).unwrap();
    let mut m = msg();
    m.channel = Channel::Voice;
    assert!(matches!(s.send(&m).await, Err(SendError::Permanent(e)) if e.contains("SMS only")));
}

#[test]
fn bad_configs_are_refused_at_build() {
    let cases = [
        (
            json!({"url": "https://gw.example/{phone}"}),
            "unknown placeholder `{phone}`",
        ),
        (
            json!({"url": "https://gw.example/", "body": "{\"t\":\"{code}\"}"}),
            "`body`: unknown placeholder `{code}`",
        ),
        (
            json!({"url": "https://gw.example/", "headers": {"X-To": "{to}"}}),
            "header `X-To`: unknown placeholder",
        ),
        (json!({"url": "ftp://gw.example/"}), "http:// or https://"),
        (
            json!({"method": "GET", "url": "https://gw.example/", "body": "x"}),
            "a GET has no `body`",
        ),
        (
            json!({"url": "https://gw.example/", "body": "x", "content_type": "text/xml"}),
            "not supported",
        ),
        (
            json!({"url": "https://gw.example/", "body": "{sender}"}),
            "give a default `sender`",
        ),
        (
            json!({"url": "https://gw.example/", "success_regex": "("}),
            "not a valid regex",
        ),
        (
            json!({"url": "https://gw.example/", "retry_regex": "x"}),
            "give `success_regex` too",
        ),
        (
            json!({"url": "https://gw.example/", "message_id_regex": "id"}),
            "one capture group",
        ),
        (
            json!({"url": "https://gw.example/", "success_status": [700]}),
            "100–599",
        ),
        (
            json!({"url": "https://gw.example/", "auth_header": "X-Key"}),
            "needs `auth_header_value`",
        ),
        (
            json!({"url": "https://gw.example/", "bodyy": "x"}),
            "unknown field `bodyy`",
        ),
    ];
    for (cfg, want) in cases {
        let e = sender(cfg.clone()).unwrap_err();
        assert!(e.contains(want), "{cfg}: {e}");
    }
}

#[tokio::test]
async fn healthcheck() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/up"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let with =
        |p: &str| sender(json!({"url": "https://gw.example/", "healthcheck_url": format!("{}{p}", server.uri())}));
    assert!(with("/up").unwrap().healthcheck().await.is_ok());
    assert!(matches!(
        with("/down").unwrap().healthcheck().await,
        Err(SendError::Retryable(_))
    ));
    let none = sender(json!({"url": "https://gw.example/"})).unwrap();
    assert!(none.healthcheck().await.is_ok());
}

#[test]
fn the_documented_examples_load() {
    let examples = common::doc_examples("Generic HTTP");
    let names: Vec<&str> = examples.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["gw_form", "gw_get", "gw_json"]);
    for (name, cfg) in &examples {
        let ProviderConfig::Http(c) = cfg else {
            panic!("{name} is not http");
        };
        if c.auth_header_value_file.is_none() {
            HttpSender::new(name, c).unwrap();
        }
    }
}
