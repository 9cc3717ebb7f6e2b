//! The Vonage Verify v2 face (`/v2/verify`): an application's RS256 JWT (signature,
//! application, expiry, replay) and Basic with a Vonage API key; the flow with the code
//! read from the sandbox phone (wrong → 400, right → completed, again → 410), one pending
//! request per number (409), next workflow, cancel, and Vonage's problem bodies. The
//! official Node SDK runs the same flow in `vonage_sdk.rs`.

use reqwest::Response;
use ringproof_core::crypto::base64url;
use ringproof_core::ids::ClientId;
use serde_json::{Value, json};

use crate::helpers::{TestApp, basic, on_both_stores};

pub const APP_ID: &str = "6f1c2b9a-3d4e-4f5a-8b6c-7d8e9f0a1b2c";
pub const PRIVATE_KEY: &str = include_str!("../../../ringproof-core/testdata/rsa_test_1.pem");
pub const PUBLIC_KEY: &str = include_str!("../../../ringproof-core/testdata/rsa_test_1.pub");
const OTHER_PRIVATE_KEY: &str = include_str!("../../../ringproof-core/testdata/rsa_test_2.pem");
/// The sandbox number of these tests, as Vonage writes numbers (no `+`).
const TO: &str = "14155550161";

/// A compact JWS of `claims` signed RS256 with `pem` (`alg` in the header as given).
fn sign(pem: &str, alg: &str, claims: &Value) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer as _};
    let key = rsa::PrivateKey::from_pkcs8_pem(pem).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
    let header = json!({"alg": alg, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    format!("{input}.{}", base64url(&signer.sign(input.as_bytes()).to_vec()))
}

pub async fn register(app: &TestApp) {
    let client = ClientId::parse(&app.client_id).unwrap();
    app.engine
        .register_vonage_application(&client, Some(APP_ID), PUBLIC_KEY)
        .await
        .unwrap();
}

pub struct Vonage<'a> {
    pub app: &'a TestApp,
    /// Fixed credentials (Basic); `None`: a fresh JWT per request, as the SDKs do.
    pub basic: Option<String>,
}

impl Vonage<'_> {
    /// A fresh token of the registered application at the server's time.
    fn jwt(&self) -> String {
        let now = self.app.engine.now().millis() / 1000;
        let jti = ringproof_core::crypto::hex(&ringproof_core::crypto::random_bytes::<16>());
        let claims = json!({"application_id": APP_ID, "iat": now, "exp": now + 900, "jti": jti});
        format!("Bearer {}", sign(PRIVATE_KEY, "RS256", &claims))
    }

    fn auth(&self) -> String {
        self.basic.clone().unwrap_or_else(|| self.jwt())
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>, auth: &str) -> Response {
        let mut r = self
            .app
            .http
            .request(method, format!("{}{path}", self.app.base))
            .header("authorization", auth);
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, Some(body), &self.auth()).await
    }

    pub async fn start(&self, body: &Value) -> String {
        let r = self.post("/v2/verify", body).await;
        let status = r.status();
        let b: Value = r.json().await.unwrap();
        assert_eq!(status, 202, "{b}");
        b["request_id"].as_str().unwrap().to_owned()
    }

    pub async fn check(&self, id: &str, code: &str) -> Response {
        self.post(&format!("/v2/verify/{id}"), &json!({ "code": code })).await
    }

    pub async fn next(&self, id: &str) -> Response {
        self.send(
            reqwest::Method::POST,
            &format!("/v2/verify/{id}/next_workflow"),
            None,
            &self.auth(),
        )
        .await
    }

    pub async fn cancel(&self, id: &str) -> Response {
        self.send(reqwest::Method::DELETE, &format!("/v2/verify/{id}"), None, &self.auth())
            .await
    }
}

fn sms(to: &str) -> Value {
    json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": to}]})
}

