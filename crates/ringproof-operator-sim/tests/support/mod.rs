//! A CAMARA API consumer for the tests: its own ES256 key served as a JWKS by a tiny local
//! server, client assertions, and the real authorization-code flow against an in-process
//! simulator (the device chosen by the source address of the `/authorize` request).
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use ringproof_core::crypto::{base64url, random_bytes};
use ringproof_core::jose::{self, SigningKey};
use ringproof_core::time::{Clock, ManualClock, SystemClock};
use ringproof_operator_sim::{ClientConfig, PhoneConfig, SimConfig, Simulator};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "rp-test";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/l/callback";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A running simulator with its consumer.
pub struct World {
    pub issuer: String,
    pub clock: Arc<ManualClock>,
    pub consumer_key: SigningKey,
    pub sim: Simulator,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for World {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Serves `router` on 127.0.0.1:0 with connect info; returns the address.
async fn spawn(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    (addr, task)
}

/// A consumer registration pointing at `jwks_uri`.
pub fn client(jwks_uri: &str) -> ClientConfig {
    ClientConfig {
        client_id: CLIENT_ID.into(),
        jwks_uri: jwks_uri.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
    }
}

pub fn phone(number: &str, ip: Option<&str>) -> PhoneConfig {
    let mut p = PhoneConfig::new(number);
    if let Some(ip) = ip {
        p.ips.push(ip.parse().unwrap());
    }
    p
}

impl World {
    /// Starts the consumer's JWKS server and a simulator knowing `phones`, on a manual clock.
    pub async fn start(phones: Vec<PhoneConfig>, tweak: impl FnOnce(&mut SimConfig)) -> World {
        let consumer_key = SigningKey::generate();
        let jwks = consumer_key.jwks();
        let (jwks_addr, jwks_task) =
            spawn(Router::new().route("/jwks.json", get(move || async move { axum::Json(jwks) }))).await;
        Self::start_with_jwks(
            consumer_key,
            format!("http://{jwks_addr}/jwks.json"),
            phones,
            tweak,
            vec![jwks_task],
        )
        .await
    }

    pub async fn start_with_jwks(
        consumer_key: SigningKey,
        jwks_uri: String,
        phones: Vec<PhoneConfig>,
        tweak: impl FnOnce(&mut SimConfig),
        mut tasks: Vec<tokio::task::JoinHandle<()>>,
    ) -> World {
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let mut config = SimConfig {
            clients: vec![client(&jwks_uri)],
            phones,
            ..SimConfig::default()
        }
        .with_issuer(issuer.clone());
        tweak(&mut config);
        let sim = Simulator::with_clock(config, clock.clone());
        let served = sim.serve(listener);
        tasks.push(tokio::spawn(async move {
            let _ = served.await;
        }));
        World {
            issuer,
            clock,
            consumer_key,
            sim,
            tasks,
        }
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn now_s(&self) -> i64 {
        self.clock.now().millis() / 1000
    }

    /// Claims of a valid client assertion, to be altered by a test.
    pub fn assertion_claims(&self) -> Value {
        let now = self.now_s();
        json!({
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": self.token_endpoint(),
            "iat": now,
            "exp": now + 120,
            "jti": base64url(&random_bytes::<16>()),
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.consumer_key.sign(claims, "JWT")
    }

    pub fn assertion(&self) -> String {
        self.sign(&self.assertion_claims())
    }

    /// A client that never follows redirects, sending from `from` (a 127.0.0.x address).
    pub fn http_from(from: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(ip) = from {
            b = b.local_address(ip.parse::<IpAddr>().unwrap());
        }
        b.build().unwrap()
    }

    /// `/authorize` query parameters of a well-formed request.
    pub fn authorize_params(&self, challenge: &str, scope: &str) -> Vec<(String, String)> {
        [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// GET /authorize with `params`; returns the status and the Location.
    pub async fn authorize(&self, http: &reqwest::Client, params: &[(String, String)]) -> (u16, Option<url::Url>) {
        let resp = http
            .get(format!("{}/authorize", self.issuer))
            .query(params)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
        (status, loc)
    }

    /// POST /token with `form` plus a fresh valid client assertion.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let assertion = self.assertion();
        let mut f: Vec<(&str, &str)> = form.to_vec();
        f.push(("client_assertion_type", ASSERTION_TYPE));
        f.push(("client_assertion", &assertion));
        self.token_raw(&f).await
    }

    pub async fn token_raw(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = Self::http_from(None)
            .post(self.token_endpoint())
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The whole authorization-code flow from `from`; returns the token response.
    pub async fn three_legged(&self, from: &str, scope: &str) -> Value {
        let (verifier, challenge) = jose::pkce_pair();
        let (status, loc) = self
            .authorize(&Self::http_from(Some(from)), &self.authorize_params(&challenge, scope))
            .await;
        assert_eq!(status, 302);
        let loc = loc.unwrap();
        let code = query(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"));
        let (status, body) = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A client-credentials (2-legged) access token.
    pub async fn two_legged(&self, scope: &str) -> String {
        let (status, body) = self
            .token(&[("grant_type", "client_credentials"), ("scope", scope)])
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

pub fn query(u: &url::Url, name: &str) -> Option<String> {
    u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
