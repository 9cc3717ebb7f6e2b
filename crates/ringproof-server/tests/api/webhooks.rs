//! Webhooks through the real server and the real HTTP poster, to a loopback receiver: one
//! signed POST per event, nothing personal in a body, retries with backoff and a give-up,
//! expiry announced without a request, and the Python verifier of docs/webhooks.md; the
//! `twilio` and `vonage` formats (Event Streams CloudEvents, Verify v2 callbacks) with
//! their vendor signatures, checked by the vendors' own libraries where node has them.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use ringproof_core::crypto::hex;
use ringproof_core::time::{Clock, SystemClock, Timestamp};
use ringproof_core::webhook::{self, SignatureError};
use serde_json::{Value, json};

use crate::helpers::{Opts, TestApp, eventually, on_both_stores};

const TO: &str = "+14155550123";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Ok,
    Fail,
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    method: Method,
    /// The path and query as requested.
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn id(&self) -> String {
        self.json()["id"].as_str().unwrap().to_owned()
    }
    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap().to_owned()
    }
    /// The `t` of the signature: when the attempt was made, by the server's clock.
    fn signed_at(&self) -> i64 {
        let sig = self.header(webhook::SIGNATURE_HEADER);
        sig.strip_prefix("t=")
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// A webhook endpoint on loopback that records every request and answers 200, 500, or
/// never (it holds the connection open).
struct Receiver {
    url: String,
    /// `http://host:port`, to rebuild the full URL of a hit.
    origin: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // A query string of the receiver's own, as some receivers use for a token.
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let url = format!("{origin}/hooks?token=rcv-token");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(Hit {
                    method,
                    uri,
                    headers,
                    body: body.to_vec(),
                });
                match answer {
                    Answer::Ok => StatusCode::OK,
                    Answer::Fail => StatusCode::INTERNAL_SERVER_ERROR,
                    Answer::Hang => std::future::pending::<StatusCode>().await,
                }
            }
        };
        let app = axum::Router::new().route("/hooks", axum::routing::any(handler));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, origin, hits }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// Gives the demo client a webhook at `url` and returns its secret.
async fn set_webhook(app: &TestApp, url: &str) -> String {
    let id = app.demo_id();
    app.engine
        .set_webhook(&id, Some(url))
        .await
        .unwrap()
        .expect("a new secret")
}

async fn check(app: &TestApp, id: &str, code: &str) -> Value {
    let r = app.check(id, code).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn now_s(app: &TestApp) -> i64 {
    app.clock.now().millis().div_euclid(1000)
}

/// A wrong code for `code`: same length, every digit different.
fn wrong(code: &str) -> String {
    code.chars().map(|c| if c == '1' { '2' } else { '1' }).collect()
}

#[tokio::test]
async fn every_event_is_posted_once_signed_and_without_the_number_or_code() {
    let app = TestApp::spawn().await;
    let rcv = Receiver::start(Answer::Ok).await;
    let secret = set_webhook(&app, &rcv.url).await;

    let id = app.start_sms(TO).await;
    app.drain().await;
    let code = app.last_code(TO).await;
    assert_eq!(check(&app, &id, &wrong(&code)).await["status"], "pending");
    app.clock.advance_secs(3);
    assert_eq!(check(&app, &id, &code).await["status"], "approved");
    app.drain().await;

    let hits = rcv.hits();
    let kinds = app.event_kinds(&id).await;
    for k in ["created", "send_queued", "sent", "check_wrong", "approved"] {
        assert!(kinds.iter().any(|e| e == k), "{k} in {kinds:?}");
    }
    assert_eq!(
        sorted(hits.iter().map(Hit::kind).collect()),
        sorted(kinds.iter().map(|k| format!("verification.{k}")).collect()),
        "one webhook per event"
    );
    let mut ids: Vec<String> = hits.iter().map(Hit::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), hits.len(), "each event once, each with its own id");

    let digits = TO.trim_start_matches("+1");
    for h in &hits {
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.header("content-type"), "application/json");
        assert_eq!(
            h.header("user-agent"),
            format!("ringproof/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(h.header("ringproof-webhook-id"), h.id());
        assert_eq!(
            webhook::verify(&secret, h.header("ringproof-signature"), &h.body, now_s(&app), 300),
            Ok(())
        );
        let v = h.json();
        assert_eq!(v["data"]["verification_id"], id.as_str());
        assert!(
            v["created_at"].as_str().unwrap().starts_with("2026-01-01T00:00:0"),
            "{v}"
        );
        let text = String::from_utf8(h.body.clone()).unwrap();
        assert!(!text.contains(digits) && !text.contains(&code), "{text}");
    }
    // Signed by the secret that was handed out, and no other.
    let h = &hits[0];
    assert_eq!(
        webhook::verify(
            "whsec_other",
            h.header("ringproof-signature"),
            &h.body,
            now_s(&app),
            300
        ),
        Err(SignatureError::Mismatch)
    );
    let sent = hits.iter().find(|h| h.kind() == "verification.sent").unwrap().json();
    assert_eq!(sent["data"]["channel"], "sms");
    assert_eq!(app.job_stats().await.dead, 0);

    // A client without a webhook is not notified: new verifications stay silent.
    app.engine.set_webhook(&app.demo_id(), None).await.unwrap();
    let quiet = app.start_sms("+14155550124").await;
    app.drain().await;
    assert!(!app.event_kinds(&quiet).await.is_empty());
    assert_eq!(rcv.hits().len(), hits.len());
    app.stop().await;
}

/// The ```python block of docs/webhooks.md.
fn python_example() -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/webhooks.md")).unwrap();
    let blocks: Vec<&str> = doc.split("```python\n").skip(1).collect();
    assert_eq!(blocks.len(), 1, "one Python example in docs/webhooks.md");
    blocks[0].split("\n```").next().unwrap().to_owned()
}

