//! SIM-swap risk (issue 11 §3) through every face, on both stores: a client that blocks
//! recent swaps is refused on each face with nothing sent; one that only checks proceeds
//! with the result recorded and shown; an operator that cannot be reached gives `unknown`
//! (never a pass, never a block); a client that does not check never causes a question.
//!
//! The operator is faked here as the outside world: it knows when each number's SIM was
//! last swapped (hours before the test clock's time) and answers CAMARA's question
//! "swapped within `maxAge` hours?" from that, counting the questions. (End-to-end tests
//! through the real HTTP client and the operator simulator live with them.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ringproof_core::engine::ClientChange;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::simswap::{SimSwapCheck, SimSwapError, SimSwapMode};
use serde_json::{Value, json};

use crate::helpers::{Opts, PgDatabase, TestApp, error_code, signzy_body, signzy_login};

/// Swapped 48 hours ago: within the default window (240 h).
const SWAPPED: &str = "+14155550170";
const SWAPPED_NATIONAL: &str = "4155550170";
/// Never swapped.
const KEPT: &str = "+14155550171";
const KEPT_NATIONAL: &str = "4155550171";
/// Swapped 500 hours ago: outside the default window, inside a 720 h one.
const OLD_SWAP: &str = "+14155550172";
/// The operator cannot be reached for this one.
const DOWN: &str = "+14155550173";
const DOWN_NATIONAL: &str = "4155550173";

const TARGET: &str = "http://localhost:8080/done";

/// What the fake operator knows about a number.
#[derive(Clone, Copy)]
enum Line {
    SwappedHoursAgo(u32),
    NeverSwapped,
    Unreachable,
}

/// The operator's SIM Swap API, as the port sees it.
struct FakeOperator {
    lines: HashMap<&'static str, Line>,
    /// Every question asked: the number and the window.
    asked: Mutex<Vec<(String, u32)>>,
}

impl FakeOperator {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            lines: HashMap::from([
                (SWAPPED, Line::SwappedHoursAgo(48)),
                (KEPT, Line::NeverSwapped),
                (OLD_SWAP, Line::SwappedHoursAgo(500)),
                (DOWN, Line::Unreachable),
            ]),
            asked: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.asked.lock().unwrap().len()
    }

    fn asked(&self) -> Vec<(String, u32)> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait]
impl SimSwapCheck for FakeOperator {
    fn name(&self) -> &str {
        "fake-operator"
    }

    async fn swapped_within(&self, number: &PhoneNumber, max_age_h: u32) -> Result<bool, SimSwapError> {
        self.asked.lock().unwrap().push((number.e164().to_owned(), max_age_h));
        match self.lines.get(number.e164()) {
            Some(Line::SwappedHoursAgo(h)) => Ok(*h <= max_age_h),
            Some(Line::NeverSwapped) => Ok(false),
            Some(Line::Unreachable) | None => Err(SimSwapError::Unreachable("connection refused".into())),
        }
    }
}

/// A server whose SIM-swap port is a fresh [`FakeOperator`] (on PostgreSQL when given).
async fn spawn(postgres: Option<PgDatabase>) -> (TestApp, Arc<FakeOperator>) {
    let op = FakeOperator::new();
    let app = TestApp::spawn_with(Opts {
        postgres,
        sim_swap: Some(op.clone()),
        ..Opts::default()
    })
    .await;
    (app, op)
}

/// `$name::sqlite` and `$name::postgres`: `$run(app, operator)` on each store.
macro_rules! with_operator {
    ($name:ident, $run:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let (app, op) = spawn(None).await;
                $run(app, op).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(ringproof_pg),
                ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL"
            )]
            async fn postgres() {
                let (app, op) = spawn(Some(crate::helpers::pg_database().await)).await;
                $run(app, op).await;
            }
        }
    };
}

async fn set_policy(app: &TestApp, mode: SimSwapMode, max_age_h: Option<u32>) {
    app.update_client(ClientChange {
        sim_swap: Some(mode),
        sim_swap_max_age_h: max_age_h,
        ..Default::default()
    })
    .await;
}

// ----- the faces' calls -----

async fn native_start(app: &TestApp, to: &str) -> reqwest::Response {
    app.post("/v1/verifications", &json!({"to": to})).await
}

