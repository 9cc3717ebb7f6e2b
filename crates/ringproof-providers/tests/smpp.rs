//! The SMPP provider against an independent SMSC: `tests/smsc/smsc.js`, a server built on
//! the npm `smpp` package, started per test on a loopback port. It records every
//! `submit_sm` as a JSON line and takes control lines (send a receipt, throttle, drop the
//! connection) on stdin.
//!
//! Needs node and npm: `.ci/run` installs the package (`npm ci`); if it is missing the
//! harness installs it, and if node is missing every test here fails loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ringproof_core::phone::PhoneNumber;
use ringproof_core::ports::{
    DeliveryReceipt, DeliveryStatus, OutboundMessage, ReceiptSink, SendError, SendReceipt, Sender,
};
use ringproof_core::time::SystemClock;
use ringproof_core::workflow::Channel;
use ringproof_providers::gsm7::gsm7_decode;
use ringproof_providers::registry::{self, BuildContext, ProviderConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;
use tokio::time::{Instant, timeout_at};

const TO: &str = "+447911123456";
const TO_DIGITS: &str = "447911123456";
/// Every wait in these tests ends by this deadline (none should take a second).
const DEADLINE: Duration = Duration::from_secs(15);

fn smsc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smsc")
}

/// `npm ci` once per test binary if the package is not installed yet.
fn ensure_installed() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let dir = smsc_dir();
        if dir.join("node_modules/smpp/package.json").exists() {
            return Ok(());
        }
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("npm is needed for the SMPP tests and could not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!("the SMPP test SMSC cannot be installed: {e}");
    }
}

/// A running test SMSC and everything it printed.
struct Smsc {
    _child: Child,
    stdin: ChildStdin,
    events: Arc<Mutex<Vec<Value>>>,
    changed: Arc<Notify>,
    port: u16,
}

impl Smsc {
    async fn start() -> Smsc {
        ensure_installed();
        let mut child = Command::new("node")
            .arg(smsc_dir().join("smsc.js"))
            .args(["--system-id", "ringproof", "--password", "s3cret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("node is needed for the SMPP tests and could not start: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let (ev, ch) = (events.clone(), changed.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|_| json!({"event": "garbage", "line": line}));
                ev.lock().unwrap().push(v);
                ch.notify_waiters();
            }
        });
        let mut smsc = Smsc {
            _child: child,
            stdin,
            events,
            changed,
            port: 0,
        };
        let listening = smsc.wait_for("listening", |_| true, 1).await;
        smsc.port = listening[0]["port"].as_u64().unwrap() as u16;
        smsc
    }

    fn events(&self, kind: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == kind)
            .cloned()
            .collect()
    }

    /// Waits until `n` events of `kind` match `pred`; returns them.
    async fn wait_for(&self, kind: &str, pred: impl Fn(&Value) -> bool, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let notified = self.changed.notified();
            let got: Vec<Value> = self.events(kind).into_iter().filter(|e| pred(e)).collect();
            if got.len() >= n {
                return got;
            }
            if timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out waiting for {n} `{kind}` events; saw {:?}",
                    self.events.lock().unwrap()
                );
            }
        }
    }

    /// Sends a control line and waits until the SMSC has done it.
    async fn control(&mut self, line: &str) {
        let before = self.events("done").len();
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        self.wait_for("done", |_| true, before + 1).await;
    }

    fn config(&self, password: &str, extra: Value) -> ProviderConfig {
        let mut c = json!({
            "kind": "smpp",
            "host": "127.0.0.1",
            "port": self.port,
            "system_id": "ringproof",
            "password": password,
            "source_addr": "Acme",
            "bind_timeout_ms": 2000,
            "submit_timeout_ms": 3000,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        serde_json::from_value(c).unwrap()
    }
}

#[derive(Default)]
struct Sink {
    got: Mutex<Vec<DeliveryReceipt>>,
    changed: Notify,
}

impl ReceiptSink for Sink {
    fn receipt(&self, receipt: DeliveryReceipt) {
        self.got.lock().unwrap().push(receipt);
        self.changed.notify_waiters();
    }
}

impl Sink {
    async fn wait(&self, n: usize) -> Vec<DeliveryReceipt> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let notified = self.changed.notified();
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            if timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {n} receipts; got {got:?}");
            }
        }
    }
}

