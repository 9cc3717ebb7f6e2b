//! The OpenID Connect side of the simulator, through HTTP: `/authorize` (device
//! identification, the no-redirect rule, error redirects), `/token` (`private_key_jwt`,
//! PKCE, single-use codes), the ID token, the overrides, and the configuration file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use ringproof_core::crypto::base64url;
use ringproof_core::jose::{self, KeySet, SigningKey};
use serde_json::{Value, json};
use support::*;

const PHONE_A: &str = "+15550100001";
const PHONE_B: &str = "+15550100002";
const NV: &str = "openid dpv:FraudPreventionAndDetection number-verification:verify";

async fn world() -> World {
    let mut refusing = phone("+15550100003", Some("127.0.0.4"));
    refusing.consent = false;
    World::start(
        vec![
            phone(PHONE_A, Some("127.0.0.2")),
            phone(PHONE_B, Some("127.0.0.3")),
            refusing,
        ],
        |_| {},
    )
    .await
}

async fn verify(w: &World, access_token: &str, body: Value) -> (u16, Value) {
    let resp = World::http_from(None)
        .post(format!("{}/number-verification/vwip/verify", w.issuer))
        .bearer_auth(access_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn share(w: &World, access_token: &str) -> (u16, Value) {
    let resp = World::http_from(None)
        .get(format!("{}/number-verification/vwip/device-phone-number", w.issuer))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Runs /authorize from `from` and returns (code, verifier).
async fn code_from(w: &World, from: &str) -> (String, String) {
    let (verifier, challenge) = jose::pkce_pair();
    let (status, loc) = w
        .authorize(&World::http_from(Some(from)), &w.authorize_params(&challenge, NV))
        .await;
    assert_eq!(status, 302);
    let loc = loc.unwrap();
    assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
    (query(&loc, "code").expect("a code"), verifier)
}

async fn exchange(w: &World, code: &str, verifier: &str) -> (u16, Value) {
    w.token(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ])
    .await
}

#[tokio::test]
async fn discovery_and_jwks_describe_a_camara_provider() {
    let w = world().await;
    let http = World::http_from(None);
    let d: Value = http
        .get(format!("{}/.well-known/openid-configuration", w.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], w.issuer);
    assert_eq!(d["token_endpoint"], w.token_endpoint());
    assert_eq!(d["authorization_endpoint"], format!("{}/authorize", w.issuer));
    assert_eq!(d["token_endpoint_auth_methods_supported"], json!(["private_key_jwt"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(
        d["grant_types_supported"],
        json!(["authorization_code", "client_credentials"])
    );
    assert!(
        d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("number-verification:verify"))
    );
    let jwks: Value = http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, w.sim.jwks());
}

#[tokio::test]
async fn unknown_client_or_redirect_uri_is_never_redirected() {
    let w = world().await;
    let http = World::http_from(Some("127.0.0.2"));
    let (_, challenge) = jose::pkce_pair();
    let base = w.authorize_params(&challenge, NV);
    let set = |k: &str, v: Option<&str>| -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = base.iter().filter(|(n, _)| n != k).cloned().collect();
        if let Some(v) = v {
            p.push((k.into(), v.into()));
        }
        p
    };
    for params in [
        set("client_id", Some("someone-else")),
        set("client_id", None),
        set("redirect_uri", Some("http://evil.example/cb")),
        set("redirect_uri", Some("http://127.0.0.1:9/l/callback?x=1")),
        set("redirect_uri", None),
    ] {
        let (status, loc) = w.authorize(&http, &params).await;
        assert_eq!(status, 400, "{params:?}");
        assert!(loc.is_none(), "{params:?} was redirected");
    }
}

#[tokio::test]
async fn wifi_consent_and_malformed_requests_redirect_with_an_error_and_the_state() {
    let w = world().await;
    let (_, challenge) = jose::pkce_pair();
    let params = w.authorize_params(&challenge, NV);

    // 127.0.0.1 belongs to no phone: a device on Wi-Fi.
    let (status, loc) = w.authorize(&World::http_from(Some("127.0.0.1")), &params).await;
    assert_eq!(status, 302);
    let loc = loc.unwrap();
    assert!(loc.as_str().starts_with(REDIRECT_URI));
    assert_eq!(query(&loc, "error").as_deref(), Some("access_denied"));
    assert!(
        query(&loc, "error_description")
            .unwrap()
            .contains("could not identify the subscriber")
    );
    assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query(&loc, "code"), None);

    let (_, loc) = w.authorize(&World::http_from(Some("127.0.0.4")), &params).await;
    assert_eq!(query(&loc.unwrap(), "error").as_deref(), Some("consent_required"));

    let phone_a = World::http_from(Some("127.0.0.2"));
    let change = |k: &str, v: Option<&str>| -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = params.iter().filter(|(n, _)| n != k).cloned().collect();
        if let Some(v) = v {
            p.push((k.into(), v.into()));
        }
        p
    };
    for (p, error) in [
        (change("code_challenge", None), "invalid_request"),
        (change("code_challenge_method", Some("plain")), "invalid_request"),
        (change("code_challenge_method", None), "invalid_request"),
        (change("scope", Some("number-verification:verify")), "invalid_scope"),
        (change("scope", Some("openid no-such-api:do")), "invalid_scope"),
        (change("response_type", Some("token")), "unsupported_response_type"),
        (change("request", Some("eyJ.x.y")), "invalid_request_object"),
    ] {
        let (status, loc) = w.authorize(&phone_a, &p).await;
        assert_eq!(status, 302);
        let loc = loc.unwrap();
        assert_eq!(query(&loc, "error").as_deref(), Some(error), "{p:?}");
        assert_eq!(query(&loc, "state").as_deref(), Some("st-123"));
        assert_eq!(query(&loc, "code"), None);
    }
}

