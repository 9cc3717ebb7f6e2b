use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn health_ready_and_request_ids() {
    let app = TestApp::spawn().await;
    let r = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.len() >= 16);
    let r = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    // A sane caller-supplied id is kept.
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn metrics_count_flows() {
    let app = TestApp::spawn().await;
    let id = app.start_sms("+14155550123").await;
    app.drain().await;
    let code = app.last_code("+14155550123").await;
    app.check(&id, &code).await;
    app.start_sms("+14155550124").await;
    let text = app.get_text("/metrics").await;
    for needle in [
        "ringproof_verifications_started_total{channel=\"sms\"}",
        "ringproof_verifications_approved_total{channel=\"sms\"}",
        "ringproof_checks_total{outcome=\"approved\"}",
        "ringproof_jobs{state=\"due\"} 1",
        "ringproof_delivery_latency_seconds_bucket",
        "ringproof_http_request_duration_seconds_bucket{route=\"/v1/verifications/{id}/check\"",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains("+1415"), "no phone number in metrics");
}

/// Every route the server answers is in /openapi.json, and /docs is self-contained.
#[tokio::test]
async fn openapi_is_complete_and_docs_work_offline() {
    let app = TestApp::spawn().await;
    let spec = app.get_json("/openapi.json").await;
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/verifications", "post"),
        ("/v1/verifications/{id}", "get"),
        ("/v1/verifications/{id}/check", "post"),
        ("/v1/verifications/{id}/cancel", "post"),
        ("/v1/verifications/{id}/resend", "post"),
        ("/v1/verifications/{id}/events", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/sandbox/api/messages", "get"),
        ("/sandbox", "get"),
        ("/sandbox/audio/{file}", "get"),
        ("/api/v3/patrons/login", "post"),
        ("/api/v3/patrons/me", "get"),
        ("/api/v3/otp-verification/send-otp", "post"),
        ("/api/v3/otp-verification/verify-otp", "post"),
        ("/api/v3/us-kyc/send-instant-link", "post"),
        (
            "/api/v3/us-kyc/poll-check-verify/request/{requestId}/session/{sessionId}",
            "get",
        ),
        ("/api/v3/us-kyc/instant-link-result", "post"),
        ("/fraud/send-sms", "post"),
        ("/fraud/verify-sms", "post"),
        ("/v2/Services", "post"),
        ("/v2/Services", "get"),
        ("/v2/Services/{Sid}", "get"),
        ("/v2/Services/{Sid}", "post"),
        ("/v2/Services/{Sid}", "delete"),
        ("/v2/Services/{ServiceSid}/Verifications", "post"),
        ("/v2/Services/{ServiceSid}/Verifications/{Sid}", "get"),
        ("/v2/Services/{ServiceSid}/Verifications/{Sid}", "post"),
        ("/v2/Services/{ServiceSid}/VerificationCheck", "post"),
        ("/v2/Services/{ServiceSid}/RateLimits", "post"),
        ("/v2/Services/{ServiceSid}/RateLimits", "get"),
        ("/v2/Services/{ServiceSid}/RateLimits/{Sid}", "get"),
        ("/v2/Services/{ServiceSid}/RateLimits/{Sid}", "post"),
        ("/v2/Services/{ServiceSid}/RateLimits/{Sid}", "delete"),
        ("/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets", "post"),
        ("/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets", "get"),
        (
            "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
            "get",
        ),
        (
            "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
            "post",
        ),
        (
            "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
            "delete",
        ),
        ("/v2/verify", "post"),
        ("/v2/verify/{request_id}", "post"),
        ("/v2/verify/{request_id}", "delete"),
        ("/v2/verify/{request_id}/next_workflow", "post"),
        ("/v2/verify/templates", "get"),
        ("/v2/verify/templates", "post"),
        ("/v2/verify/templates/{template_id}", "get"),
        ("/v2/verify/templates/{template_id}", "patch"),
        ("/v2/verify/templates/{template_id}", "delete"),
        ("/v2/verify/templates/{template_id}/template_fragments", "get"),
        ("/v2/verify/templates/{template_id}/template_fragments", "post"),
        (
            "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
            "get",
        ),
        (
            "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
            "patch",
        ),
        (
            "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
            "delete",
        ),
        ("/l/{token}", "get"),
        ("/l/{token}", "post"),
        ("/l/{token}/done", "post"),
        ("/l/callback", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/v1/silent/{token}", "get"),
        ("/", "get"),
        ("/sandbox/clear", "post"),
        ("/demo", "get"),
        ("/demo", "post"),
        ("/demo/code/{id}", "get"),
        ("/demo/code/{id}", "post"),
        ("/demo/link/{request_id}/{session_id}", "get"),
        ("/demo/link/done", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from /openapi.json"
        );
    }
    // And nothing in the document is a route the server does not answer.
    assert_eq!(paths.len(), 49);
    assert!(spec["components"]["securitySchemes"]["basic"].is_object());
    assert!(spec["components"]["securitySchemes"]["vonage_jwt"].is_object());
    let docs = app.get_text("/docs").await;
    assert!(docs.contains("/openapi.json"));
    for external in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
        assert!(!docs.contains(external), "/docs must not load {external}");
    }
}