fn build(config: &ProviderConfig, sink: Option<Arc<Sink>>) -> Arc<dyn Sender> {
    let ctx = BuildContext {
        sandbox: None,
        clock: Arc::new(SystemClock),
        receipts: sink.map(|s| s as Arc<dyn ReceiptSink>),
    };
    registry::build("smsc", config, &ctx).unwrap()
}

fn sms(text: &str) -> OutboundMessage {
    OutboundMessage {
        idempotency_key: "k".into(),
        to: PhoneNumber::parse_e164(TO).unwrap(),
        channel: Channel::Sms,
        text: text.into(),
        locale: "en".into(),
        sender: None,
        verification: None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// No error names the number or the text.
fn assert_private(e: &SendError) {
    let s = e.to_string();
    assert!(!s.contains(TO_DIGITS) && !s.contains("code"), "{s}");
}

#[tokio::test]
async fn binds_and_submits_a_short_gsm7_text() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({})), None);
    sender.healthcheck().await.unwrap();
    assert!(sender.available());
    assert_eq!(smsc.events("bind")[0]["ok"], true);

    let text = "Your code is 123456. [ok] €5 {x}";
    let receipt = sender.send(&sms(text)).await.unwrap();
    let s = &smsc.wait_for("submit_sm", |_| true, 1).await[0];
    assert_eq!(
        receipt,
        SendReceipt {
            provider: "smsc".into(),
            provider_message_id: Some(s["message_id"].as_str().unwrap().to_owned())
        }
    );
    assert_eq!(
        (s["destination_addr"].as_str(), &s["dest_addr_ton"], &s["dest_addr_npi"]),
        (Some(TO_DIGITS), &json!(1), &json!(1))
    );
    assert_eq!(
        (s["source_addr"].as_str(), &s["source_addr_ton"], &s["source_addr_npi"]),
        (Some("Acme"), &json!(5), &json!(0))
    );
    assert_eq!(
        (&s["data_coding"], &s["esm_class"], &s["registered_delivery"]),
        (&json!(0), &json!(0), &json!(1))
    );
    // GSM 03.38, one septet per octet; the extension characters escaped with 0x1B.
    let mut want = b"Your code is 123456. ".to_vec();
    want.extend_from_slice(&[
        0x1B, 0x3C, b'o', b'k', 0x1B, 0x3E, b' ', 0x1B, 0x65, b'5', b' ', 0x1B, 0x28, b'x', 0x1B, 0x29,
    ]);
    assert_eq!(s["short_message"], hex(&want));
}

#[tokio::test]
async fn a_long_text_goes_in_three_concatenated_parts() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({"window": 2})), None);
    let text: String = (0..400).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let receipt = sender.send(&sms(&text)).await.unwrap();
    let parts = smsc.wait_for("submit_sm", |_| true, 3).await;
    assert_eq!(parts.len(), 3);
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        parts[0]["message_id"].as_str(),
        "the first part's id"
    );
    let mut joined = Vec::new();
    let mut reference = None;
    for (i, p) in parts.iter().enumerate() {
        assert_eq!((&p["esm_class"], &p["data_coding"]), (&json!(0x40), &json!(0)));
        let sm = unhex(p["short_message"].as_str().unwrap());
        assert_eq!(sm[..3], [0x05, 0x00, 0x03]);
        assert_eq!(*reference.get_or_insert(sm[3]), sm[3], "one reference for all parts");
        assert_eq!((sm[4], sm[5]), (3, i as u8 + 1));
        assert!(sm.len() - 6 <= 153);
        joined.extend_from_slice(&sm[6..]);
    }
    assert_eq!(gsm7_decode(&joined), text);
}