/// A Vonage problem: its status, `application/problem+json`, the four members (and
/// `invalid_parameters` on a 422); returns the body.
async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let b: Value = r.json().await.unwrap();
    for m in ["type", "title", "detail", "instance"] {
        assert!(b[m].is_string(), "{m} in {b}");
    }
    assert_eq!(b["instance"], request_id.as_str());
    assert!(
        b["type"].as_str().unwrap().starts_with("https://developer.vonage.com/"),
        "{b}"
    );
    let members = b.as_object().unwrap().len();
    assert_eq!(
        members,
        if status == 422 && b.get("invalid_parameters").is_some() {
            5
        } else {
            4
        },
        "{b}"
    );
    b
}

on_both_stores!(jwt_and_basic_authenticate, jwt_and_basic_authenticate);
async fn jwt_and_basic_authenticate(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    let now = app.engine.now().millis() / 1000;
    let claims = |jti: &str| json!({"application_id": APP_ID, "iat": now, "exp": now + 900, "jti": jti});

    // A good token works once; the same token again is a replay.
    let token = format!("Bearer {}", sign(PRIVATE_KEY, "RS256", &claims("one")));
    let r = v
        .send(reqwest::Method::POST, "/v2/verify", Some(&sms(TO)), &token)
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = v
        .send(reqwest::Method::DELETE, &format!("/v2/verify/{id}"), None, &token)
        .await;
    problem(r, 401).await;

    // Refused: expired, issued ahead, another key, another application, alg none or HS256,
    // no jti, junk, no credentials, the native API's credentials.
    let other_app = "0a0b0c0d-1111-4222-8333-444455556666";
    let none = {
        let body = base64url(claims("n").to_string().as_bytes());
        format!("{}.{body}.", base64url(br#"{"alg":"none","typ":"JWT"}"#))
    };
    for auth in [
        sign(
            PRIVATE_KEY,
            "RS256",
            &json!({"application_id": APP_ID, "iat": now - 2000, "exp": now - 1000, "jti": "a"}),
        ),
        sign(
            PRIVATE_KEY,
            "RS256",
            &json!({"application_id": APP_ID, "iat": now + 600, "exp": now + 900, "jti": "b"}),
        ),
        sign(OTHER_PRIVATE_KEY, "RS256", &claims("c")),
        sign(
            PRIVATE_KEY,
            "RS256",
            &json!({"application_id": other_app, "iat": now, "exp": now + 900, "jti": "d"}),
        ),
        sign(PRIVATE_KEY, "HS256", &claims("e")),
        sign(
            PRIVATE_KEY,
            "RS256",
            &json!({"application_id": APP_ID, "iat": now, "exp": now + 900}),
        ),
        none,
        "junk".into(),
    ] {
        let r = v
            .send(
                reqwest::Method::POST,
                "/v2/verify",
                Some(&sms(TO)),
                &format!("Bearer {auth}"),
            )
            .await;
        assert!(r.headers().contains_key("www-authenticate"));
        problem(r, 401).await;
        // A success resets this address's failures for the application, so the next case
        // is checked rather than throttled (the throttle is auth_throttle.rs's subject).
        let r = v.cancel("VE00000000000000000000000000000000").await;
        problem(r, 404).await;
    }
    let r = app
        .http
        .post(format!("{}/v2/verify", app.base))
        .json(&sms(TO))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    let r = v
        .send(reqwest::Method::POST, "/v2/verify", Some(&sms(TO)), &app.basic_auth())
        .await;
    problem(r, 401).await;

    // Basic with a Vonage API key and secret; a Twilio key is not one.
    let client = ClientId::parse(&app.client_id).unwrap();
    let key = app.engine.issue_vonage_key(&client).await.unwrap();
    let vb = Vonage {
        app: &app,
        basic: Some(basic(&key.key.id, &key.secret)),
    };
    assert_eq!(vb.cancel(&id).await.status(), 204);
    let twilio = app.engine.issue_account_key(&client).await.unwrap();
    let r = v
        .send(
            reqwest::Method::DELETE,
            &format!("/v2/verify/{id}"),
            None,
            &basic(&twilio.key.id, &twilio.secret),
        )
        .await;
    problem(r, 401).await;
    let r = v
        .send(
            reqwest::Method::DELETE,
            &format!("/v2/verify/{id}"),
            None,
            &basic(&key.key.id, "0".repeat(32).as_str()),
        )
        .await;
    problem(r, 401).await;
}

on_both_stores!(the_flow_with_vonage_semantics, the_flow_with_vonage_semantics);
async fn the_flow_with_vonage_semantics(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    let id = v
        .start(&json!({
            "brand": "Acme",
            "workflow": [{"channel": "sms", "to": TO}, {"channel": "voice", "to": TO}],
            "code_length": 6,
            "channel_timeout": 120,
            "client_ref": "ref-1",
            "locale": "en-us",
            "fraud_check": true
        }))
        .await;
    assert!(id.starts_with("VE"));
    // One pending request per number.
    let b = problem(v.post("/v2/verify", &sms(TO)).await, 409).await;
    assert_eq!(b["title"], "Conflict");
    assert!(b["type"].as_str().unwrap().ends_with("#concurrent"));

    app.drain().await;
    let plus = format!("+{TO}");
    let code = app.last_code(&plus).await;
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let b = problem(v.check(&id, wrong).await, 400).await;
    assert_eq!(b["title"], "Invalid Code");
    // A code of another shape is as wrong.
    problem(v.check(&id, "12").await, 400).await;

    // Next workflow: the call now, with the same code; then no workflow is left.
    assert_eq!(v.next(&id).await.status(), 200);
    app.drain().await;
    let msgs = app.messages(&plus).await;
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(app.last_code(&plus).await, code);
    problem(v.next(&id).await, 409).await;
    // Its step's own time comes: nothing more is sent.
    app.clock.advance_secs(121);
    app.drain().await;
    assert_eq!(app.messages(&plus).await.len(), 2);

    let r = v.check(&id, &code).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"request_id": id, "status": "completed"})
    );
    // Over: the check, next workflow and cancel answer 410.
    problem(v.check(&id, &code).await, 410).await;
    problem(v.next(&id).await, 410).await;
    problem(v.cancel(&id).await, 410).await;

    // A new request to the number now that the last is over; canceled, it takes no code.
    let id = v.start(&sms(TO)).await;
    assert_eq!(v.cancel(&id).await.status(), 204);
    app.drain().await;
    let code = app.last_code(&plus).await;
    let b = problem(v.check(&id, &code).await, 410).await;
    assert!(b["detail"].as_str().unwrap().contains("canceled"), "{b}");

    // Unknown ids: 404, whatever their shape.
    for unknown in [
        "VE00000000000000000000000000000000",
        "c11236f4-00bf-4b89-84ba-88b25df97315",
    ] {
        problem(v.check(unknown, "123456").await, 404).await;
        problem(v.cancel(unknown).await, 404).await;
        problem(v.next(unknown).await, 404).await;
    }
}