async fn signzy_send_otp(app: &TestApp, token: &str, to: &str) -> reqwest::Response {
    let b = json!({"clientId": app.client_id, "phoneNumber": to, "channel": "smsOtp", "customTextId": "6"});
    app.post_as(token, "/api/v3/otp-verification/send-otp", &b).await
}

async fn signzy_send_link(app: &TestApp, token: &str, national: &str) -> reqwest::Response {
    let b = json!({"targetUrl": TARGET, "mobileNumber": national, "countryCode": "US", "sourceIp": "203.0.113.7"});
    app.post_as(token, "/api/v3/us-kyc/send-instant-link", &b).await
}

async fn idenfy_send(app: &TestApp, to: &str) -> reqwest::Response {
    app.post_as(&app.basic_auth(), "/fraud/send-sms", &json!({"phone_number": to}))
        .await
}

/// The native verification `id` as `GET /v1/verifications/{id}` shows it.
async fn native_get(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/v1/verifications/{id}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Sends a link to `national`, clicks it, and returns the poll result and the VFP
/// exchange's result (the `result` objects).
async fn link_results(app: &TestApp, token: &str, national: &str) -> (Value, Value) {
    let sent = signzy_body(signzy_send_link(app, token, national).await, 200).await;
    let (rid, sid) = (
        sent["result"]["requestId"].as_str().unwrap().to_owned(),
        sent["result"]["sessionId"].as_str().unwrap().to_owned(),
    );
    app.drain().await;
    // The number's only link SMS (it may have had codes too).
    let msgs = app.messages(&format!("+1{national}")).await;
    let link = msgs
        .iter()
        .find_map(|m| m["text"].as_str().unwrap().split("/l/").nth(1))
        .expect("a link SMS")
        .to_owned();
    let redirect = crate::helpers::click(&app.engine, &link, "203.0.113.7".parse().unwrap(), "Mozilla/5.0")
        .await
        .unwrap();
    let vfp = redirect.split("vfp=").nth(1).unwrap().to_owned();
    let path = format!("/api/v3/us-kyc/poll-check-verify/request/{rid}/session/{sid}");
    let polled = signzy_body(app.get_as(token, &path).await, 200).await;
    let exchanged = signzy_body(
        app.post_as(token, "/api/v3/us-kyc/instant-link-result", &json!({"vfp": vfp}))
            .await,
        200,
    )
    .await;
    (polled["result"].clone(), exchanged["result"].clone())
}

/// The detail of the `sim_swap_checked` event of verification `id` (asserting there is
/// exactly one, right after `created`).
async fn sim_swap_event(app: &TestApp, id: &str) -> String {
    let events = app.event_details(id).await;
    let checked: Vec<_> = events.iter().filter(|(k, _)| k == "sim_swap_checked").collect();
    assert_eq!(checked.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "created", "{events:?}");
    assert_eq!(events[1].0, "sim_swap_checked", "{events:?}");
    checked[0].1.clone()
}

// ----- the scenarios -----

/// `--sim-swap block`: a number swapped within the window is refused on every face, in
/// the face's own envelope, before anything is stored or sent; a number the operator says
/// was not swapped proceeds. The window set for the client is the one asked about.
async fn block_refuses_a_recent_swap_on_every_face_and_sends_nothing(app: TestApp, op: Arc<FakeOperator>) {
    set_policy(&app, SimSwapMode::Block, None).await;
    let t = signzy_login(&app).await;

    // Native: 403 sim_swapped.
    assert_eq!(error_code(native_start(&app, SWAPPED).await, 403).await, "sim_swapped");
    // Signzy send-otp and send-instant-link: the envelope with status 403.
    let signzy_refusal = json!({"error": {"name": "Error",
        "message": "SIM swap detected: the SIM card of this number was changed within the last 240 hours",
        "status": 403, "reason": "sim swap", "type": "forbidden", "statusCode": 403}});
    assert_eq!(
        signzy_body(signzy_send_otp(&app, &t, SWAPPED).await, 403).await,
        signzy_refusal
    );
    assert_eq!(
        signzy_body(signzy_send_link(&app, &t, SWAPPED_NATIONAL).await, 403).await,
        signzy_refusal
    );
    // iDenfy send-sms: its `{identifier, message}`.
    let r = idenfy_send(&app, SWAPPED).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"identifier": "PERMISSIONS_ERROR",
            "message": "Field 'phone_number': the SIM card of this number was changed within the last 240 hours (SIM swap risk); this client does not verify it now."})
    );
    // The operator was asked once per start, about the client's window; nothing was
    // stored or sent.
    assert_eq!(op.asked(), vec![(SWAPPED.to_owned(), 240); 4]);
    assert_eq!(app.drain().await, 0);
    assert!(app.messages(SWAPPED).await.is_empty());
    assert_eq!(app.job_counts().await, (0, 0, 0));

    // Not swapped: proceeds, and says so.
    let r = native_start(&app, KEPT).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["sim_swapped"].clone(), v["sim_swap"].clone()),
        (json!(false), json!("not_swapped"))
    );
    assert_eq!(
        sim_swap_event(&app, v["id"].as_str().unwrap()).await,
        "not swapped within 240 h"
    );
    app.drain().await;
    assert_eq!(app.messages(KEPT).await.len(), 1);

    // A swap 500 h ago is outside the default window, inside a 720 h one.
    let r = native_start(&app, OLD_SWAP).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["sim_swap"], "not_swapped");
    set_policy(&app, SimSwapMode::Block, Some(720)).await;
    app.clock.advance_secs(3600);
    let r = native_start(&app, OLD_SWAP).await;
    assert_eq!(error_code(r, 403).await, "sim_swapped");
    assert_eq!(
        op.asked()[4..],
        [
            (KEPT.to_owned(), 240),
            (OLD_SWAP.to_owned(), 240),
            (OLD_SWAP.to_owned(), 720)
        ]
    );
    app.stop().await;
}
with_operator!(
    block_refuses_a_recent_swap_on_every_face_and_sends_nothing,
    block_refuses_a_recent_swap_on_every_face_and_sends_nothing
);