#[tokio::test]
async fn unicode_goes_as_ucs2() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({})), None);
    let text = "Ваш код 123456 ✓";
    sender.send(&sms(text)).await.unwrap();
    let s = &smsc.wait_for("submit_sm", |_| true, 1).await[0];
    assert_eq!((&s["data_coding"], &s["esm_class"]), (&json!(8), &json!(0)));
    let utf16be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(s["short_message"], hex(&utf16be));
}

#[tokio::test]
async fn delivery_receipts_reach_the_sink() {
    let mut smsc = Smsc::start().await;
    let sink = Arc::new(Sink::default());
    let sender = build(&smsc.config("s3cret", json!({})), Some(sink.clone()));
    let id = sender
        .send(&sms("Your code is 123456"))
        .await
        .unwrap()
        .provider_message_id
        .unwrap();

    smsc.control(&format!("receipt {id} DELIVRD")).await;
    let got = sink.wait(1).await;
    assert_eq!(
        got[0],
        DeliveryReceipt {
            provider: "smsc".into(),
            provider_message_id: id.clone(),
            status: DeliveryStatus::Delivered,
            reason: None
        }
    );
    // The receipt was acknowledged.
    smsc.wait_for("deliver_sm_resp", |e| e["command_status"] == 0, 1).await;

    // The same through the TLVs (receipted_message_id + message_state 5, UNDELIVERABLE).
    smsc.control(&format!("receipt_tlv {id} UNDELIV")).await;
    let got = sink.wait(2).await;
    assert_eq!(
        (got[1].provider_message_id.as_str(), got[1].status),
        (id.as_str(), DeliveryStatus::Undelivered)
    );
    assert_eq!(got[1].reason.as_deref(), Some("UNDELIV"));
}

#[tokio::test]
async fn throttling_is_retryable_and_a_bad_destination_permanent() {
    let mut smsc = Smsc::start().await;
    let sender = build(
        &smsc.config("s3cret", json!({"throughput_per_s": 50, "submit_timeout_ms": 1500})),
        None,
    );
    // Throttled, paused 1 s, retried, throttled again: the next pause would outlast the
    // submit timeout, so the send gives up.
    smsc.control("throttle 2").await;
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(
        matches!(&e, SendError::Retryable(m) if m.contains("ESME_RTHROTTLED (0x58)")),
        "{e}"
    );
    assert_private(&e);
    // The pause (2 s now) outlasts a new send's timeout too: refused at once, nothing sent.
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(matches!(&e, SendError::Retryable(m) if m.contains("throttl")), "{e}");
    assert_eq!(smsc.events("submit_sm").len(), 2);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sender.send(&sms("Your code is 123456")).await.unwrap();

    smsc.control("invalid 1").await;
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(
        matches!(&e, SendError::Permanent(m) if m.contains("ESME_RINVDSTADR (0x0B)")),
        "{e}"
    );
    assert_private(&e);

    let mut call = sms("Your code is 123456");
    call.channel = Channel::Voice;
    let e = sender.send(&call).await.unwrap_err();
    assert_eq!(e, SendError::Permanent("smsc: SMPP carries SMS only".into()));
    assert_eq!(smsc.events("submit_sm").len(), 4, "the call never reached the SMSC");
}

#[tokio::test]
async fn a_wrong_password_fails_the_healthcheck() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("wrong", json!({})), None);
    let e = sender.healthcheck().await.unwrap_err();
    assert!(
        matches!(&e, SendError::Permanent(m) if m.contains("ESME_RINVPASWD")),
        "{e}"
    );
    assert!(!e.to_string().contains("wrong"), "no secret in errors: {e}");
    assert!(!sender.available(), "the router fails over while unbound");
    // A send while unbound is retryable (another provider, or later).
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(matches!(&e, SendError::Retryable(m) if m.contains("not bound")), "{e}");
    assert_private(&e);
    assert!(smsc.events("submit_sm").is_empty());
}

