//! The Twilio Verify face (`/v2/Services`): Account SID and API key authentication,
//! services (CRUD, paging, scoping by client), the verification flow with Twilio's check
//! semantics and the code read from the sandbox phone, cancel and approve, fetch by SID and
//! by number, and the error codes in Twilio's envelope. The official SDKs run the same flow
//! in `twilio_sdk.rs`.

use reqwest::Response;
use ringproof_core::ids::ClientId;
use serde_json::Value;

use crate::helpers::{TestApp, basic, on_both_stores};

pub const TO: &str = "+14155550123";

/// The demo client's Account SID and Auth Token.
pub async fn account(app: &TestApp) -> (String, String) {
    let id = ClientId::parse(&app.client_id).unwrap();
    let issued = app.engine.issue_account_key(&id).await.unwrap();
    (issued.key.id, issued.secret)
}

pub struct Twilio<'a> {
    pub app: &'a TestApp,
    pub auth: String,
}

impl Twilio<'_> {
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.app.get_as(&self.auth, path).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.app
            .http
            .delete(format!("{}{path}", self.app.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .unwrap()
    }

    /// Creates a service and returns its SID.
    pub async fn service(&self, form: &[(&str, &str)]) -> String {
        let r = self.post("/v2/Services", form).await;
        assert_eq!(r.status(), 201);
        let b: Value = r.json().await.unwrap();
        b["sid"].as_str().unwrap().to_owned()
    }

    /// Starts an SMS verification and returns its body.
    pub async fn start(&self, service: &str, form: &[(&str, &str)]) -> Value {
        let r = self.post(&format!("/v2/Services/{service}/Verifications"), form).await;
        let status = r.status();
        let b: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{b}");
        b
    }

    pub async fn check(&self, service: &str, form: &[(&str, &str)]) -> Response {
        self.post(&format!("/v2/Services/{service}/VerificationCheck"), form)
            .await
    }
}

/// A Twilio error: its status and Twilio's body with exactly its four fields; the code.
async fn error(r: Response, status: u16) -> (u64, String) {
    assert_eq!(r.status(), status);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b.as_object().unwrap().len(), 4, "{b}");
    assert_eq!(b["status"], status);
    let code = b["code"].as_u64().unwrap();
    assert_eq!(b["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
    (code, b["message"].as_str().unwrap().to_owned())
}

on_both_stores!(
    credentials_authenticate_as_the_client,
    credentials_authenticate_as_the_client
);
async fn credentials_authenticate_as_the_client(app: TestApp) {
    let (sid, token) = account(&app).await;
    assert!(sid.starts_with("AC") && sid.len() == 34);
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let r = tw.get("/v2/Services").await;
    assert_eq!(r.status(), 200);

    // No credentials, a wrong token, the native API's credentials: 401 / 20003.
    for auth in [
        basic(&sid, "0".repeat(32).as_str()),
        app.basic_auth(),
        basic("ACnot-a-sid", &token),
    ] {
        let r = app.get_as(&auth, "/v2/Services").await;
        assert!(r.headers().contains_key("www-authenticate"));
        assert_eq!(error(r, 401).await.0, 20003);
    }
    let r = app.http.get(format!("{}/v2/Services", app.base)).send().await.unwrap();
    assert_eq!(error(r, 401).await.0, 20003);

    // A new Auth Token keeps the SID and ends the old token.
    let (sid2, token2) = account(&app).await;
    assert_eq!(sid2, sid);
    assert_eq!(error(tw.get("/v2/Services").await, 401).await.0, 20003);
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token2),
    };
    let svc = tw.service(&[("FriendlyName", "Acme")]).await;

    // An API key authenticates as the same account.
    let id = ClientId::parse(&app.client_id).unwrap();
    let (key, created_account) = app.engine.issue_api_key(&id).await.unwrap();
    assert!(created_account.is_none());
    assert!(key.key.id.starts_with("SK"));
    let r = app
        .get_as(&basic(&key.key.id, &key.secret), &format!("/v2/Services/{svc}"))
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["account_sid"], sid);

    // A revoked API key stops working at once; the account's token still works.
    app.engine.revoke_api_key(&id, &key.key.id).await.unwrap();
    let r = app
        .get_as(&basic(&key.key.id, &key.secret), &format!("/v2/Services/{svc}"))
        .await;
    assert_eq!(error(r, 401).await.0, 20003);
    assert_eq!(tw.get(&format!("/v2/Services/{svc}")).await.status(), 200);
}

