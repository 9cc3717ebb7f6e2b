//! CAMARA Number Verification end to end: ringproof's link pages and its CAMARA client
//! against the operator simulator (`ringproof-operator-sim`, a separate program speaking
//! the protocol; nothing in ringproof knows it). Loopback addresses play the phones:
//! 127.0.0.2 is [`MOBILE`]'s phone, 127.0.0.3 is [`OTHER`]'s, 127.0.0.1 is on Wi-Fi.

use std::time::{Duration, Instant};

use ringproof_core::engine::ClientChange;
use ringproof_core::link_session::PhoneMatch;
use ringproof_core::simswap::SimSwapMode;
use ringproof_core::time::Timestamp;
use ringproof_operator_sim::{ClientConfig, PhoneConfig, SimConfig, Simulator};

use crate::helpers::{Opts, TestApp};
use crate::network_auth::{browser_at, metric, result, send_link, verdict};

const MOBILE: &str = "+14155550100";
const OTHER: &str = "+14155550199";
const NO_CONSENT: &str = "+14155550198";
const TARGET: &str = "http://localhost:8080/done";

/// How ringproof and the simulator are set up for one test.
#[derive(Clone, Copy)]
struct Setup {
    deadline_s: u32,
    delay_ms: u64,
    /// The simulator checks our assertions against its own keys, not ours.
    wrong_client_keys: bool,
    /// No simulator listens at the operator's address.
    down: bool,
    /// 127.0.0.1 (where a browser on this machine comes from) is MOBILE's phone too.
    browser_is_mobile: bool,
    /// ringproof sends `hashedPhoneNumber` instead of `phoneNumber`.
    hashed: bool,
}

const NORMAL: Setup = Setup {
    deadline_s: 10,
    delay_ms: 0,
    wrong_client_keys: false,
    down: false,
    browser_is_mobile: false,
    hashed: false,
};

/// The config change that points ringproof at the operator `issuer` (and, for a
/// restart, listens on `listen`).
fn camara(issuer: String, deadline_s: u32, listen: Option<std::net::SocketAddr>) -> crate::helpers::ConfigChange {
    camara_with(issuer, deadline_s, listen, false)
}

fn camara_with(
    issuer: String,
    deadline_s: u32,
    listen: Option<std::net::SocketAddr>,
    hashed: bool,
) -> crate::helpers::ConfigChange {
    Box::new(move |c| {
        c.netauth.authenticator = ringproof_server::config::NetAuthKind::Camara;
        c.netauth.deadline_s = deadline_s;
        c.netauth.operators = vec![ringproof_providers::camara::OperatorConfig {
            name: "sim".into(),
            prefixes: vec!["+1".into()],
            issuer,
            client_id: "ringproof".into(),
            api_root: None,
            login_hint: true,
            hashed_phone_number: hashed,
            extra_origins: vec![],
        }];
        if let Some(l) = listen {
            c.listen = l;
        }
    })
}

/// ringproof (store backend chosen by `opts`) pointed at a simulator on a port of its own.
async fn with_operator(mut opts: Opts, setup: Setup) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    opts.configure = Some(camara_with(issuer.clone(), setup.deadline_s, None, setup.hashed));
    let app = TestApp::spawn_with(opts).await;
    if setup.down {
        drop(listener);
        return app;
    }
    // The simulator's clock is the real one: MOBILE's SIM is years old, OTHER's was
    // swapped a day ago.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let phone = |n: &str, ip: &str, swapped_h_ago: Option<i64>| PhoneConfig {
        ips: if setup.browser_is_mobile && n == MOBILE {
            vec![ip.parse().unwrap(), "127.0.0.1".parse().unwrap()]
        } else {
            vec![ip.parse().unwrap()]
        },
        activated_at: Some(Timestamp::from_millis(now_ms - 3 * 365 * 86_400_000)),
        sim_swapped_at: swapped_h_ago.map(|h| Timestamp::from_millis(now_ms - h * 3_600_000)),
        ..PhoneConfig::new(n)
    };
    let sim_jwks = format!("{issuer}/jwks");
    let config = SimConfig {
        delay_ms: setup.delay_ms,
        clients: vec![ClientConfig {
            client_id: "ringproof".into(),
            jwks_uri: if setup.wrong_client_keys {
                sim_jwks
            } else {
                format!("{}/.well-known/jwks.json", app.base)
            },
            redirect_uris: vec![format!("{}/l/callback", app.base)],
        }],
        phones: vec![
            phone(MOBILE, "127.0.0.2", None),
            phone(OTHER, "127.0.0.3", Some(24)),
            // A subscriber who has not consented (the operator answers consent_required).
            PhoneConfig {
                consent: false,
                ..phone(NO_CONSENT, "127.0.0.4", None)
            },
        ],
        ..SimConfig::default()
    }
    .with_issuer(issuer);
    tokio::spawn(Simulator::new(config).serve(listener));
    app
}

