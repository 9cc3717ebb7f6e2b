//! The scenarios: each is one unit of work a client of one face does, over HTTP only, as
//! an integrator would (codes are read from the sandbox phone's API, links are confirmed
//! by POSTing the link page as a phone's browser does).

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// Every scenario, in the order a full run measures them.
pub const ALL: [Scenario; 8] = [
    Scenario::Baseline,
    Scenario::Otp,
    Scenario::Check,
    Scenario::Status,
    Scenario::SignzyOtp,
    Scenario::SignzyLink,
    Scenario::Idenfy,
    Scenario::Twilio,
];

/// How long a flow waits for its SMS in the sandbox before it counts as failed.
const SMS_DEADLINE: Duration = Duration::from_secs(30);
/// How long a link flow polls for the click's result.
const RESULT_DEADLINE: Duration = Duration::from_secs(30);
/// Between two reads of the sandbox or two polls.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// Wrong checks per pre-created verification in `check` (one fewer than the default
/// `max_checks`, so every check is answered as a wrong code, none as a lock-out).
const CHECKS_PER_VERIFICATION: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `GET /healthz`: what the server answers when it does nothing
    Baseline,
    /// The native API's complete flow: start, read the code in the sandbox, check it
    Otp,
    /// Wrong codes on pre-created verifications (`POST /v1/verifications/{id}/check`)
    Check,
    /// `GET /v1/verifications/{id}` on pre-created verifications
    Status,
    /// Signzy's send-otp, the code from the sandbox, verify-otp
    SignzyOtp,
    /// Signzy's send-instant-link, the link confirmed as a phone would, polled to its result
    SignzyLink,
    /// iDenfy's send-sms, the code from the sandbox, verify-sms
    Idenfy,
    /// Twilio Verify v2: Verifications, the code from the sandbox, VerificationCheck
    Twilio,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Otp => "otp",
            Scenario::Check => "check",
            Scenario::Status => "status",
            Scenario::SignzyOtp => "signzy-otp",
            Scenario::SignzyLink => "signzy-link",
            Scenario::Idenfy => "idenfy",
            Scenario::Twilio => "twilio",
        }
    }

    /// What one unit of the scenario is.
    pub fn unit(self) -> &'static str {
        match self {
            Scenario::Baseline | Scenario::Check | Scenario::Status => "request",
            _ => "flow",
        }
    }

    /// The area code of the numbers it sends to: each scenario its own, so that one
    /// scenario's numbers never meet another's limits.
    fn area(self) -> u32 {
        match self {
            Scenario::Baseline => 0,
            Scenario::Otp => 415,
            Scenario::Check => 510,
            Scenario::Status => 650,
            Scenario::SignzyOtp => 408,
            Scenario::SignzyLink => 707,
            Scenario::Idenfy => 925,
            Scenario::Twilio => 916,
        }
    }
}

/// The demo client's credentials file (`demo-credentials.json`, or what `ringproof client
/// create --json` printed).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Credentials {
    pub client_id: String,
    pub api_key: String,
    pub api_secret: String,
    pub username: String,
    pub password: String,
}

/// What `ringproof client twilio-credentials ID --json` printed.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct TwilioCredentials {
    pub account_sid: String,
    pub auth_token: String,
}

/// The server under test and how to talk to it.
#[derive(Clone)]
pub struct Target {
    pub http: reqwest::Client,
    pub base: String,
    pub creds: Credentials,
    pub twilio: Option<TwilioCredentials>,
    /// Where this run's numbers and addresses start (random per run: per-number limits
    /// remember earlier runs' numbers).
    pub run_id: u64,
}

/// What a scenario prepared before its timed loop (a pool, a session).
#[derive(Clone, Default)]
pub struct Prepared {
    ids: Vec<String>,
    signzy_token: String,
    twilio_service: String,
}

impl Target {
    /// The `i`th number of this run in `area`: `+1 <area> <7 digits>`, never in the
    /// 555 exchange (the sandbox's test numbers).
    pub fn number(&self, area: u32, i: usize) -> String {
        let mut local = 2_000_000 + (self.run_id + i as u64) % 8_000_000;
        if local / 10_000 == 555 {
            local += 10_000;
        }
        format!("+1{area}{local}")
    }