on_both_stores!(wrong_codes_run_out_with_410, wrong_codes_run_out_with_410);
async fn wrong_codes_run_out_with_410(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    let id = v.start(&sms("14155550162")).await;
    app.drain().await;
    let code = app.last_code("+14155550162").await;
    let wrong = if code.starts_with('9') {
        code.replacen('9', "1", 1)
    } else {
        format!("9{}", &code[1..])
    };
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = v.check(&id, &wrong).await;
        let s = r.status().as_u16();
        statuses.push(s);
        if s == 410 {
            let b = problem(r, 410).await;
            assert!(b["type"].as_str().unwrap().ends_with("#expired"), "{b}");
            break;
        }
    }
    assert!(
        statuses.len() > 1 && statuses[..statuses.len() - 1].iter().all(|s| *s == 400),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&410));
    // The right code cannot rescue it.
    problem(v.check(&id, &code).await, 410).await;
}

on_both_stores!(bad_requests_name_the_parameter, bad_requests_name_the_parameter);
async fn bad_requests_name_the_parameter(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    for (body, name) in [
        (json!({"workflow": [{"channel": "sms", "to": TO}]}), "brand"),
        (json!({"brand": "Acme"}), "workflow"),
        (json!({"brand": "Acme", "workflow": []}), "workflow"),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms"}]}),
            "workflow[0].to",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": "12"}]}),
            "workflow[0].to",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "fax", "to": TO}]}),
            "workflow[0].channel",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "whatsapp", "to": TO}]}),
            "workflow",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "email", "to": TO}]}),
            "workflow",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "channel_timeout": 10}),
            "channel_timeout",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "channel_timeout": 901}),
            "channel_timeout",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "code_length": 3}),
            "code_length",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "code": "12ab"}),
            "code",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "locale": "xx-yy"}),
            "locale",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "fraud_check": "no"}),
            "fraud_check",
        ),
        (
            json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "client_ref": "x".repeat(41)}),
            "client_ref",
        ),
        // No carrier authentication on this server.
        (
            json!({"brand": "Acme", "workflow": [{"channel": "silent_auth", "to": TO}, {"channel": "sms", "to": TO}]}),
            "workflow[0]",
        ),
    ] {
        let b = problem(v.post("/v2/verify", &body).await, 422).await;
        assert_eq!(b["invalid_parameters"][0]["name"], name, "{body} → {b}");
        assert!(!b["detail"].as_str().unwrap().contains(TO), "{b}");
    }
    // Not JSON; a code missing from a check.
    let r = app
        .http
        .post(format!("{}/v2/verify", app.base))
        .header("authorization", v.jwt())
        .header("content-type", "text/plain")
        .body("brand=Acme")
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    let id = v.start(&sms(TO)).await;
    let b = problem(v.post(&format!("/v2/verify/{id}"), &json!({})).await, 422).await;
    assert_eq!(b["invalid_parameters"][0]["name"], "code");
    // A custom code is the one sent.
    assert_eq!(v.cancel(&id).await.status(), 204);
    let id = v
        .start(&json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": TO}], "code": "482913"}))
        .await;
    assert_eq!(v.check(&id, "482913").await.status(), 200);
    // Unknown routes and methods under /v2/verify answer in Vonage's shape.
    problem(
        v.send(reqwest::Method::GET, "/v2/verify/nope/nothing", None, &v.jwt())
            .await,
        404,
    )
    .await;
    problem(v.send(reqwest::Method::PUT, "/v2/verify", None, &v.jwt()).await, 405).await;
}