/// The tests `$name::sqlite` and `$name::postgres`: `$run` against ringproof on each store,
/// pointed at a simulator set up as [`NORMAL`].
macro_rules! with_operator_on_both_stores {
    ($name:ident, $run:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                $run(with_operator(Opts::default(), NORMAL).await).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(ringproof_pg),
                ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL"
            )]
            async fn postgres() {
                let opts = Opts {
                    postgres: Some(crate::helpers::pg_database().await),
                    ..Opts::default()
                };
                $run(with_operator(opts, NORMAL).await).await;
            }
        }
    };
}

/// The click (the form's POST, no script): the 303 to the operator's `/authorize`.
async fn click(app: &TestApp, link: &str, from: &str) -> String {
    let r = browser_at(from).post(link).send().await.unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(!location.starts_with(TARGET), "no operator round trip: {location}");
    let _ = app;
    location
}

/// One redirect hop, from `from`.
async fn hop(url: &str, from: &str) -> reqwest::Response {
    browser_at(from).get(url).send().await.unwrap()
}

/// Follows the operator's redirect back to ringproof's callback and that to the target.
async fn through_operator(authorize: &str, from: &str) -> String {
    let r = hop(authorize, from).await;
    assert_eq!(r.status(), 302, "the operator redirects back");
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.contains("/l/callback?"), "{callback}");
    let r = hop(&callback, from).await;
    assert_eq!(r.status(), 303, "{callback}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn reason(v: &ringproof_core::engine::link::LinkView) -> String {
    v.record.session.click.as_ref().unwrap().reason.clone()
}

/// Replace one query parameter of a URL.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let q: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == name => format!("{k}={value}"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", q.join("&"))
}

/// The device that clicks holds the number: "true". Another phone: "false". Wi-Fi:
/// "indeterminate" (the operator cannot identify the subscriber). A replayed callback is
/// refused.
async fn verdicts_through_the_operator(app: TestApp) {
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.2").await;
    for p in [
        "response_type=code",
        "prompt=none",
        "code_challenge_method=S256",
        "scope=openid+dpv%3AFraudPreventionAndDetection+number-verification%3Averify",
        "login_hint=tel%3A%2B14155550100",
        "nonce=",
        "state=",
    ] {
        assert!(authorize.contains(p), "{p} in {authorize}");
    }
    let before = result(&app, &s).await;
    assert_eq!(
        before.outcome,
        ringproof_core::link_session::LinkOutcome::Waiting,
        "waiting for the operator"
    );
    let r = hop(&authorize, "127.0.0.2").await;
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let r = hop(&callback, "127.0.0.2").await;
    assert_eq!(r.status(), 303);
    let target = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(target.starts_with(&format!("{TARGET}?vfp=")), "{target}");
    let v = result(&app, &s).await;
    assert_eq!((verdict(&v), reason(&v).as_str()), (PhoneMatch::True, "verified"));

    // The same callback again: refused, nothing changes.
    let r = hop(&callback, "127.0.0.2").await;
    assert_eq!(r.status(), 410, "a replayed callback");
    assert_eq!(verdict(&result(&app, &s).await), PhoneMatch::True);

    // Another phone clicks MOBILE's link.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.3").await;
    assert!(through_operator(&authorize, "127.0.0.3").await.starts_with(TARGET));
    let v = result(&app, &s).await;
    assert_eq!((verdict(&v), reason(&v).as_str()), (PhoneMatch::False, "not_verified"));

    // On Wi-Fi: the operator answers access_denied; the person still reaches the target.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.1").await;
    assert!(through_operator(&authorize, "127.0.0.1").await.starts_with(TARGET));
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "unidentified")
    );

    let m = r#"ringproof_netauth_verdicts_total{authenticator="camara",phone_match="true",reason="verified"}"#;
    assert!(metric(&app, m).await >= 1.0);
    app.stop().await;
}
with_operator_on_both_stores!(verdicts, verdicts_through_the_operator);

