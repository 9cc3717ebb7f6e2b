//! Real providers through the real server, with the vendor's HTTP API mocked (the outside
//! world): a Twilio send and its signed status callback end to end, failover from a
//! provider that fails to the next one of the route, and "upstream down" at once when every
//! provider of the route has its circuit open.

use ringproof_providers::registry::ProviderConfig;
use ringproof_providers::router::{BreakerConfig, RouteConfig};
use ringproof_providers::twilio::callback::signature;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Opts, TestApp};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";
const TO: &str = "+14155550123";
const PUBLIC: &str = "https://rp.example";

fn twilio(base_url: &str) -> ProviderConfig {
    serde_json::from_value(json!({
        "kind": "twilio",
        "account_sid": SID,
        "auth_token": TOKEN,
        "from": "+14155550100",
        "base_url": base_url,
        "status_callback_url": format!("{PUBLIC}/callbacks/tw"),
        "timeout_ms": 2000,
    }))
    .unwrap()
}

async fn twilio_mock(status: u16, sid: &str) -> MockServer {
    let server = MockServer::start().await;
    let body = if status < 300 {
        json!({"sid": sid, "status": "queued"})
    } else {
        json!({"code": 20500, "message": "Internal Server Error", "status": status})
    };
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// A server whose providers are `named` (name → mock), routed in that order.
async fn spawn(named: Vec<(&'static str, &MockServer)>, breaker: BreakerConfig) -> TestApp {
    let providers: Vec<(String, ProviderConfig)> =
        named.iter().map(|(n, m)| ((*n).to_owned(), twilio(&m.uri()))).collect();
    let names: Vec<String> = named.iter().map(|(n, _)| (*n).to_owned()).collect();
    TestApp::spawn_with(Opts {
        configure: Some(Box::new(move |c| {
            c.providers = providers.into_iter().collect();
            c.routes = vec![RouteConfig {
                providers: names,
                ..RouteConfig::default()
            }];
            c.breaker = breaker;
            c.public_base_url = Some(PUBLIC.into());
        })),
        ..Opts::default()
    })
    .await
}

fn form(req: &wiremock::Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

#[tokio::test]
async fn a_twilio_send_and_its_signed_status_callback() {
    let mock = twilio_mock(201, "SM00000000000000000000000000000001").await;
    let app = spawn(vec![("tw", &mock)], BreakerConfig::default()).await;
    let id = app.start_sms(TO).await;
    assert_eq!(app.drain().await, 1);

    let reqs = mock.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let f = form(&reqs[0]);
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(get("To"), TO);
    assert_eq!(get("From"), "+14155550100");
    assert!(get("Body").starts_with("Your "), "{}", get("Body"));
    assert_eq!(get("StatusCallback"), format!("{PUBLIC}/callbacks/tw"));

    // Twilio reports delivery, signed with the Auth Token over our public URL.
    let params = vec![
        ("MessageSid".to_owned(), "SM00000000000000000000000000000001".to_owned()),
        ("MessageStatus".to_owned(), "delivered".to_owned()),
        ("AccountSid".to_owned(), SID.to_owned()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let post = |sig: String, body: String| {
        app.http
            .post(format!("{}/callbacks/tw", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body)
            .send()
    };
    let forged = post("AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(), body.clone()).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(!app.event_details(&id).await.iter().any(|(k, _)| k == "delivered"));

    let sig = signature(TOKEN, &format!("{PUBLIC}/callbacks/tw"), &params);
    let ok = post(sig.clone(), body.clone()).await.unwrap();
    assert_eq!(ok.status(), 204);
    let again = post(sig, body).await.unwrap();
    assert_eq!(
        again.status(),
        204,
        "a repeated callback is accepted and changes nothing"
    );
    let k = app.event_details(&id).await;
    assert_eq!(
        k.iter().filter(|(k, _)| k == "delivered").collect::<Vec<_>>(),
        [&("delivered".to_owned(), "via tw".to_owned())]
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("ringproof_delivery_receipts_total{provider=\"tw\",status=\"delivered\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_first_provider_fails_over_to_the_second_once() {
    let down = twilio_mock(500, "").await;
    let up = twilio_mock(201, "SM00000000000000000000000000000002").await;
    let app = spawn(vec![("first", &down), ("second", &up)], BreakerConfig::default()).await;
    let id = app.start_sms(TO).await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(down.received_requests().await.unwrap().len(), 1);
    assert_eq!(
        up.received_requests().await.unwrap().len(),
        1,
        "exactly one message delivered"
    );
    let sent: Vec<_> = app
        .event_details(&id)
        .await
        .into_iter()
        .filter(|(k, _)| k == "sent")
        .collect();
    assert_eq!(sent, [("sent".to_owned(), "via second".to_owned())]);
}

#[tokio::test]
async fn every_provider_open_is_upstream_down_at_once() {
    let a = twilio_mock(503, "").await;
    let b = twilio_mock(500, "").await;
    let app = spawn(
        vec![("a", &a), ("b", &b)],
        BreakerConfig {
            failures: 1,
            cooldown_s: 60,
        },
    )
    .await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let v: Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(
        v["status"], "pending",
        "a retryable failure is retried later, not failed"
    );

    // Both circuits are open: a new verification is refused before anything is stored.
    let r = app.post("/v1/verifications", &json!({"to": "+14155550124"})).await;
    assert_eq!(r.status(), 503);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "upstream_down");
    assert_eq!(a.received_requests().await.unwrap().len(), 1);
    assert_eq!(b.received_requests().await.unwrap().len(), 1);
}
