//! The Twilio provider against a mock Twilio (wiremock): the exact requests Twilio's API
//! reference describes, and how each kind of answer classifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use base64::Engine as _;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::workflow::Channel;
use ringproof_providers::twilio::{TwilioConfig, TwilioSender};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const API_KEY: &str = "SK0123456789abcdef0123456789abcdef";
const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";
const TO: &str = "+447911123456";
const CALLBACK: &str = "https://rp.example.com/callbacks/tw";

fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
}

fn calls_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json")
}

fn provider(server: &MockServer, extra: serde_json::Value) -> TwilioSender {
    provider_at(&server.uri(), extra)
}

fn provider_at(base_url: &str, extra: serde_json::Value) -> TwilioSender {
    let mut cfg = json!({
        "account_sid": ACCOUNT,
        "auth_token": "auth-token-secret",
        "from": "+14155550100",
        "status_callback_url": CALLBACK,
        "base_url": base_url,
        "timeout_ms": 2000,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            cfg.as_object_mut().unwrap().remove(&k);
        } else {
            cfg[k] = v;
        }
    }
    let cfg: TwilioConfig = serde_json::from_value(cfg).unwrap();
    TwilioSender::new("tw", &cfg).unwrap()
}

fn message(channel: Channel, to: &str) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "job-42-attempt-key".into(),
        to: PhoneNumber::parse_e164(to).unwrap(),
        channel,
        text: match channel {
            Channel::Sms => "Your Acme verification code is: 123456".into(),
            Channel::Voice => "Your A&B <Shop> verification code is 1, 2, 3. Again: 1, 2, 3.".into(),
        },
        locale: "en".into(),
        sender: None,
        verification: None,
    }
}

fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": sid, "status": "queued", "error_code": null, "error_message": null
    }))
}

/// The form fields of a request, in order.
fn form(req: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

fn header<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

async fn only_request(server: &MockServer) -> Request {
    let mut got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 1, "exactly one request");
    got.remove(0)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A mock Twilio that creates the resource `sid` on each POST to `at`.
async fn creating(at: &str, sid: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(created(sid))
        .mount(&server)
        .await;
    server
}

/// What an SMS send returns when Twilio's Messages API gives `answer`.
async fn sms_answer(answer: ResponseTemplate) -> Result<SendReceipt, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(answer)
        .mount(&server)
        .await;
    provider(&server, json!({})).send(&message(Channel::Sms, TO)).await
}

#[tokio::test]
async fn sms_is_the_documented_form_post_with_account_credentials() {
    let server = creating(&messages_path(), "SM0123").await;
    let receipt = provider(&server, json!({})).send(&message(Channel::Sms, TO)).await;
    assert_eq!(
        receipt,
        Ok(SendReceipt {
            provider: "tw".into(),
            provider_message_id: Some("SM0123".into())
        })
    );
    let req = only_request(&server).await;
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), messages_path());
    assert_eq!(header(&req, "authorization"), basic(ACCOUNT, "auth-token-secret"));
    assert_eq!(header(&req, "content-type"), "application/x-www-form-urlencoded");
    assert_eq!(header(&req, "i-twilio-idempotency-token"), "job-42-attempt-key");
    assert_eq!(
        form(&req),
        pairs(&[
            ("To", TO),
            ("From", "+14155550100"),
            ("Body", "Your Acme verification code is: 123456"),
            ("StatusCallback", CALLBACK),
        ])
    );
}

#[tokio::test]
async fn api_key_credentials_keep_the_account_sid_in_the_path() {
    let server = creating(&messages_path(), "SM1").await;
    let p = provider(
        &server,
        json!({
            "auth_token": null, "status_callback_url": null,
            "api_key_sid": API_KEY, "api_key_secret": "key-secret",
            "messaging_service_sid": SERVICE,
        }),
    );
    p.send(&message(Channel::Sms, TO)).await.unwrap();
    let req = only_request(&server).await;
    assert_eq!(req.url.path(), messages_path());
    assert_eq!(header(&req, "authorization"), basic(API_KEY, "key-secret"));
    assert_eq!(
        form(&req),
        pairs(&[
            ("To", TO),
            ("MessagingServiceSid", SERVICE),
            ("Body", "Your Acme verification code is: 123456"),
        ]),
        "a Messaging Service picks the sender; no StatusCallback when none is configured"
    );
}

#[tokio::test]
async fn an_alphanumeric_sender_is_used_where_it_can_be() {
    let server = creating(&messages_path(), "SM1").await;
    let p = provider(&server, json!({}));
    let mut uk = message(Channel::Sms, TO);
    uk.sender = Some("Acme".into());
    let mut us = message(Channel::Sms, "+14155550123");
    us.sender = Some("Acme".into());
    p.send(&uk).await.unwrap();
    p.send(&us).await.unwrap();
    let got = server.received_requests().await.unwrap();
    let from = |r: &Request| form(r).into_iter().find(|(k, _)| k == "From").unwrap().1;
    assert_eq!(from(&got[0]), "Acme");
    assert_eq!(
        from(&got[1]),
        "+14155550100",
        "+1 destinations refuse alphanumeric senders"
    );
}