    /// The end user's address of flow `i`: one of 198.18.0.0/15, the range set aside for
    /// benchmarks (RFC 2544), so that the per-address send limit sees many users, as it
    /// would in production, rather than one address sending thousands.
    pub fn end_user_ip(&self, i: usize) -> String {
        let n = (self.run_id + i as u64) % (1 << 17);
        format!("198.{}.{}.{}", 18 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
    }

    fn native_auth(&self) -> String {
        format!("Bearer {}:{}", self.creds.api_key, self.creds.api_secret)
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// The latest SMS to `to` in the sandbox phone, waited for.
    async fn sms_to(&self, to: &str) -> Result<String, String> {
        let path = format!("/sandbox/api/messages?to={}&limit=1", to.replace('+', "%2B"));
        let deadline = Instant::now() + SMS_DEADLINE;
        loop {
            let (status, body) = send(self.req(Method::GET, &path)).await?;
            if status != StatusCode::OK {
                return Err(format!(
                    "the sandbox answered {status} (is the sandbox provider active?)"
                ));
            }
            if let Some(text) = body.get(0).and_then(|m| m["text"].as_str()) {
                return Ok(text.to_owned());
            }
            if Instant::now() > deadline {
                return Err(format!("no SMS within {} s", SMS_DEADLINE.as_secs()));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Sets up what the timed loop needs: `units` verifications for `check` and `status`,
    /// a Signzy login, a Twilio service.
    pub async fn prepare(&self, s: Scenario, units: usize) -> Result<Prepared, String> {
        let mut p = Prepared::default();
        match s {
            Scenario::Check | Scenario::Status => {
                let n = if s == Scenario::Check {
                    units.div_ceil(CHECKS_PER_VERIFICATION)
                } else {
                    units.min(1000)
                };
                for i in 0..n {
                    let to = self.number(s.area(), i);
                    p.ids.push(self.start_native(&to).await?);
                }
            }
            Scenario::SignzyOtp | Scenario::SignzyLink => {
                let body = json!({"username": self.creds.username, "password": self.creds.password});
                let (status, r) = send(self.req(Method::POST, "/api/v3/patrons/login").json(&body)).await?;
                p.signzy_token = r["id"]
                    .as_str()
                    .filter(|_| status == StatusCode::OK)
                    .ok_or_else(|| format!("the Signzy login answered {status}: {r}"))?
                    .to_owned();
            }
            Scenario::Twilio => {
                let t = self.twilio.as_ref().ok_or(
                    "the twilio scenario needs --twilio FILE (what `ringproof client twilio-credentials ID --json` prints)",
                )?;
                let req = self
                    .req(Method::POST, "/v2/Services")
                    .basic_auth(&t.account_sid, Some(&t.auth_token))
                    .form(&[("FriendlyName", "ringproof bench")]);
                let (status, r) = send(req).await?;
                p.twilio_service = r["sid"]
                    .as_str()
                    .filter(|_| status == StatusCode::CREATED || status == StatusCode::OK)
                    .ok_or_else(|| format!("creating a Twilio service answered {status}: {r}"))?
                    .to_owned();
            }
            _ => {}
        }
        Ok(p)
    }

    async fn start_native(&self, to: &str) -> Result<String, String> {
        let req = self
            .req(Method::POST, "/v1/verifications")
            .header("authorization", self.native_auth())
            .json(&json!({"to": to}));
        let (status, v) = send(req).await?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("start answered {status}: {}", brief(&v)))
    }

    /// Runs unit `i` of `s`.
    pub async fn unit(&self, s: Scenario, p: &Prepared, i: usize) -> Result<(), String> {
        let to = self.number(s.area(), i);
        match s {
            Scenario::Baseline => expect(
                send(self.req(Method::GET, "/healthz")).await?,
                StatusCode::OK,
                "healthz",
            ),
            Scenario::Otp => {
                let id = self.start_native(&to).await?;
                let code = code_in(&self.sms_to(&to).await?)?;
                let req = self
                    .req(Method::POST, &format!("/v1/verifications/{id}/check"))
                    .header("authorization", self.native_auth())
                    .json(&json!({"code": code}));
                let (status, r) = send(req).await?;
                truthy(&r["valid"], status, &r, "check")
            }
            Scenario::Check => {
                let id = &p.ids[i / CHECKS_PER_VERIFICATION];
                // A well-formed code (so it is evaluated and counted) of another length than
                // the default 6 digits: wrong whatever was sent.
                let req = self
                    .req(Method::POST, &format!("/v1/verifications/{id}/check"))
                    .header("authorization", self.native_auth())
                    .json(&json!({"code": "0000000"}));
                let (status, r) = send(req).await?;
                match r["valid"].as_bool() {
                    Some(false) if status == StatusCode::OK => Ok(()),
                    _ => Err(format!("a wrong check answered {status}: {}", brief(&r))),
                }
            }
            Scenario::Status => {
                let id = &p.ids[i % p.ids.len()];
                let req = self
                    .req(Method::GET, &format!("/v1/verifications/{id}"))
                    .header("authorization", self.native_auth());
                expect(send(req).await?, StatusCode::OK, "status")
            }
            Scenario::SignzyOtp => {
                let phone = format!("+1-{}", &to[2..]);
                let body = json!({"clientId": self.creds.client_id, "phoneNumber": phone, "channel": "smsOtp", "customTextId": "6"});
                let req = self
                    .req(Method::POST, "/api/v3/otp-verification/send-otp")
                    .header("authorization", &p.signzy_token)
                    .json(&body);
                expect(send(req).await?, StatusCode::OK, "send-otp")?;
                let code = code_in(&self.sms_to(&to).await?)?;
                let body = json!({"clientId": self.creds.client_id, "phoneNumber": phone, "otp": code});
                let req = self
                    .req(Method::POST, "/api/v3/otp-verification/verify-otp")
                    .header("authorization", &p.signzy_token)
                    .json(&body);
                let (status, r) = send(req).await?;
                truthy(&r["result"]["verified"], status, &r, "verify-otp")
            }
            Scenario::SignzyLink => self.signzy_link(p, &to, i).await,
            Scenario::Idenfy => {
                let auth = (&self.creds.api_key, Some(&self.creds.api_secret));
                let req = self
                    .req(Method::POST, "/fraud/send-sms")
                    .basic_auth(auth.0, auth.1)
                    .json(&json!({"phone_number": to}));
                let (status, r) = send(req).await?;
                let request_id = r["request_id"]
                    .as_str()
                    .ok_or_else(|| format!("send-sms answered {status}: {}", brief(&r)))?
                    .to_owned();
                let code = code_in(&self.sms_to(&to).await?)?;
                let req = self
                    .req(Method::POST, "/fraud/verify-sms")
                    .basic_auth(auth.0, auth.1)
                    .json(&json!({"request_id": request_id, "received_code": code}));
                let (status, r) = send(req).await?;
                truthy(&r["is_verified"], status, &r, "verify-sms")
            }
            Scenario::Twilio => {
                let t = self.twilio.as_ref().ok_or("no Twilio credentials")?;
                let service = &p.twilio_service;
                let req = self
                    .req(Method::POST, &format!("/v2/Services/{service}/Verifications"))
                    .basic_auth(&t.account_sid, Some(&t.auth_token))
                    .form(&[("To", to.as_str()), ("Channel", "sms")]);
                let (status, r) = send(req).await?;
                if status != StatusCode::CREATED {
                    return Err(format!("Verifications answered {status}: {}", brief(&r)));
                }
                let code = code_in(&self.sms_to(&to).await?)?;
                let req = self
                    .req(Method::POST, &format!("/v2/Services/{service}/VerificationCheck"))
                    .basic_auth(&t.account_sid, Some(&t.auth_token))
                    .form(&[("To", to.as_str()), ("Code", code.as_str())]);
                let (status, r) = send(req).await?;
                match r["status"].as_str() {
                    Some("approved") => Ok(()),
                    _ => Err(format!("VerificationCheck answered {status}: {}", brief(&r))),
                }
            }
        }
    }

    async fn signzy_link(&self, p: &Prepared, to: &str, i: usize) -> Result<(), String> {
        let body = json!({
            "targetUrl": format!("{}/demo/link/done", self.base),
            "mobileNumber": &to[2..],
            "countryCode": "US",
            "sourceIp": self.end_user_ip(i),
        });
        let req = self
            .req(Method::POST, "/api/v3/us-kyc/send-instant-link")
            .header("authorization", &p.signzy_token)
            .json(&body);
        let (status, r) = send(req).await?;
        let (Some(request), Some(session)) = (r["result"]["requestId"].as_str(), r["result"]["sessionId"].as_str())
        else {
            return Err(format!("send-instant-link answered {status}: {}", brief(&r)));
        };
        let sms = self.sms_to(to).await?;
        let token = sms
            .split("/l/")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or("no link in the SMS")?;
        // The phone's browser confirms: a form POST, answered 303 to the target.
        let confirmed = self
            .req(Method::POST, &format!("/l/{token}"))
            .send()
            .await
            .map_err(short)?;
        if confirmed.status() != StatusCode::SEE_OTHER {
            return Err(format!("confirming the link answered {}", confirmed.status()));
        }
        let path = format!("/api/v3/us-kyc/poll-check-verify/request/{request}/session/{session}");
        let deadline = Instant::now() + RESULT_DEADLINE;
        loop {
            let (status, r) = send(self.req(Method::GET, &path).header("authorization", &p.signzy_token)).await?;
            if r["result"]["linkClicked"] == json!(true) {
                return Ok(());
            }
            if status != StatusCode::OK || Instant::now() > deadline {
                return Err(format!("the poll answered {status}: {}", brief(&r)));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// Sends `req` and reads its body as JSON (`null` when it has none or is not JSON).
async fn send(req: RequestBuilder) -> Result<(StatusCode, Value), String> {
    let r = req.send().await.map_err(short)?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(short)?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

fn expect((status, body): (StatusCode, Value), want: StatusCode, what: &str) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(format!("{what} answered {status}: {}", brief(&body)))
    }
}

fn truthy(v: &Value, status: StatusCode, body: &Value, what: &str) -> Result<(), String> {
    if v == &json!(true) {
        Ok(())
    } else {
        Err(format!("{what} answered {status}: {}", brief(body)))
    }
}

/// A body cut short for an error sample.
fn brief(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn short(e: reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    format!("{kind}: {e}")
}

/// The code in an SMS: its first run of 4 to 10 digits.
pub fn code_in(text: &str) -> Result<String, String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| (4..=10).contains(&run.len()))
        .map(str::to_owned)
        .ok_or_else(|| "no code in the SMS".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_every_face_s_text() {
        assert_eq!(code_in("Your Acme verification code is: 123456").unwrap(), "123456");
        assert_eq!(code_in("The Sender code: 1234. Valid for 5 minutes.").unwrap(), "1234");
        assert_eq!(code_in("Your OTP for verification is 00012345").unwrap(), "00012345");
        assert!(code_in("no digits, 12 only").is_err());
    }

    #[test]
    fn numbers_differ_per_run_and_unit_and_avoid_the_test_exchange() {
        let t = |run_id| Target {
            http: reqwest::Client::new(),
            base: String::new(),
            creds: Credentials {
                client_id: String::new(),
                api_key: String::new(),
                api_secret: String::new(),
                username: String::new(),
                password: String::new(),
            },
            twilio: None,
            run_id,
        };
        assert_eq!(t(0).number(415, 0), "+14152000000");
        assert_ne!(t(0).number(415, 1), t(1).number(415, 1));
        assert_eq!(t(7_999_999).number(415, 1), "+14152000000");
        // 3 550 000 + 2 000 000 would fall in 555-xxxx.
        assert_eq!(t(0).number(415, 3_550_000), "+14155560000");
        assert_eq!(t(0).end_user_ip(0), "198.18.0.0");
        assert_eq!(t(0).end_user_ip(65_536 + 258), "198.19.1.2");
        assert_eq!(t(0).end_user_ip(1 << 17), "198.18.0.0");
        for s in ALL {
            assert_eq!(
                s.unit() == "flow",
                !matches!(s, Scenario::Baseline | Scenario::Check | Scenario::Status)
            );
        }
    }
}
