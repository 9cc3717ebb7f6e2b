//! What every CAMARA API call needs: the operator that serves a number, its OIDC
//! discovery document and keys, and access tokens from its `/token` endpoint with
//! `private_key_jwt` client authentication.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringproof_core::crypto::{base64url, random_bytes};
use ringproof_core::jose::{KeySet, SigningKey};
use ringproof_core::phone::PhoneNumber;
use serde::Deserialize;
use serde_json::json;

use super::config::OperatorConfig;
use crate::error::BuildError;

/// How long a discovery document and the operator's keys are trusted before they are
/// fetched again.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// A client assertion's lifetime (the security profile allows at most 300 s).
const ASSERTION_TTL_S: u64 = 60;

/// Why a call to the operator gave no answer. The reason tokens are those of
/// [`ringproof_core::netauth::Verdict::reason`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("the operator did not answer in time")]
    Timeout,
    #[error("the operator cannot be reached: {0}")]
    Unreachable(String),
    /// The operator answered with an error (`error` of RFC 6749 §5.2, or CAMARA's `code`).
    #[error("the operator refused: HTTP {status} {error}")]
    Refused { status: u16, error: String },
    /// The answer is not what the protocol says.
    #[error("the operator's answer is not valid: {0}")]
    Invalid(String),
}

impl OperatorError {
    pub fn reason(&self) -> &'static str {
        match self {
            OperatorError::Timeout => "timeout",
            OperatorError::Unreachable(_) => "unreachable",
            OperatorError::Refused { .. } | OperatorError::Invalid(_) => "operator_error",
        }
    }

    fn of(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            OperatorError::Timeout
        } else if e.is_decode() {
            OperatorError::Invalid("the body is not the expected JSON".into())
        } else {
            // Connection refused, reset, DNS: the detail names no number.
            OperatorError::Unreachable(e.to_string())
        }
    }
}

/// The parts of an OpenID Provider's metadata that are used.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

/// A token endpoint's answer.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

type Cached<T> = Mutex<Option<(T, Instant)>>;

/// One configured operator, with its metadata cache.
pub struct Operator {
    pub config: OperatorConfig,
    discovery: Cached<Discovery>,
    keys: Cached<KeySet>,
}

impl Operator {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Where the CAMARA APIs are.
    pub fn api_root(&self) -> &str {
        self.config
            .api_root
            .as_deref()
            .unwrap_or(&self.config.issuer)
            .trim_end_matches('/')
    }
}

/// The operators ringproof is registered with, its signing key and an HTTP client.
pub struct Operators {
    list: Vec<Arc<Operator>>,
    key: Arc<SigningKey>,
    http: reqwest::Client,
}

