//! The CAMARA conformance features (`shared/specs/camara/*.feature`) run against the
//! simulator: a small Gherkin parser and step runner.
//!
//! Each scenario (each row of a Scenario Outline) gets a fresh simulator on a manual clock,
//! configured by its `Given` steps (swap dates, activation dates, a monitored period, a line
//! where SIM Swap does not apply), and a consumer that obtains its access tokens through the
//! real flow: its own ES256 key served as a JWKS, `/authorize` from 127.0.0.2 (the phone
//! under test), then `/token` with `private_key_jwt`. Scenarios whose phone is "identified by
//! the token or provided in the request body" run twice: with a 3-legged token and with a
//! 2-legged token plus `phoneNumber`.
//!
//! A step with no definition fails its scenario: nothing passes silently. Scenarios that do
//! not apply are listed in [`NOT_APPLICABLE`] with the reason, and printed as skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};

use ringproof_core::crypto::{hex, sha256};
use ringproof_core::time::{Clock, SystemClock, Timestamp};
use ringproof_operator_sim::PhoneConfig;
use serde_json::{Map, Value, json};
use support::*;

/// Scenario tags that do not apply to this operator, and why. (Empty today: the simulator's
/// configuration can express every situation the features describe.)
const NOT_APPLICABLE: &[(&str, &str)] = &[];

const SUBJECT: &str = "+15550100001";
const SUBJECT_IP: &str = "127.0.0.2";
const OTHER: &str = "+15550100002";
const UNKNOWN: &str = "+15550199999";
const MONITORED_DAYS: u32 = 30;

// ---------------------------------------------------------------------------------------
// Parsing

#[derive(Clone, Debug)]
struct Scenario {
    file: String,
    tag: String,
    name: String,
    steps: Vec<String>,
}

/// A scenario being read: (tag, name, steps, is an outline, Examples rows).
type Draft = (String, String, Vec<String>, bool, Vec<Vec<String>>);

/// Reads a feature file: the Background's steps are put in front of every scenario's, and a
/// Scenario Outline becomes one scenario per Examples row.
fn parse_feature(path: &Path) -> Vec<Scenario> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut background: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut pending_tag = String::new();
    let mut current: Option<Draft> = None;
    let mut in_background = false;
    let flush = |cur: Option<Draft>, out: &mut Vec<Scenario>, bg: &[String]| {
        let Some((tag, name, steps, outline, rows)) = cur else {
            return;
        };
        let all: Vec<String> = bg.iter().cloned().chain(steps).collect();
        if !outline {
            out.push(Scenario {
                file: file.clone(),
                tag,
                name,
                steps: all,
            });
            return;
        }
        assert!(rows.len() >= 2, "{tag}: a Scenario Outline without Examples rows");
        let header = &rows[0];
        for row in &rows[1..] {
            let subst = |s: &String| {
                header
                    .iter()
                    .zip(row)
                    .fold(s.clone(), |acc, (h, v)| acc.replace(&format!("<{h}>"), v))
            };
            let label = header
                .iter()
                .zip(row)
                .map(|(h, v)| format!("{h}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            out.push(Scenario {
                file: file.clone(),
                tag: format!("{tag}[{label}]"),
                name: name.clone(),
                steps: all.iter().map(subst).collect(),
            });
        }
    };
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("Feature:") {
            continue;
        }
        if line.starts_with('@') {
            pending_tag = line.split_whitespace().next().unwrap_or_default().to_owned();
        } else if line.starts_with("Background:") {
            in_background = true;
        } else if let Some(name) = line
            .strip_prefix("Scenario Outline:")
            .or_else(|| line.strip_prefix("Scenario:"))
        {
            flush(current.take(), &mut out, &background);
            in_background = false;
            let outline = line.starts_with("Scenario Outline:");
            current = Some((
                std::mem::take(&mut pending_tag),
                name.trim().to_owned(),
                Vec::new(),
                outline,
                Vec::new(),
            ));
        } else if line.starts_with("Examples:") {
            // Rows follow.
        } else if line.starts_with('|') {
            let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect();
            current.as_mut().expect("a table outside a scenario").4.push(cells);
        } else {
            let step = ["Given ", "When ", "Then ", "And ", "But "]
                .iter()
                .find_map(|k| line.strip_prefix(k))
                .unwrap_or_else(|| panic!("{file}: cannot read the line {line:?}"));
            let step = step.trim().to_owned();
            if in_background {
                background.push(step);
            } else {
                current.as_mut().expect("a step outside a scenario").2.push(step);
            }
        }
    }
    flush(current.take(), &mut out, &background);
    out
}

