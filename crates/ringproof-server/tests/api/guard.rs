//! The limits across verifications, tried as an attacker would (issue 10): restarting a
//! verification to get fresh guesses stops at the number's guess budget on every face;
//! floods of one number, premium-rate and satellite numbers, multi-step workflows and one
//! end user's IP are stopped by the send limits; two servers on one PostgreSQL share the
//! counters. Each test fails if its limit is removed.

use serde_json::{Value, json};

use crate::helpers::{ConfigChange, Opts, TestApp, on_both_stores, pg_database, signzy_login};

/// A face's way to start a verification and to check a code against it.
#[derive(Clone)]
enum Face {
    Native,
    /// The Signzy OTP pair, with an access token.
    Signzy(String),
    Idenfy,
}

/// What a guess came to.
#[derive(Debug, PartialEq)]
enum Guess {
    /// Evaluated: wrong.
    Wrong,
    /// Evaluated: wrong, and the verification's last attempt (Signzy says so at once).
    LastWrong,
    /// Not evaluated: the verification has no attempts left (its own limit).
    Spent,
    /// Not evaluated: refused by a limit across verifications (status, body).
    Refused(u16, Value),
}

impl Face {
    /// Starts a verification to `to`: its handle (an id; the number for Signzy), or the
    /// refusal's status and body.
    async fn start(&self, app: &TestApp, to: &str) -> Result<String, (u16, Value)> {
        let (r, ok) = match self {
            Face::Native => (
                app.post("/v1/verifications", &json!({"to": to, "channel": "sms"}))
                    .await,
                201,
            ),
            Face::Signzy(t) => {
                let b = json!({"clientId": app.client_id, "phoneNumber": to, "channel": "smsOtp", "customTextId": "4"});
                (app.post_as(t, "/api/v3/otp-verification/send-otp", &b).await, 200)
            }
            Face::Idenfy => (
                app.post_as(&app.basic_auth(), "/fraud/send-sms", &json!({"phone_number": to}))
                    .await,
                200,
            ),
        };
        let status = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").cloned();
        let body: Value = r.json().await.unwrap();
        if status != ok {
            if status == 429 {
                assert!(retry_after.is_some(), "a 429 says when to retry: {body}");
            }
            return Err((status, body));
        }
        Ok(match self {
            Face::Native => body["id"].as_str().unwrap().to_owned(),
            Face::Signzy(_) => to.to_owned(),
            Face::Idenfy => body["request_id"].as_str().unwrap().to_owned(),
        })
    }

    async fn guess(&self, app: &TestApp, handle: &str, code: &str) -> Guess {
        let r = match self {
            Face::Native => app.check(handle, code).await,
            Face::Signzy(t) => {
                let b = json!({"clientId": app.client_id, "phoneNumber": handle, "otp": code});
                app.post_as(t, "/api/v3/otp-verification/verify-otp", &b).await
            }
            Face::Idenfy => {
                let b = json!({"request_id": handle, "received_code": code});
                app.post_as(&app.basic_auth(), "/fraud/verify-sms", &b).await
            }
        };
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        match (self, status) {
            (Face::Native, 200) if body["valid"] == false && body["status"] == "pending" => Guess::Wrong,
            (Face::Native, 200) if body["status"] == "max_attempts_reached" => Guess::Wrong,
            (Face::Native, 409) => Guess::Spent,
            (Face::Signzy(_), 400) if body["error"]["message"] == "Invalid OTP" => Guess::Wrong,
            // The attacker stops at the first one: it is the fifth wrong code, evaluated.
            (Face::Signzy(_), 429) if body["error"]["message"] == "Maximum OTP attempts exceeded" => Guess::LastWrong,
            (Face::Idenfy, 200) if body["is_verified"] == false => Guess::Wrong,
            (_, 429) => Guess::Refused(status, body),
            _ => panic!("unexpected answer {status}: {body}"),
        }
    }