/// Tampering with `state`, `nonce` or the PKCE challenge on the way through the browser
/// gets no verdict; neither does a client assertion the operator cannot verify.
async fn tampering_is_refused(app: TestApp) {
    // state: the callback finds no link (404); the link waits until the deadline.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.2").await;
    let r = hop(&authorize, "127.0.0.2").await;
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let forged = with_param(&callback, "state", "AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(hop(&forged, "127.0.0.2").await.status(), 404);
    assert_eq!(
        result(&app, &s).await.outcome,
        ringproof_core::link_session::LinkOutcome::Waiting
    );
    app.clock.advance_secs(11);
    let v = result(&app, &s).await;
    assert_eq!(
        verdict(&v),
        PhoneMatch::Indeterminate,
        "the poll stops waiting at the deadline"
    );

    // nonce: the operator puts the tampered nonce in the ID token, which ringproof refuses.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = with_param(&click(&app, &link, "127.0.0.2").await, "nonce", "tampered");
    through_operator(&authorize, "127.0.0.2").await;
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "id_token_invalid")
    );

    // PKCE: a challenge that is not ours; the operator refuses our verifier at /token.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = with_param(
        &click(&app, &link, "127.0.0.2").await,
        "code_challenge",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
    through_operator(&authorize, "127.0.0.2").await;
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "operator_error")
    );
    app.stop().await;
}
with_operator_on_both_stores!(tampering, tampering_is_refused);

#[tokio::test]
async fn a_client_assertion_the_operator_cannot_verify_gets_no_verdict() {
    let app = with_operator(
        Opts::default(),
        Setup {
            wrong_client_keys: true,
            ..NORMAL
        },
    )
    .await;
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.2").await;
    through_operator(&authorize, "127.0.0.2").await;
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "operator_error")
    );
    app.stop().await;
}

/// The operator is down, or slower than the deadline: the click goes straight to the
/// target with "indeterminate", within the deadline.
async fn no_operator_in_time(setup: Setup, want_reason: &str) {
    let app = with_operator(Opts::default(), setup).await;
    let (s, link) = send_link(&app, MOBILE).await;
    let started = Instant::now();
    let r = browser_at("127.0.0.2").post(&link).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(TARGET));
    // The deadline bounds the wait (the simulator would take 20 s); the margin is for a
    // busy 2-core machine running the other tests at the same time.
    assert!(
        took < Duration::from_secs(u64::from(setup.deadline_s)) + Duration::from_secs(2),
        "{took:?}"
    );
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, want_reason)
    );
    app.stop().await;
}

#[tokio::test]
async fn an_operator_that_is_down_gets_no_verdict_at_once() {
    no_operator_in_time(Setup { down: true, ..NORMAL }, "unreachable").await;
}

#[tokio::test]
async fn an_operator_slower_than_the_deadline_gets_no_verdict_in_time() {
    no_operator_in_time(
        Setup {
            deadline_s: 1,
            delay_ms: 20_000,
            ..NORMAL
        },
        "timeout",
    )
    .await;
}