/// Matches `text` against `pattern`, where each `{}` stands for any text; returns the
/// captures with surrounding quotes removed.
fn m(text: &str, pattern: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = pattern.split("{}").collect();
    let mut rest = text.strip_prefix(parts[0])?;
    let mut caps = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last {
            if lit.is_empty() {
                rest.len()
            } else {
                rest.strip_suffix(lit).map(str::len)?
            }
        } else {
            rest.find(lit)?
        };
        caps.push(rest[..at].trim().trim_matches('"').to_owned());
        rest = &rest[at + lit.len()..];
    }
    if rest.is_empty() { Some(caps) } else { None }
}

// ---------------------------------------------------------------------------------------
// The world of one scenario run

#[derive(Clone, Copy, Debug, PartialEq)]
enum Auth {
    Removed,
    /// Whatever a "valid access token" is for this run (see `Mode`).
    Valid,
    Expired,
    Invalid,
    WithoutScope,
    /// Client credentials with the operation's scope: identifies no phone.
    TwoLegged,
    /// The code flow from the subject's address.
    ThreeLegged,
    /// Client credentials with a Number Verification scope.
    NotNetwork,
}

/// For SIM Swap: how the phone is named when the token is merely "valid".
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Token,
    Body,
}

#[derive(Clone, Debug)]
enum Body {
    /// The default compliant body for the operation and mode, with `overlay` applied.
    Default,
    Absent,
    Raw(Value),
}

struct Run {
    mode: Mode,
    now: Timestamp,
    subject: PhoneConfig,
    monitored: Option<u32>,
    auth: Auth,
    body: Body,
    overlay: Vec<(String, Option<Value>)>,
    correlator: Option<String>,
    base: String,
    operation: Option<String>,
    response: Option<(u16, reqwest::header::HeaderMap, Value)>,
    max_age: Option<i64>,
}

fn hours_ago(now: Timestamp, h: i64) -> Timestamp {
    now.plus_secs(-h * 3600)
}

impl Run {
    fn new(mode: Mode) -> Run {
        let now = SystemClock.now();
        let mut subject = phone(SUBJECT, Some(SUBJECT_IP));
        subject.activated_at = Some(hours_ago(now, 2 * 365 * 24));
        Run {
            mode,
            now,
            subject,
            monitored: None,
            auth: Auth::Removed,
            body: Body::Absent,
            overlay: Vec::new(),
            correlator: None,
            base: String::new(),
            operation: None,
            response: None,
            max_age: None,
        }
    }

    fn set(&mut self, prop: &str, v: Option<Value>) {
        let prop = prop.trim_start_matches("$.").to_owned();
        self.overlay.retain(|(p, _)| *p != prop);
        self.overlay.push((prop, v));
    }

    fn is_nv(&self, op: &str) -> bool {
        op.starts_with("phoneNumber")
    }