    /// Whether the refusal is this face's guess-budget answer.
    fn is_budget_refusal(&self, status: u16, body: &Value) -> bool {
        status == 429
            && match self {
                Face::Native => body["error"]["code"] == "guess_budget_exhausted",
                Face::Signzy(_) => {
                    body["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("Too many wrong codes")
                        && body["error"]["status"] == 429
                }
                Face::Idenfy => body["identifier"] == "TOO_MANY_REQUESTS",
            }
    }
}

/// A wrong code for the newest message to `to` (never the real one).
async fn wrong_code(app: &TestApp, to: &str) -> (String, String) {
    app.drain().await;
    let right = app.last_code(to).await;
    let wrong: String = right.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    (right, wrong)
}

/// The attacker's loop: start, guess until the verification is spent, start again, …
/// until a limit refuses. Returns the wrong guesses that were evaluated and the refusal.
async fn attack(app: &TestApp, face: &Face, to: &str) -> (u32, (u16, Value)) {
    let mut evaluated = 0;
    for _ in 0..20 {
        let handle = match face.start(app, to).await {
            Ok(h) => h,
            Err(refusal) => return (evaluated, refusal),
        };
        let (_, wrong) = wrong_code(app, to).await;
        // Five attempts each: the verification's own limit (iDenfy's verify-sms answers
        // `false` alike to a wrong code and to a spent verification).
        for _ in 0..5 {
            match face.guess(app, &handle, &wrong).await {
                Guess::Wrong => evaluated += 1,
                Guess::LastWrong => {
                    evaluated += 1;
                    break;
                }
                Guess::Spent => break,
                Guess::Refused(s, b) => return (evaluated, (s, b)),
            }
        }
        app.clock.advance_secs(1);
    }
    panic!("20 restarts and no limit refused");
}

async fn restart_and_guess(app: TestApp) {
    let token = signzy_login(&app).await;
    for (face, to) in [
        (Face::Native, "+14155550101"),
        (Face::Signzy(token), "+14155550102"),
        (Face::Idenfy, "+14155550103"),
    ] {
        // The person's own verification, started before the attack: its code is on
        // their phone only.
        let victim = face.start(&app, to).await.unwrap();
        let (right, _) = wrong_code(&app, to).await;

        let (evaluated, (status, body)) = attack(&app, &face, to).await;
        assert_eq!(evaluated, 10, "{to}: the hourly budget, across every restart");
        assert!(face.is_budget_refusal(status, &body), "{to}: {status} {body}");
        // Even the right code is no longer evaluated: guessing it now gains nothing. (On
        // the Signzy face a new send superseded the person's OTP, and the newest one has
        // no attempts left: answered so, without evaluating.)
        match (&face, face.guess(&app, &victim, &right).await) {
            (_, Guess::Refused(s, b)) => assert!(face.is_budget_refusal(s, &b), "{b}"),
            (Face::Signzy(_), Guess::LastWrong) => {}
            (_, other) => panic!("{to}: the right code was answered: {other:?}"),
        }

        // An hour later 10 more, then the day's 20 are used: nothing until the day passes.
        // (Windows count in slots of 1/100 of their length: an hour and 36 s is sure.)
        app.clock.advance_secs(3636);
        let (evaluated, (status, body)) = attack(&app, &face, to).await;
        assert_eq!(evaluated, 10, "{to}: the second hour");
        assert!(face.is_budget_refusal(status, &body), "{to}: {status} {body}");
        app.clock.advance_secs(3636);
        let (evaluated, (status, body)) = attack(&app, &face, to).await;
        assert_eq!(evaluated, 0, "{to}: 20 a day");
        assert!(face.is_budget_refusal(status, &body), "{to}: {status} {body}");
    }
    app.stop().await;
}

on_both_stores!(
    the_guess_budget_stops_restart_and_guess_on_every_face,
    restart_and_guess
);

/// A flood of one number: 5 sends in 10 minutes, 10 in a day, on every face; each refusal a
/// 429 in the face's envelope naming the limit, with Retry-After; nothing more is sent.
async fn one_number_flood(app: TestApp) {
    app.without_pumping_guard().await;
    let token = signzy_login(&app).await;
    for (face, to) in [
        (Face::Native, "+14155550111"),
        (Face::Signzy(token), "+14155550112"),
        (Face::Idenfy, "+14155550113"),
    ] {
        let mut sent = 0;
        let mut refusal = None;
        for _ in 0..50 {
            match face.start(&app, to).await {
                Ok(_) => sent += 1,
                Err(r) => {
                    refusal = Some(r);
                    break;
                }
            }
        }
        let (status, body) = refusal.unwrap();
        assert_eq!(sent, 5, "{to}: {body}");
        assert_eq!(status, 429, "{body}");
        match face {
            Face::Native => assert_eq!(body["error"]["code"], "rate_limited"),
            Face::Signzy(_) => assert_eq!(
                body["error"]["message"].as_str().unwrap().split(';').next().unwrap(),
                "Too many messages to this number"
            ),
            Face::Idenfy => assert_eq!(body["identifier"], "TOO_MANY_REQUESTS"),
        }
        app.drain().await;
        // Each Signzy send supersedes the pending OTP, so only the newest is delivered.
        let delivered = if matches!(face, Face::Signzy(_)) { 1 } else { 5 };
        assert_eq!(app.messages(to).await.len(), delivered, "{to}");
        // 10 minutes (and a 6 s slot) later 5 more, then the day's 10 are used.
        app.clock.advance_secs(606);
        for _ in 0..5 {
            face.start(&app, to).await.unwrap();
        }
        app.clock.advance_secs(606);
        assert_eq!(face.start(&app, to).await.unwrap_err().0, 429);
    }
    app.stop().await;
}

on_both_stores!(one_number_gets_5_sends_in_10_minutes_on_every_face, one_number_flood);

/// Premium-rate, shared-cost and satellite numbers receive nothing, on every face; a client
/// that allows a kind gets it.
#[tokio::test]
async fn premium_and_satellite_numbers_are_refused_on_every_face() {
    let app = TestApp::spawn().await;
    let token = signzy_login(&app).await;
    let numbers = [
        "+19005551234",
        "+449012345678",
        "+33891234567",
        "+4990090012345",
        "+881612345678",
        "+80812345678",
    ];
    for to in numbers {
        let (s, b) = Face::Native.start(&app, to).await.unwrap_err();
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap()),
            (403, "destination_blocked"),
            "{to}"
        );
        let (s, b) = Face::Signzy(token.clone()).start(&app, to).await.unwrap_err();
        let want = if to.starts_with("+88") || to.starts_with("+80") {
            // Outside the compat faces' country table: refused before the limits.
            (400, "Mobile number is not valid/allowed")
        } else {
            (404, "Blocked phone number")
        };
        assert_eq!((s, b["error"]["message"].as_str().unwrap()), want, "{to}");
        let (s, b) = Face::Idenfy.start(&app, to).await.unwrap_err();
        let want = if to.starts_with("+88") || to.starts_with("+80") {
            (400, "BAD_VALUE") // outside the face's country table
        } else {
            (403, "PERMISSIONS_ERROR")
        };
        assert_eq!((s, b["identifier"].as_str().unwrap()), want, "{to}");
    }
    assert_eq!(app.drain().await, 0, "nothing was queued");
    // The client allows shared-cost numbers: those pass, premium ones still do not.
    let mut c = app.demo().await;
    c.controls.limits.allowed_number_kinds = Some(vec![ringproof_core::guard::NumberKind::SharedCost]);
    app.engine.store().update_client_settings(&c).await.unwrap();
    Face::Native.start(&app, "+80812345678").await.unwrap();
    assert_eq!(Face::Native.start(&app, "+19005551234").await.unwrap_err().0, 403);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("ringproof_guard_blocks_total{rule=\"number_kind\""),
        "refusals are counted by rule"
    );
    app.stop().await;
}