/// The page's script: a background POST, the operator round trip in the background, then
/// `done` sends the browser to the target.
async fn the_background_flow(app: TestApp) {
    let (s, link) = send_link(&app, MOBILE).await;
    let phone = browser_at("127.0.0.2");
    let r = phone
        .post(&link)
        .header("x-ringproof-flow", "fetch")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let step: serde_json::Value = r.json().await.unwrap();
    let operator = step["operator"].as_str().unwrap();
    let origin = operator.split("/authorize").next().unwrap();
    assert!(csp.contains(&format!("connect-src 'self' {origin}")), "{csp}");
    assert_eq!(step["deadline_ms"], 9700);
    // fetch(operator, {redirect: 'follow'}): the operator, then our callback (204).
    let following = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = following.get(operator).send().await.unwrap();
    assert_eq!(r.status(), 204, "{}", r.url());
    let done = format!("{}{}", app.base, step["done"].as_str().unwrap());
    let r = phone.post(&done).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{TARGET}?vfp="))
    );
    assert_eq!(verdict(&result(&app, &s).await), PhoneMatch::True);
    assert_eq!(phone.post(&done).send().await.unwrap().status(), 410, "done once");

    // The script gives up (the operator never called back): done settles "indeterminate".
    let (s, link) = send_link(&app, MOBILE).await;
    let r = phone
        .post(&link)
        .header("x-ringproof-flow", "fetch")
        .send()
        .await
        .unwrap();
    let step: serde_json::Value = r.json().await.unwrap();
    let done = format!("{}{}", app.base, step["done"].as_str().unwrap());
    let r = phone.post(&done).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "no_callback")
    );
    app.stop().await;
}
with_operator_on_both_stores!(background, the_background_flow);

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_the_assertions() {
    let app = with_operator(Opts::default(), NORMAL).await;
    let jwks: serde_json::Value = app.get("/.well-known/jwks.json").await.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"]),
        (&"EC".into(), &"P-256".into(), &"ES256".into())
    );
    assert!(key.get("d").is_none(), "never the private part");
    let pem = std::fs::read_to_string(app.data_dir.join("netauth-key.pem")).unwrap();
    let k = ringproof_core::jose::SigningKey::from_pem(&pem).unwrap();
    assert_eq!(key["kid"], k.kid());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(app.data_dir.join("netauth-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    app.stop().await;
}

/// SIM Swap through the real client and the simulator: a swap a day ago is refused for a
/// client that blocks (nothing sent), a years-old SIM proceeds, and an operator that is
/// down gives "unknown" (recorded, never a pass).
async fn sim_swap_through_the_operator(app: TestApp) {
    app.update_client(ClientChange {
        sim_swap: Some(SimSwapMode::Block),
        ..Default::default()
    })
    .await;
    let r = app.post("/v1/verifications", &serde_json::json!({"to": OTHER})).await;
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "sim_swapped", "{body}");
    app.drain().await;
    assert!(app.messages(OTHER).await.is_empty(), "nothing sent");

    let r = app.post("/v1/verifications", &serde_json::json!({"to": MOBILE})).await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&v["sim_swap"], &v["sim_swapped"]),
        (&"not_swapped".into(), &false.into()),
        "{v}"
    );
    app.stop().await;
}
with_operator_on_both_stores!(sim_swap, sim_swap_through_the_operator);

#[tokio::test]
async fn sim_swap_with_the_operator_down_is_unknown() {
    let app = with_operator(Opts::default(), Setup { down: true, ..NORMAL }).await;
    app.update_client(ClientChange {
        sim_swap: Some(SimSwapMode::Block),
        ..Default::default()
    })
    .await;
    let r = app.post("/v1/verifications", &serde_json::json!({"to": OTHER})).await;
    assert_eq!(r.status(), 201, "unknown never blocks");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&v["sim_swap"], &v["sim_swapped"]),
        (&"unknown".into(), &serde_json::Value::Null)
    );
    app.stop().await;
}

// ----- the silent workflow step -----