/// `--sim-swap check`: a recent swap is recorded and shown on every face, and the start
/// proceeds (the message is sent).
async fn check_records_a_swap_and_proceeds(app: TestApp, op: Arc<FakeOperator>) {
    set_policy(&app, SimSwapMode::Check, None).await;
    let t = signzy_login(&app).await;

    // Native: the create response and later reads say swapped; the event says so.
    let r = native_start(&app, SWAPPED).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (v["sim_swapped"].clone(), v["sim_swap"].clone()),
        (json!(true), json!("swapped"))
    );
    let got = native_get(&app, &id).await;
    assert_eq!(
        (got["sim_swapped"].clone(), got["sim_swap"].clone()),
        (json!(true), json!("swapped"))
    );
    assert_eq!(sim_swap_event(&app, &id).await, "swapped within 240 h");
    app.drain().await;
    assert_eq!(app.messages(SWAPPED).await.len(), 1);

    // Signzy send-otp: sent (its response has no place for the result; the verification
    // carries it).
    assert_eq!(
        signzy_body(signzy_send_otp(&app, &t, SWAPPED).await, 200).await,
        json!({"result": {"status": 200, "statusDescription": "Success OTP Sent"}})
    );
    app.drain().await;
    assert_eq!(app.messages(SWAPPED).await.len(), 2);

    // iDenfy send-sms: sent; the native read of the same verification shows the result.
    let r = idenfy_send(&app, SWAPPED).await;
    assert_eq!(r.status(), 200);
    let request_id = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = native_get(&app, &format!("VE{request_id}")).await;
    assert_eq!(got["sim_swap"], "swapped");
    app.drain().await;
    assert_eq!(app.messages(SWAPPED).await.len(), 3);

    // Signzy instant link: sent, and the poll and VFP results carry simSwapped.
    let (polled, exchanged) = link_results(&app, &t, SWAPPED_NATIONAL).await;
    assert_eq!(polled["simSwapped"], "true", "{polled}");
    assert_eq!(polled, exchanged);
    // A number the operator says was not swapped.
    let (polled, _) = link_results(&app, &t, KEPT_NATIONAL).await;
    assert_eq!(polled["simSwapped"], "false", "{polled}");

    assert_eq!(op.calls(), 5);
    app.stop().await;
}
with_operator!(check_records_a_swap_and_proceeds, check_records_a_swap_and_proceeds);