/// A 3-step workflow (SMS, call, call with a new code) counts each step as a send: started
/// again and again, the number stops at 5 sends in 10 minutes, later steps included, and a
/// refused step shows in the verification's events.
async fn workflow_steps_count(app: TestApp) {
    let to = "+14155550121";
    let workflow = json!([
        {"channel": "sms"},
        {"channel": "voice", "after_s": 60},
        {"channel": "voice", "after_s": 120, "code": "new"}
    ]);
    let first = app.start_id(json!({"to": to, "workflow": workflow})).await;
    let second = app.start_id(json!({"to": to, "workflow": workflow})).await;
    app.clock.advance_secs(61);
    app.drain().await; // both first calls: 4 sends
    let third = app.start_id(json!({"to": to, "workflow": workflow})).await; // the 5th
    let r = app
        .post("/v1/verifications", &json!({"to": to, "workflow": workflow}))
        .await;
    assert_eq!(r.status(), 429);
    app.clock.advance_secs(60);
    app.drain().await; // the second calls (and the third's first call) are refused
    let sent = app.messages(to).await.len();
    assert_eq!(sent, 5, "2 SMS + 2 calls + 1 SMS");
    for id in [&first, &second] {
        let details = app.event_details(id).await;
        assert!(
            details
                .iter()
                .any(|(k, d)| k == "step_skipped" && d.contains("refused by the number_sends limit")),
            "{details:?}"
        );
    }
    let _ = third;
    app.stop().await;
}