impl Operators {
    /// Checks the config: names unique, prefixes `+` and digits, URLs http(s).
    pub fn new(configs: Vec<OperatorConfig>, key: Arc<SigningKey>) -> Result<Self, BuildError> {
        let mut list = Vec::new();
        for c in configs {
            let err = |m: String| BuildError::config(&format!("netauth.operators.{}", c.name), m);
            if c.name.trim().is_empty() {
                return Err(BuildError::config("netauth.operators", "an operator needs a `name`"));
            }
            if list.iter().any(|o: &Arc<Operator>| o.config.name == c.name) {
                return Err(err("the name is used twice".into()));
            }
            if c.prefixes.is_empty() {
                return Err(err("`prefixes` is empty (`[\"+\"]` serves every number)".into()));
            }
            for p in &c.prefixes {
                let digits = p.strip_prefix('+').unwrap_or("x");
                if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 15 {
                    return Err(err(format!("prefix {p:?} is not `+` followed by digits")));
                }
            }
            for (field, url) in [("issuer", Some(&c.issuer)), ("api_root", c.api_root.as_ref())] {
                if let Some(u) = url
                    && !(u.starts_with("https://") || u.starts_with("http://"))
                {
                    return Err(err(format!("`{field}` must be an http(s) URL")));
                }
            }
            if let Some(p) = c
                .prefixes
                .iter()
                .find(|p| list.iter().any(|o: &Arc<Operator>| o.config.prefixes.contains(p)))
            {
                return Err(err(format!(
                    "prefix {p:?} is another operator's too: which one serves it?"
                )));
            }
            if c.client_id.trim().is_empty() {
                return Err(err("`client_id` is empty".into()));
            }
            list.push(Arc::new(Operator {
                config: c,
                discovery: Mutex::new(None),
                keys: Mutex::new(None),
            }));
        }
        let http = reqwest::Client::builder()
            // Redirects are the browser's business, never the back channel's.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuildError::config("netauth", format!("HTTP client: {e}")))?;
        Ok(Operators { list, key, http })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The operator by name.
    pub fn named(&self, name: &str) -> Option<&Arc<Operator>> {
        self.list.iter().find(|o| o.config.name == name)
    }

    /// The operator serving `number`: the longest matching prefix wins.
    pub fn for_number(&self, number: &PhoneNumber) -> Option<&Arc<Operator>> {
        let e164 = number.e164();
        self.list
            .iter()
            .filter_map(|o| {
                let best = o
                    .config
                    .prefixes
                    .iter()
                    .filter(|p| e164.starts_with(p.as_str()))
                    .map(String::len)
                    .max()?;
                Some((best, o))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, o)| o)
    }

    /// Origins of every operator's issuer and extra origins (for a CSP).
    pub fn origins(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .list
            .iter()
            .flat_map(|o| std::iter::once(&o.config.issuer).chain(o.config.extra_origins.iter()))
            .filter_map(|u| ringproof_core::link_session::origin_of(u))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The operator's discovery document (cached).
    pub async fn discovery(&self, op: &Operator, budget: Duration) -> Result<Discovery, OperatorError> {
        if let Some(d) = fresh(&op.discovery) {
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            op.config.issuer.trim_end_matches('/')
        );
        let res = self
            .http
            .get(&url)
            .timeout(budget)
            .send()
            .await
            .map_err(|e| OperatorError::of(&e))?;
        let d: Discovery = json_of(res).await?;
        if d.issuer.trim_end_matches('/') != op.config.issuer.trim_end_matches('/') {
            return Err(OperatorError::Invalid(
                "the discovery document names another issuer".into(),
            ));
        }
        store(&op.discovery, d.clone());
        Ok(d)
    }

    /// The operator's signing keys (cached; fetched again once when `kid` is unknown).
    pub async fn operator_keys(
        &self,
        op: &Operator,
        d: &Discovery,
        kid: Option<&str>,
        budget: Duration,
    ) -> Result<KeySet, OperatorError> {
        if let Some(k) = fresh(&op.keys)
            && kid.is_none_or(|kid| k.has_kid(kid))
        {
            return Ok(k);
        }
        let res = self
            .http
            .get(&d.jwks_uri)
            .timeout(budget)
            .send()
            .await
            .map_err(|e| OperatorError::of(&e))?;
        let v: serde_json::Value = json_of(res).await?;
        let keys = KeySet::from_jwks(&v).map_err(|e| OperatorError::Invalid(e.to_string()))?;
        store(&op.keys, keys.clone());
        Ok(keys)
    }

    /// A token from the operator's `/token`, authenticating with a fresh client assertion.
    pub async fn token(
        &self,
        op: &Operator,
        d: &Discovery,
        grant: &[(&str, &str)],
        budget: Duration,
    ) -> Result<TokenResponse, OperatorError> {
        let assertion = self.client_assertion(&op.config.client_id, &d.token_endpoint);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(grant.iter().copied())
            .append_pair("client_id", &op.config.client_id)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &assertion)
            .finish();
        let res = self
            .http
            .post(&d.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .timeout(budget)
            .send()
            .await
            .map_err(|e| OperatorError::of(&e))?;
        json_of(res).await
    }

    /// A `private_key_jwt` client assertion (OIDC Core §9): iss = sub = client id, aud =
    /// the token endpoint (as the CAMARA profile recommends), a fresh `jti`, 60 s of life.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.key.sign(
            &json!({
                "iss": client_id,
                "sub": client_id,
                "aud": audience,
                "jti": base64url(&random_bytes::<16>()),
                "iat": now,
                "exp": now + ASSERTION_TTL_S,
            }),
            "JWT",
        )
    }
}