#[tokio::test]
async fn a_call_speaks_escaped_twiml_in_the_locales_language() {
    let server = creating(&calls_path(), "CA0123").await;
    let p = provider(&server, json!({"voice_from": "+14155550199"}));
    let receipt = p.send(&message(Channel::Voice, TO)).await.unwrap();
    assert_eq!(receipt.provider_message_id.as_deref(), Some("CA0123"));
    let req = only_request(&server).await;
    assert_eq!(header(&req, "authorization"), basic(ACCOUNT, "auth-token-secret"));
    assert_eq!(header(&req, "content-type"), "application/x-www-form-urlencoded");
    assert_eq!(header(&req, "i-twilio-idempotency-token"), "job-42-attempt-key");
    let fields = form(&req);
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["To", "From", "Twiml", "StatusCallback", "StatusCallbackEvent"]);
    assert_eq!(fields[0].1, TO);
    assert_eq!(fields[1].1, "+14155550199");
    assert_eq!(
        fields[2].1,
        "<Response><Say language=\"en-US\">Your A&amp;B &lt;Shop&gt; verification code is 1, 2, 3.</Say>\
         <Pause length=\"1\"/><Say language=\"en-US\">Again: 1, 2, 3.</Say></Response>"
    );
    assert_eq!(fields[3].1, CALLBACK);
    assert_eq!(fields[4].1, "completed");

    let mut fr = message(Channel::Voice, TO);
    fr.locale = "fr_CA".into();
    p.send(&fr).await.unwrap();
    let got = server.received_requests().await.unwrap();
    assert!(
        form(&got[1])[2]
            .1
            .contains("<Say language=\"fr-CA\" voice=\"Polly.Chantal\">")
    );
}

#[tokio::test]
async fn without_a_voice_number_a_call_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let p = provider(&server, json!({"from": "Acme"}));
    let e = p.send(&message(Channel::Voice, TO)).await.unwrap_err();
    assert!(
        matches!(&e, SendError::Permanent(m) if m.contains("voice_from")),
        "{e:?}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_invalid_number_is_permanent_and_the_error_does_not_repeat_it() {
    let e = sms_answer(ResponseTemplate::new(400).set_body_json(json!({
        "code": 21211,
        "message": format!("The 'To' number {TO} is not a valid phone number."),
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400
    })))
    .await
    .unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent("tw: HTTP 400: Twilio error 21211: invalid 'To' phone number".into())
    );
}

#[tokio::test]
async fn unsubscribed_and_not_mobile_are_permanent() {
    for (code, want) in [(21610, "unsubscribed"), (21614, "not a mobile")] {
        let e = sms_answer(ResponseTemplate::new(400).set_body_json(json!({
            "code": code, "message": format!("Attempt to send to {TO} failed"), "status": 400
        })))
        .await
        .unwrap_err();
        assert!(
            matches!(&e, SendError::Permanent(m) if m.contains(want) && !m.contains("7911")),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn throttling_and_outages_are_retryable() {
    let answers = [
        ResponseTemplate::new(429).set_body_json(json!({
            "code": 20429, "message": "Too Many Requests", "status": 429
        })),
        ResponseTemplate::new(500).set_body_string("upstream exploded"),
        ResponseTemplate::new(503).set_body_json(json!({"code": 20503, "message": "Service Unavailable"})),
        // A throttling code under a 400 is retryable too.
        ResponseTemplate::new(400).set_body_json(json!({"code": 21611, "message": "queue full"})),
    ];
    for answer in answers {
        let e = sms_answer(answer).await.unwrap_err();
        assert!(matches!(e, SendError::Retryable(_)), "{e:?}");
    }
}

#[tokio::test]
async fn an_error_inside_a_2xx_is_not_a_success() {
    let e = sms_answer(ResponseTemplate::new(200).set_body_json(json!({
        "sid": "SM9", "status": "failed", "error_code": 30007,
        "error_message": format!("Message to {TO} filtered")
    })))
    .await
    .unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent("tw: HTTP 200: created with status `failed`: Twilio error 30007".into())
    );

    let e = sms_answer(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .await
        .unwrap_err();
    assert!(matches!(&e, SendError::Permanent(m) if m.contains("no sid")), "{e:?}");
}

#[tokio::test]
async fn a_slow_twilio_times_out_retryably() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(created("SM1").set_delay(Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let e = provider(&server, json!({"timeout_ms": 100}))
        .send(&message(Channel::Sms, TO))
        .await
        .unwrap_err();
    assert_eq!(e, SendError::Retryable("tw: timed out".into()));
}

#[tokio::test]
async fn an_unreachable_twilio_is_retryable() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let p = provider_at(&base, json!({}));
    let e = p.send(&message(Channel::Sms, TO)).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable("tw: could not connect".into()),
        "no URL in the error"
    );
}

#[tokio::test]
async fn healthcheck_reads_the_account() {
    let account = format!("/2010-04-01/Accounts/{ACCOUNT}.json");
    for (status, want) in [(200, Ok(())), (401, Err("bad credentials")), (500, Err("HTTP 500"))] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(account.clone()))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"sid": ACCOUNT, "status": "active"})))
            .mount(&server)
            .await;
        let got = provider(&server, json!({})).healthcheck().await;
        match (got, want) {
            (Ok(()), Ok(())) => {}
            (Err(SendError::Permanent(m)), Err(w)) if status == 401 => assert!(m.contains(w), "{m}"),
            (Err(SendError::Retryable(m)), Err(w)) if status == 500 => assert!(m.contains(w), "{m}"),
            (got, _) => panic!("{status}: {got:?}"),
        }
        let req = only_request(&server).await;
        assert_eq!(header(&req, "authorization"), basic(ACCOUNT, "auth-token-secret"));
    }

    // A Standard API key may not read /Accounts/{sid}: its numbers are listed instead.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"incoming_phone_numbers": []})))
        .mount(&server)
        .await;
    let p = provider(
        &server,
        json!({"auth_token": null, "status_callback_url": null, "api_key_sid": API_KEY, "api_key_secret": "key-secret"}),
    );
    assert_eq!(p.healthcheck().await, Ok(()));
    let req = only_request(&server).await;
    assert_eq!(header(&req, "authorization"), basic(API_KEY, "key-secret"));
    assert_eq!(req.url.query(), Some("PageSize=1"));
}