/// /docs shows its sections in the order of the document's tags: the native API (the
/// README's walkthrough) first, not in the alphabetical order of the paths (`/api/v3`,
/// `/fraud`, …, `/v1` last). The page renders in the browser, so this runs its script
/// under node (which CI has for the SMPP tests) with the served /openapi.json.
#[tokio::test]
async fn docs_lists_the_native_api_first() {
    let app = TestApp::spawn().await;
    let spec = app.get_json("/openapi.json").await;
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags.first(), Some(&"verifications"), "{tags:?}");
    let page = app.get_text("/docs").await;
    let script = page
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .unwrap();
    // Like the SMPP tests, this fails loudly without node rather than passing unchecked.
    if let Err(e) = std::process::Command::new("node").arg("--version").output() {
        panic!("node is needed to render /docs (and for the SMPP tests) and could not start: {e}");
    }
    let dir = crate::helpers::temp_dir("docs");
    std::fs::write(dir.path().join("spec.json"), spec.to_string()).unwrap();
    let program = format!(
        "const spec = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));\n\
         const root = {{ innerHTML: '' }};\n\
         globalThis.document = {{ getElementById: () => root }};\n\
         globalThis.fetch = async () => ({{ json: async () => spec }});\n\
         {script}\n\
         setTimeout(() => console.log(JSON.stringify([...root.innerHTML.matchAll(/<h2>([^<]*)<\\/h2>/g)].map(m => m[1]))));\n"
    );
    std::fs::write(dir.path().join("render.js"), program).unwrap();
    let out = std::process::Command::new("node")
        .arg(dir.path().join("render.js"))
        .arg(dir.path().join("spec.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sections: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    let expected: Vec<&str> = tags
        .iter()
        .copied()
        .filter(|t| sections.iter().any(|s| s == t))
        .collect();
    assert_eq!(sections, expected, "/docs's sections follow the document's tags");
    assert_eq!(sections.first().map(String::as_str), Some("verifications"));
}

/// The JSON lists newest first (the latest `limit`); the page reads like a phone's
/// conversation, oldest first, the newest at the bottom, each code with a "Copy" button.
#[tokio::test]
async fn sandbox_inbox_lists_newest_first_and_escapes_html() {
    let app = TestApp::spawn().await;
    app.start(json!({"to": "+14155550123", "brand": "<b>Acme</b>"})).await;
    app.drain().await;
    app.clock.advance_secs(1);
    app.start(json!({"to": "+14155550123", "brand": "Second"})).await;
    app.drain().await;
    let msgs = app.messages("+14155550123").await;
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0]["text"].as_str().unwrap().starts_with("Your Second"));
    assert_eq!(msgs[0]["created_at"], "2026-01-01T00:00:01.000Z");
    // An unencoded `+` arrives as a space; the inbox still finds the number.
    let r = app
        .http
        .get(format!("{}/sandbox/api/messages?to=+14155550123", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 2);
    let page = app.get_text("/sandbox").await;
    assert!(page.contains("&lt;b&gt;Acme&lt;/b&gt;"));
    assert!(!page.contains("<b>Acme</b>"));
    for page in [page, app.get_text("/sandbox?to=%2B14155550123").await] {
        let (older, newer) = (
            page.find("Your &lt;b&gt;Acme").unwrap(),
            page.find("Your Second").unwrap(),
        );
        assert!(older < newer, "oldest first: {page}");
        assert_eq!(page.matches("<button type=button class=copy>Copy</button>").count(), 2);
    }
    // With a limit, the latest messages, still oldest first.
    let page = app.get_text("/sandbox?to=%2B14155550123&limit=1").await;
    assert!(page.contains("Your Second") && !page.contains("Acme"), "{page}");
}