/// The JSON of a 2xx answer, or the operator's error (`error` of RFC 6749 or CAMARA's
/// `code`).
pub async fn json_of<T: serde::de::DeserializeOwned>(res: reqwest::Response) -> Result<T, OperatorError> {
    let status = res.status();
    if status.is_success() {
        return res.json::<T>().await.map_err(|e| OperatorError::of(&e));
    }
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    let error = body["error"]
        .as_str()
        .or(body["code"].as_str())
        .unwrap_or("no error code")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .take(64)
        .collect();
    Err(OperatorError::Refused {
        status: status.as_u16(),
        error,
    })
}

fn fresh<T: Clone>(cell: &Cached<T>) -> Option<T> {
    let g = cell.lock().ok()?;
    g.as_ref()
        .filter(|(_, at)| at.elapsed() < METADATA_TTL)
        .map(|(v, _)| v.clone())
}

fn store<T>(cell: &Cached<T>, v: T) {
    if let Ok(mut g) = cell.lock() {
        *g = Some((v, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str, prefixes: &[&str]) -> OperatorConfig {
        OperatorConfig {
            name: name.into(),
            prefixes: prefixes.iter().map(|s| (*s).to_owned()).collect(),
            issuer: format!("https://{name}.example"),
            client_id: "rp".into(),
            api_root: None,
            login_hint: true,
            hashed_phone_number: false,
            extra_origins: vec![],
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let key = Arc::new(SigningKey::generate());
        let ops = Operators::new(
            vec![op("agg", &["+"]), op("us", &["+1"]), op("acme", &["+1201", "+44"])],
            key,
        )
        .unwrap();
        let n = |s: &str| PhoneNumber::parse_e164(s).unwrap();
        assert_eq!(ops.for_number(&n("+12015550123")).unwrap().name(), "acme");
        assert_eq!(ops.for_number(&n("+14155550100")).unwrap().name(), "us");
        assert_eq!(ops.for_number(&n("+447911123456")).unwrap().name(), "acme");
        assert_eq!(ops.for_number(&n("+33612345678")).unwrap().name(), "agg");
        let only_us = Operators::new(vec![op("us", &["+1"])], Arc::new(SigningKey::generate())).unwrap();
        assert!(only_us.for_number(&n("+33612345678")).is_none());
    }

    #[test]
    fn bad_operator_tables_are_refused() {
        let key = || Arc::new(SigningKey::generate());
        assert!(Operators::new(vec![op("a", &["44"])], key()).is_err(), "no +");
        assert!(Operators::new(vec![op("a", &[])], key()).is_err());
        assert!(Operators::new(vec![op("a", &["+1"]), op("a", &["+2"])], key()).is_err());
        assert!(
            Operators::new(vec![op("a", &["+1"]), op("b", &["+2", "+1"])], key()).is_err(),
            "one prefix, two operators"
        );
        let mut c = op("a", &["+1"]);
        c.issuer = "ftp://x".into();
        assert!(Operators::new(vec![c], key()).is_err());
    }

    #[test]
    fn client_assertions_verify_with_the_published_key() {
        let key = Arc::new(SigningKey::generate());
        let ops = Operators::new(vec![], key.clone()).unwrap();
        let a = ops.client_assertion("rp", "https://op.example/token");
        let (_, claims) = KeySet::from_jwks(&key.jwks()).unwrap().verify(&a).unwrap();
        assert_eq!(claims["iss"], "rp");
        assert_eq!(claims["sub"], "rp");
        assert_eq!(claims["aud"], "https://op.example/token");
        let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
        assert!(life <= 300);
        assert_ne!(
            claims["jti"],
            KeySet::from_jwks(&key.jwks())
                .unwrap()
                .verify(&ops.client_assertion("rp", "x"))
                .unwrap()
                .1["jti"]
        );
    }
}