#[tokio::test]
async fn the_code_flow_gives_a_verifiable_id_token_with_the_nonce_and_a_working_access_token() {
    let w = world().await;
    let body = w.three_legged("127.0.0.2", NV).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body["scope"].as_str().unwrap().contains("number-verification:verify"));

    // The ID token checks out with the keys the simulator publishes.
    let jwks: Value = World::http_from(None)
        .get(format!("{}/jwks", w.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (header, claims) = KeySet::from_jwks(&jwks)
        .unwrap()
        .verify(body["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], w.issuer);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n-456");
    assert!(claims["exp"].as_i64().unwrap() > w.now_s());
    assert!(claims["auth_time"].is_i64());
    let sub = claims["sub"].as_str().unwrap();
    assert!(!sub.contains("5550100001"), "the sub must not reveal the number");
    // The ID token is not good with another key.
    let other = KeySet::from_jwks(&SigningKey::generate().jwks()).unwrap();
    assert!(other.verify(body["id_token"].as_str().unwrap()).is_err());

    let at = body["access_token"].as_str().unwrap();
    assert_eq!(
        verify(&w, at, json!({"phoneNumber": PHONE_A})).await,
        (200, json!({"devicePhoneNumberVerified": true}))
    );
    // Number Verification tokens are single-use.
    assert_eq!(verify(&w, at, json!({"phoneNumber": PHONE_A})).await.0, 401);

    // The same subscriber gets the same pseudonym again.
    let again = w.three_legged("127.0.0.2", NV).await;
    let (_, c2) = KeySet::from_jwks(&jwks)
        .unwrap()
        .verify(again["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(c2["sub"], sub);
    let b = w.three_legged("127.0.0.3", NV).await;
    assert_eq!(
        verify(&w, b["access_token"].as_str().unwrap(), json!({"phoneNumber": PHONE_A}))
            .await
            .1["devicePhoneNumberVerified"],
        false
    );
}

#[tokio::test]
async fn a_login_hint_for_another_number_still_authenticates_the_device() {
    let w = world().await;
    let (verifier, challenge) = jose::pkce_pair();
    let mut params = w.authorize_params(&challenge, NV);
    params.push(("login_hint".into(), format!("tel:{PHONE_B}")));
    let (status, loc) = w.authorize(&World::http_from(Some("127.0.0.2")), &params).await;
    assert_eq!(status, 302);
    let code = query(&loc.unwrap(), "code").expect("the device is authenticated anyway");
    let (status, body) = exchange(&w, &code, &verifier).await;
    assert_eq!(status, 200);
    let (status, answer) = verify(
        &w,
        body["access_token"].as_str().unwrap(),
        json!({"phoneNumber": PHONE_B}),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"devicePhoneNumberVerified": false})));
}

#[tokio::test]
async fn pkce_mismatch_reused_code_expired_code_and_other_redirect_uri_are_invalid_grant() {
    let w = world().await;

    // A wrong verifier spends the code: the right one no longer works either.
    let (code, verifier) = code_from(&w, "127.0.0.2").await;
    let (other_verifier, _) = jose::pkce_pair();
    let (status, body) = exchange(&w, &code, &other_verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(exchange(&w, &code, &verifier).await.1["error"], "invalid_grant");

    // A replayed code is refused and the token of its first exchange revoked.
    let (code, verifier) = code_from(&w, "127.0.0.2").await;
    let (status, first) = exchange(&w, &code, &verifier).await;
    assert_eq!(status, 200);
    let (status, body) = exchange(&w, &code, &verifier).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        verify(
            &w,
            first["access_token"].as_str().unwrap(),
            json!({"phoneNumber": PHONE_A})
        )
        .await
        .0,
        401
    );

    // Codes live 60 s.
    let (code, verifier) = code_from(&w, "127.0.0.2").await;
    w.clock.advance_secs(61);
    assert_eq!(exchange(&w, &code, &verifier).await.1["error"], "invalid_grant");

    // The redirect_uri must be the one of /authorize.
    let (code, verifier) = code_from(&w, "127.0.0.2").await;
    let (status, body) = w
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &verifier),
        ])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // Missing pieces are invalid_request.
    let (status, body) = w.token(&[("grant_type", "authorization_code"), ("code", "x")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn client_assertions_are_checked_strictly() {
    let w = world().await;
    let post = |assertion: String| {
        let w = &w;
        async move {
            w.token_raw(&[
                ("grant_type", "client_credentials"),
                ("scope", "sim-swap:check"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ])
            .await
        }
    };
    let refused = |(status, body): (u16, Value), case: &str| {
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"], "invalid_client", "{case}");
    };

    // The good ones first: aud = token endpoint, aud = issuer.
    assert_eq!(post(w.assertion()).await.0, 200);
    let mut c = w.assertion_claims();
    c["aud"] = json!(w.issuer);
    assert_eq!(post(w.sign(&c)).await.0, 200);

    // Replayed jti.
    let once = w.assertion();
    assert_eq!(post(once.clone()).await.0, 200);
    refused(post(once).await, "replayed jti");

    // Tampered claims under the original signature.
    let good = w.assertion();
    let parts: Vec<&str> = good.split('.').collect();
    let mut c = w.assertion_claims();
    c["iss"] = json!(CLIENT_ID);
    c["exp"] = json!(w.now_s() + 250);
    let forged = format!("{}.{}.{}", parts[0], base64url(c.to_string().as_bytes()), parts[2]);
    refused(post(forged).await, "tampered");

    // alg none.
    let none = format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(w.assertion_claims().to_string().as_bytes())
    );
    refused(post(none).await, "alg none");

    // Signed by a key the client does not publish.
    refused(
        post(SigningKey::generate().sign(&w.assertion_claims(), "JWT")).await,
        "unknown key",
    );

    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut c = w.assertion_claims();
        f(&mut c);
        w.sign(&c)
    };
    let now = w.now_s();
    for (case, a) in [
        (
            "expired",
            mutate(&|c| {
                c["iat"] = json!(now - 400);
                c["exp"] = json!(now - 100);
            }),
        ),
        ("too long-lived", mutate(&|c| c["exp"] = json!(now + 900))),
        (
            "exp - iat > 300",
            mutate(&|c| {
                c["iat"] = json!(now - 200);
                c["exp"] = json!(now + 200);
            }),
        ),
        ("iat in the future", mutate(&|c| c["iat"] = json!(now + 100))),
        (
            "wrong aud",
            mutate(&|c| c["aud"] = json!("https://operator.example/token")),
        ),
        (
            "two audiences",
            mutate(&|c| c["aud"] = json!([w.token_endpoint(), "https://other.example"])),
        ),
        ("sub differs", mutate(&|c| c["sub"] = json!("someone"))),
        (
            "unknown iss",
            mutate(&|c| {
                c["iss"] = json!("nobody");
                c["sub"] = json!("nobody");
            }),
        ),
        (
            "no jti",
            mutate(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        (
            "no exp",
            mutate(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
    ] {
        refused(post(a).await, case);
    }

    // No assertion, another assertion type, or a client secret.
    refused(
        w.token_raw(&[("grant_type", "client_credentials"), ("scope", "sim-swap:check")])
            .await,
        "none",
    );
    let a = w.assertion();
    refused(
        w.token_raw(&[
            ("grant_type", "client_credentials"),
            ("scope", "sim-swap:check"),
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &a),
        ])
        .await,
        "assertion type",
    );
    let a = w.assertion();
    refused(
        w.token_raw(&[
            ("grant_type", "client_credentials"),
            ("scope", "sim-swap:check"),
            ("client_secret", "s3cret"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &a),
        ])
        .await,
        "client_secret",
    );
}

#[tokio::test]
async fn grant_types_and_scopes() {
    let w = world().await;
    let (status, body) = w.token(&[("grant_type", "password")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = w.token(&[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    let (status, body) = w
        .token(&[("grant_type", "client_credentials"), ("scope", "no-such:scope")])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, body) = w
        .token(&[("grant_type", "client_credentials"), ("scope", "openid sim-swap:check")])
        .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    let (status, body) = w
        .token(&[("grant_type", "client_credentials"), ("scope", "sim-swap:check")])
        .await;
    assert_eq!(status, 200);
    assert!(body.get("id_token").is_none());
    assert_eq!(body["scope"], "sim-swap:check");
}

#[tokio::test]
async fn a_rotated_client_key_is_fetched_again_once() {
    let first = SigningKey::generate();
    let published = Arc::new(Mutex::new(first.jwks()));
    let served = published.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let v = served.lock().unwrap().clone();
            async move { axum::Json(v) }
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut w = World::start_with_jwks(first, format!("http://{addr}/jwks.json"), vec![], |_| {}, vec![task]).await;
    assert_eq!(w.two_legged("sim-swap:check").await.len(), 43);
    // The client rotates its key: the simulator's cached set does not know the new kid.
    let second = SigningKey::generate();
    *published.lock().unwrap() = second.jwks();
    w.consumer_key = second;
    assert_eq!(w.two_legged("sim-swap:check").await.len(), 43);
}

#[tokio::test]
async fn sim_as_cookie_and_header_override_the_source_address() {
    let w = world().await;
    let http = World::http_from(Some("127.0.0.1"));

    // /sim/as sets the cookie and continues to `then` (http(s) only).
    let resp = http
        .get(format!("{}/sim/as", w.issuer))
        .query(&[("number", PHONE_B), ("then", "http://127.0.0.1:9/l/abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"], "http://127.0.0.1:9/l/abc");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("opsim_device={PHONE_B};")), "{cookie}");
    for bad in [("then", "javascript:alert(1)"), ("then", "/relative")] {
        let r = http
            .get(format!("{}/sim/as", w.issuer))
            .query(&[("number", PHONE_B), bad])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert!(r.headers().get("set-cookie").is_none());
    }
    let r = http
        .get(format!("{}/sim/as", w.issuer))
        .query(&[("number", "12"), ("then", "http://127.0.0.1:9/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // The /sim page says who the browser is, and links to act as each phone.
    let page = |cookie: Option<&'static str>| {
        let mut r = http.get(format!("{}/sim", w.issuer));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    assert!(page(None).await.contains("on Wi-Fi"));
    let as_b = page(Some("opsim_device=+15550100002")).await;
    assert!(as_b.contains("This browser is <b>+15550100002</b>"), "{as_b}");
    assert!(as_b.contains("/sim/as?number=%2B15550100001&amp;then="), "{as_b}");

    // With the cookie, a request from an unmapped address is that phone.
    let (verifier, challenge) = jose::pkce_pair();
    let resp = http
        .get(format!("{}/authorize", w.issuer))
        .query(&w.authorize_params(&challenge, "openid number-verification:device-phone-number:read"))
        .header("cookie", "opsim_device=+15550100002")
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = query(&loc, "code").expect("identified by the cookie");
    let (_, body) = exchange(&w, &code, &verifier).await;
    assert_eq!(
        share(&w, body["access_token"].as_str().unwrap()).await,
        (200, json!({"devicePhoneNumber": PHONE_B}))
    );

    // The header beats the source address (127.0.0.2 is phone A) and may name any number.
    let (verifier, challenge) = jose::pkce_pair();
    let resp = World::http_from(Some("127.0.0.2"))
        .get(format!("{}/authorize", w.issuer))
        .query(&w.authorize_params(&challenge, "openid number-verification:device-phone-number:read"))
        .header("x-operator-sim-device", "+15550109999")
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let (_, body) = exchange(&w, &query(&loc, "code").unwrap(), &verifier).await;
    assert_eq!(
        share(&w, body["access_token"].as_str().unwrap()).await.1["devicePhoneNumber"],
        "+15550109999"
    );
}

#[test]
fn load_config_reads_the_file_creates_the_key_and_refuses_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    let good = r#"
        listen = "127.0.0.1:9191"
        key_file = "key.pem"
        [[clients]]
        client_id = "ringproof"
        jwks_uri = "http://127.0.0.1:8080/.well-known/jwks.json"
        redirect_uris = ["http://127.0.0.1:8080/l/callback"]
        [[phones]]
        number = "+15550100001"
        ips = ["127.0.0.2"]
        sim_swapped_at = "2026-12-01T09:00:00Z"
    "#;
    std::fs::write(&path, good).unwrap();
    let c = ringproof_operator_sim::load_config(&path).unwrap();
    assert_eq!(c.issuer_or_listen(), "http://127.0.0.1:9191");
    assert!(c.phones[0].sim_swapped_at.is_some());
    let kid = c.signing_key.as_ref().unwrap().kid().to_owned();
    assert!(dir.path().join("key.pem").exists());
    // The second start reuses the key.
    let again = ringproof_operator_sim::load_config(&path).unwrap();
    assert_eq!(again.signing_key.unwrap().kid(), kid);

    for (case, text) in [
        ("bad number", good.replace("+15550100001", "5550100001")),
        ("bad date", good.replace("2026-12-01T09:00:00Z", "yesterday")),
        ("unknown key", good.replace("listen =", "lisen =")),
        (
            "no redirect",
            good.replace(r#"["http://127.0.0.1:8080/l/callback"]"#, "[]"),
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        assert!(ringproof_operator_sim::load_config(&path).is_err(), "{case}");
    }
    assert!(ringproof_operator_sim::load_config(dir.path().join("missing.toml")).is_err());
    // The example in the repository is valid.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/operator-sim.toml");
    let ex = ringproof_operator_sim::load_config(example).unwrap();
    assert_eq!(ex.clients[0].client_id, "ringproof");
}

#[tokio::test]
async fn serve_derives_the_issuer_from_the_listener_and_applies_the_delay() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ringproof_operator_sim::SimConfig {
        delay_ms: 150,
        ..Default::default()
    };
    let task = tokio::spawn(ringproof_operator_sim::serve(config, listener));
    let started = std::time::Instant::now();
    let d: Value = World::http_from(None)
        .get(format!("http://{addr}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The delay is the feature under test: it is real time by nature.
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(d["issuer"], format!("http://{addr}"));
    assert_eq!(d["jwks_uri"], format!("http://{addr}/jwks"));
    task.abort();
}

#[tokio::test]
async fn an_issuer_with_a_path_roots_every_endpoint_below_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}/op");
    let config = ringproof_operator_sim::SimConfig::default().with_issuer(issuer.clone());
    let task = tokio::spawn(ringproof_operator_sim::serve(config, listener));
    let http = World::http_from(None);
    let d: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["token_endpoint"], format!("{issuer}/token"));
    let jwks = http.get(d["jwks_uri"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(jwks.status().as_u16(), 200);
    let r = http
        .post(format!("{issuer}/number-verification/vwip/verify"))
        .header("x-correlator", "abc-123")
        .json(&json!({"phoneNumber": PHONE_A}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["x-correlator"], "abc-123");
    task.abort();
}

#[tokio::test]
async fn signed_request_objects_and_post_are_accepted_and_checked() {
    let w = world().await;
    let (verifier, challenge) = jose::pkce_pair();
    let now = w.now_s();
    let object = json!({
        "iss": CLIENT_ID,
        "aud": format!("{}/authorize", w.issuer),
        "iat": now,
        "exp": now + 120,
        "jti": "ro-1",
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": NV,
        "state": "from-the-object",
        "nonce": "nonce-in-object",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    });
    // Only the four mandatory parameters in the form; the rest comes from the object.
    let form = |object: &Value, sign_with: &SigningKey| -> Vec<(String, String)> {
        vec![
            ("client_id".into(), CLIENT_ID.into()),
            ("redirect_uri".into(), REDIRECT_URI.into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), NV.into()),
            ("state".into(), "from-the-query".into()),
            ("request".into(), sign_with.sign(object, "oauth-authz-req+jwt")),
        ]
    };
    let phone_a = World::http_from(Some("127.0.0.2"));
    let post = |f: Vec<(String, String)>| {
        let http = phone_a.clone();
        let url = format!("{}/authorize", w.issuer);
        async move {
            let r = http.post(url).form(&f).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 302);
            url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
        }
    };
    let loc = post(form(&object, &w.consumer_key)).await;
    assert_eq!(query(&loc, "state").as_deref(), Some("from-the-object"));
    let (status, body) = exchange(&w, &query(&loc, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200);
    let (_, claims) = KeySet::from_jwks(&w.sim.jwks())
        .unwrap()
        .verify(body["id_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims["nonce"], "nonce-in-object");

    // Refused objects: another key, another client_id than the query, wrong aud, expired.
    let mut other_scope = object.clone();
    other_scope["scope"] = json!("openid sim-swap:check");
    let mut wrong_aud = object.clone();
    wrong_aud["aud"] = json!("https://elsewhere.example/authorize");
    let mut expired = object.clone();
    expired["iat"] = json!(now - 400);
    expired["exp"] = json!(now - 100);
    for (case, f) in [
        ("foreign key", form(&object, &SigningKey::generate())),
        ("scope differs", form(&other_scope, &w.consumer_key)),
        ("wrong aud", form(&wrong_aud, &w.consumer_key)),
        ("expired", form(&expired, &w.consumer_key)),
    ] {
        let loc = post(f).await;
        assert_eq!(
            query(&loc, "error").as_deref(),
            Some("invalid_request_object"),
            "{case}"
        );
        assert_eq!(query(&loc, "state").as_deref(), Some("from-the-query"), "{case}");
        assert_eq!(query(&loc, "code"), None, "{case}");
    }
}
