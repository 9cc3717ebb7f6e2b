//! Vonage against a mock SMS API and Voice API (wiremock), and its delivery reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{
    CallbackError, CallbackParser, CallbackRequest, DeliveryReceipt, DeliveryStatus, OutboundMessage, SendError, Sender,
};
use ringproof_core::time::{ManualClock, Timestamp};
use ringproof_core::workflow::Channel;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use ringproof_providers::registry::{ProviderConfig, build_callback_parser};
use ringproof_providers::vonage::{VonageCallbacks, VonageSender};

const TO: &str = "+447911123456";
const TEXT: &str = "Your Acme code is 482913";
const KEY: &str = include_str!("../src/vonage/testdata/test-only-key.pem");
const NOW_MS: i64 = 1_763_780_000_000;

fn msg(channel: Channel, text: &str) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "JB-7f3a".into(),
        to: PhoneNumber::parse_e164(TO).unwrap(),
        channel,
        text: text.into(),
        locale: "en".into(),
        sender: None,
        verification: None,
    }
}

fn config(server: &str, extra: serde_json::Value) -> ProviderConfig {
    let mut t = json!({
        "kind": "vonage",
        "api_key": "abc123",
        "api_secret": "s3cr3t",
        "from": "Acme",
        "rest_url": server,
        "api_url": server,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        t[k] = v;
    }
    serde_json::from_value(t).unwrap()
}

fn sender(server: &str, extra: serde_json::Value) -> Result<VonageSender, String> {
    let ProviderConfig::Vonage(c) = config(server, extra) else {
        return Err("not vonage".into());
    };
    VonageSender::new(
        "vonage_eu",
        &c,
        Arc::new(ManualClock::new(Timestamp::from_millis(NOW_MS))),
    )
    .map_err(|e| e.to_string())
}

/// The public half of [`KEY`] (a PKCS#8 PEM), to check a JWT's signature as Vonage does.
fn public_key_der() -> Vec<u8> {
    let b64: String = KEY
        .lines()
        .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(b64).unwrap()).unwrap();
    key.public_key().as_ref().to_vec()
}

fn voice() -> serde_json::Value {
    json!({"application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "private_key": KEY, "voice_from": "+447700900000"})
}

fn form(req: &Request) -> BTreeMap<String, String> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

fn ok_body(id: &str) -> serde_json::Value {
    json!({"message-count": "1", "messages": [{"to": "447911123456", "message-id": id, "status": "0",
           "remaining-balance": "3.14", "message-price": "0.03", "network": "23410"}]})
}

fn assert_no_personal_data(e: &SendError) {
    let s = e.to_string();
    assert!(!s.contains("482913") && !s.contains("7911123456"), "{s}");
}

#[tokio::test]
async fn sms_request_has_every_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("0A0000001234ABCD")))
        .expect(1)
        .mount(&server)
        .await;
    let s = sender(
        &server.uri(),
        json!({"callback_url": "https://otp.example.com/callbacks/vonage_eu", "callback_token": "t0k"}),
    )
    .unwrap();
    let r = s.send(&msg(Channel::Sms, TEXT)).await.unwrap();
    assert_eq!(r.provider, "vonage_eu");
    assert_eq!(r.provider_message_id.as_deref(), Some("0A0000001234ABCD"));

    let reqs = server.received_requests().await.unwrap();
    let f = form(&reqs[0]);
    let want: BTreeMap<String, String> = [
        ("api_key", "abc123"),
        ("api_secret", "s3cr3t"),
        ("from", "Acme"),
        ("to", "447911123456"),
        ("text", TEXT),
        ("client-ref", "JB-7f3a"),
        ("callback", "https://otp.example.com/callbacks/vonage_eu?token=t0k"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // No `type`: a GSM text goes as plain text.
    assert_eq!(f, want);
}

#[tokio::test]
async fn non_gsm_text_goes_as_unicode_and_the_messages_sender_wins() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("X")))
        .mount(&server)
        .await;
    let s = sender(&server.uri(), json!({})).unwrap();
    let mut m = msg(Channel::Sms, "Ваш код: 482913 & {ok}");
    m.sender = Some("Brand".into());
    s.send(&m).await.unwrap();
    let f = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(f["type"], "unicode");
    assert_eq!(f["text"], "Ваш код: 482913 & {ok}");
    assert_eq!(f["from"], "Brand");
    assert!(!f.contains_key("callback"));
}

async fn sms_answer(status: u16, body: serde_json::Value) -> Result<(), SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    sender(&server.uri(), json!({}))
        .unwrap()
        .send(&msg(Channel::Sms, TEXT))
        .await
        .map(|_| ())
}

