//! `ringproof operator-sim`: a local mobile operator that CAMARA clients talk to with no
//! special case — an OpenID Connect provider doing *network-based authentication*, and the
//! CAMARA Number Verification and SIM Swap APIs.
//!
//! "The device" is decided by the request's source address (`[[phones]].ips`: loopback
//! addresses such as 127.0.0.2 stand for phones on mobile data), or by an override only this
//! simulator honours: the `X-Operator-Sim-Device` header, or the `opsim_device` cookie set by
//! `GET /sim/as?number=…&then=…`. A request from any other address is a device on Wi-Fi: the
//! network cannot identify it.
//!
//! ```text
//!  consumer backend          browser on the phone              operator-sim
//!        │ 302 ──────────────────▶ GET /authorize ──────────────────▶ │ source IP → number
//!        │                         ◀── 302 redirect_uri?code&state ── │ (code: 60 s, single use)
//!        │ POST /token (private_key_jwt, code, PKCE verifier) ──────▶ │ assertion checked with
//!        │ ◀──────────────────────── access_token, id_token (ES256) ─ │ the client's jwks_uri
//!        │ POST /number-verification/vwip/verify (Bearer) ──────────▶ │
//!        │ ◀──────────────────────────── {devicePhoneNumberVerified} ─ │
//! ```
//!
//! All state (codes, tokens, seen assertion ids) lives in memory: a restart forgets it, as a
//! real operator's short-lived grants would expire anyway.

mod api;
pub mod config;
mod oidc;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use ringproof_core::crypto::random_bytes;
use ringproof_core::jose::{KeySet, SigningKey};
use ringproof_core::time::{Clock, SystemClock, Timestamp};

pub use config::{ClientConfig, ConfigError, PhoneConfig, SimConfig, load_config};

/// Scopes the simulator grants.
pub const SCOPE_NV_VERIFY: &str = "number-verification:verify";
pub const SCOPE_NV_READ: &str = "number-verification:device-phone-number:read";
pub const SCOPE_SS_CHECK: &str = "sim-swap:check";
pub const SCOPE_SS_DATE: &str = "sim-swap:retrieve-date";
/// The SIM Swap specification also lets its operations be called with this one.
pub const SCOPE_SS_ALL: &str = "sim-swap";
const API_SCOPES: [&str; 5] = [
    SCOPE_NV_VERIFY,
    SCOPE_NV_READ,
    SCOPE_SS_CHECK,
    SCOPE_SS_DATE,
    SCOPE_SS_ALL,
];

/// How long an authorization code may wait for its exchange.
const CODE_TTL_S: i64 = 60;

/// A configured simulator: build its [`Router`] and serve it with connect info.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cfg: SimConfig,
    pub(crate) issuer: String,
    pub(crate) key: SigningKey,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http: reqwest::Client,
    /// Keys the sub claim's pairwise pseudonyms (OIDC §8.1): stable within one run.
    pub(crate) pairwise_secret: [u8; 32],
    pub(crate) codes: Mutex<HashMap<String, CodeGrant>>,
    pub(crate) tokens: Mutex<HashMap<String, AccessToken>>,
    /// (client_id, jti) of accepted client assertions, kept until the assertion expires.
    pub(crate) seen_jtis: Mutex<HashMap<(String, String), Timestamp>>,
    /// Each client's public keys, fetched from its `jwks_uri` on first use.
    pub(crate) client_keys: tokio::sync::Mutex<HashMap<String, KeySet>>,
}

/// What an authorization code stands for.
#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scopes: Vec<String>,
    pub number: String,
    pub auth_time: Timestamp,
    pub expires: Timestamp,
    /// Set at the first exchange: a second one revokes the token it gave (RFC 6749 §4.1.2).
    pub redeemed_into: Option<String>,
}

/// An opaque access token's meaning.
#[derive(Clone, Debug)]
pub(crate) struct AccessToken {
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The network-authenticated number (3-legged); `None` for a client-credentials token.
    pub number: Option<String>,
    pub expires: Timestamp,
    /// Number Verification tokens are good for one API call (the API's own rule).
    pub used: bool,
}

impl Simulator {
    /// A simulator on the real clock.
    pub fn new(config: SimConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A simulator whose notion of "now" (token, code and assertion lifetimes, SIM-swap ages)
    /// comes from `clock`: tests move it instead of sleeping.
    pub fn with_clock(config: SimConfig, clock: Arc<dyn Clock>) -> Self {
        let issuer = config.issuer_or_listen();
        let key = config.signing_key.clone().unwrap_or_else(SigningKey::generate);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Simulator {
            inner: Arc::new(Inner {
                cfg: config,
                issuer,
                key,
                clock,
                http,
                pairwise_secret: random_bytes::<32>(),
                codes: Mutex::default(),
                tokens: Mutex::default(),
                seen_jtis: Mutex::default(),
                client_keys: tokio::sync::Mutex::default(),
            }),
        }
    }

    /// The issuer identifier (also the API root).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The simulator's public keys, as served at `/jwks`.
    pub fn jwks(&self) -> serde_json::Value {
        self.inner.key.jwks()
    }

    /// The HTTP face. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`:
    /// without the peer address no device can be identified by its IP.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .merge(oidc::routes())
            .merge(api::routes())
            .layer(middleware::from_fn_with_state(self.inner.clone(), log_and_delay))
            .with_state(self.inner.clone());
        // An issuer with a path (`https://op.example/camara`) roots everything below it.
        let base = url::Url::parse(&self.inner.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        if base.is_empty() {
            routes
        } else {
            Router::new().nest(&base, routes)
        }
    }
}

impl Simulator {
    /// Serves this simulator on `listener` (with the peer addresses that identify devices)
    /// until the future is dropped. Its issuer was fixed at construction: bind first, then
    /// build the simulator with `SimConfig::with_issuer(format!("http://{addr}"))`.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> impl Future<Output = std::io::Result<()>> + use<> {
        let app = self.router();
        async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await }
    }
}

/// The router of a simulator on the real clock (see [`Simulator::router`]).
pub fn router(config: SimConfig) -> Router {
    Simulator::new(config).router()
}

/// Serves the simulator on `listener` until the future is dropped. With no `issuer`
/// configured, the issuer is `http://<the listener's address>`.
pub fn serve(mut config: SimConfig, listener: tokio::net::TcpListener) -> impl Future<Output = std::io::Result<()>> {
    if config.issuer.is_none()
        && let Ok(addr) = listener.local_addr()
    {
        config.issuer = Some(format!("http://{addr}"));
    }
    Simulator::new(config).serve(listener)
}

impl Inner {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn client(&self, id: &str) -> Option<&ClientConfig> {
        self.cfg.clients.iter().find(|c| c.client_id == id)
    }

    pub(crate) fn phone(&self, number: &str) -> Option<&PhoneConfig> {
        self.cfg.phones.iter().find(|p| p.number == number)
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }
}

/// Locks a mutex, carrying on with the data if a panicking holder poisoned it (every critical
/// section here leaves the maps consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One log line per request (method, path, status, time; never the query, which may carry a
/// `login_hint` with a number), and the configured `delay_ms`.
async fn log_and_delay(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "-".into());
    let response = next.run(req).await;
    if inner.cfg.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(inner.cfg.delay_ms)).await;
    }
    tracing::info!(
        target: "operator_sim",
        %method,
        path,
        peer,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