fn with_carrier_auth() -> crate::helpers::Opts {
    crate::helpers::Opts {
        configure: Some(Box::new(|c| {
            c.netauth.authenticator = ringproof_server::config::NetAuthKind::Header;
            c.netauth.header.trusted_cidrs = vec!["127.0.0.2/32".into()];
        })),
        ..crate::helpers::Opts::default()
    }
}

on_both_stores!(
    silent_auth_first_answers_a_check_url,
    silent_auth_first_answers_a_check_url,
    with_carrier_auth()
);
async fn silent_auth_first_answers_a_check_url(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    let r = v
        .post(
            "/v2/verify",
            &json!({"brand": "Acme", "workflow": [
                {"channel": "silent_auth", "to": "14155550164"},
                {"channel": "sms", "to": "14155550164"}
            ]}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let b: Value = r.json().await.unwrap();
    let id = b["request_id"].as_str().unwrap();
    let check_url = b["check_url"].as_str().unwrap();
    assert!(check_url.contains("/v1/silent/") && check_url.contains(id), "{b}");
    // Nothing is sent while the device may still open it; next_workflow moves on to the
    // SMS at once (the silent step given up), and then nothing is left.
    app.drain().await;
    assert!(app.messages("+14155550164").await.is_empty());
    assert_eq!(v.next(id).await.status(), 200);
    app.drain().await;
    assert_eq!(app.messages("+14155550164").await.len(), 1);
    problem(v.next(id).await, 409).await;
    // Without silent_auth, no check_url.
    let r = v.post("/v2/verify", &sms("14155550165")).await;
    assert_eq!(r.status(), 202);
    assert!(r.json::<Value>().await.unwrap().get("check_url").is_none());
}

// ----- templates and template fragments -----

impl Vonage<'_> {
    pub async fn get(&self, path: &str) -> Response {
        self.send(reqwest::Method::GET, path, None, &self.auth()).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(body), &self.auth()).await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, None, &self.auth()).await
    }

    /// A new template; its body. The clock then moves on, so lists (oldest first) have
    /// an order to check.
    async fn template(&self, name: &str) -> Value {
        let r = self.post("/v2/verify/templates", &json!({ "name": name })).await;
        assert_eq!(r.status(), 200);
        self.app.clock.advance_secs(1);
        r.json().await.unwrap()
    }

    /// A new fragment of `template`; its body.
    async fn fragment(&self, template: &str, channel: &str, locale: &str, text: &str) -> Value {
        let r = self
            .post(
                &format!("/v2/verify/templates/{template}/template_fragments"),
                &json!({"channel": channel, "locale": locale, "text": text}),
            )
            .await;
        let status = r.status();
        let b: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{b}");
        self.app.clock.advance_secs(1);
        b
    }
}