fn part(status: &str) -> serde_json::Value {
    // Vonage's error-text may quote what we sent; it must not reach our errors.
    json!({"status": status, "error-text": format!("Bad to 447911123456 text {TEXT}")})
}

#[tokio::test]
async fn error_in_a_200_body_classifies_by_status() {
    for (code, retryable) in [
        ("1", true),
        ("2", false),
        ("3", false),
        ("4", true),
        ("5", true),
        ("6", false),
        ("7", false),
        ("9", true),
        ("29", true),
        ("33", false),
        ("99", false),
    ] {
        let e = sms_answer(200, json!({"message-count": "1", "messages": [part(code)]}))
            .await
            .unwrap_err();
        assert_eq!(matches!(e, SendError::Retryable(_)), retryable, "{code}: {e}");
        assert!(e.to_string().contains(&format!("vonage_eu: status {code} (")), "{e}");
        assert_no_personal_data(&e);
    }
    let e = sms_answer(200, json!({"messages": [part("6")]})).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent("vonage_eu: status 6 (invalid message (e.g. unroutable number))".into())
    );
    // A long text: the second part throttled.
    let e = sms_answer(
        200,
        json!({"message-count": "2", "messages": [
        {"status": "0", "message-id": "A"}, part("1")]}),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, SendError::Retryable(_)), "{e}");
    // An unreadable 200: it may have left, so retry (a duplicate, never a loss).
    let e = sms_answer(200, json!("<html>")).await.unwrap_err();
    assert!(matches!(e, SendError::Retryable(_)), "{e}");
}

#[tokio::test]
async fn http_statuses_classify() {
    let echo = json!({"error": format!("to {TO} text {TEXT}")});
    for (status, retryable) in [
        (400, false),
        (401, true),
        (403, true),
        (429, true),
        (500, true),
        (503, true),
    ] {
        let e = sms_answer(status, echo.clone()).await.unwrap_err();
        assert_eq!(matches!(e, SendError::Retryable(_)), retryable, "{status}: {e}");
        assert_no_personal_data(&e);
    }
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(ok_body("X"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let s = sender(&server.uri(), json!({"timeout_s": 1})).unwrap();
    let e = s.send(&msg(Channel::Sms, TEXT)).await.unwrap_err();
    assert_eq!(e, SendError::Retryable("vonage_eu: timed out".into()));
    let e = s.send(&msg(Channel::Voice, TEXT)).await.unwrap_err();
    assert!(
        matches!(e, SendError::Permanent(ref m) if m.contains("voice is not configured")),
        "{e}"
    );
}

#[tokio::test]
async fn voice_call_with_jwt_and_ncco() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356", "status": "started",
            "direction": "outbound", "conversation_uuid": "CON-f972836a"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut extra = voice();
    extra["callback_url"] = json!("https://otp.example.com/callbacks/vonage_eu");
    extra["callback_token"] = json!("t0k");
    let s = sender(&server.uri(), extra).unwrap();
    let mut m = msg(Channel::Voice, "Your code is 4, 8, 2, 9, 1, 3.");
    m.locale = "pt-BR".into();
    let r = s.send(&m).await.unwrap();
    assert_eq!(
        r.provider_message_id.as_deref(),
        Some("63f61863-4a51-4f6b-86e1-46edebcf9356")
    );

    let req = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "to": [{"type": "phone", "number": "447911123456"}],
            "from": {"type": "phone", "number": "447700900000"},
            "ncco": [{"action": "talk", "text": "Your code is 4, 8, 2, 9, 1, 3.", "language": "pt-BR"}],
            "event_url": ["https://otp.example.com/callbacks/vonage_eu?token=t0k"],
            "event_method": "POST",
        })
    );
    // The bearer token is an RS256 JWT for the application, signed by its key.
    let auth = req.headers.get("authorization").unwrap().to_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["application_id"], "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
    assert_eq!(claims["iat"], NOW_MS / 1000);
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key_der())
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .unwrap();
}

#[tokio::test]
async fn voice_errors_classify_without_echo() {
    for (status, retryable) in [(400, false), (401, true), (429, true), (500, true)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/calls"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "type": "https://developer.nexmo.com/api-errors#bad-request",
                "title": "Bad Request",
                "detail": format!("Invalid number {TO}"),
                "invalid_parameters": [{"name": "to", "reason": TO}]})))
            .mount(&server)
            .await;
        let e = sender(&server.uri(), voice())
            .unwrap()
            .send(&msg(Channel::Voice, TEXT))
            .await
            .unwrap_err();
        assert_eq!(matches!(e, SendError::Retryable(_)), retryable, "{status}: {e}");
        assert!(e.to_string().contains(&format!("HTTP {status}: Bad Request")), "{e}");
        assert_no_personal_data(&e);
    }
}

