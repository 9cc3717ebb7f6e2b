//! The demo's backend half: what an integrator's server does, written as one would write it.
//!
//! It reaches ringproof over HTTP, with the `demo` client's credentials, through the same
//! public APIs any integrator uses — nothing in-process:
//! - codes: the native API, `POST /v1/verifications`, `GET /v1/verifications/{id}`,
//!   `POST …/check`, `POST …/resend` (HTTP Basic with the API key and secret);
//! - links: the Signzy face, `POST /api/v3/patrons/login` once (the token is kept until a
//!   401), `POST /api/v3/us-kyc/send-instant-link`, `GET …/poll-check-verify/…` while
//!   waiting, and `POST /api/v3/us-kyc/instant-link-result` with the `vfp` the browser
//!   brings back to the target page.
//!
//! The secrets stay on the server: the browser only ever sees the verification's id (or
//! the link's request and session ids) and the pages rendered from the answers.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The `demo` client's credentials, as `demo-credentials.json` holds them.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    pub api_key: String,
    pub api_secret: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// Why a call did not give what was asked.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The API answered with an error: its HTTP status, its message, the field it names
    /// (native API) and `Retry-After` when given.
    Refused {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
        retry_after_s: Option<u64>,
    },
    /// No usable answer (connection refused, timeout, not JSON).
    Unreachable(String),
}

impl Failure {
    /// A refusal the person can act on (a bad number, a wrong code, a limit to wait out),
    /// as opposed to the demo's own trouble: its credentials refused (401), the
    /// verification gone (404), a 5xx or no answer.
    pub fn for_the_person(&self) -> bool {
        matches!(self, Failure::Refused { status, .. } if (400..500).contains(status) && !matches!(status, 401 | 404))
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Refused { message, .. } => message,
            Failure::Unreachable(m) => m,
        }
    }
}

/// A verification as the native API shows it (the fields the demo uses).
#[derive(Clone, Debug, Deserialize)]
pub struct Verification {
    pub id: String,
    pub status: String,
    pub to: String,
    pub code_length: u8,
    pub remaining_check_attempts: u32,
    pub sends_left: u32,
    pub next_resend_at: Option<String>,
    pub expires_at: String,
}

/// The answer to a check.
#[derive(Clone, Debug, Deserialize)]
pub struct CheckResult {
    pub status: String,
    pub valid: bool,
    pub remaining_attempts: u32,
}

/// A link's ids (Signzy's `requestId` and `sessionId`).
#[derive(Clone, Debug, Deserialize)]
pub struct LinkIds {
    #[serde(rename = "requestId")]
    pub request_id: String,
    #[serde(rename = "sessionId")]
    pub session_id: String,
}

/// A link's final result (Signzy's Check Link Status).
#[derive(Clone, Debug, Deserialize)]
pub struct LinkResult {
    #[serde(rename = "linkClicked")]
    pub link_clicked: bool,
    #[serde(rename = "phoneMatch")]
    pub phone_match: String,
    #[serde(rename = "ipAddressMatch")]
    pub ip_address_match: bool,
    pub carrier: String,
    #[serde(rename = "lineType")]
    pub line_type: String,
    #[serde(rename = "countryCode")]
    pub country_code: String,
    #[serde(rename = "simSwapped")]
    pub sim_swapped: Option<String>,
}

pub struct DemoApi {
    http: reqwest::Client,
    /// Where the API is reached from here (the server's own address).
    base: String,
    /// Where browsers reach this server: the link's target is under it.
    public_base: String,
    creds: Credentials,
    /// The Signzy face's access token, from the last login.
    token: Mutex<Option<String>>,
}