#[tokio::test]
async fn an_unreachable_smsc_is_unavailable() {
    // A port nobody listens on: bind a listener, note its port, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config: ProviderConfig = serde_json::from_value(json!({
        "kind": "smpp", "host": "127.0.0.1", "port": port, "system_id": "x",
        "password": "y", "source_addr": "+14155550000", "bind_timeout_ms": 500
    }))
    .unwrap();
    let sender = build(&config, None);
    let e = sender.healthcheck().await.unwrap_err();
    assert!(
        matches!(&e, SendError::Retryable(m) if m.contains("could not connect")),
        "{e}"
    );
    assert!(!sender.available());
}

#[tokio::test]
async fn after_the_smsc_drops_the_connection_the_next_send_succeeds() {
    let mut smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({})), None);
    sender.send(&sms("Your code is 111111")).await.unwrap();
    smsc.control("drop").await;
    smsc.wait_for("closed", |_| true, 1).await;

    // Reconnecting takes at most about a second; a send meanwhile waits for the bind or
    // fails retryably. Poll until one succeeds, within the deadline.
    let deadline = Instant::now() + DEADLINE;
    loop {
        match sender.send(&sms("Your code is 222222")).await {
            Ok(_) => break,
            Err(SendError::Retryable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no send succeeded after the reconnect: {e}"),
        }
    }
    assert_eq!(smsc.events("bind").len(), 2, "one reconnect");
    assert!(sender.available());
    let submits = smsc.events("submit_sm");
    assert_eq!(submits.last().unwrap()["status"], 0);
}

#[tokio::test]
async fn the_session_is_kept_alive_with_enquire_link() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({"enquire_link_s": 1})), None);
    sender.healthcheck().await.unwrap();
    smsc.wait_for("enquire_link", |_| true, 2).await;
    assert!(
        smsc.events("closed").is_empty(),
        "the SMSC answered, so the session held"
    );
    sender.send(&sms("Your code is 123456")).await.unwrap();
}

#[tokio::test]
async fn dropping_the_sender_unbinds() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({})), None);
    sender.healthcheck().await.unwrap();
    drop(sender);
    smsc.wait_for("unbind", |_| true, 1).await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_enquire_link_is_dropped() {
    let mut smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({"enquire_link_s": 1})), None);
    sender.healthcheck().await.unwrap();
    smsc.control("mute").await;
    // One unanswered period later the session is dropped, and a new one bound.
    smsc.wait_for("closed", |_| true, 1).await;
    smsc.wait_for("bind", |e| e["ok"] == true, 2).await;
}

