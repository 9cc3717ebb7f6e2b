//! Webhooks through the real server and the real HTTP poster, to a loopback receiver: one
//! signed POST per event, nothing personal in a body, retries with backoff and a give-up,
//! expiry announced without a request, and the Python verifier of docs/webhooks.md.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use ringproof_core::crypto::hex;
use ringproof_core::time::{Clock, SystemClock, Timestamp};
use ringproof_core::webhook::{self, SignatureError};
use serde_json::{Value, json};

use crate::helpers::{Opts, TestApp, eventually};

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
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // A query string of the receiver's own, as some receivers use for a token.
        let url = format!("http://{}/hooks?token=rcv-token", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let handler = move |method: Method, headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(Hit {
                    method,
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
        Self { url, hits }
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
