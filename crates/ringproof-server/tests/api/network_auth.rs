//! Network authentication of link clicks (docs/network-auth.md): the trusted enrichment
//! header here; CAMARA Number Verification through the operator simulator in
//! `network_auth_camara.rs`.

use ringproof_core::engine::link::{LinkStarted, LinkView};
use ringproof_core::link_session::{LinkOutcome, PhoneMatch};

use crate::helpers::{Opts, TestApp, on_both_stores};

const MOBILE: &str = "+14155550100";
const TARGET: &str = "http://localhost:8080/done";

/// A browser on a given loopback address that does not follow redirects.
pub fn browser_at(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// Starts a link to `to` and returns it with the link URL from the SMS.
pub async fn send_link(app: &TestApp, to: &str) -> (LinkStarted, String) {
    send_link_to(app, to, TARGET).await
}

/// [`send_link`] with another target (under the client's allowed origins).
pub async fn send_link_to(app: &TestApp, to: &str, target: &str) -> (LinkStarted, String) {
    crate::helpers::send_link(app, to, target, None).await
}

pub async fn result(app: &TestApp, s: &LinkStarted) -> LinkView {
    app.engine
        .link_result(&app.demo().await.id, &s.request_id, &s.session_id)
        .await
        .unwrap()
}

pub fn verdict(v: &LinkView) -> PhoneMatch {
    match v.outcome {
        LinkOutcome::Final { phone_match, .. } => phone_match,
        LinkOutcome::Waiting => panic!("still waiting"),
    }
}

fn header_opts() -> Opts {
    Opts {
        configure: Some(Box::new(|c| {
            c.netauth.authenticator = ringproof_server::config::NetAuthKind::Header;
            c.netauth.header.trusted_cidrs = vec!["127.0.0.2/32".into()];
        })),
        ..Opts::default()
    }
}

/// Sends a link to [`MOBILE`] and clicks it from `ip` with `x-msisdn: msisdn`.
async fn click_with_header(app: &TestApp, ip: &str, msisdn: &str) -> LinkStarted {
    let (started, link) = send_link(app, MOBILE).await;
    let r = browser_at(ip)
        .post(&link)
        .header("x-msisdn", msisdn)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(TARGET));
    started
}

/// The value of one metric line (`name{labels}`), 0 when absent. Tests in this binary
/// share the recorder, so only increases are meaningful.
pub async fn metric(app: &TestApp, line: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// The header is believed only from the enrichment proxy's address; from anywhere else it
/// is ignored and counted, and the verdict is "indeterminate".
async fn header_from_trusted_proxy_only(app: TestApp) {
    let s = click_with_header(&app, "127.0.0.2", "14155550100").await;
    assert_eq!(
        verdict(&result(&app, &s).await),
        PhoneMatch::True,
        "the proxy says it is this number"
    );
    let s = click_with_header(&app, "127.0.0.2", "+14155550199").await;
    assert_eq!(
        verdict(&result(&app, &s).await),
        PhoneMatch::False,
        "the proxy says it is another"
    );
    let untrusted = "ringproof_netauth_untrusted_headers_total";
    let before = metric(&app, untrusted).await;
    let s = click_with_header(&app, "127.0.0.1", "+14155550100").await;
    assert_eq!(
        verdict(&result(&app, &s).await),
        PhoneMatch::Indeterminate,
        "a header from an untrusted address is ignored"
    );
    assert!(metric(&app, untrusted).await > before, "and counted");
    // Two headers from the proxy (one appended to the device's own): neither is believed.
    let (s, link) = send_link(&app, MOBILE).await;
    let r = browser_at("127.0.0.2")
        .post(&link)
        .header("x-msisdn", "+14155550100")
        .header("x-msisdn", "+14155550199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(verdict(&result(&app, &s).await), PhoneMatch::Indeterminate);
    let verified = r#"ringproof_netauth_verdicts_total{authenticator="header",phone_match="true",reason="verified"}"#;
    assert!(metric(&app, verified).await >= 1.0);
    app.stop().await;
}
on_both_stores!(header, header_from_trusted_proxy_only, header_opts());

/// A silent step through an enrichment proxy: the header decides at once, no redirect.
async fn a_silent_step_by_header(app: TestApp) {
    let start = || async {
        let body = serde_json::json!({"to": MOBILE, "workflow": [{"channel": "silent"}, {"channel": "sms"}]});
        let v: serde_json::Value = app.post("/v1/verifications", &body).await.json().await.unwrap();
        v["check_url"].as_str().unwrap().to_owned()
    };
    let url = start().await;
    let r = browser_at("127.0.0.2")
        .get(&url)
        .header("x-msisdn", "+14155550100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&v["status"], &v["silent"]),
        (&"approved".into(), &"verified".into()),
        "{v}"
    );
    let url = start().await;
    let r = browser_at("127.0.0.1")
        .get(&url)
        .header("x-msisdn", "+14155550100")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&v["status"], &v["silent"]),
        (&"pending".into(), &"no_header".into()),
        "untrusted: {v}"
    );
    app.drain().await;
    assert_eq!(app.messages(MOBILE).await.len(), 1, "only the second sent an SMS");
    app.stop().await;
}
on_both_stores!(silent_header, a_silent_step_by_header, header_opts());

#[tokio::test]
async fn the_header_authenticator_needs_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.toml");
    std::fs::write(&path, "[netauth]\nauthenticator = \"header\"\n").unwrap();
    let err = ringproof_server::config::Config::load(Some(&path), &Default::default()).unwrap_err();
    assert!(err.to_string().contains("trusted_cidrs"), "{err}");
    std::fs::write(&path, "[netauth]\nauthenticator = \"camara\"\n").unwrap();
    let err = ringproof_server::config::Config::load(Some(&path), &Default::default()).unwrap_err();
    assert!(err.to_string().contains("netauth.operators"), "{err}");
}