/// Runs the docs' `verify_webhook` on each `(secret, header, body)`.
fn run_python(cases: &[(&str, &str, &[u8])]) -> Vec<bool> {
    let dir = crate::helpers::temp_dir("pyhook");
    std::fs::write(dir.path().join("example.py"), python_example()).unwrap();
    let cases: Vec<Value> = cases
        .iter()
        .map(|(s, h, b)| json!({"secret": s, "header": h, "body": hex(b)}))
        .collect();
    std::fs::write(dir.path().join("cases.json"), Value::from(cases).to_string()).unwrap();
    let harness = r#"
import json, sys
ns = {"__name__": "webhooks_doc_example"}
exec(open(sys.argv[1]).read(), ns)
cases = json.load(open(sys.argv[2]))
print(json.dumps([ns["verify_webhook"](c["secret"], c["header"], bytes.fromhex(c["body"])) for c in cases]))
"#;
    std::fs::write(dir.path().join("harness.py"), harness).unwrap();
    let out = std::process::Command::new("python3")
        .arg(dir.path().join("harness.py"))
        .arg(dir.path().join("example.py"))
        .arg(dir.path().join("cases.json"))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_python_receiver_in_the_docs_accepts_real_webhooks_and_refuses_forgeries() {
    let app = TestApp::spawn().await;
    let rcv = Receiver::start(Answer::Ok).await;
    let secret = set_webhook(&app, &rcv.url).await;
    // Python checks `t` against the real clock: webhooks signed 400 s ago (stale: more than
    // the 300 s tolerance, but the code is still valid), then one signed now.
    let real_now = SystemClock.now();
    app.clock.set(Timestamp(real_now.millis() - 400_000));
    let id = app.start_sms(TO).await;
    app.drain().await;
    let stale = rcv.hits().into_iter().next().unwrap();
    app.clock.set(real_now);
    let code = app.last_code(TO).await;
    assert_eq!(check(&app, &id, &code).await["status"], "approved");
    app.drain().await;
    let fresh = rcv
        .hits()
        .into_iter()
        .find(|h| h.kind() == "verification.approved")
        .unwrap();

    let sig = fresh.header("ringproof-signature").to_owned();
    let tampered = String::from_utf8(fresh.body.clone())
        .unwrap()
        .replace("verification.approved", "verification.approvee")
        .into_bytes();
    // Two signatures, the first of a rotated-out secret: accepted, as the Rust reference does.
    let rotating = format!(
        "{},{}",
        webhook::signature("whsec_old", fresh.signed_at(), &fresh.body),
        sig
    );
    let got = run_python(&[
        (&secret, &sig, &fresh.body),
        (&secret, &sig, &tampered),
        (&secret, stale.header("ringproof-signature"), &stale.body),
        ("whsec_wrong", &sig, &fresh.body),
        (&secret, &rotating, &fresh.body),
        (&secret, "v1=00", &fresh.body),
        // Junk a forger may send: refused, not a crash.
        (
            &secret,
            &format!("t=\u{b2},v1={}", sig.split("v1=").nth(1).unwrap()),
            &fresh.body,
        ),
        (
            &secret,
            &format!("t={},v1=\u{e9}\u{e9}", fresh.signed_at()),
            &fresh.body,
        ),
    ]);
    assert_eq!(got, vec![true, false, false, false, true, false, false, false]);
    app.stop().await;
}

/// Drains, moving the clock on by `step_s` each time, until no job is left but dead ones.
async fn drain_until_idle(app: &TestApp, step_s: i64) {
    for _ in 0..60 {
        app.clock.advance_secs(step_s);
        app.drain().await;
        let s = app.job_stats().await;
        if s.due + s.scheduled == 0 {
            return;
        }
    }
    panic!("jobs still pending after 60 rounds");
}

async fn dead_in_metrics(app: &TestApp) -> u64 {
    let text = app.get_text("/metrics").await;
    let line = text
        .lines()
        .find(|l| l.starts_with("ringproof_jobs{state=\"dead\"}"))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_then_given_up_while_the_api_answers() {
    let app = TestApp::spawn().await;
    let rcv = Receiver::start(Answer::Fail).await;
    set_webhook(&app, &rcv.url).await;

    let id = app.start_sms(TO).await;
    app.drain().await;
    let first = rcv.hits();
    assert_eq!(first.len(), 3, "created, send_queued, sent: one attempt each");
    let stats = app.job_stats().await;
    assert_eq!((stats.due, stats.dead), (0, 0), "retried later, not given up");

    // Backoff: the first retry waits 60 to 120 s, never less.
    app.clock.advance_secs(59);
    app.drain().await;
    assert_eq!(rcv.hits().len(), 3, "no retry within 59 s");
    app.clock.advance_secs(61);
    app.drain().await;
    assert_eq!(rcv.hits().len(), 6, "each retried once by 120 s");

    // The API is unaffected: the code works, and a new verification starts.
    let code = app.last_code(TO).await;
    assert_eq!(check(&app, &id, &code).await["status"], "approved");
    app.start_sms("+14155550124").await;

    drain_until_idle(&app, 400).await;
    let hits = rcv.hits();
    let mut ids: Vec<String> = hits.iter().map(Hit::id).collect();
    ids.sort();
    ids.dedup();
    for wid in &ids {
        let attempts: Vec<&Hit> = hits.iter().filter(|h| &h.id() == wid).collect();
        assert_eq!(attempts.len(), 8, "{wid}: every webhook is tried 8 times");
        assert!(
            attempts.windows(2).all(|w| w[1].signed_at() >= w[0].signed_at() + 60),
            "{wid}: each retry waits"
        );
    }
    let stats = app.job_stats().await;
    assert_eq!(stats.dead, ids.len() as u64, "each given up once, as a dead letter");
    assert_eq!(dead_in_metrics(&app).await, ids.len() as u64);
    app.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_refuses_connections_is_given_up_too() {
    let app = TestApp::spawn().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", closed.local_addr().unwrap());
    drop(closed);
    set_webhook(&app, &url).await;

    let id = app.start_sms(TO).await;
    app.drain().await;
    assert_eq!(app.job_stats().await.dead, 0);
    let code = app.last_code(TO).await;
    assert_eq!(check(&app, &id, &code).await["status"], "approved");

    drain_until_idle(&app, 400).await;
    let events = app.event_kinds(&id).await.len() as u64;
    assert_eq!(app.job_stats().await.dead, events);
    assert_eq!(dead_in_metrics(&app).await, events);
    app.stop().await;
}

#[tokio::test]
async fn a_hanging_endpoint_times_out_while_the_api_answers() {
    let app = TestApp::spawn_with(Opts {
        webhook_timeout_ms: Some(1000),
        ..Opts::default()
    })
    .await;
    let rcv = Receiver::start(Answer::Hang).await;
    set_webhook(&app, &rcv.url).await;
    app.start_sms(TO).await;

    // The queue runs beside the API, as the worker does; each attempt hangs for 1 s.
    let engine = app.engine.clone();
    let sender = app.sender.clone();
    let drain = tokio::spawn(async move {
        ringproof_server::worker::run_due_now(&engine, sender.as_ref())
            .await
            .unwrap()
    });
    let other = app.start_sms("+14155550124").await;
    let r = app.get(&format!("/v1/verifications/{other}")).await;
    assert_eq!(r.status(), 200);
    assert!(!drain.is_finished(), "the API answered while webhooks hang");
    drain.await.unwrap();

    assert!(rcv.hits().len() >= 3, "the hanging endpoint was reached");
    let stats = app.job_stats().await;
    assert_eq!((stats.due, stats.dead), (0, 0), "timed out attempts are retried later");
    assert!(stats.scheduled >= 3);
    app.stop().await;
}

/// Webhooks run in worker slots of their own: with every webhook slot held by an endpoint
/// that never answers (and many webhooks queued ahead), a new verification's SMS still goes
/// out at once. With one shared pool of 2 slots, the hanging webhooks (due earlier) would
/// hold both slots until their 5 s deadline and the SMS would wait behind them.
#[tokio::test]
async fn a_hanging_endpoint_never_holds_up_messages() {
    let app = TestApp::spawn_with(Opts {
        worker: true,
        worker_concurrency: Some(2),
        worker_poll_interval_ms: Some(20),
        webhook_timeout_ms: Some(5000),
        ..Opts::default()
    })
    .await;
    let rcv = Receiver::start(Answer::Hang).await;
    set_webhook(&app, &rcv.url).await;
    for i in 0..6 {
        app.start_sms(&format!("+1415555013{i}")).await;
    }
    // Wait until the webhook slots are all held by hanging requests (bounded).
    let ms = std::time::Duration::from_millis;
    eventually("webhooks at the endpoint", ms(5000), ms(10), async || {
        (rcv.hits().len() >= 4).then_some(())
    })
    .await;
    let to = "+14155550199";
    app.start_sms(to).await;
    // Not waiting behind the hanging webhooks.
    eventually("the SMS sent", ms(2000), ms(20), async || {
        (!app.messages(to).await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        rcv.hits().len(),
        4,
        "only the webhook slots' worth of attempts are in flight"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_verification_left_alone_announces_its_expiry() {
    let app = TestApp::spawn().await;
    let rcv = Receiver::start(Answer::Ok).await;
    let secret = set_webhook(&app, &rcv.url).await;
    let id = app.start_sms(TO).await;
    app.drain().await;
    let kinds = |hits: Vec<Hit>| hits.iter().map(Hit::kind).collect::<Vec<_>>();
    assert!(!kinds(rcv.hits()).contains(&"verification.expired".to_owned()));

    // Default validity 600 s: nothing at 599 s, the announcement at 600 s, with no request.
    app.clock.advance_secs(599);
    app.drain().await;
    assert!(!kinds(rcv.hits()).contains(&"verification.expired".to_owned()));
    app.clock.advance_secs(1);
    app.drain().await;
    let hits = rcv.hits();
    let expired: Vec<&Hit> = hits.iter().filter(|h| h.kind() == "verification.expired").collect();
    assert_eq!(expired.len(), 1);
    let body = expired[0].json();
    assert_eq!(body["data"]["verification_id"], id.as_str());
    assert_eq!(body["created_at"], "2026-01-01T00:10:00.000Z");
    assert_eq!(
        webhook::verify(
            &secret,
            expired[0].header("ringproof-signature"),
            &expired[0].body,
            now_s(&app),
            300
        ),
        Ok(())
    );
    assert_eq!(app.event_kinds(&id).await.last().map(String::as_str), Some("expired"));
    let r = app.get(&format!("/v1/verifications/{id}")).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "expired");
    app.stop().await;
}

/// Runs `script` with node in `tests/sdk` (where the vendors' libraries are installed) with
/// `args` as `process.argv[1..]`; its stdout, or `None` (said loudly) where node or the
/// libraries are missing, except under `CI`.
fn node(script: &str, args: &[&str]) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let ready = dir.join("node_modules/twilio").exists() && dir.join("node_modules/@vonage/jwt").exists();
    let out = ready
        .then(|| {
            std::process::Command::new("node")
                .current_dir(&dir)
                .arg("-e")
                .arg(script)
                .args(args)
                .output()
                .ok()
        })
        .flatten();
    let Some(out) = out.filter(|o| o.status.success()) else {
        let msg = "vendor signature check NOT RUN: missing node or the npm twilio / @vonage/jwt packages (npm ci in crates/ringproof-server/tests/sdk)";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
        return None;
    };
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn with_worker_off() -> Opts {
    Opts::default()
}

on_both_stores!(twilio_format, twilio_format, with_worker_off());
/// A client with the `twilio` format: its Twilio-face verification is announced as Event
/// Streams CloudEvents (`pending`, then `approved`), signed Twilio's way with the webhook
/// secret as shared key (checked by twilio-node's `validateRequestWithBody`); a
/// verification started on the native API is announced in ringproof's format.
async fn twilio_format(app: TestApp) {
    let rcv = Receiver::start(Answer::Ok).await;
    let secret = set_webhook(&app, &rcv.url).await;
    app.engine
        .set_webhook_format(&app.demo_id(), webhook::WebhookFormat::Twilio)
        .await
        .unwrap();
    let (sid, token) = crate::twilio::account(&app).await;
    let tw = crate::twilio::Twilio {
        app: &app,
        auth: crate::helpers::basic(&sid, &token),
    };
    let svc = tw.service(&[("FriendlyName", "Acme")]).await;
    let v = tw.start(&svc, &[("To", TO), ("Channel", "sms")]).await;
    let ve = v["sid"].as_str().unwrap().to_owned();
    app.drain().await;
    let code = app.last_code(TO).await;
    let r = tw.check(&svc, &[("To", TO), ("Code", &wrong(&code))]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "pending");
    let r = tw.check(&svc, &[("VerificationSid", &ve), ("Code", &code)]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    // Another face's verification of the same client: ringproof's format.
    let native = app.start_sms("+14155550125").await;
    app.drain().await;

    let hits = rcv.hits();
    let (twilio, own): (Vec<&Hit>, Vec<&Hit>) = hits.iter().partition(|h| h.json().is_array());
    let types: Vec<String> = twilio
        .iter()
        .map(|h| h.json()[0]["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "com.twilio.accountsecurity.verify.verification.pending",
            "com.twilio.accountsecurity.verify.verification.approved"
        ],
        "status changes only, in order"
    );
    assert!(!own.is_empty());
    for h in &own {
        assert_eq!(h.json()["data"]["verification_id"], native.as_str(), "{:?}", h.json());
        assert!(h.kind().starts_with("verification."));
    }
    let approved = twilio[1].json();
    let e = &approved[0];
    assert_eq!(approved.as_array().unwrap().len(), 1);
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["id"], twilio[1].header("ringproof-webhook-id"));
    assert_eq!(e["source"], format!("/v2/Services/{svc}/Verifications/{ve}"));
    assert_eq!(e["datacontenttype"], "application/json");
    let d = &e["data"];
    assert_eq!(d["account_sid"], sid.as_str());
    assert_eq!(d["service_sid"], svc.as_str());
    assert_eq!(d["verification_sid"], ve.as_str());
    assert_eq!(d["verification_status"], "APPROVED");
    assert_eq!(d["check_attempts"]["count"], 2);
    assert_eq!(d["send_code_attempts"]["count"], 1);
    assert!(d["verified_at"].is_string());

    let digits = TO.trim_start_matches("+1");
    for h in &hits {
        let text = String::from_utf8(h.body.clone()).unwrap();
        assert!(!text.contains(digits) && !text.contains(&code), "{text}");
        // Every format is signed ringproof's way too.
        assert_eq!(
            webhook::verify(&secret, h.header("ringproof-signature"), &h.body, now_s(&app), 300),
            Ok(())
        );
        // Twilio's signature: the base64 HMAC-SHA256 of the full URL, whose `bodySHA256`
        // is the body's hash, under the webhook secret named in the settings header.
        let url = format!("{}{}", rcv.origin, h.uri);
        let query = h.uri.query().unwrap();
        assert!(query.starts_with("token=rcv-token&bodySHA256="), "{query}");
        assert!(query.ends_with(&format!("bodySHA256={}", hex(&ringproof_core::crypto::sha256(&h.body)))));
        assert_eq!(
            h.header("x-twilio-signature"),
            base64_std(&ringproof_core::crypto::hmac_sha256(
                secret.as_bytes(),
                &[url.as_bytes()]
            ))
        );
        assert!(
            h.header("x-twilio-webhooks-signature-settings")
                .ends_with(",algorithm=HMAC_SHA256"),
            "{:?}",
            h.headers
        );
    }
    // Twilio's own helper library agrees, and refuses another secret or another body.
    let h = twilio[1];
    let url = format!("{}{}", rcv.origin, h.uri);
    let body = String::from_utf8(h.body.clone()).unwrap();
    let script = r#"
        const t = require("twilio");
        const [secret, sig, settings, url, body] = process.argv.slice(1);
        const alg = t.getSignatureAlgorithm(settings);
        console.log([
            t.validateRequestWithBody(secret, sig, url, body, alg),
            t.validateRequestWithBody("whsec_other", sig, url, body, alg),
            t.validateRequestWithBody(secret, sig, url, body + " ", alg),
        ].join(","));
    "#;
    if let Some(out) = node(
        script,
        &[
            &secret,
            h.header("x-twilio-signature"),
            h.header("x-twilio-webhooks-signature-settings"),
            &url,
            &body,
        ],
    ) {
        assert_eq!(out, "true,false,false");
    }
    app.stop().await;
}

on_both_stores!(vonage_format, vonage_format, with_worker_off());
/// A client with the `vonage` format: its Vonage-face request with a `client_ref`, once
/// completed, calls back with the `event` of its channel and the `summary`, both carrying
/// the `client_ref`, each with Vonage's signed-callback JWT (HS256 under the webhook
/// secret, with the body's `payload_hash`), which `@vonage/jwt`'s `verifySignature` accepts.
async fn vonage_format(app: TestApp) {
    let rcv = Receiver::start(Answer::Ok).await;
    let secret = set_webhook(&app, &rcv.url).await;
    app.engine
        .set_webhook_format(&app.demo_id(), webhook::WebhookFormat::Vonage)
        .await
        .unwrap();
    crate::vonage::register(&app).await;
    let vo = crate::vonage::Vonage { app: &app, basic: None };
    let to = "+14155550166";
    let id = vo
        .start(&json!({
            "brand": "Acme",
            "client_ref": "order-42",
            "channel_timeout": 120,
            "workflow": [{"channel": "sms", "to": to}, {"channel": "voice", "to": to}]
        }))
        .await;
    app.drain().await;
    assert!(
        rcv.hits().is_empty(),
        "nothing until the request ends: {:?}",
        rcv.hits()
    );
    let code = app.last_code(to).await;
    app.clock.advance_secs(7);
    assert_eq!(vo.check(&id, &code).await.status(), 200);
    app.drain().await;

    let hits = rcv.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    // Two webhooks, sent in any order (like any two).
    let of_type = |t: &str| hits.iter().map(Hit::json).find(|b| b["type"] == t).unwrap();
    let (event, summary) = (of_type("event"), of_type("summary"));
    assert_eq!(event["type"], "event");
    assert_eq!(event["request_id"], id.as_str());
    assert_eq!(event["channel"], "sms");
    assert_eq!(event["status"], "completed");
    assert_eq!(event["triggered_at"], "2026-01-01T00:00:00.000Z");
    assert_eq!(event["finalized_at"], "2026-01-01T00:00:07.000Z");
    assert_eq!(event["client_ref"], "order-42");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["request_id"], id.as_str());
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["channel_timeout"], 120);
    assert_eq!(summary["client_ref"], "order-42");
    assert_eq!(
        summary["workflow"],
        json!([
            {"channel": "sms", "initiated_at": "2026-01-01T00:00:00.000Z", "status": "completed"},
            {"channel": "voice", "status": "unused"}
        ])
    );
    let digits = to.trim_start_matches("+1");
    for h in &hits {
        let text = String::from_utf8(h.body.clone()).unwrap();
        assert!(!text.contains(digits) && !text.contains(&code), "{text}");
        assert_eq!(h.uri.query(), Some("token=rcv-token"));
        assert_eq!(
            webhook::verify(&secret, h.header("ringproof-signature"), &h.body, now_s(&app), 300),
            Ok(())
        );
        let jwt = h.header("authorization").strip_prefix("Bearer ").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let claims: Value = serde_json::from_slice(&ringproof_core::crypto::unbase64url(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["payload_hash"], hex(&ringproof_core::crypto::sha256(&h.body)));
        assert_eq!(claims["iat"], now_s(&app));
        let mac =
            ringproof_core::crypto::hmac_sha256(secret.as_bytes(), &[format!("{}.{}", parts[0], parts[1]).as_bytes()]);
        assert_eq!(ringproof_core::crypto::unbase64url(parts[2]).unwrap(), mac.to_vec());
    }
    // Vonage's own library accepts the token with the secret, and only with it.
    let jwt = hits[1]
        .header("authorization")
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    let script = r#"
        const { verifySignature } = require("@vonage/jwt");
        const [jwt, secret] = process.argv.slice(1);
        console.log([verifySignature(jwt, secret), verifySignature(jwt, "whsec_other")].join(","));
    "#;
    if let Some(out) = node(script, &[&jwt, &secret]) {
        assert_eq!(out, "true,false");
    }
    app.stop().await;
}