#[tokio::test]
async fn healthcheck_asks_for_the_balance() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/account/get-balance"))
        .and(header("authorization", "Basic YWJjMTIzOnMzY3IzdA=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": 10.28, "autoReload": false})))
        .mount(&server)
        .await;
    assert!(sender(&server.uri(), json!({})).unwrap().healthcheck().await.is_ok());
    let e = sender(&server.uri(), json!({"api_secret": "wrong"}))
        .unwrap()
        .healthcheck()
        .await
        .unwrap_err();
    // wiremock answers 404 to an unmatched request: permanent, like a 401.
    assert!(matches!(e, SendError::Permanent(ref m) if !m.contains("wrong")), "{e}");
}

#[test]
fn bad_configs_are_refused_at_build() {
    let s = "https://rest.nexmo.com";
    let cases = [
        (
            json!({"api_secret": null}),
            "`api_secret` (or `api_secret_file`) is required",
        ),
        (json!({"application_id": "a"}), "`application_id` needs `private_key`"),
        (json!({"private_key": KEY}), "`private_key` needs `application_id`"),
        (
            json!({"application_id": "a", "private_key": "nope", "voice_from": "1"}),
            "`private_key` is not a PEM",
        ),
        (json!({"application_id": "a", "private_key": KEY}), "needs `voice_from`"),
        (
            json!({"voice_from": "447700900000"}),
            "`voice_from` needs `application_id`",
        ),
        (json!({"callback_url": "not a url"}), "`callback_url` must be"),
        (json!({"rest_url": "ftp://x"}), "`rest_url` must be"),
    ];
    for (extra, want) in cases {
        let e = sender(s, extra.clone()).unwrap_err();
        assert!(e.contains(want) && e.contains("provider `vonage_eu`"), "{extra}: {e}");
        assert!(!e.contains("BEGIN PRIVATE KEY"), "{e}");
    }
    let mut t = json!({"kind": "vonage", "api_key": "k", "api_secret": "s", "from": "A", "frm": "B"});
    assert!(
        serde_json::from_value::<ProviderConfig>(t.clone())
            .unwrap_err()
            .to_string()
            .contains("unknown field `frm`")
    );
    t.as_object_mut().unwrap().remove("frm");
    assert_eq!(serde_json::from_value::<ProviderConfig>(t).unwrap().kind(), "vonage");
}

// --- delivery reports ---

const CB: &str = "https://otp.example.com/callbacks/vonage_eu";

fn parser() -> VonageCallbacks {
    VonageCallbacks::new("vonage_eu", "t0k".to_owned().into())
}

fn parse(method: &str, url: &str, ct: Option<&str>, body: &str) -> Result<Vec<DeliveryReceipt>, CallbackError> {
    let headers: Vec<(String, String)> = ct
        .map(|c| ("content-type".to_owned(), c.to_owned()))
        .into_iter()
        .collect();
    parser().parse_callback(&CallbackRequest {
        method,
        url,
        headers: &headers,
        body: body.as_bytes(),
    })
}

fn receipt(id: &str, status: DeliveryStatus, reason: Option<&str>) -> Vec<DeliveryReceipt> {
    vec![DeliveryReceipt {
        provider: "vonage_eu".into(),
        provider_message_id: id.into(),
        status,
        reason: reason.map(str::to_owned),
    }]
}

#[test]
fn sms_dlr_by_get_query() {
    let url = format!(
        "{CB}?token=t0k&msisdn=447911123456&to=Acme&network-code=23410&messageId=0A0000001234ABCD\
         &price=0.03&status=delivered&scts=2611220512&err-code=0&client-ref=JB-7f3a\
         &message-timestamp=2026-11-22+05%3A12%3A00"
    );
    assert_eq!(
        parse("GET", &url, None, ""),
        Ok(receipt("0A0000001234ABCD", DeliveryStatus::Delivered, None))
    );
}