/// Starts a `/v1` verification of `to` with a silent step before SMS; returns its id and
/// `check_url`.
async fn start_silent(app: &TestApp, to: &str) -> (String, String) {
    let body = serde_json::json!({"to": to, "workflow": [{"channel": "silent"}, {"channel": "sms"}]});
    let r = app.post("/v1/verifications", &body).await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["silent"], "waiting", "{v}");
    assert_eq!(v["channel"], "sms", "the first delivery step");
    let check_url = v["check_url"].as_str().unwrap().to_owned();
    (v["id"].as_str().unwrap().to_owned(), check_url)
}

/// The app on the device opens the check URL and follows the redirects, as an HTTP client
/// does; returns the final JSON.
async fn follow_check_url(url: &str, from: &str) -> serde_json::Value {
    let phone = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = phone.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.url());
    r.json().await.unwrap()
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

/// The network confirms the number: approved, no code ever sent. It cannot (Wi-Fi) or
/// says another number: the SMS step runs at once (its job is due now, no clock moved).
async fn silent_step(app: TestApp) {
    let (id, check_url) = start_silent(&app, MOBILE).await;
    app.drain().await;
    assert!(
        app.messages(MOBILE).await.is_empty(),
        "nothing is sent before the network answers"
    );
    let r = follow_check_url(&check_url, "127.0.0.2").await;
    assert_eq!(
        (&r["status"], &r["silent"]),
        (&"approved".into(), &"verified".into()),
        "{r}"
    );
    app.drain().await;
    assert!(app.messages(MOBILE).await.is_empty(), "approved with no SMS");
    let v: serde_json::Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!((&v["status"], &v["silent"]), (&"approved".into(), &"verified".into()));
    let k = kinds(&app.events(&id).await);
    assert!(
        k.ends_with(&["silent_auth_started".into(), "silent_auth".into(), "approved".into()]),
        "{k:?}"
    );
    let again = reqwest::Client::new().get(&check_url).send().await.unwrap();
    assert_eq!(again.status(), 409, "one use");
    // The fallback jobs (the deadline's, the window's) were dropped with the approval.
    app.clock
        .advance_secs(ringproof_core::verification::SILENT_WINDOW_S + 11);
    app.drain().await;
    assert!(app.messages(MOBILE).await.is_empty(), "no SMS later either");

    for (from, reason) in [("127.0.0.1", "unidentified"), ("127.0.0.3", "not_verified")] {
        let (id, check_url) = start_silent(&app, MOBILE).await;
        let before = app.messages(MOBILE).await.len();
        let r = follow_check_url(&check_url, from).await;
        assert_eq!((&r["status"], &r["silent"]), (&"pending".into(), &reason.into()), "{r}");
        app.drain().await;
        assert_eq!(app.messages(MOBILE).await.len(), before + 1, "the SMS goes at once");
        let k = kinds(&app.events(&id).await);
        assert!(
            k.contains(&"silent_auth".into()) && k.contains(&"send_queued".into()),
            "{k:?}"
        );
    }

    // Nobody opens the check URL: the SMS goes at the end of the window.
    let (id, _) = start_silent(&app, OTHER).await;
    app.drain().await;
    assert!(app.messages(OTHER).await.is_empty());
    app.clock.advance_secs(ringproof_core::verification::SILENT_WINDOW_S);
    app.drain().await;
    assert_eq!(app.messages(OTHER).await.len(), 1);
    let v: serde_json::Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["silent"], "not_opened");
    app.stop().await;
}
with_operator_on_both_stores!(silent, silent_step);