/// `name` of each 422's `invalid_parameters`.
async fn invalid(r: Response) -> String {
    let b = problem(r, 422).await;
    b["invalid_parameters"][0]["name"].as_str().unwrap().to_owned()
}

on_both_stores!(templates_and_fragments_crud, templates_and_fragments_crud);
async fn templates_and_fragments_crud(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    // The first template is the default; the next is not.
    let one = v.template("t-one").await;
    let id = one["template_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    assert_eq!(
        (one["name"].as_str(), one["is_default"].as_bool()),
        (Some("t-one"), Some(true))
    );
    let this = format!(
        "{}/v2/verify/templates/{id}",
        app.engine.public_base_url().trim_end_matches('/')
    );
    assert_eq!(one["_links"]["self"]["href"], this.as_str());
    assert_eq!(
        one["_links"]["fragments"]["href"],
        format!("{this}/template_fragments").as_str()
    );
    let two = v.template("t-two").await;
    let id2 = two["template_id"].as_str().unwrap().to_owned();
    assert_eq!(two["is_default"], false);
    assert_eq!(
        v.get(&format!("/v2/verify/templates/{id}"))
            .await
            .json::<Value>()
            .await
            .unwrap(),
        one
    );

    // A name taken: 409; bad names and bodies: 422 naming `name`.
    let b = problem(v.post("/v2/verify/templates", &json!({"name": "t-one"})).await, 409).await;
    assert_eq!(b["title"], "Conflict");
    for bad in [
        json!({}),
        json!({"name": "a b"}),
        json!({"name": ""}),
        json!({"name": 5}),
    ] {
        assert_eq!(
            invalid(v.post("/v2/verify/templates", &bad).await).await,
            "name",
            "{bad}"
        );
    }
    let r = v.post("/v2/verify/templates", &json!(["t"])).await;
    problem(r, 422).await;

    // Paging: Vonage's page/page_size, `_embedded.templates`, `_links.next` while there is more.
    let page: Value = v.get("/v2/verify/templates?page_size=1").await.json().await.unwrap();
    assert_eq!(
        (
            &page["page"],
            &page["page_size"],
            &page["total_items"],
            &page["total_pages"]
        ),
        (&json!(1), &json!(1), &json!(2), &json!(2))
    );
    assert_eq!(page["_embedded"]["templates"][0]["name"], "t-one");
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .ends_with("page_size=1&page=2")
    );
    assert!(page["_links"].get("prev").is_none());
    let page: Value = v
        .get("/v2/verify/templates?page_size=1&page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["_embedded"]["templates"][0]["name"], "t-two");
    assert!(page["_links"].get("next").is_none() && page["_links"]["prev"].is_object());
    let page: Value = v.get("/v2/verify/templates").await.json().await.unwrap();
    assert_eq!(
        (
            &page["page_size"],
            page["_embedded"]["templates"].as_array().unwrap().len()
        ),
        (&json!(20), 2)
    );
    for q in ["page_size=0", "page_size=101", "page_size=x", "page=0", "page=-1"] {
        let name = invalid(v.get(&format!("/v2/verify/templates?{q}")).await).await;
        assert_eq!(name, q.split('=').next().unwrap(), "{q}");
    }

    // Update: rename; make the second the default (the first stops being it); a name taken.
    let r: Value = v
        .patch(
            &format!("/v2/verify/templates/{id2}"),
            &json!({"name": "t-2", "is_default": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["name"].as_str(), r["is_default"].as_bool()),
        (Some("t-2"), Some(true))
    );
    let r: Value = v.get(&format!("/v2/verify/templates/{id}")).await.json().await.unwrap();
    assert_eq!(r["is_default"], false);
    problem(
        v.patch(&format!("/v2/verify/templates/{id2}"), &json!({"name": "t-one"}))
            .await,
        409,
    )
    .await;
    let name = invalid(
        v.patch(&format!("/v2/verify/templates/{id2}"), &json!({"is_default": "yes"}))
            .await,
    )
    .await;
    assert_eq!(name, "is_default");

    // Fragments: Vonage's placeholders round trip; one per channel and locale.
    let path = format!("/v2/verify/templates/{id}/template_fragments");
    let text = "${brand}: ${code}, valid ${time-limit} ${time-limit-unit}";
    let f = v.fragment(&id, "sms", "en-US", text).await;
    let fid = f["template_fragment_id"].as_str().unwrap().to_owned();
    assert_eq!(
        (f["channel"].as_str(), f["locale"].as_str(), f["text"].as_str()),
        (Some("sms"), Some("en-us"), Some(text))
    );
    assert!(f["date_created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(f["_links"]["template"]["href"], this.as_str());
    assert_eq!(
        f["_links"]["self"]["href"],
        format!("{this}/template_fragments/{fid}").as_str()
    );
    let b = problem(
        v.post(&path, &json!({"channel": "sms", "locale": "en-us", "text": "${code}"}))
            .await,
        409,
    )
    .await;
    assert!(b["detail"].as_str().unwrap().contains("channel and locale"), "{b}");
    v.fragment(&id, "voice", "en-us", "${brand} code ${code}").await;
    for (bad, name) in [
        (
            json!({"channel": "email", "locale": "en-us", "text": "${code}"}),
            "channel",
        ),
        (json!({"locale": "en-us", "text": "${code}"}), "channel"),
        (
            json!({"channel": "sms", "locale": "nl-nl", "text": "${code}"}),
            "locale",
        ),
        (json!({"channel": "sms", "text": "${code}"}), "locale"),
        (json!({"channel": "sms", "locale": "fr-fr", "text": "no code"}), "text"),
        (
            json!({"channel": "sms", "locale": "fr-fr", "text": "${code} ${name}"}),
            "text",
        ),
        (
            json!({"channel": "sms", "locale": "fr-fr", "text": format!("${{code}}{}", "x".repeat(480))}),
            "text",
        ),
        (json!({"channel": "sms", "locale": "fr-fr"}), "text"),
    ] {
        assert_eq!(invalid(v.post(&path, &bad).await).await, name, "{bad}");
    }
    let page: Value = v.get(&format!("{path}?page_size=1")).await.json().await.unwrap();
    assert_eq!((&page["total_items"], &page["total_pages"]), (&json!(2), &json!(2)));
    assert_eq!(
        page["_embedded"]["template_fragments"][0]["template_fragment_id"],
        fid.as_str()
    );
    assert!(page["_links"]["next"].is_object());
    let r: Value = v
        .patch(&format!("{path}/{fid}"), &json!({"text": "Code: ${code}"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["text"].as_str(), r["locale"].as_str()),
        (Some("Code: ${code}"), Some("en-us"))
    );
    assert_eq!(
        invalid(v.patch(&format!("{path}/{fid}"), &json!({"text": "none"})).await).await,
        "text"
    );
    let r: Value = v.get(&format!("{path}/{fid}")).await.json().await.unwrap();
    assert_eq!(r["text"], "Code: ${code}");

    // A template with fragments cannot be deleted; emptied, it can.
    let b = problem(v.delete(&format!("/v2/verify/templates/{id}")).await, 409).await;
    assert!(b["detail"].as_str().unwrap().contains("fragments"), "{b}");
    let page: Value = v.get(&path).await.json().await.unwrap();
    for f in page["_embedded"]["template_fragments"].as_array().unwrap() {
        let fid = f["template_fragment_id"].as_str().unwrap();
        assert_eq!(v.delete(&format!("{path}/{fid}")).await.status(), 204);
    }
    problem(v.delete(&format!("{path}/{fid}")).await, 404).await;
    assert_eq!(v.delete(&format!("/v2/verify/templates/{id}")).await.status(), 204);
    problem(v.get(&format!("/v2/verify/templates/{id}")).await, 404).await;
    problem(v.get(&path).await, 404).await;

    // Unknown ids of any shape: 404.
    for unknown in ["c11236f4-00bf-4b89-84ba-88b25df97315", "nope"] {
        problem(v.get(&format!("/v2/verify/templates/{unknown}")).await, 404).await;
        problem(
            v.patch(&format!("/v2/verify/templates/{unknown}"), &json!({"name": "x"}))
                .await,
            404,
        )
        .await;
        problem(
            v.get(&format!("/v2/verify/templates/{id2}/template_fragments/{unknown}"))
                .await,
            404,
        )
        .await;
        problem(
            v.post(
                &format!("/v2/verify/templates/{unknown}/template_fragments"),
                &json!({"channel": "sms", "locale": "en-us", "text": "${code}"}),
            )
            .await,
            404,
        )
        .await;
    }
}

on_both_stores!(templates_are_the_clients_own, templates_are_the_clients_own);
async fn templates_are_the_clients_own(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    let t = v.template("mine").await;
    let id = t["template_id"].as_str().unwrap().to_owned();
    let f = v.fragment(&id, "sms", "en-us", "Mine ${code}").await;
    let fid = f["template_fragment_id"].as_str().unwrap().to_owned();

    let other = app.engine.create_client("other", vec![]).await.unwrap();
    let key = app.engine.issue_vonage_key(&other.client.id).await.unwrap();
    let o = Vonage {
        app: &app,
        basic: Some(basic(&key.key.id, &key.secret)),
    };
    let page: Value = o.get("/v2/verify/templates").await.json().await.unwrap();
    assert_eq!(
        (
            &page["total_items"],
            page["_embedded"]["templates"].as_array().unwrap().len()
        ),
        (&json!(0), 0)
    );
    let tpath = format!("/v2/verify/templates/{id}");
    let fpath = format!("{tpath}/template_fragments/{fid}");
    problem(o.get(&tpath).await, 404).await;
    problem(o.patch(&tpath, &json!({"is_default": true})).await, 404).await;
    problem(o.delete(&tpath).await, 404).await;
    problem(o.get(&format!("{tpath}/template_fragments")).await, 404).await;
    problem(
        o.post(
            &format!("{tpath}/template_fragments"),
            &json!({"channel": "sms", "locale": "de-de", "text": "${code}"}),
        )
        .await,
        404,
    )
    .await;
    problem(o.get(&fpath).await, 404).await;
    problem(o.patch(&fpath, &json!({"text": "Theirs ${code}"})).await, 404).await;
    problem(o.delete(&fpath).await, 404).await;
    // The other client may use the same name; its start cannot name this template.
    o.template("mine").await;
    let body = json!({"brand": "Acme", "workflow": [{"channel": "sms", "to": "14155550179"}], "template_id": id});
    assert_eq!(invalid(o.post("/v2/verify", &body).await).await, "template_id");
    // Nothing changed for the owner.
    let r: Value = v.get(&fpath).await.json().await.unwrap();
    assert_eq!(r["text"], "Mine ${code}");
}

on_both_stores!(
    starts_take_their_texts_from_templates,
    starts_take_their_texts_from_templates
);
async fn starts_take_their_texts_from_templates(app: TestApp) {
    register(&app).await;
    let v = Vonage { app: &app, basic: None };
    // The default template (the first): English SMS and call, Spanish (Spain) SMS.
    let default = v.template("default").await["template_id"].as_str().unwrap().to_owned();
    v.fragment(
        &default,
        "sms",
        "en-us",
        "Code ${code} for ${brand}, valid ${time-limit} ${time-limit-unit}",
    )
    .await;
    v.fragment(&default, "sms", "es-es", "Tu ${code}").await;
    v.fragment(&default, "voice", "en-us", "${brand} says ${code}").await;
    // Another template: German SMS only.
    let german = v.template("german").await["template_id"].as_str().unwrap().to_owned();
    v.fragment(&german, "sms", "de-de", "DE ${code} ${brand}").await;

    let start = |to: &'static str, channel: &'static str, locale: &'static str, template: Option<&str>| {
        let mut b = json!({"brand": "Acme", "workflow": [{"channel": channel, "to": to}], "locale": locale, "channel_timeout": 300});
        if let Some(t) = template {
            b["template_id"] = json!(t);
        }
        b
    };
    let text = |to: &'static str| {
        let app = &app;
        async move {
            app.drain().await;
            let msgs = app.messages(&format!("+{to}")).await;
            msgs[0]["text"].as_str().unwrap().to_owned()
        }
    };
    let six_digits = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());

    // The named template's fragment, the code filled in.
    v.start(&start("14155550171", "sms", "de-de", Some(&german))).await;
    let t = text("14155550171").await;
    let code = t.strip_prefix("DE ").unwrap().strip_suffix(" Acme").unwrap();
    assert!(six_digits(code), "{t}");
    // The named template has no English: the default template's, the time limit filled in.
    v.start(&start("14155550172", "sms", "en-us", Some(&german))).await;
    let t = text("14155550172").await;
    let code = t
        .strip_prefix("Code ")
        .unwrap()
        .strip_suffix(" for Acme, valid 5 minutes")
        .unwrap();
    assert!(six_digits(code), "{t}");
    // No template_id: the default's; a Mexican Spanish request gets the Spanish (Spain) text.
    v.start(&start("14155550173", "sms", "es-mx", None)).await;
    let t = text("14155550173").await;
    assert!(six_digits(t.strip_prefix("Tu ").unwrap()), "{t}");
    // No fragment of the language anywhere: ringproof's own French text.
    v.start(&start("14155550174", "sms", "fr-fr", Some(&german))).await;
    let t = text("14155550174").await;
    assert!(t.starts_with("Votre code de vérification Acme est : "), "{t}");
    // A call: the voice fragment, the code digit by digit.
    v.start(&start("14155550175", "voice", "en-us", None)).await;
    let t = text("14155550175").await;
    let digits = t.strip_prefix("Acme says ").unwrap();
    assert_eq!(digits.split(", ").count(), 6, "{t}");
    // A template_id that is no template of the client: 422 naming it.
    for bad in ["c11236f4-00bf-4b89-84ba-88b25df97315", "nope"] {
        let name = invalid(
            v.post("/v2/verify", &start("14155550176", "sms", "en-us", Some(bad)))
                .await,
        )
        .await;
        assert_eq!(name, "template_id");
    }
    assert!(app.messages("+14155550176").await.is_empty());
}