    /// Applies one step; `Err` fails the scenario.
    async fn step(&mut self, s: &str) -> Result<(), String> {
        // ---- Background and request set-up
        if let Some(c) = m(s, "the resource {} as base url").or_else(|| m(s, "the resource {}")) {
            self.base = c[0].clone();
        } else if m(s, "the header \"Content-Type\" is set to \"application/json\"").is_some() {
        } else if m(s, "the header \"x-correlator\" complies with the schema at {}").is_some() {
            self.correlator = Some(format!(
                "b4333c46-49c0-4f62-80d7-{}",
                &hex(&ringproof_core::crypto::random_bytes::<6>())
            ));
        } else if s == "the request body is set by default to a request body compliant with the schema"
            || s == "the request body is set to a valid request body"
        {
            self.body = Body::Default;
        } else if s == "the request body is not included" {
            self.body = Body::Absent;
        } else if let Some(c) = m(s, "the request body is set to {}") {
            self.body = Body::Raw(serde_json::from_str(&c[0]).map_err(|e| e.to_string())?);
        }
        // ---- The Authorization header
        else if s == "the header \"Authorization\" is set to a valid access token" {
            self.auth = Auth::Valid;
        } else if s == "the header \"Authorization\" is removed" {
            self.auth = Auth::Removed;
        } else if s == "the header \"Authorization\" is set to an expired access token" {
            self.auth = Auth::Expired;
        } else if s == "the header \"Authorization\" is set to an invalid access token" {
            self.auth = Auth::Invalid;
        } else if s == "the header \"Authorization\" is set to an access token without the required scope" {
            self.auth = Auth::WithoutScope;
        } else if s
            == "the header \"Authorization\" is set to a valid access token which does not identify a single phone number"
        {
            self.auth = Auth::TwoLegged;
        } else if s == "the header \"Authorization\" is set to a valid access token identifying a phone number" {
            self.auth = Auth::ThreeLegged;
        } else if s
            == "the header \"Authorization\" is set to a token for which neither Network-based nor SIM-based authentication was used"
        {
            self.auth = Auth::NotNetwork;
        } else if s == "the token has been obtained by a supported authentication method" {
            if !matches!(self.auth, Auth::Valid | Auth::ThreeLegged) || self.mode != Mode::Token {
                return Err("the token is not a network-authenticated one".into());
            }
        }
        // ---- Who the phone is
        else if s == "a valid phone number supported by the service, identified by the token"
            || s == "a valid testing phoneNumber supported by the service, identified by the token"
        {
            self.mode = Mode::Token;
        } else if s == "a valid phone number identified by the token and provided in the request body" {
            self.mode = Mode::Token;
            self.set("phoneNumber", Some(json!(SUBJECT)));
        } else if s == "a valid phone number identified by the token or provided in the request body" {
            // The run's mode decides (the scenario runs once per mode).
        } else if s == "that the service is not available for all phone numbers commercialized by the operator" {
        } else if s
            == "a valid phone number, identified by the token or provided in the request body, for which the service is not applicable"
        {
            self.subject.sim_swap_applicable = false;
        }
        // ---- Number Verification bodies
        else if s == "the body property \"$.phoneNumber\" is set to the phone number identified by the access token" {
            self.body = Body::Raw(json!({"phoneNumber": SUBJECT}));
        } else if s
            == "the body property \"$.phoneNumber\" is set to a valid phone number different from the one identified by the access token"
        {
            self.body = Body::Raw(json!({"phoneNumber": OTHER}));
        } else if s
            == "the body property \"$.hashedPhoneNumber\" is set to the phone number identified by the access token, hashed in SHA-256 (in hexadecimal representation)"
        {
            self.body = Body::Raw(json!({"hashedPhoneNumber": hex(&sha256(SUBJECT.as_bytes()))}));
        } else if s
            == "the body property \"$.hashedPhoneNumber\" is set to a valid phone number different from the one identified by the access token, hashed in SHA-256 (in hexadecimal representation)"
        {
            self.body = Body::Raw(json!({"hashedPhoneNumber": hex(&sha256(OTHER.as_bytes()))}));
        } else if s
            == "the request body property \"$.hashedPhoneNumber\" is set to a valid phone number compliant with OAS schema at \"#/components/schemas/HashedPhoneNumber\""
        {
            self.set("hashedPhoneNumber", Some(json!(hex(&sha256(SUBJECT.as_bytes())))));
        } else if let Some(c) = m(s, "the request body property \"$.additional_property\" is set to {}") {
            self.set("additional_property", Some(json!(c[0])));
        } else if s == "the request body does not contain neither \"$.phoneNumber\" nor \"$.hashedPhoneNumber\"" {
            self.set("phoneNumber", None);
            self.set("hashedPhoneNumber", None);
        } else if s == "the same phone number is compliant with OAS schema at \"#/components/schemas/PhoneNumber\"" {
            let n = self
                .overlay
                .iter()
                .find(|(p, _)| p == "phoneNumber")
                .and_then(|(_, v)| v.clone());
            if !n
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(ringproof_operator_sim::config::is_e164)
            {
                return Err(format!("the body's phoneNumber {n:?} is not E.164"));
            }
        }
        // ---- phoneNumber in the body
        else if s == "the request body property \"$.phoneNumber\" is set to a valid phone number" {
            self.set("phoneNumber", Some(json!(SUBJECT)));
        } else if m(
            s,
            "the request body property \"$.phoneNumber\" does not comply with the OAS schema at {}",
        )
        .is_some()
        {
            self.set("phoneNumber", Some(json!("555-0100 ext. 1")));
        } else if s
            == "the request body property \"$.phoneNumber\" is compliant with the schema but does not identify a valid phone number"
        {
            self.set("phoneNumber", Some(json!(UNKNOWN)));
        } else if s == "the request body property \"$.phoneNumber\" is not included" {
            self.set("phoneNumber", None);
        }
        // ---- SIM history and maxAge
        else if let Some(c) = m(s, "the SIM for this phone number has been swapped in the last {}") {
            let h: i64 = c[0]
                .trim_end_matches(" hours")
                .parse()
                .map_err(|_| format!("hours? {}", c[0]))?;
            self.subject.sim_swapped_at = Some(self.now.plus_secs(-h * 3600 + 1800));
        } else if s == "the SIM for this phone number has been swapped more than 240 hours ago" {
            self.subject.sim_swapped_at = Some(hours_ago(self.now, 300));
        } else if s == "the SIM for this phone number has been swapped" {
            self.subject.sim_swapped_at = Some(hours_ago(self.now, 48));
        } else if s == "the SIM for this phone number has never been swapped" {
            self.subject.sim_swapped_at = None;
        } else if s == "the phone number is not associated to any sim card" {
            self.subject.sim_swapped_at = None;
            self.subject.activated_at = None;
        } else if s == "the SIM for this phone number has been swapped before the limited history window threshold" {
            self.monitored = Some(MONITORED_DAYS);
            self.subject.sim_swapped_at = Some(hours_ago(self.now, (i64::from(MONITORED_DAYS) + 10) * 24));
        } else if let Some(c) = m(s, "the activation of the SIM occurred more than {} hours ago") {
            let h: i64 = c[0].parse().map_err(|_| format!("hours? {}", c[0]))?;
            self.subject.activated_at = Some(hours_ago(self.now, h + 10));
        } else if let Some(c) = m(
            s,
            "the \"maxAge\" request body property is set to a value equal or greater than {} within the allowed range",
        ) {
            let h: i64 = c[0].parse().map_err(|_| format!("hours? {}", c[0]))?;
            self.max_age(h);
        } else if let Some(c) = m(
            s,
            "the request body property \"maxAge\" is set to a value less than {} within the allowed range",
        ) {
            let h: i64 = c[0].parse().map_err(|_| format!("hours? {}", c[0]))?;
            self.max_age((h - 1).max(1));
        } else if s
            == "the request body property \"maxAge\" is set to the number of hours since the last SIM swap minus 1"
        {
            let swapped = *self.subject.sim_swapped_at.get_or_insert(hours_ago(self.now, 100));
            let since_h = (self.now.millis() - swapped.millis()) / 3_600_000;
            self.max_age(since_h - 1);
        } else if s == "the last swap for this phone number's SIM was more than \"maxAge\" hours ago" {
            let (Some(at), Some(max)) = (self.subject.sim_swapped_at, self.max_age) else {
                return Err("no swap or no maxAge set".into());
            };
            if at >= hours_ago(self.now, max) {
                return Err("the swap is not older than maxAge".into());
            }
        } else if let Some(c) = m(s, "the request body property \"$.maxAge\" is set to {}") {
            if c[0] == "a valid value above the supported monitored period of the API Provider" {
                self.monitored = Some(MONITORED_DAYS);
                self.max_age(i64::from(MONITORED_DAYS) * 24 + 1);
            } else {
                let v: i64 = c[0].parse().map_err(|_| format!("maxAge? {}", c[0]))?;
                self.max_age(v);
            }
        } else if m(
            s,
            "the request body property \"$.maxAge\" does not comply with the OAS schema at {}",
        )
        .is_some()
        {
            self.set("maxAge", Some(json!("twelve hours")));
        }
        // ---- Sending
        else if let Some(c) = m(s, "the request {} is sent") {
            self.operation = Some(c[0].clone());
            self.send().await?;
        }
        // ---- Checks
        else if let Some(c) = m(s, "the response status code is {}") {
            let want: u16 = c[0].parse().map_err(|_| format!("status? {}", c[0]))?;
            let (got, _, body) = self.response().await?;
            if got != want {
                return Err(format!("status {got}, expected {want}; body {body}"));
            }
        } else if s == "the response header \"Content-Type\" is \"application/json\"" {
            let (_, h, _) = self.response().await?;
            let ct = h.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if !ct.starts_with("application/json") {
                return Err(format!("Content-Type {ct:?}"));
            }
        } else if s == "the response header \"x-correlator\" has same value as the request header \"x-correlator\"" {
            let sent = self.correlator.clone();
            let (_, h, _) = self.response().await?;
            let got = h.get("x-correlator").and_then(|v| v.to_str().ok()).map(str::to_owned);
            if sent.is_none() || got != sent {
                return Err(format!("x-correlator {got:?}, sent {sent:?}"));
            }
        } else if let Some(c) = m(s, "the response body complies with the OAS schema at {}") {
            let (_, _, body) = self.response().await?;
            complies(&c[0], &body)?;
        } else if let Some(c) = m(s, "the response property \"$.message\" contains a user friendly text") {
            let _ = c;
            let (_, _, body) = self.response().await?;
            if body["message"].as_str().is_none_or(|t| t.trim().len() < 10) {
                return Err(format!("message {}", body["message"]));
            }
        } else if let Some(c) = m(s, "the response property \"$.status\" is {}") {
            let (_, _, body) = self.response().await?;
            if body["status"].as_i64().map(|v| v.to_string()) != Some(c[0].clone()) {
                return Err(format!("$.status {} expected {}", body["status"], c[0]));
            }
        } else if let Some(c) = m(s, "the response property \"$.code\" is {}") {
            let (_, _, body) = self.response().await?;
            if body["code"].as_str() != Some(c[0].as_str()) {
                return Err(format!("$.code {} expected {}", body["code"], c[0]));
            }
        } else if let Some(c) = m(s, "the response property \"$.devicePhoneNumberVerified\" == {}")
            .or_else(|| m(s, "the value of response property \"$.swapped\" == {}"))
        {
            let field = if s.contains("swapped") {
                "swapped"
            } else {
                "devicePhoneNumberVerified"
            };
            let want = json!(c[0] == "true");
            let (_, _, body) = self.response().await?;
            if body[field] != want {
                return Err(format!("$.{field} {} expected {want}; body {body}", body[field]));
            }
        } else if s
            == "the response property \"$.devicePhoneNumber\" is equal to the phone number associated with the access token"
        {
            let (_, _, body) = self.response().await?;
            if body["devicePhoneNumber"] != SUBJECT {
                return Err(format!("devicePhoneNumber {}", body["devicePhoneNumber"]));
            }
        } else if s == "the response property \"$.latestSimChange\" contains a valid timestamp" {
            let want = self.subject.sim_swapped_at;
            self.expect_latest(want).await?;
        } else if s == "the response property \"$.latestSimChange\" contains the sim's activation timestamp" {
            let want = self.subject.activated_at;
            self.expect_latest(want).await?;
        } else if s == "the response property \"$.latestSimChange\" is null" {
            self.expect_latest(None).await?;
        } else if s
            == "the response optionally contains the property \"$.monitoredPeriod\" with the value of monitored time frame (in days) supported by the MNO"
        {
            let (_, _, body) = self.response().await?;
            if let Some(p) = body.get("monitoredPeriod")
                && *p != json!(MONITORED_DAYS)
            {
                return Err(format!("monitoredPeriod {p}"));
            }
        } else {
            return Err(format!("no step definition for: {s}"));
        }
        Ok(())
    }