/// An operator that cannot be reached: the result is `unknown`, recorded and shown — never
/// a silent pass — and it does not block, even with `block`.
async fn an_unreachable_operator_gives_unknown(app: TestApp, op: Arc<FakeOperator>) {
    set_policy(&app, SimSwapMode::Block, None).await;
    let t = signzy_login(&app).await;

    let r = native_start(&app, DOWN).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (v["sim_swapped"].clone(), v["sim_swap"].clone()),
        (Value::Null, json!("unknown"))
    );
    assert_eq!(native_get(&app, &id).await["sim_swap"], "unknown");
    assert_eq!(sim_swap_event(&app, &id).await, "unknown (unreachable)");

    let (polled, exchanged) = link_results(&app, &t, DOWN_NATIONAL).await;
    assert_eq!(polled["simSwapped"], "unknown", "{polled}");
    assert_eq!(exchanged["simSwapped"], "unknown");
    assert_eq!(op.calls(), 2);
    app.stop().await;
}
with_operator!(
    an_unreachable_operator_gives_unknown,
    an_unreachable_operator_gives_unknown
);

/// A client that does not check never causes a question to the operator, and the results
/// say "not checked" (native `null`s; no `simSwapped` on the Signzy result).
async fn without_the_policy_the_operator_is_never_asked(app: TestApp, op: Arc<FakeOperator>) {
    let t = signzy_login(&app).await;
    let v: Value = native_start(&app, SWAPPED).await.json().await.unwrap();
    assert_eq!(
        (v["sim_swapped"].clone(), v["sim_swap"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(
        !app.event_kinds(v["id"].as_str().unwrap())
            .await
            .contains(&"sim_swap_checked".to_owned())
    );
    assert_eq!(signzy_send_otp(&app, &t, SWAPPED).await.status(), 200);
    assert_eq!(idenfy_send(&app, SWAPPED).await.status(), 200);
    let (polled, exchanged) = link_results(&app, &t, SWAPPED_NATIONAL).await;
    assert!(polled.get("simSwapped").is_none(), "{polled}");
    assert!(exchanged.get("simSwapped").is_none(), "{exchanged}");

    // Turned on and off again: asked only while on.
    set_policy(&app, SimSwapMode::Check, None).await;
    assert_eq!(native_start(&app, KEPT).await.status(), 201);
    set_policy(&app, SimSwapMode::Off, None).await;
    assert_eq!(native_start(&app, KEPT).await.status(), 201);
    assert_eq!(op.asked(), vec![(KEPT.to_owned(), 240)]);
    app.stop().await;
}
with_operator!(
    without_the_policy_the_operator_is_never_asked,
    without_the_policy_the_operator_is_never_asked
);

/// A refused start was admitted by the limits first and stays counted, so the limits bound
/// the questions to the operator (and the answers an attacker could read from refusals):
/// past the number's send limit (5 in 10 minutes) the start is refused by the limit and
/// the operator is not asked.
async fn refused_starts_count_against_the_send_limits(app: TestApp, op: Arc<FakeOperator>) {
    set_policy(&app, SimSwapMode::Block, None).await;
    for _ in 0..5 {
        assert_eq!(error_code(native_start(&app, SWAPPED).await, 403).await, "sim_swapped");
    }
    assert_eq!(error_code(native_start(&app, SWAPPED).await, 429).await, "rate_limited");
    assert_eq!(op.calls(), 5);
    assert_eq!(app.drain().await, 0);
    assert!(app.messages(SWAPPED).await.is_empty());
    app.stop().await;
}
with_operator!(
    refused_starts_count_against_the_send_limits,
    refused_starts_count_against_the_send_limits
);

/// With no SIM-swap service configured at all, a client that checks gets `unknown`
/// (not configured), never a pass.
#[tokio::test]
async fn no_configured_check_is_unknown() {
    let app = TestApp::spawn().await;
    set_policy(&app, SimSwapMode::Block, None).await;
    let v: Value = native_start(&app, SWAPPED).await.json().await.unwrap();
    assert_eq!(v["sim_swap"], "unknown");
    assert_eq!(
        sim_swap_event(&app, v["id"].as_str().unwrap()).await,
        "unknown (not_configured)"
    );
    app.stop().await;
}

/// The policy's window is checked when set.
#[tokio::test]
async fn the_window_is_checked() {
    let app = TestApp::spawn().await;
    for (mode, h) in [
        (Some(SimSwapMode::Block), Some(0)),
        (Some(SimSwapMode::Check), Some(2401)),
        (None, Some(24)),
    ] {
        let r = app
            .engine
            .update_client(
                &app.demo_id(),
                ClientChange {
                    sim_swap: mode,
                    sim_swap_max_age_h: h,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(r.unwrap_err().code(), "invalid_parameter");
    }
    assert_eq!(app.demo().await.controls.sim_swap, None);
    app.stop().await;
}