on_both_stores!(workflow_steps_are_sends, workflow_steps_count);

/// The end user's IP: 10 starts an hour, whatever numbers they are to; an IPv6 /64 is one
/// end user.
#[tokio::test]
async fn one_end_user_ip_gets_10_sends_an_hour() {
    let app = TestApp::spawn().await;
    app.without_pumping_guard().await;
    for n in 0..10 {
        let to = format!("+1415555{:04}", 200 + n);
        app.start_id(json!({"to": to, "end_user_ip": "203.0.113.7"})).await;
    }
    let r = app
        .post(
            "/v1/verifications",
            &json!({"to": "+14155550299", "end_user_ip": "203.0.113.7"}),
        )
        .await;
    assert_eq!(r.status(), 429);
    let b: Value = r.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().contains("IP address"), "{b}");
    // Another IP, and no IP, are not affected.
    app.start_id(json!({"to": "+14155550299", "end_user_ip": "2001:db8::1"}))
        .await;
    app.start_id(json!({"to": "+14155550298"})).await;
    let r = app
        .post(
            "/v1/verifications",
            &json!({"to": "+14155550297", "end_user_ip": "nonsense"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    // An IPv6 end user holds a whole /64: its addresses count together.
    for n in 0..10 {
        let ip = format!("2001:db8:0:7::{:x}", n + 1);
        app.start_id(json!({"to": format!("+1415555{:04}", 400 + n), "end_user_ip": ip}))
            .await;
    }
    let r = app
        .post(
            "/v1/verifications",
            &json!({"to": "+14155550499", "end_user_ip": "2001:db8:0:7:ffff::1"}),
        )
        .await;
    assert_eq!(r.status(), 429, "another address of the same /64");
    app.stop().await;
}

/// The client's spend cap: a per-minute cap of 3, over many numbers.
#[tokio::test]
async fn the_client_spend_cap_holds() {
    let cap: ConfigChange = Box::new(|c| c.limits.client_sends_per_minute = 3);
    let app = TestApp::spawn_with(Opts {
        configure: Some(cap),
        ..Opts::default()
    })
    .await;
    for n in 0..3 {
        app.start_id(json!({"to": format!("+1415555{:04}", 300 + n)})).await;
    }
    let r = app.post("/v1/verifications", &json!({"to": "+14155550399"})).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    app.clock.advance_secs(retry as i64);
    app.start_id(json!({"to": "+14155550399"})).await;
    app.stop().await;
}

/// Two servers on one PostgreSQL share the counters: 5 sends to one number in 10 minutes
/// across both, of 12 starts sent to both at once, and 10 wrong guesses an hour.
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn two_servers_on_one_postgresql_share_the_limits() {
    let db = pg_database().await;
    let dir = crate::helpers::temp_dir("guard-multi");
    let clock = std::sync::Arc::new(ringproof_core::time::ManualClock::new(crate::helpers::T0));
    let opts = || Opts {
        database_url: Some(db.url.clone()),
        clock: Some(clock.clone()),
        ..Opts::default()
    };
    let a = TestApp::spawn_with(opts().in_dir(dir.path())).await;
    let b = TestApp::spawn_with(opts().in_dir(dir.path())).await;
    let to = "+14155550131";
    let body = json!({"to": to});
    let starts = (0..12).map(|n| {
        let app = if n % 2 == 0 { &a } else { &b };
        app.post("/v1/verifications", &body)
    });
    let statuses: Vec<u16> = futures_util::future::join_all(starts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let sent = statuses.iter().filter(|s| **s == 201).count();
    assert_eq!(sent, 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 7, "{statuses:?}");
    // Guesses through either server count against one budget.
    clock.advance_secs(606);
    let mut evaluated = 0;
    'outer: for n in 0..4 {
        let app = if n % 2 == 0 { &a } else { &b };
        let id = match app.post("/v1/verifications", &json!({"to": to})).await {
            r if r.status() == 201 => r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned(),
            _ => break,
        };
        for k in 0..5 {
            let other = if k % 2 == 0 { &a } else { &b };
            match other.check(&id, "0000000").await.status().as_u16() {
                200 => evaluated += 1,
                429 => break 'outer,
                s => panic!("{s}"),
            }
        }
    }
    assert_eq!(evaluated, 10);
    a.stop().await;
    b.stop().await;
}