#[test]
fn sms_dlr_by_post_json_and_form() {
    let url = format!("{CB}?token=t0k");
    let json_body = json!({"msisdn": "447911123456", "to": "Acme", "messageId": "0A00000099",
        "status": "failed", "err-code": "5", "client-ref": "JB-7f3a"})
    .to_string();
    assert_eq!(
        parse("POST", &url, Some("application/json"), &json_body),
        Ok(receipt("0A00000099", DeliveryStatus::Undelivered, Some("5")))
    );
    let form_body = "msisdn=447911123456&messageId=0A00000098&status=rejected&err-code=6";
    assert_eq!(
        parse("POST", &url, Some("application/x-www-form-urlencoded"), form_body),
        Ok(receipt("0A00000098", DeliveryStatus::Failed, Some("6")))
    );
    // Without a content type: JSON if it is JSON, else a form.
    assert_eq!(
        parse(
            "POST",
            &url,
            None,
            r#"{"messageId":"M1","status":"buffered","err-code":0}"#
        ),
        Ok(receipt("M1", DeliveryStatus::Sent, None))
    );
    assert_eq!(
        parse("POST", &url, None, "messageId=M2&status=expired&err-code=1"),
        Ok(receipt("M2", DeliveryStatus::Failed, Some("1")))
    );
    assert_eq!(parse("POST", &url, None, "messageId=M3&status=unknown"), Ok(vec![]));
    assert!(matches!(
        parse("POST", &url, Some("application/json"), "not json"),
        Err(CallbackError::Malformed(_))
    ));
    assert!(matches!(
        parse("POST", &url, Some("application/json"), r#"{"status":"delivered"}"#),
        Err(CallbackError::Malformed(_))
    ));
}

#[test]
fn a_report_without_the_token_is_refused() {
    for url in [
        format!("{CB}?messageId=M&status=delivered"),
        format!("{CB}?token=t0kx&messageId=M&status=delivered"),
        format!("{CB}?token=&messageId=M&status=delivered"),
    ] {
        assert_eq!(parse("GET", &url, None, ""), Err(CallbackError::BadSignature), "{url}");
    }
}

#[test]
fn voice_events() {
    let url = format!("{CB}?token=t0k");
    let ev = |status: &str| {
        json!({"uuid": "63f61863", "conversation_uuid": "CON-1", "status": status,
               "direction": "outbound", "timestamp": "2026-11-22T05:12:00.000Z"})
        .to_string()
    };
    let json_ct = Some("application/json");
    assert_eq!(parse("POST", &url, json_ct, &ev("ringing")), Ok(vec![]));
    assert_eq!(parse("POST", &url, json_ct, &ev("completed")), Ok(vec![]));
    assert_eq!(
        parse("POST", &url, json_ct, &ev("answered")),
        Ok(receipt("63f61863", DeliveryStatus::Delivered, None))
    );
    assert_eq!(
        parse("POST", &url, json_ct, &ev("busy")),
        Ok(receipt("63f61863", DeliveryStatus::Undelivered, Some("busy")))
    );
    assert_eq!(
        parse("POST", &url, json_ct, &ev("failed")),
        Ok(receipt("63f61863", DeliveryStatus::Failed, Some("failed")))
    );
}

#[test]
fn callback_parser_from_the_registry() {
    let with = config("https://rest.nexmo.com", json!({"callback_token": "t0k"}));
    let p = build_callback_parser("vonage_eu", &with).unwrap().unwrap();
    let url = format!("{CB}?token=t0k&messageId=M&status=delivered");
    let r = p
        .parse_callback(&CallbackRequest {
            method: "GET",
            url: &url,
            headers: &[],
            body: b"",
        })
        .unwrap();
    assert_eq!(r[0].provider, "vonage_eu");
    let without = config("https://rest.nexmo.com", json!({}));
    assert!(build_callback_parser("vonage_eu", &without).unwrap().is_none());
    assert!(
        build_callback_parser("sandbox", &ProviderConfig::Sandbox)
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_documented_example_loads() {
    let examples = common::doc_examples("Vonage");
    assert_eq!(examples.len(), 1);
    let (name, cfg) = &examples[0];
    assert_eq!((name.as_str(), cfg.kind()), ("vonage", "vonage"));
}

#[tokio::test]
async fn numeric_values_from_the_environment_are_taken_as_strings() {
    // figment reads RINGPROOF_PROVIDERS__VONAGE__API_KEY=12345678 as a number.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("X")))
        .mount(&server)
        .await;
    let s = sender(
        &server.uri(),
        json!({"api_key": 12345678, "api_secret": 87654321, "from": 447700900000_u64}),
    )
    .unwrap();
    s.send(&msg(Channel::Sms, TEXT)).await.unwrap();
    let f = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(
        (f["api_key"].as_str(), f["api_secret"].as_str(), f["from"].as_str()),
        ("12345678", "87654321", "447700900000")
    );
}