#[tokio::test]
async fn a_message_sender_replaces_the_configured_one_when_it_fits() {
    let smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({"source_addr": "+14155550000"})), None);
    let mut msg = sms("Your code is 123456");
    sender.send(&msg).await.unwrap();
    msg.sender = Some("Brand".into());
    sender.send(&msg).await.unwrap();
    msg.sender = Some("A Brand Too Long".into());
    sender.send(&msg).await.unwrap();
    let got: Vec<(Value, Value, Value)> = smsc
        .wait_for("submit_sm", |_| true, 3)
        .await
        .into_iter()
        .map(|e| {
            (
                e["source_addr"].clone(),
                e["source_addr_ton"].clone(),
                e["source_addr_npi"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (json!("14155550000"), json!(1), json!(1)),
            (json!("Brand"), json!(5), json!(0)),
            (json!("14155550000"), json!(1), json!(1)),
        ]
    );
}

#[tokio::test]
async fn an_unanswered_submit_keeps_its_window_slot_until_the_session_is_replaced() {
    let mut smsc = Smsc::start().await;
    let sender = build(
        &smsc.config("s3cret", json!({"submit_timeout_ms": 300, "window": 1})),
        None,
    );
    sender.healthcheck().await.unwrap();
    smsc.control("ignore 1").await;
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(
        matches!(&e, SendError::Retryable(m) if m.contains("no submit_sm_resp within 300 ms")),
        "{e}"
    );
    assert_private(&e);
    // The unanswered submit_sm still holds the only window slot: the next send times out
    // waiting for it, and never puts a second submit_sm on the wire.
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(
        matches!(&e, SendError::Retryable(m) if m.contains("no window slot free within 300 ms")),
        "{e}"
    );
    assert_private(&e);
    assert_eq!(smsc.events("submit_sm").len(), 1, "one submit_sm outstanding at most");
    assert_eq!(smsc.events("bind").len(), 1);
    // The third timeout in a row replaces the session, which frees the slot.
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(matches!(&e, SendError::Retryable(_)), "{e}");
    assert_eq!(smsc.events("submit_sm").len(), 1);
    smsc.wait_for("unbind", |_| true, 1).await;
    smsc.wait_for("bind", |e| e["ok"] == true, 2).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        match sender.send(&sms("Your code is 123456")).await {
            Ok(_) => break,
            Err(SendError::Retryable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no send succeeded after the session was replaced: {e}"),
        }
    }
    let submits = smsc.events("submit_sm");
    assert_eq!(submits.len(), 2, "{submits:?}");
    assert_eq!((&submits[0]["status"], &submits[1]["status"]), (&json!(-1), &json!(0)));
    assert_eq!(smsc.events("bind").len(), 2, "one new session");
}

#[tokio::test]
async fn a_throttled_submit_is_retried_on_the_same_session_after_a_pause() {
    let mut smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({})), None);
    sender.healthcheck().await.unwrap();
    smsc.control("throttle 1").await;
    let started = Instant::now();
    let receipt = sender.send(&sms("Your code is 123456")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the session paused before the retry: {:?}",
        started.elapsed()
    );
    let submits = smsc.events("submit_sm");
    assert_eq!(submits.len(), 2, "{submits:?}");
    assert_eq!(
        (&submits[0]["status"], &submits[1]["status"]),
        (&json!(0x58), &json!(0))
    );
    assert_eq!(
        submits[0]["short_message"], submits[1]["short_message"],
        "the same part again"
    );
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        submits[1]["message_id"].as_str()
    );
    assert_eq!(smsc.events("bind").len(), 1, "on the same session");
}

#[tokio::test]
async fn a_persistent_throttle_is_retryable_within_the_submit_timeout() {
    let mut smsc = Smsc::start().await;
    let sender = build(&smsc.config("s3cret", json!({"submit_timeout_ms": 3000})), None);
    sender.healthcheck().await.unwrap();
    smsc.control("throttle 1000").await;
    let started = Instant::now();
    let e = sender.send(&sms("Your code is 123456")).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(&e, SendError::Retryable(m) if m.contains("ESME_RTHROTTLED (0x58)")),
        "{e}"
    );
    assert_private(&e);
    let submits = smsc.events("submit_sm");
    assert!((2..=3).contains(&submits.len()), "retried once or twice: {submits:?}");
    assert_eq!(smsc.events("bind").len(), 1);
}

#[tokio::test]
async fn a_throttled_later_part_is_retried_alone() {
    let mut smsc = Smsc::start().await;
    // Two parts a second at most, so the throttle can be set between the first and the second.
    let sender = build(&smsc.config("s3cret", json!({"throughput_per_s": 2})), None);
    sender.healthcheck().await.unwrap();
    let text: String = (0..400).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let send = {
        let sender = sender.clone();
        tokio::spawn(async move { sender.send(&sms(&text)).await })
    };
    smsc.wait_for("submit_sm", |_| true, 1).await;
    smsc.control("throttle 1").await;
    let receipt = send.await.unwrap().unwrap();
    let submits = smsc.wait_for("submit_sm", |_| true, 4).await;
    let seen: Vec<(u8, Value)> = submits
        .iter()
        .map(|p| (unhex(p["short_message"].as_str().unwrap())[5], p["status"].clone()))
        .collect();
    assert_eq!(
        seen,
        [(1, json!(0)), (2, json!(0x58)), (2, json!(0)), (3, json!(0))],
        "only the throttled part again"
    );
    assert_eq!(
        receipt.provider_message_id.as_deref(),
        submits[0]["message_id"].as_str()
    );
}