/// `/`: what the server is and where things are; in development with the sandbox, where
/// the demo credentials are (never their values) and what each test number triggers.
#[tokio::test]
async fn the_front_page_says_where_things_are_and_shows_no_secret() {
    let app = TestApp::spawn().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    for want in [
        "Development mode, sandbox phone",
        "href=\"/docs\"",
        "href=\"/demo\"",
        "href=\"/sandbox\"",
        "href=\"/metrics\"",
        "demo-credentials.json",
        "<td>+14155550100</td><td>mobile, Sandbox Mobile, active</td>",
        "<td>+14155550110</td><td>the lookup service is unreachable</td>",
    ] {
        assert!(html.contains(want), "{want} missing from /");
    }
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.data_dir.join("demo-credentials.json")).unwrap()).unwrap();
    for secret in ["api_secret", "password"] {
        let value = creds[secret].as_str().unwrap();
        assert!(!html.contains(value), "the demo's {secret} is on the front page");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing loaded from outside"
    );
    // The demo client takes targets on every address the server announces.
    let origins = app.demo().await.allowed_origins;
    assert!(origins.contains(&app.base), "{origins:?}");
    assert!(origins.contains(&"http://localhost:8080".to_owned()));
    app.stop().await;
}

/// The sandbox phone: a page per number, new messages announced as server-sent events,
/// and a clear button that empties it.
#[tokio::test]
async fn the_sandbox_phone_announces_new_messages_and_clears() {
    let app = TestApp::spawn().await;
    let mut events = app
        .http
        .get(format!("{}/sandbox/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    app.start(json!({"to": "+14155550123"})).await;
    app.drain().await;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("data: changed"), "{chunk:?}");

    let page = app.get_text("/sandbox?to=%2B14155550123").await;
    assert!(
        page.contains("<a href=\"/sandbox?to=%2B14155550123\" aria-current=page>+14155550123</a>"),
        "{page}"
    );
    assert!(page.contains("<strong class=code>"), "the code is highlighted: {page}");
    assert!(
        page.contains("<span class=\"status pending\">pending</span>"),
        "the verification's status: {page}"
    );
    let msgs = app.messages("+14155550123").await;
    let id = msgs[0]["verification_id"].as_str().unwrap().to_owned();
    let code = msgs[0]["text"].as_str().unwrap().split(": ").nth(1).unwrap().to_owned();
    app.check(&id, &code).await;
    let page = app.get_text("/sandbox?to=%2B14155550123").await;
    assert!(
        page.contains("<span class=\"status approved\">approved</span>"),
        "{page}"
    );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/sandbox/clear", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/sandbox");
    assert!(app.messages("+14155550123").await.is_empty(), "cleared");
    app.stop().await;
}

/// Two types with one schema name overwrite each other in /openapi.json (utoipa keys its
/// components by name), so a face's response would be documented with another face's
/// shape: every `ToSchema` type under `src/` has its own name. (The Vonage face's 202 was
/// once documented as the native verification this way; schemathesis found it.)
#[test]
fn schema_names_are_unique() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut seen: std::collections::HashMap<String, std::path::PathBuf> = std::collections::HashMap::new();
    let mut count = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut derives_schema = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                derives_schema = line.contains("ToSchema");
            } else if derives_schema
                && let Some(rest) = line.strip_prefix("pub struct ").or(line.strip_prefix("pub enum "))
            {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                count += 1;
                if let Some(other) = seen.insert(name.clone(), f.clone()) {
                    panic!("schema {name} is defined in {} and {}", other.display(), f.display());
                }
                derives_schema = false;
            }
        }
    }
    assert!(count > 30, "only {count} schema types found: is the scan still right?");
}