    fn max_age(&mut self, h: i64) {
        self.max_age = Some(h);
        self.set("maxAge", Some(json!(h)));
    }

    async fn expect_latest(&mut self, want: Option<Timestamp>) -> Result<(), String> {
        let (_, _, body) = self.response().await?;
        let got = &body["latestSimChange"];
        let parsed = match got {
            Value::Null => None,
            Value::String(t) => {
                Some(ringproof_operator_sim::config::parse_rfc3339(t).ok_or(format!("not RFC 3339: {t}"))?)
            }
            other => return Err(format!("latestSimChange {other}")),
        };
        if parsed != want {
            return Err(format!("latestSimChange {got}, expected {want:?}"));
        }
        Ok(())
    }

    /// The response; a scenario with no `When` step sends at its first check.
    async fn response(&mut self) -> Result<(u16, reqwest::header::HeaderMap, Value), String> {
        if self.response.is_none() {
            self.send().await?;
        }
        self.response.clone().ok_or_else(|| "no response".into())
    }

    async fn send(&mut self) -> Result<(), String> {
        let op = match &self.operation {
            Some(op) => op.clone(),
            None => default_operation(&self.base)?,
        };
        let (get, path) = match op.as_str() {
            "phoneNumberVerify" => (false, "/number-verification/vwip/verify"),
            "phoneNumberShare" => (true, "/number-verification/vwip/device-phone-number"),
            "checkSimSwap" => (false, "/sim-swap/vwip/check"),
            "retrieveSimSwapDate" => (false, "/sim-swap/vwip/retrieve-date"),
            other => return Err(format!("unknown operation {other}")),
        };
        if !path.starts_with(&self.base) {
            return Err(format!("operation {op} is not under the resource {}", self.base));
        }
        let scope = match op.as_str() {
            "phoneNumberVerify" => "number-verification:verify",
            "phoneNumberShare" => "number-verification:device-phone-number:read",
            "checkSimSwap" => "sim-swap:check",
            _ => "sim-swap:retrieve-date",
        };
        let nv = self.is_nv(&op);

        // The simulator of this run, configured by the Given steps.
        let mut phones = vec![self.subject.clone(), phone(OTHER, Some("127.0.0.3"))];
        phones[1].activated_at = Some(hours_ago(self.now, 5000));
        let monitored = self.monitored;
        let w = World::start(phones, |c| c.monitored_period_days = monitored).await;
        w.clock.set(self.now);

        // A "valid" token: 3-legged for Number Verification; for SIM Swap as the mode says.
        let auth = match self.auth {
            Auth::Valid if !nv && self.mode == Mode::Body => Auth::TwoLegged,
            Auth::Valid => Auth::ThreeLegged,
            a => a,
        };
        let three = |scope: &str| format!("openid dpv:FraudPreventionAndDetection {scope}");
        let token = match auth {
            Auth::Removed => None,
            Auth::Invalid => Some("not-a-token-this-operator-issued".to_owned()),
            Auth::ThreeLegged | Auth::Valid => Some(
                w.three_legged(SUBJECT_IP, &three(scope)).await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            Auth::Expired => {
                let t = w.three_legged(SUBJECT_IP, &three(scope)).await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                w.clock.advance_secs(301);
                Some(t)
            }
            Auth::WithoutScope => {
                let other = if op == "phoneNumberVerify" {
                    "number-verification:device-phone-number:read"
                } else if nv {
                    "number-verification:verify"
                } else if op == "checkSimSwap" {
                    "sim-swap:retrieve-date"
                } else {
                    "sim-swap:check"
                };
                Some(
                    w.three_legged(SUBJECT_IP, &three(other)).await["access_token"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            }
            Auth::TwoLegged | Auth::NotNetwork => Some(w.two_legged(scope).await),
        };
        let two_legged = matches!(auth, Auth::TwoLegged | Auth::NotNetwork);

        let body = match &self.body {
            Body::Absent => None,
            Body::Raw(v) => Some(overlay(v.clone(), &self.overlay)),
            Body::Default => {
                let base = if op == "phoneNumberVerify" || two_legged && !nv {
                    json!({"phoneNumber": SUBJECT})
                } else {
                    json!({})
                };
                Some(overlay(base, &self.overlay))
            }
        };

        let http = World::http_from(None);
        let url = format!("{}{path}", w.issuer);
        let mut req = if get { http.get(url) } else { http.post(url) };
        req = req.header("content-type", "application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(c) = &self.correlator {
            req = req.header("x-correlator", c);
        }
        if let Some(b) = body.filter(|_| !get) {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        self.response = Some((status, headers, body));
        Ok(())
    }
}

fn default_operation(base: &str) -> Result<String, String> {
    Ok(match base {
        "/sim-swap/vwip/check" => "checkSimSwap",
        "/sim-swap/vwip/retrieve-date" => "retrieveSimSwapDate",
        "/number-verification/vwip" => "phoneNumberVerify",
        other => return Err(format!("no request was sent and {other} names no single operation")),
    }
    .to_owned())
}

fn overlay(mut v: Value, overlay: &[(String, Option<Value>)]) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, val) in overlay {
            match val {
                Some(x) => {
                    m.insert(k.clone(), x.clone());
                }
                None => {
                    m.remove(k);
                }
            }
        }
    }
    v
}

/// The response schemas of the two specifications, checked by hand.
fn complies(schema: &str, body: &Value) -> Result<(), String> {
    let obj: &Map<String, Value> = body.as_object().ok_or(format!("not an object: {body}"))?;
    let name = schema.rsplit('/').next().unwrap_or_default();
    let ok = match name {
        "NumberVerificationMatchResponse" => obj.get("devicePhoneNumberVerified").is_some_and(Value::is_boolean),
        "NumberVerificationShareResponse" => obj
            .get("devicePhoneNumber")
            .and_then(Value::as_str)
            .is_some_and(ringproof_operator_sim::config::is_e164),
        "CheckSimSwapInfo" => obj.get("swapped").is_some_and(Value::is_boolean),
        "SimSwapInfo" => {
            obj.get("latestSimChange").is_some_and(|v| {
                v.is_null()
                    || v.as_str()
                        .and_then(ringproof_operator_sim::config::parse_rfc3339)
                        .is_some()
            }) && obj.get("monitoredPeriod").is_none_or(|p| p.is_u64())
        }
        other => return Err(format!("no schema check for {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{body} does not comply with {name}"))
    }
}

// ---------------------------------------------------------------------------------------

fn features_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs/camara");
    dir.is_dir().then_some(dir)
}