/// Opened late in the window, the round trip holds the first step until its deadline: the
/// window's job does not send the SMS under a verdict that is on its way.
async fn the_window_waits_for_a_round_trip_under_way(app: TestApp) {
    let (_, check_url) = start_silent(&app, MOBILE).await;
    app.clock
        .advance_secs(ringproof_core::verification::SILENT_WINDOW_S - 5);
    let r = browser_at("127.0.0.2").get(&check_url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    app.clock.advance_secs(6);
    app.drain().await;
    assert!(
        app.messages(MOBILE).await.is_empty(),
        "held: the device is at the operator"
    );
    let r = hop(&authorize, "127.0.0.2").await;
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let v: serde_json::Value = hop(&callback, "127.0.0.2").await.json().await.unwrap();
    assert_eq!(v["status"], "approved", "{v}");
    app.clock.advance_secs(30);
    app.drain().await;
    assert!(app.messages(MOBILE).await.is_empty());
    app.stop().await;
}
with_operator_on_both_stores!(window_waits, the_window_waits_for_a_round_trip_under_way);

/// Someone who opens a link or a check URL and hands the operator's URL to the phone that
/// holds the number gets no verdict: the callback must come from the device that started.
async fn another_device_cannot_authenticate_for_you(app: TestApp) {
    // A link clicked by the attacker (127.0.0.3), the operator's URL followed by the victim.
    let (s, link) = send_link(&app, MOBILE).await;
    let authorize = click(&app, &link, "127.0.0.3").await;
    assert!(through_operator(&authorize, "127.0.0.2").await.starts_with(TARGET));
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "device_mismatch")
    );

    // A silent step opened by the attacker; the victim's phone follows the operator's URL.
    let (id, check_url) = start_silent(&app, MOBILE).await;
    let r = browser_at("127.0.0.3").get(&check_url).send().await.unwrap();
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    let r = hop(&authorize, "127.0.0.2").await;
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let v: serde_json::Value = hop(&callback, "127.0.0.2").await.json().await.unwrap();
    assert_eq!(
        (&v["status"], &v["silent"]),
        (&"pending".into(), &"device_mismatch".into()),
        "{v}"
    );
    let before = app.messages(MOBILE).await.len();
    app.drain().await;
    assert_eq!(app.messages(MOBILE).await.len(), before + 1, "the SMS goes instead");
    let v: serde_json::Value = app.get(&format!("/v1/verifications/{id}")).await.json().await.unwrap();
    assert_eq!(v["status"], "pending");
    app.stop().await;
}
with_operator_on_both_stores!(device_binding, another_device_cannot_authenticate_for_you);

#[tokio::test]
async fn a_silent_step_needs_an_authenticator_and_a_step_after_it() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/verifications",
            &serde_json::json!({"to": MOBILE, "workflow": [{"channel": "silent"}, {"channel": "sms"}]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("carrier authentication"),
        "{b}"
    );
    app.stop().await;
    let app = with_operator(Opts::default(), NORMAL).await;
    for (workflow, says) in [
        (serde_json::json!([{"channel": "silent"}]), "fall back"),
        (
            serde_json::json!([{"channel": "sms"}, {"channel": "silent", "after_s": 30}]),
            "only be the first",
        ),
        (
            serde_json::json!([{"channel": "silent"}, {"channel": "sms"}, {"channel": "voice", "after_s": 45}]),
            "at least 70 s",
        ),
        (
            serde_json::json!([{"channel": "silent"}, {"channel": "sms", "valid_for_s": 60}]),
            "more than 70 s",
        ),
    ] {
        let r = app
            .post(
                "/v1/verifications",
                &serde_json::json!({"to": MOBILE, "workflow": workflow}),
            )
            .await;
        assert_eq!(r.status(), 400);
        let b: serde_json::Value = r.json().await.unwrap();
        assert!(b["error"]["message"].as_str().unwrap().contains(says), "{b}");
    }
    app.stop().await;
}