impl DemoApi {
    pub fn new(base: String, public_base: String, creds: Credentials) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base,
            public_base,
            creds,
            token: Mutex::new(None),
        })
    }

    /// The page a link's click lands on (the target, under the demo client's origins).
    pub fn link_target(&self) -> String {
        format!("{}/demo/link/done", self.public_base)
    }

    // --- codes, on the native API ---

    /// Texts a code to `to` (E.164). `end_user_ip` is the browser's address, so the
    /// per-IP limits apply to the person and not to this backend.
    pub async fn start_code(&self, to: &str, end_user_ip: IpAddr) -> Result<Verification, Failure> {
        let body = json!({"to": to, "channel": "sms", "end_user_ip": end_user_ip.to_string()});
        self.native(reqwest::Method::POST, "/v1/verifications", Some(body))
            .await
    }

    pub async fn verification(&self, id: &str) -> Result<Verification, Failure> {
        self.native(reqwest::Method::GET, &format!("/v1/verifications/{}", seg(id)), None)
            .await
    }

    pub async fn check(&self, id: &str, code: &str) -> Result<CheckResult, Failure> {
        let path = format!("/v1/verifications/{}/check", seg(id));
        self.native(reqwest::Method::POST, &path, Some(json!({ "code": code })))
            .await
    }

    pub async fn resend(&self, id: &str) -> Result<Verification, Failure> {
        let path = format!("/v1/verifications/{}/resend", seg(id));
        self.native(reqwest::Method::POST, &path, None).await
    }

    async fn native<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.creds.api_key, Some(&self.creds.api_secret));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.map_err(unreachable)?;
        let status = res.status().as_u16();
        let retry_after_s = retry_after(&res);
        let v: Value = res.json().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            return serde_json::from_value(v).map_err(|e| Failure::Unreachable(e.to_string()));
        }
        // The native envelope: {"error":{"code","message","field"?}}.
        let e = &v["error"];
        Err(Failure::Refused {
            status,
            code: e["code"].as_str().unwrap_or_default().to_owned(),
            message: e["message"].as_str().unwrap_or("refused").to_owned(),
            field: e["field"].as_str().map(str::to_owned),
            retry_after_s,
        })
    }

    // --- links, on the Signzy face ---

    /// Texts a one-time link to a US or Canadian number (10 national digits), whose click
    /// lands on [`Self::link_target`].
    pub async fn send_link(&self, national: &str, country: &str, source_ip: IpAddr) -> Result<LinkIds, Failure> {
        let body = json!({
            "targetUrl": self.link_target(),
            "mobileNumber": national,
            "countryCode": country,
            "sourceIp": source_ip.to_string(),
        });
        let v = self
            .signzy(reqwest::Method::POST, "/api/v3/us-kyc/send-instant-link", Some(body))
            .await?;
        serde_json::from_value(v["result"].clone()).map_err(|e| Failure::Unreachable(e.to_string()))
    }

    /// The result, or `None` while the link waits for its click.
    pub async fn poll_link(&self, ids: &LinkIds) -> Result<Option<LinkResult>, Failure> {
        let path = format!(
            "/api/v3/us-kyc/poll-check-verify/request/{}/session/{}",
            seg(&ids.request_id),
            seg(&ids.session_id)
        );
        let v = self.signzy(reqwest::Method::GET, &path, None).await?;
        if v["result"].get("linkClicked").is_none() {
            return Ok(None); // {"result":{"message":"Please wait for sometime"}}
        }
        serde_json::from_value(v["result"].clone())
            .map(Some)
            .map_err(|e| Failure::Unreachable(e.to_string()))
    }

    /// The result for the `vfp` the browser brought to the target page.
    pub async fn link_result(&self, vfp: &str) -> Result<LinkResult, Failure> {
        let v = self
            .signzy(
                reqwest::Method::POST,
                "/api/v3/us-kyc/instant-link-result",
                Some(json!({ "vfp": vfp })),
            )
            .await?;
        serde_json::from_value(v["result"].clone()).map_err(|e| Failure::Unreachable(e.to_string()))
    }

    /// One Signzy-face call with the kept token; logs in first when there is none, and
    /// once more when the token was refused (expired or revoked).
    async fn signzy(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        for fresh in [false, true] {
            let token = self.token(fresh).await?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .header(reqwest::header::AUTHORIZATION, token);
            if let Some(b) = &body {
                req = req.json(b);
            }
            let res = req.send().await.map_err(unreachable)?;
            let status = res.status().as_u16();
            if status == 401 && !fresh {
                continue;
            }
            let retry_after_s = retry_after(&res);
            let v: Value = res.json().await.map_err(unreachable)?;
            if (200..300).contains(&status) {
                return Ok(v);
            }
            // Signzy's envelope: {"error":{"name","message",…}} (or a bare {"message"}).
            let message = v["error"]["message"]
                .as_str()
                .or(v["message"].as_str())
                .unwrap_or("refused")
                .to_owned();
            return Err(Failure::Refused {
                status,
                code: v["error"]["reason"].as_str().unwrap_or_default().to_owned(),
                message,
                field: v["error"]["field"].as_str().map(str::to_owned),
                retry_after_s,
            });
        }
        Err(Failure::Unreachable("the Signzy face refused a fresh token".into()))
    }

    async fn token(&self, fresh: bool) -> Result<String, Failure> {
        let mut kept = self.token.lock().await;
        if !fresh && let Some(t) = kept.as_ref() {
            return Ok(t.clone());
        }
        let res = self
            .http
            .post(format!("{}/api/v3/patrons/login", self.base))
            .json(&json!({"username": self.creds.username, "password": self.creds.password}))
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status().as_u16();
        let v: Value = res.json().await.map_err(unreachable)?;
        let Some(id) = v["id"].as_str().filter(|_| status == 200) else {
            return Err(Failure::Refused {
                status,
                code: "login_failed".into(),
                message: "the demo client's Signzy login was refused: are demo-credentials.json and the database from the same start?".into(),
                field: None,
                retry_after_s: None,
            });
        };
        *kept = Some(id.to_owned());
        Ok(id.to_owned())
    }
}

/// A path segment: the ids are letters and digits; anything else is percent-encoded so
/// a hostile id cannot reach another route.
fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn retry_after(res: &reqwest::Response) -> Option<u64> {
    res.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn unreachable(e: reqwest::Error) -> Failure {
    // Without the URL: it names this server's internal address and the verification.
    Failure::Unreachable(format!("the API did not answer: {}", e.without_url()))
}