#[tokio::test]
async fn camara_conformance_features_pass_against_the_simulator() {
    let Some(dir) = features_dir() else {
        if std::env::var_os("CI").is_some() {
            panic!("the CAMARA features are missing: clone `shared` beside the repository");
        }
        eprintln!(
            "\n!!!!! SKIPPED: the CAMARA .feature files are not in ../shared/specs/camara (clone `shared` beside the repository) !!!!!\n"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "feature"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        4,
        "expected the four CAMARA feature files in {}",
        dir.display()
    );

    let (mut ran, mut skipped, mut failures) = (0usize, Vec::new(), Vec::new());
    for file in &files {
        let scenarios = parse_feature(file);
        assert!(!scenarios.is_empty(), "{}: no scenarios", file.display());
        for sc in scenarios {
            if let Some((_, why)) = NOT_APPLICABLE.iter().find(|(t, _)| sc.tag.starts_with(t)) {
                skipped.push(format!("{} ({why})", sc.tag));
                continue;
            }
            let both = sc
                .steps
                .iter()
                .any(|s| s.contains("identified by the token or provided in the request body"));
            let modes: &[Mode] = if both {
                &[Mode::Token, Mode::Body]
            } else {
                &[Mode::Token]
            };
            for &mode in modes {
                let mut run = Run::new(mode);
                let mut outcome = Ok(());
                for step in &sc.steps {
                    if let Err(e) = run.step(step).await {
                        outcome = Err(format!("step `{step}`: {e}"));
                        break;
                    }
                }
                ran += 1;
                let label = format!("{} {} [{mode:?}]", sc.file, sc.tag);
                match outcome {
                    Ok(()) => println!("ok    {label}"),
                    Err(e) => {
                        println!("FAIL  {label}: {e}");
                        failures.push(format!("{label} — {}: {e}", sc.name));
                    }
                }
            }
        }
    }
    let reasons = if skipped.is_empty() {
        "none".to_owned()
    } else {
        skipped.join("; ")
    };
    println!("gherkin: ran {ran}, skipped {} ({reasons})", skipped.len());
    assert!(ran >= 60, "suspiciously few scenario runs: {ran}");
    assert!(
        failures.is_empty(),
        "{} scenario run(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_step_matcher_and_parser_work() {
    assert_eq!(
        m("the request \"x\" is sent", "the request {} is sent"),
        Some(vec!["x".to_owned()])
    );
    assert_eq!(m("the request x is gone", "the request {} is sent"), None);
    assert_eq!(
        m("the resource \"/a\" as base url", "the resource {}"),
        Some(vec!["/a\" as base url".to_owned()])
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.feature");
    std::fs::write(
        &f,
        "Feature: t\n  Background: b\n    Given one\n  @a\n  Scenario: s\n    When two\n  @b\n  Scenario Outline: o\n    Then <n> three\n    Examples:\n      | n |\n      | 1 |\n      | 2 |\n",
    )
    .unwrap();
    let sc = parse_feature(&f);
    assert_eq!(sc.len(), 3);
    assert_eq!(sc[0].steps, vec!["one", "two"]);
    assert_eq!(sc[2].tag, "@b[n=2]");
    assert_eq!(sc[2].steps, vec!["one", "2 three"]);
}