/// ringproof restarts while the device is at the operator: the stored state finishes the
/// step after the restart.
#[tokio::test]
async fn a_restart_during_the_silent_step_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = with_operator(Opts::default().in_dir(dir.path()), NORMAL).await;
    let (id, check_url) = start_silent(&app, MOBILE).await;
    let phone = browser_at("127.0.0.2");
    let r = phone.get(&check_url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    let issuer = authorize.split("/authorize").next().unwrap().to_owned();
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    app.stop().await;

    let opts = Opts {
        configure: Some(camara(issuer, NORMAL.deadline_s, Some(addr))),
        ..Opts::default().in_dir(dir.path())
    };
    let app = TestApp::spawn_with(opts).await;
    assert_eq!(app.base, format!("http://{addr}"), "the same address as before");
    let r = hop(&authorize, "127.0.0.2").await;
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    let r = hop(&callback, "127.0.0.2").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&v["verification_id"], &v["status"]),
        (&id.clone().into(), &"approved".into())
    );
    app.drain().await;
    assert!(
        app.messages(MOBILE).await.is_empty(),
        "no SMS: the step's fallback job was cancelled"
    );
    app.stop().await;
}

// ----- in a real browser -----

/// Opens `link` in headless Chromium (from 127.0.0.1) and returns the URL it ends on and
/// whether the page's script made the round trip in the background.
async fn open_in_browser(dir: &std::path::Path, link: &str, target: &str, no_script: bool) -> (String, bool) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.current_dir(dir).arg("link_click.mjs").arg(link).arg(target);
    if no_script {
        cmd.arg("--no-script");
    }
    let out = cmd.output().await.expect("node runs");
    assert!(
        out.status.success(),
        "the browser did not reach the target: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    (
        v["url"].as_str().unwrap().to_owned(),
        v["background"].as_bool().unwrap(),
    )
}

/// The link page in Chromium, with its script (the background round trip and `done`) and
/// without it (the form, then the browser itself through the operator): both end on the
/// target with "true" for the phone that holds the number, and "false" for a link to
/// another number.
#[tokio::test]
async fn a_browser_click_goes_through_the_operator() {
    let Some(dir) = crate::browser::project() else { return };
    let app = with_operator(
        Opts::default(),
        Setup {
            browser_is_mobile: true,
            ..NORMAL
        },
    )
    .await;
    // The target must answer: this server's own health page.
    let target = format!("{}/healthz", app.base);
    app.update_client(ClientChange {
        allowed_origins: Some(vec![app.base.clone()]),
        ..Default::default()
    })
    .await;
    for (no_script, to, want) in [
        (false, MOBILE, PhoneMatch::True),
        (true, MOBILE, PhoneMatch::True),
        (false, OTHER, PhoneMatch::False),
    ] {
        let (s, link) = crate::network_auth::send_link_to(&app, to, &target).await;
        let (landed, background) = open_in_browser(&dir, &link, &target, no_script).await;
        assert!(landed.starts_with(&format!("{target}?vfp=")), "{landed}");
        assert_eq!(
            background, !no_script,
            "with script, the background flow (not its fallback)"
        );
        let v = result(&app, &s).await;
        assert_eq!(verdict(&v), want, "script off: {no_script}, {}", reason(&v));
    }
    app.stop().await;
}

/// `hashedPhoneNumber` (SHA-256 of the E.164 number, hex) instead of `phoneNumber`: the
/// operator matches it the same way. A subscriber without consent: no verdict.
#[tokio::test]
async fn hashed_numbers_and_refused_consent() {
    let app = with_operator(Opts::default(), Setup { hashed: true, ..NORMAL }).await;
    for (from, want, why) in [
        ("127.0.0.2", PhoneMatch::True, "verified"),
        ("127.0.0.3", PhoneMatch::False, "not_verified"),
    ] {
        let (s, link) = send_link(&app, MOBILE).await;
        let authorize = click(&app, &link, from).await;
        through_operator(&authorize, from).await;
        let v = result(&app, &s).await;
        assert_eq!((verdict(&v), reason(&v).as_str()), (want, why));
    }
    let (s, link) = send_link(&app, NO_CONSENT).await;
    let authorize = click(&app, &link, "127.0.0.4").await;
    through_operator(&authorize, "127.0.0.4").await;
    let v = result(&app, &s).await;
    assert_eq!(
        (verdict(&v), reason(&v).as_str()),
        (PhoneMatch::Indeterminate, "consent_refused")
    );
    app.stop().await;
}
