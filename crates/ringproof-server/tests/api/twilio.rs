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
    for (form, param) in [
        (vec![("Channel", "sms")], "To"),
        (vec![("To", "4155550123"), ("Channel", "sms")], "To"),
        (vec![("To", TO)], "Channel"),
        (vec![("To", TO), ("Channel", "pigeon")], "Channel"),
        (
            vec![("To", TO), ("Channel", "sms"), ("DeviceIp", "0.000.00.000")],
            "DeviceIp",
        ),
        (vec![("To", TO), ("Channel", "sms"), ("Tags", "[1]")], "Tags"),
        (
            vec![("To", TO), ("Channel", "sms"), ("RiskCheck", "maybe")],
            "RiskCheck",
        ),
        (vec![("To", TO), ("Channel", "sms"), ("Locale", "en US!")], "Locale"),
        (
            vec![("To", TO), ("Channel", "sms"), ("CustomFriendlyName", " ")],
            "CustomFriendlyName",
        ),
    ] {
        let (code, message) = error(tw.post(&start, &form).await, 400).await;
        assert_eq!(code, 60200, "{message}");
        assert!(message.contains(&format!("`{param}`")), "{param}: {message}");
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
    // No number in any message.
    let (_, message) = error(
        tw.get(&format!("/v2/Services/{va}/Verifications/%2B14155550199")).await,
        404,
    )
    .await;
    assert!(!message.contains("4155550199"), "{message}");
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
    assert!(spanish.starts_with("Tu código de Acme"), "{spanish}");
    assert!(
        japanese.contains("Acme") && !japanese.contains("verification code"),
        "{japanese}"
    );
    app.stop().await;
}