on_both_stores!(services_crud_paging_and_isolation, services_crud_paging_and_isolation);
async fn services_crud_paging_and_isolation(app: TestApp) {
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let r = tw
        .post(
            "/v2/Services",
            &[
                ("FriendlyName", "Acme"),
                ("CodeLength", "8"),
                ("DoNotShareWarningEnabled", "true"),
                ("DefaultTemplateSid", "HJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    let va = s["sid"].as_str().unwrap().to_owned();
    assert!(va.starts_with("VA") && va.len() == 34);
    assert_eq!(s["account_sid"], sid);
    assert_eq!(s["friendly_name"], "Acme");
    assert_eq!(s["code_length"], 8);
    assert_eq!(s["do_not_share_warning_enabled"], true);
    assert_eq!(s["custom_code_enabled"], false);
    assert_eq!(s["default_template_sid"], "HJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(
        s["date_created"], "2026-01-01T00:00:00Z",
        "Twilio's format, whole seconds"
    );
    assert_eq!(s["url"], format!("{}/v2/Services/{va}", app.base));
    assert_eq!(
        s["links"]["verifications"],
        format!("{}/v2/Services/{va}/Verifications", app.base)
    );

    // Fetch, update (only what is given changes), and the checks of each parameter.
    let r = tw.get(&format!("/v2/Services/{va}")).await;
    assert_eq!(r.status(), 200);
    let r = tw
        .post(
            &format!("/v2/Services/{va}"),
            &[("CodeLength", "4"), ("CustomCodeEnabled", "True")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let s: Value = r.json().await.unwrap();
    assert_eq!(
        (s["code_length"].as_u64(), s["custom_code_enabled"].as_bool()),
        (Some(4), Some(true))
    );
    assert_eq!(s["friendly_name"], "Acme");
    // Updates of different settings at the same moment both take effect.
    let path = format!("/v2/Services/{va}");
    for round in 0..5 {
        let (name, len) = (format!("Acme {round}"), (5 + round % 2).to_string());
        let (renamed, resized) = ([("FriendlyName", name.as_str())], [("CodeLength", len.as_str())]);
        let (a, b) = tokio::join!(tw.post(&path, &renamed), tw.post(&path, &resized));
        assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
        let s: Value = tw.get(&path).await.json().await.unwrap();
        assert_eq!(
            (s["friendly_name"].as_str(), s["code_length"].to_string()),
            (Some(name.as_str()), len),
            "round {round}"
        );
    }
    tw.post(&path, &[("FriendlyName", "Acme"), ("CodeLength", "4")]).await;
    for (form, param) in [
        (vec![("CodeLength", "3")], "CodeLength"),
        (vec![("CodeLength", "11")], "CodeLength"),
        (vec![("CodeLength", "six")], "CodeLength"),
        (vec![("LookupEnabled", "yes")], "LookupEnabled"),
        (vec![("FriendlyName", &"x".repeat(33))], "FriendlyName"),
        (vec![("DefaultTemplateSid", "HJ1")], "DefaultTemplateSid"),
    ] {
        let (code, message) = error(tw.post(&format!("/v2/Services/{va}"), &form).await, 400).await;
        assert_eq!(code, 60200);
        assert!(message.contains(&format!("`{param}`")), "{message}");
    }
    let (code, message) = error(tw.post("/v2/Services", &[("CodeLength", "6")]).await, 400).await;
    assert_eq!((code, message.contains("FriendlyName")), (60200, true));

    // Paging: 3 services, 2 a page, oldest first; the SDKs follow next_page_url.
    app.clock.advance_secs(1);
    tw.service(&[("FriendlyName", "Two")]).await;
    app.clock.advance_secs(1);
    tw.service(&[("FriendlyName", "Three")]).await;
    let page: Value = tw.get("/v2/Services?PageSize=2").await.json().await.unwrap();
    assert_eq!(page["meta"]["key"], "services");
    assert_eq!(page["services"].as_array().unwrap().len(), 2);
    assert_eq!(page["services"][0]["sid"], va);
    let next = page["meta"]["next_page_url"].as_str().unwrap().to_owned();
    assert_eq!(next, format!("{}/v2/Services?PageSize=2&Page=1", app.base));
    let page: Value = tw.get(next.trim_start_matches(&app.base)).await.json().await.unwrap();
    assert_eq!(page["services"].as_array().unwrap().len(), 1);
    assert_eq!(page["services"][0]["friendly_name"], "Three");
    assert!(page["meta"]["next_page_url"].is_null());
    assert!(page["meta"]["previous_page_url"].is_string());
    assert_eq!(error(tw.get("/v2/Services?PageSize=0").await, 400).await.0, 60200);

    // Another client's account sees none of them, and cannot touch them.
    let other = app.engine.create_client("Other", vec![]).await.unwrap();
    let o = app.engine.issue_account_key(&other.client.id).await.unwrap();
    let them = Twilio {
        app: &app,
        auth: basic(&o.key.id, &o.secret),
    };
    let page: Value = them.get("/v2/Services").await.json().await.unwrap();
    assert!(page["services"].as_array().unwrap().is_empty());
    for r in [
        them.get(&format!("/v2/Services/{va}")).await,
        them.post(&format!("/v2/Services/{va}"), &[("FriendlyName", "Mine")])
            .await,
        them.delete(&format!("/v2/Services/{va}")).await,
        them.post(
            &format!("/v2/Services/{va}/Verifications"),
            &[("To", TO), ("Channel", "sms")],
        )
        .await,
    ] {
        assert_eq!(error(r, 404).await.0, 20404);
    }

    // Delete: 204, then gone.
    assert_eq!(tw.delete(&format!("/v2/Services/{va}")).await.status(), 204);
    assert_eq!(error(tw.get(&format!("/v2/Services/{va}")).await, 404).await.0, 20404);
    assert_eq!(
        error(tw.delete(&format!("/v2/Services/{va}")).await, 404).await.0,
        20404
    );
    assert_eq!(error(tw.get("/v2/Services/VA123").await, 404).await.0, 20404);
}

on_both_stores!(
    the_verification_flow_with_twilio_semantics,
    the_verification_flow_with_twilio_semantics
);
async fn the_verification_flow_with_twilio_semantics(app: TestApp) {
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let va = tw
        .service(&[
            ("FriendlyName", "Acme"),
            ("CodeLength", "6"),
            ("DoNotShareWarningEnabled", "true"),
        ])
        .await;
    let v = tw
        .start(
            &va,
            &[
                ("To", TO),
                ("Channel", "sms"),
                ("Amount", "€39.99"),
                ("Payee", "Acme Inc."),
                ("Tags", r#"{"tenant_id": "12345"}"#),
                ("DeviceIp", "198.51.100.7"),
            ],
        )
        .await;
    let ve = v["sid"].as_str().unwrap().to_owned();
    assert!(ve.starts_with("VE") && ve.len() == 34);
    assert_eq!(v["service_sid"], va);
    assert_eq!(v["account_sid"], sid);
    assert_eq!((v["to"].as_str(), v["channel"].as_str()), (Some(TO), Some("sms")));
    assert_eq!(
        (v["status"].as_str(), v["valid"].as_bool()),
        (Some("pending"), Some(false))
    );
    assert_eq!(
        (v["amount"].as_str(), v["payee"].as_str()),
        (Some("€39.99"), Some("Acme Inc."))
    );
    assert_eq!(v["lookup"], serde_json::json!({}));
    assert!(v["sna"].is_null());
    let attempts = v["send_code_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["channel"], "sms");
    assert!(attempts[0]["attempt_sid"].as_str().unwrap().starts_with("VL"));
    assert_eq!(v["url"], format!("{}/v2/Services/{va}/Verifications/{ve}", app.base));

    app.drain().await;
    let text = app.messages(TO).await[0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("Your Acme verification code is: "), "{text}");
    assert!(text.ends_with("our employees will never ask for the code."), "{text}");
    let code = app.last_code(TO).await;
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    // A wrong code: 200 pending. The right one by number: approved. Again: 404 / 20404.
    let r = tw.check(&va, &[("VerificationSid", &ve), ("Code", wrong)]).await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["status"].as_str(), c["valid"].as_bool()),
        (Some("pending"), Some(false))
    );
    assert_eq!(c["sid"], ve);
    let r = tw
        .check(&va, &[("To", TO), ("Code", &code), ("Amount", "€39.99")])
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["status"].as_str(), c["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    assert_eq!(c["amount"], "€39.99");
    assert!(c["sna_attempts_error_codes"].is_null());
    for form in [
        vec![("VerificationSid", ve.as_str()), ("Code", code.as_str())],
        vec![("To", TO), ("Code", code.as_str())],
    ] {
        assert_eq!(error(tw.check(&va, &form).await, 404).await.0, 20404);
    }

    // Fetch by SID and by number; another service of the client does not see it.
    let path = format!("/v2/Services/{va}/Verifications/{ve}");
    let f: Value = tw.get(&path).await.json().await.unwrap();
    assert_eq!(
        (f["status"].as_str(), f["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    let by_to: Value = tw
        .get(&format!("/v2/Services/{va}/Verifications/%2B14155550123"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_to["sid"], ve);
    let other = tw.service(&[("FriendlyName", "Other")]).await;
    assert_eq!(
        error(tw.get(&format!("/v2/Services/{other}/Verifications/{ve}")).await, 404)
            .await
            .0,
        20404
    );
    assert_eq!(
        error(
            tw.check(&other, &[("VerificationSid", &ve), ("Code", &code)]).await,
            404
        )
        .await
        .0,
        20404
    );

    // Cancel; approve on the integrator's word; an ended one cannot change (20404).
    let v2 = tw.start(&va, &[("To", TO), ("Channel", "call")]).await;
    assert_eq!(v2["channel"], "call");
    let p2 = format!("/v2/Services/{va}/Verifications/{}", v2["sid"].as_str().unwrap());
    let r = tw.post(&p2, &[("Status", "canceled")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "canceled");
    assert_eq!(error(tw.post(&p2, &[("Status", "approved")]).await, 404).await.0, 20404);
    let v3 = tw.start(&va, &[("To", TO), ("Channel", "sms")]).await;
    let p3 = format!("/v2/Services/{va}/Verifications/{}", v3["sid"].as_str().unwrap());
    assert_eq!(error(tw.post(&p3, &[("Status", "pending")]).await, 400).await.0, 60200);
    let r = tw.post(&p3, &[("Status", "approved")]).await;
    let a: Value = r.json().await.unwrap();
    assert_eq!(
        (a["status"].as_str(), a["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
}

on_both_stores!(custom_codes_channels_and_attempts, custom_codes_channels_and_attempts);
async fn custom_codes_channels_and_attempts(app: TestApp) {
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let va = tw.service(&[("FriendlyName", "Acme")]).await;

    // A custom code only where the service allows it.
    let (code, message) = error(
        tw.post(
            &format!("/v2/Services/{va}/Verifications"),
            &[("To", TO), ("Channel", "sms"), ("CustomCode", "424242")],
        )
        .await,
        400,
    )
    .await;
    assert_eq!(code, 60200);
    assert!(message.contains("`CustomCode`"), "{message}");
    let custom = tw
        .service(&[("FriendlyName", "Custom"), ("CustomCodeEnabled", "true")])
        .await;
    let v = tw
        .start(
            &custom,
            &[
                ("To", TO),
                ("Channel", "sms"),
                ("CustomCode", "4242"),
                ("CustomFriendlyName", "Shop"),
            ],
        )
        .await;
    app.drain().await;
    assert_eq!(
        app.messages(TO).await[0]["text"],
        "Your Shop verification code is: 4242"
    );
    let ve = v["sid"].as_str().unwrap();

    // Every wrong code is 200 pending until the last (max_attempts_reached); then 60202.
    for _ in 0..4 {
        let c: Value = tw
            .check(&custom, &[("VerificationSid", ve), ("Code", "1111")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(c["status"], "pending");
    }
    let c: Value = tw
        .check(&custom, &[("VerificationSid", ve), ("Code", "1111")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (c["status"].as_str(), c["valid"].as_bool()),
        (Some("max_attempts_reached"), Some(false))
    );
    let r = tw.check(&custom, &[("VerificationSid", ve), ("Code", "4242")]).await;
    assert_eq!(error(r, 429).await.0, 60202);
    // Cancel or approve it: 60202 too (as docs/compat-twilio.md says), not 20404.
    for status in ["canceled", "approved"] {
        let r = tw
            .post(
                &format!("/v2/Services/{custom}/Verifications/{ve}"),
                &[("Status", status)],
            )
            .await;
        assert_eq!(error(r, 429).await.0, 60202, "{status}");
    }
    // A custom code with sna is refused, naming CustomCode: the SMS after the silent step
    // would carry a code of its own.
    let (code, message) = error(
        tw.post(
            &format!("/v2/Services/{custom}/Verifications"),
            &[("To", TO), ("Channel", "sna"), ("CustomCode", "4242")],
        )
        .await,
        400,
    )
    .await;
    assert_eq!(code, 60200);
    assert!(message.contains("`CustomCode`") && message.contains("sna"), "{message}");

    // Channels: email and whatsapp are not enabled (60223); sna needs carrier
    // authentication, which this server has not (60200 naming Channel).
    let start = format!("/v2/Services/{va}/Verifications");
    for ch in ["email", "whatsapp"] {
        let (code, message) = error(tw.post(&start, &[("To", TO), ("Channel", ch)]).await, 400).await;
        assert_eq!(code, 60223);
        assert!(message.contains(&ch.to_uppercase()), "{message}");
    }
    let (code, message) = error(tw.post(&start, &[("To", TO), ("Channel", "sna")]).await, 400).await;
    assert_eq!(code, 60200);
    assert!(
        message.contains("`Channel`") && message.contains("carrier authentication"),
        "{message}"
    );

    // Bad input is 60200 naming the parameter, never a 5xx.
    const ME: &str = "+14155550187";
    for (form, param) in [
        (vec![("Channel", "sms")], "To"),
        (vec![("To", "4155550187"), ("Channel", "sms")], "To"),
        (vec![("To", ME)], "Channel"),
        (vec![("To", ME), ("Channel", "pigeon")], "Channel"),
        (
            vec![("To", ME), ("Channel", "sms"), ("DeviceIp", "0.000.00.000")],
            "DeviceIp",
        ),
        (vec![("To", ME), ("Channel", "sms"), ("Tags", "[1]")], "Tags"),
        (
            vec![("To", ME), ("Channel", "sms"), ("RiskCheck", "maybe")],
            "RiskCheck",
        ),
        (vec![("To", ME), ("Channel", "sms"), ("Locale", "en US!")], "Locale"),
        (
            vec![("To", ME), ("Channel", "sms"), ("CustomFriendlyName", " ")],
            "CustomFriendlyName",
        ),
    ] {
        let (code, message) = error(tw.post(&start, &form).await, 400).await;
        assert_eq!(code, 60200, "{message}");
        assert!(message.contains(&format!("`{param}`")), "{param}: {message}");
        // These requests carry a number: no message repeats it.
        assert!(!message.contains("4155550187"), "{message}");
    }
    let check = format!("/v2/Services/{va}/VerificationCheck");
    for (form, param) in [
        (vec![("To", TO)], "Code"),
        (vec![("Code", "1234")], "To"),
        (vec![("VerificationSid", "VE1"), ("Code", "1234")], "VerificationSid"),
        (vec![("To", TO), ("Code", "12ab")], "Code"),
    ] {
        let (code, message) = error(tw.post(&check, &form).await, 400).await;
        assert_eq!(code, 60200, "{message}");
        assert!(message.contains(&format!("`{param}`")), "{param}: {message}");
    }
    // A body that is not a form, an unknown route and a wrong method: Twilio's envelope.
    let r = app
        .http
        .post(format!("{}{start}", app.base))
        .header("authorization", &tw.auth)
        .header("content-type", "application/json")
        .body(r#"{"To":"+14155550123"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error(r, 400).await.0, 60200);
    assert_eq!(
        error(tw.get(&format!("/v2/Services/{va}/Nope")).await, 404).await.0,
        20404
    );
    assert_eq!(error(tw.delete(&check).await, 405).await.0, 20004);
    // A path segment axum cannot decode: 60200 saying so, not "the body must be a form".
    let (code, message) = error(tw.get("/v2/Services/%FF").await, 400).await;
    assert_eq!(code, 60200);
    assert!(
        message.contains("path segment") && !message.contains("body"),
        "{message}"
    );
}

/// `Locale` picks the language of the catalogue (a Spanish SMS); an unknown one is 60200
/// naming `Locale` and sends nothing; without it the number's country chooses (+81:
/// Japanese), as Twilio does.
#[tokio::test]
async fn locale_is_the_catalogues_or_the_countrys() {
    let app = TestApp::spawn().await;
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let va = tw.service(&[("FriendlyName", "Acme")]).await;
    let (code, message) = error(
        tw.post(
            &format!("/v2/Services/{va}/Verifications"),
            &[("To", TO), ("Channel", "sms"), ("Locale", "xx")],
        )
        .await,
        400,
    )
    .await;
    assert_eq!(code, 60200);
    assert!(message.contains("Locale"), "{message}");
    app.drain().await;
    assert!(app.messages(TO).await.is_empty(), "nothing sent for an unknown locale");
    // (Twilio's Verification resource shows no locale: the texts tell.)
    tw.start(&va, &[("To", TO), ("Channel", "sms"), ("Locale", "es")]).await;
    let japan = "+819012345678";
    tw.start(&va, &[("To", japan), ("Channel", "sms")]).await;
    app.drain().await;
    let spanish = app.messages(TO).await[0]["text"].as_str().unwrap().to_owned();
    let japanese = app.messages(japan).await[0]["text"].as_str().unwrap().to_owned();
    assert!(spanish.starts_with("Tu código de Acme es: "), "{spanish}");
    assert!(japanese.starts_with("Acmeの認証コード："), "{japanese}");

    // The do-not-share warning is in the verification's language too.
    let warned = tw
        .service(&[("FriendlyName", "Acme"), ("DoNotShareWarningEnabled", "true")])
        .await;
    let (mx, jp) = ("+525512345678", "+819012345679");
    tw.start(&warned, &[("To", jp), ("Channel", "sms")]).await;
    tw.start(&warned, &[("To", mx), ("Channel", "sms")]).await;
    tw.start(&warned, &[("To", mx), ("Channel", "sms"), ("Locale", "fr")])
        .await;
    app.drain().await;
    let code = app.last_code(jp).await;
    assert_eq!(
        app.messages(jp).await[0]["text"],
        format!("Acmeの認証コード：{code}。このコードは誰にも教えないでください。当社からお尋ねすることはありません。")
    );
    let texts: Vec<String> = app
        .messages(mx)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Tu código de Acme es: ") && t.ends_with("nunca te lo pediremos.")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Votre code de vérification Acme est : ")
                && t.ends_with("nous ne vous le demanderons jamais.")),
        "{texts:?}"
    );
    app.stop().await;
}

/// A service's verifications by number are the service's own: a newer pending one of
/// another service of the client, or of the native API, to the same number does not hide
/// it (fetch and check by `To`). Another client, with a service of its own, reaches none of
/// them by SID or number. A check naming a SID and another number is 20404. A custom code's
/// approval is no conversion for the SMS-pumping guard.
async fn verifications_are_scoped_by_service_and_client(app: TestApp) {
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let va = tw
        .service(&[("FriendlyName", "Acme"), ("CustomCodeEnabled", "true")])
        .await;
    let vb = tw.service(&[("FriendlyName", "Other")]).await;
    let mine = tw
        .start(&va, &[("To", TO), ("Channel", "sms"), ("CustomCode", "135790")])
        .await;
    let ve = mine["sid"].as_str().unwrap().to_owned();
    app.clock.advance_secs(1);
    let theirs = tw.start(&vb, &[("To", TO), ("Channel", "sms")]).await;
    app.clock.advance_secs(1);
    let r = app
        .post("/v1/verifications", &serde_json::json!({"to": TO, "channel": "sms"}))
        .await;
    assert_eq!(r.status(), 201);
    let by_to = |s: &str| format!("/v2/Services/{s}/Verifications/%2B14155550123");
    let f: Value = tw.get(&by_to(&va)).await.json().await.unwrap();
    assert_eq!(f["sid"], ve.as_str());
    let f: Value = tw.get(&by_to(&vb)).await.json().await.unwrap();
    assert_eq!(f["sid"], theirs["sid"]);

    // Another client with a service of its own: A's SID and number are none of its own.
    let other = app.engine.create_client("Other", vec![]).await.unwrap();
    let o = app.engine.issue_account_key(&other.client.id).await.unwrap();
    let them = Twilio {
        app: &app,
        auth: basic(&o.key.id, &o.secret),
    };
    let vo = them.service(&[("FriendlyName", "Theirs")]).await;
    let their_path = format!("/v2/Services/{vo}/Verifications/{ve}");
    for r in [
        them.get(&their_path).await,
        them.get(&by_to(&vo)).await,
        them.post(&their_path, &[("Status", "approved")]).await,
        them.post(&their_path, &[("Status", "canceled")]).await,
        them.check(&vo, &[("VerificationSid", &ve), ("Code", "135790")]).await,
        them.check(&vo, &[("To", TO), ("Code", "135790")]).await,
    ] {
        assert_eq!(error(r, 404).await.0, 20404);
    }

    // A SID with another number: none (and no guess is spent on it).
    let r = tw
        .check(
            &va,
            &[("VerificationSid", &ve), ("To", "+14155550199"), ("Code", "135790")],
        )
        .await;
    assert_eq!(error(r, 404).await.0, 20404);

    // Checked by number in its service: the custom code approves it, and the number's
    // prefix is not counted as a proven range.
    let r = tw.check(&va, &[("To", TO), ("Code", "135790")]).await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["sid"].as_str(), c["status"].as_str()),
        (Some(ve.as_str()), Some("approved"))
    );
    let client = ClientId::parse(&app.client_id).unwrap();
    let approved_ranges = || async {
        app.engine
            .store()
            .list_counters(Some(&client), "prefix", app.engine.now())
            .await
            .unwrap()
            .iter()
            .filter(|(_, row)| String::from_utf8_lossy(&row.state).contains("approved_at"))
            .count()
    };
    assert_eq!(approved_ranges().await, 0, "a custom code is no conversion");
    // A code ringproof drew is (the control: the counter is where this test looks), in
    // the same range.
    let next = "+14155550124";
    let drawn = tw.start(&vb, &[("To", next), ("Channel", "sms")]).await;
    app.drain().await;
    let code = app.last_code(next).await;
    let r = tw
        .check(
            &vb,
            &[("VerificationSid", drawn["sid"].as_str().unwrap()), ("Code", &code)],
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    assert_eq!(approved_ranges().await, 1);
}

on_both_stores!(
    verifications_are_scoped_by_service_and_client,
    verifications_are_scoped_by_service_and_client
);

/// Failed credentials are throttled as on the native API: five wrong tokens for a SID from
/// one address, then 429 / 20429 with `Retry-After` (the right token not checked), while
/// another address gets in. An unknown API key SID counts as a failure too, and an address
/// spraying many SIDs is refused for the window.
async fn failed_credentials_are_throttled(app: TestApp) {
    let (sid, token) = account(&app).await;
    let from = |ip: &'static str, auth: String| {
        let app = &app;
        async move {
            app.http
                .get(format!("{}/v2/Services", app.base))
                .header("authorization", auth)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
        }
    };
    let (attacker, user, sprayer) = ("203.0.113.66", "198.51.100.7", "203.0.113.88");
    for _ in 0..5 {
        assert_eq!(
            error(from(attacker, basic(&sid, "0".repeat(32).as_str())).await, 401)
                .await
                .0,
            20003
        );
    }
    let r = from(attacker, basic(&sid, &token)).await;
    assert_eq!(r.headers()["retry-after"], "1");
    let (code, message) = error(r, 429).await;
    assert_eq!(code, 20429, "{message}");
    assert_eq!(from(user, basic(&sid, &token)).await.status(), 200);

    // An unknown SK id: failures of its own (pair) row.
    let unknown = format!("SK{}", "0".repeat(32));
    for _ in 0..5 {
        assert_eq!(error(from(user, basic(&unknown, &token)).await, 401).await.0, 20003);
    }
    let r = from(user, basic(&unknown, &token)).await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(error(r, 429).await.0, 20429);

    // Thirty different unknown SIDs from one address: the address waits out the window.
    for i in 0..30 {
        let guess = format!("SK{i:032x}");
        assert_eq!(from(sprayer, basic(&guess, "x")).await.status(), 401, "{guess}");
    }
    let r = from(sprayer, basic(&sid, &token)).await;
    assert_eq!(r.headers()["retry-after"], "900");
    assert_eq!(error(r, 429).await.0, 20429);
}

on_both_stores!(
    failed_credentials_are_throttled,
    failed_credentials_are_throttled,
    crate::helpers::Opts {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..crate::helpers::Opts::default()
    }
);

/// A client has at most 100 services: the next is 60200 saying so; deleting one makes room.
#[tokio::test]
async fn services_are_capped_per_client() {
    let app = TestApp::spawn().await;
    let (sid, token) = account(&app).await;
    let tw = Twilio {
        app: &app,
        auth: basic(&sid, &token),
    };
    let mut first = String::new();
    for i in 0..100 {
        let s = tw.service(&[("FriendlyName", &format!("S{i}"))]).await;
        if i == 0 {
            first = s;
        }
    }
    let (code, message) = error(tw.post("/v2/Services", &[("FriendlyName", "One more")]).await, 400).await;
    assert_eq!(code, 60200);
    assert!(message.contains("at most 100 services"), "{message}");
    assert_eq!(tw.delete(&format!("/v2/Services/{first}")).await.status(), 204);
    tw.service(&[("FriendlyName", "One more")]).await;
    app.stop().await;
}

/// The client's Twilio face, with a service.
async fn with_service(app: &TestApp) -> (Twilio<'_>, String) {
    let (sid, token) = account(app).await;
    let tw = Twilio {
        app,
        auth: basic(&sid, &token),
    };
    let svc = tw.service(&[("FriendlyName", "Acme")]).await;
    (tw, svc)
}

/// Creates a rate limit with one bucket; their SIDs.
async fn rate_limit_with_bucket(tw: &Twilio<'_>, svc: &str, name: &str, max: &str, interval: &str) -> (String, String) {
    let r = tw
        .post(&format!("/v2/Services/{svc}/RateLimits"), &[("UniqueName", name)])
        .await;
    assert_eq!(r.status(), 201);
    let rk = r.json::<Value>().await.unwrap()["sid"].as_str().unwrap().to_owned();
    let r = tw
        .post(
            &format!("/v2/Services/{svc}/RateLimits/{rk}/Buckets"),
            &[("Max", max), ("Interval", interval)],
        )
        .await;
    assert_eq!(r.status(), 201);
    let bl = r.json::<Value>().await.unwrap()["sid"].as_str().unwrap().to_owned();
    (rk, bl)
}

on_both_stores!(rate_limits_and_buckets_crud, rate_limits_and_buckets_crud);
/// Rate limits and buckets: create, fetch, list (Twilio's paging), update, delete, in
/// Twilio's shapes; the service's `rate_limits` link leads to them; their errors (60200,
/// 60207 to 60211, 20404) in Twilio's envelope; another client's service is none.
async fn rate_limits_and_buckets_crud(app: TestApp) {
    let (tw, svc) = with_service(&app).await;
    let base = format!("{}/v2/Services/{svc}", app.base);
    let s: Value = tw.get(&format!("/v2/Services/{svc}")).await.json().await.unwrap();
    assert_eq!(s["links"]["rate_limits"], format!("{base}/RateLimits"));

    let r = tw
        .post(
            &format!("/v2/Services/{svc}/RateLimits"),
            &[("UniqueName", "end_user_ip"), ("Description", "Per end-user IP")],
        )
        .await;
    assert_eq!(r.status(), 201);
    let rl: Value = r.json().await.unwrap();
    let rk = rl["sid"].as_str().unwrap().to_owned();
    assert!(rk.starts_with("RK") && rk.len() == 34, "{rk}");
    assert_eq!(rl["service_sid"], svc.as_str());
    assert_eq!(rl["account_sid"], s["account_sid"]);
    assert_eq!(rl["unique_name"], "end_user_ip");
    assert_eq!(rl["description"], "Per end-user IP");
    assert_eq!(rl["url"], format!("{base}/RateLimits/{rk}"));
    assert_eq!(rl["links"]["buckets"], format!("{base}/RateLimits/{rk}/Buckets"));
    assert!(rl["date_created"].as_str().unwrap().ends_with('Z'));

    // Names: Twilio's 60209 for a malformed one, 60208 for one taken, 60200 for none.
    let path = format!("/v2/Services/{svc}/RateLimits");
    for bad in ["has space", "ip/addr", &"x".repeat(65)] {
        assert_eq!(
            error(tw.post(&path, &[("UniqueName", bad)]).await, 400).await.0,
            60209,
            "{bad}"
        );
    }
    assert_eq!(
        error(tw.post(&path, &[("UniqueName", "end_user_ip")]).await, 400)
            .await
            .0,
        60208
    );
    let (code, msg) = error(tw.post(&path, &[("Description", "x")]).await, 400).await;
    assert_eq!((code, msg.contains("UniqueName")), (60200, true), "{msg}");
    let (code, msg) = error(
        tw.post(&path, &[("UniqueName", "d"), ("Description", &"d".repeat(256))])
            .await,
        400,
    )
    .await;
    assert_eq!((code, msg.contains("Description")), (60200, true), "{msg}");

    // Fetch, list, update (the description only; the name stays), with paging.
    let one = format!("/v2/Services/{svc}/RateLimits/{rk}");
    let f: Value = tw.get(&one).await.json().await.unwrap();
    assert_eq!(f, rl);
    app.clock.advance_secs(1);
    let second = tw.post(&path, &[("UniqueName", "session.id-2")]).await;
    assert_eq!(second.status(), 201);
    let page: Value = tw.get(&format!("{path}?PageSize=1")).await.json().await.unwrap();
    assert_eq!(page["rate_limits"].as_array().unwrap().len(), 1);
    assert_eq!(page["rate_limits"][0]["sid"], rk.as_str());
    assert_eq!(page["meta"]["key"], "rate_limits");
    assert_eq!(
        page["meta"]["next_page_url"],
        format!("{base}/RateLimits?PageSize=1&Page=1")
    );
    let page: Value = tw.get(&format!("{path}?PageSize=1&Page=1")).await.json().await.unwrap();
    assert_eq!(page["rate_limits"][0]["unique_name"], "session.id-2");
    assert!(page["meta"]["next_page_url"].is_null());
    let u: Value = tw
        .post(&one, &[("Description", "Changed"), ("UniqueName", "ignored")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (u["description"].as_str(), u["unique_name"].as_str()),
        (Some("Changed"), Some("end_user_ip"))
    );
    assert_ne!(u["date_updated"], rl["date_updated"]);

    // Buckets.
    let buckets = format!("{one}/Buckets");
    let r = tw.post(&buckets, &[("Max", "5"), ("Interval", "60")]).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    let bl = b["sid"].as_str().unwrap().to_owned();
    assert!(bl.starts_with("BL") && bl.len() == 34);
    assert_eq!(
        (
            &b["rate_limit_sid"],
            &b["service_sid"],
            &b["account_sid"],
            &b["max"],
            &b["interval"]
        ),
        (
            &Value::from(rk.as_str()),
            &Value::from(svc.as_str()),
            &s["account_sid"],
            &Value::from(5),
            &Value::from(60)
        )
    );
    assert_eq!(b["url"], format!("{base}/RateLimits/{rk}/Buckets/{bl}"));
    for (form, code) in [
        (vec![("Max", "5")], 60200),
        (vec![("Interval", "60")], 60200),
        (vec![("Max", "0"), ("Interval", "60")], 60200),
        (vec![("Max", "five"), ("Interval", "60")], 60200),
        (vec![("Max", "5"), ("Interval", "0")], 60200),
        (vec![("Max", "5"), ("Interval", "2592001")], 60200),
        (vec![("Max", "9"), ("Interval", "60")], 60211),
    ] {
        assert_eq!(error(tw.post(&buckets, &form).await, 400).await.0, code, "{form:?}");
    }
    for interval in ["3600", "86400", "600", "10"] {
        assert_eq!(
            tw.post(&buckets, &[("Max", "100"), ("Interval", interval)])
                .await
                .status(),
            201
        );
    }
    assert_eq!(
        error(tw.post(&buckets, &[("Max", "1"), ("Interval", "7")]).await, 400)
            .await
            .0,
        60210
    );
    let list: Value = tw.get(&buckets).await.json().await.unwrap();
    assert_eq!(list["buckets"].as_array().unwrap().len(), 5);
    assert_eq!(list["meta"]["key"], "buckets");
    let bone = format!("{buckets}/{bl}");
    let u: Value = tw.post(&bone, &[("Max", "7")]).await.json().await.unwrap();
    assert_eq!((u["max"].as_u64(), u["interval"].as_u64()), (Some(7), Some(60)));
    assert_eq!(error(tw.post(&bone, &[("Interval", "3600")]).await, 400).await.0, 60211);
    let f: Value = tw.get(&bone).await.json().await.unwrap();
    assert_eq!(f["max"], 7);

    // Unknown and malformed SIDs are 20404; so is everything through another client.
    let other = app.engine.create_client("Other", vec![]).await.unwrap();
    let o = app.engine.issue_account_key(&other.client.id).await.unwrap();
    let them = Twilio {
        app: &app,
        auth: basic(&o.key.id, &o.secret),
    };
    for p in [&one, &bone, &buckets, &path] {
        assert_eq!(error(them.get(p).await, 404).await.0, 20404, "{p}");
    }
    for p in [&one, &bone] {
        assert_eq!(error(them.delete(p).await, 404).await.0, 20404, "{p}");
    }
    assert_eq!(
        error(them.post(&path, &[("UniqueName", "mine")]).await, 404).await.0,
        20404
    );
    assert_eq!(
        error(them.post(&buckets, &[("Max", "1"), ("Interval", "5")]).await, 404)
            .await
            .0,
        20404
    );
    assert_eq!(
        error(them.post(&one, &[("Description", "x")]).await, 404).await.0,
        20404
    );
    assert_eq!(error(them.post(&bone, &[("Max", "1")]).await, 404).await.0, 20404);
    for p in [
        format!("/v2/Services/{svc}/RateLimits/RK{}", "0".repeat(32)),
        format!("/v2/Services/{svc}/RateLimits/nope"),
        format!("{buckets}/BL{}", "0".repeat(32)),
        format!("/v2/Services/{svc}/RateLimits/RK{}/Buckets", "0".repeat(32)),
    ] {
        assert_eq!(error(tw.get(&p).await, 404).await.0, 20404, "{p}");
    }

    // Delete: the bucket, then the rate limit (and its other buckets with it).
    assert_eq!(tw.delete(&bone).await.status(), 204);
    assert_eq!(error(tw.get(&bone).await, 404).await.0, 20404);
    assert_eq!(tw.delete(&one).await.status(), 204);
    assert_eq!(error(tw.get(&one).await, 404).await.0, 20404);
    assert_eq!(error(tw.get(&buckets).await, 404).await.0, 20404);
    let page: Value = tw.get(&path).await.json().await.unwrap();
    assert_eq!(page["rate_limits"].as_array().unwrap().len(), 1);

    // At most 10 rate limits per service: 60207.
    for k in 0..9 {
        let name = format!("limit{k}");
        assert_eq!(tw.post(&path, &[("UniqueName", &name)]).await.status(), 201, "{name}");
    }
    assert_eq!(
        error(tw.post(&path, &[("UniqueName", "eleventh")]).await, 400).await.0,
        60207
    );
}

on_both_stores!(rate_limits_apply_to_starts, rate_limits_apply_to_starts);
/// A bucket of 2 per minute refuses the third start with the same value (429 / 60203,
/// `Retry-After`), sends nothing for it and counts it nowhere (the number's own limit of 5
/// sends still has room for three more); another value is counted apart; the window
/// reopens a minute later (the injected clock). A name the service does not define is
/// 60200; a rate limit not named is not applied; the value is stored nowhere in clear.
async fn rate_limits_apply_to_starts(app: TestApp) {
    // Many codes nobody checks to one range: not what this test is about.
    app.without_pumping_guard().await;
    let (tw, svc) = with_service(&app).await;
    rate_limit_with_bucket(&tw, &svc, "user_id", "2", "60").await;
    let start = |to: &'static str, limits: &'static str| {
        let tw = &tw;
        let svc = &svc;
        async move {
            tw.post(
                &format!("/v2/Services/{svc}/Verifications"),
                &[("To", to), ("Channel", "sms"), ("RateLimits", limits)],
            )
            .await
        }
    };
    let alice = r#"{"user_id": "alice@example.com"}"#;
    for _ in 0..2 {
        assert_eq!(start(TO, alice).await.status(), 201);
    }
    app.drain().await;
    let sent = app.messages(TO).await.len();
    assert_eq!(sent, 2);
    let r = start(TO, alice).await;
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    let (code, msg) = error(r, 429).await;
    assert_eq!(code, 60203);
    assert!(msg.contains("user_id") && !msg.contains("alice"), "{msg}");
    app.drain().await;
    assert_eq!(app.messages(TO).await.len(), sent, "a refused start sends nothing");

    // Another value has a count of its own; and the refusal took none of the number's
    // 5 sends per 10 minutes: three more starts to it go through (the third is its fifth
    // send; had the refused start counted, it would be its sixth, refused).
    let bob = r#"{"user_id": 12345}"#;
    assert_eq!(start(TO, bob).await.status(), 201);
    assert_eq!(start(TO, bob).await.status(), 201);
    assert_eq!(
        start(TO, r#"{}"#).await.status(),
        201,
        "no rate limit named: none applied"
    );
    // Bob's own two are used up, whatever the number.
    let r = start("+14155550153", bob).await;
    assert_eq!(error(r, 429).await.0, 60203);
    let r = start("+14155550150", r#"{"user_id": "carol"}"#).await;
    assert_eq!(r.status(), 201);
    let r = start("+14155550150", r#"{"user_id": "carol"}"#).await;
    assert_eq!(r.status(), 201);

    // A name the service does not define, or a value that is no string or number: 60200.
    for bad in [r#"{"nope": "x"}"#, r#"{"user_id": ["x"]}"#, r#"{"user_id": ""}"#, "[1]"] {
        let (code, msg) = error(start("+14155550151", bad).await, 400).await;
        assert_eq!((code, msg.contains("RateLimits")), (60200, true), "{bad}: {msg}");
    }

    // The counters hold keyed hashes only: one row per value in the one bucket.
    let client = ClientId::parse(&app.client_id).unwrap();
    let rows = || async {
        app.engine
            .store()
            .list_counters(Some(&client), "service_rate", app.engine.now())
            .await
            .unwrap()
    };
    let live = rows().await;
    assert_eq!(live.len(), 3, "alice, bob and carol");
    for (_, row) in live {
        let text = String::from_utf8_lossy(&row.state);
        assert!(!text.contains("alice") && !text.contains("12345"), "{text}");
    }

    // A minute on, alice's window has room again (the clock moves; nothing sleeps).
    app.clock.advance_secs(59);
    assert_eq!(error(start("+14155550152", alice).await, 429).await.0, 60203);
    app.clock.advance_secs(2);
    assert_eq!(start("+14155550152", alice).await.status(), 201);
    // And the rows of the values not seen for a window expire (the purge deletes them).
    assert_eq!(rows().await.len(), 1);
}

on_both_stores!(rate_limits_hold_under_concurrency, rate_limits_hold_under_concurrency);
/// 20 starts at once with one value against a bucket of 5: exactly 5 are admitted.
async fn rate_limits_hold_under_concurrency(app: TestApp) {
    app.without_pumping_guard().await;
    let (tw, svc) = with_service(&app).await;
    rate_limit_with_bucket(&tw, &svc, "session", "5", "3600").await;
    let mut tasks = Vec::new();
    for k in 0..20 {
        let (http, url, auth) = (
            app.http.clone(),
            format!("{}/v2/Services/{svc}/Verifications", app.base),
            tw.auth.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let to = format!("+141555502{k:02}");
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("To", to.as_str()),
                    ("Channel", "sms"),
                    ("RateLimits", r#"{"session": "s-1"}"#),
                ])
                .finish();
            let r = http
                .post(url)
                .header("authorization", auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => admitted += 1,
            429 => assert_eq!(body["code"], 60203, "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(admitted, 5);
}
