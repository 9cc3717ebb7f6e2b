//! `/demo`: the end-user demo, through its forms, on the demo client and the public APIs.
//! (The same flows by clicking in Chromium are in `browser.rs`.)

use crate::helpers::{Opts, TestApp, on_both_stores};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts a form; returns the status, the `Location` and the body.
async fn post_form(url: &str, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let r = no_redirects()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    (status, location, r.text().await.unwrap())
}

/// The code flow: the form sends a code, a wrong one counts, a resend inside the cooldown
/// says how long to wait, a resend after it works, and the new code verifies.
async fn the_code_flow_verifies_through_the_public_api(app: TestApp) {
    let form = app.get_text("/demo").await;
    assert!(
        form.contains("Text me a code") && form.contains("Text me a link"),
        "{form}"
    );
    let (status, location, _) = post_form(
        &format!("{}/demo", app.base),
        &[("number", "(415) 555-0142"), ("via", "code")],
    )
    .await;
    assert_eq!(status, 303);
    let page = location.unwrap();
    let id = page.strip_prefix("/demo/code/").unwrap().to_owned();
    // It is a verification of the demo client like any other.
    let v = app
        .get(&format!("/v1/verifications/{id}"))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(v["to"], "+14155550142");
    assert_eq!(v["sends_left"], 4);
    assert!(v["next_resend_at"].is_string());
    app.drain().await;
    let shown = app.get_text(&page).await;
    assert!(
        shown.contains("+14155550142") && shown.contains("maxlength=6"),
        "{shown}"
    );
    assert!(
        shown.contains("data-wait=30"),
        "the cooldown counts down from 30 s: {shown}"
    );
    assert!(shown.contains("/sandbox?to=%2B14155550142"), "{shown}");

    let url = format!("{}{page}", app.base);
    let (_, _, wrong) = post_form(&url, &[("action", "check"), ("code", "000000")]).await;
    let first = app.last_code("+14155550142").await;
    assert_ne!(first, "000000", "the code source never gives 000000 here");
    assert!(wrong.contains("That code is not right. 4 tries left."), "{wrong}");

    let (_, _, early) = post_form(&url, &[("action", "resend")]).await;
    assert!(early.contains("Wait 30 s before asking for a new code."), "{early}");
    app.clock.advance_secs(30);
    let (_, _, resent) = post_form(&url, &[("action", "resend")]).await;
    assert!(resent.contains("We texted you a new code."), "{resent}");
    assert!(resent.contains("data-wait=60"), "the cooldown doubles: {resent}");
    assert!(resent.contains("3 more messages can be sent."), "{resent}");
    app.drain().await;
    let second = app.last_code("+14155550142").await;

    // The old code no longer works; the new one does.
    if first != second {
        let (_, _, old) = post_form(&url, &[("action", "check"), ("code", &first)]).await;
        assert!(old.contains("That code is not right. 3 tries left."), "{old}");
    }
    let (_, _, done) = post_form(&url, &[("action", "check"), ("code", &second)]).await;
    assert!(done.contains("<h1>Verified</h1>"), "{done}");
    assert_eq!(
        app.get(&format!("/v1/verifications/{id}"))
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()["status"],
        "approved"
    );
    app.stop().await;
}
on_both_stores!(code_flow, the_code_flow_verifies_through_the_public_api);

/// The link flow: the form sends a link whose target is the demo's result page; the
/// waiting view refreshes itself until the click, then both show the result.
async fn the_link_flow_lands_on_the_demo_result(app: TestApp) {
    let (status, location, _) = post_form(
        &format!("{}/demo", app.base),
        &[("number", "+14155550100"), ("via", "link")],
    )
    .await;
    assert_eq!(status, 303);
    let waiting = location.unwrap();
    assert!(waiting.starts_with("/demo/link/"), "{waiting}");
    let before = app.get_text(&waiting).await;
    assert!(
        before.contains("id=waiting") && before.contains("Check your phone"),
        "{before}"
    );
    // The poll of the waiting view's script: 204 while waiting.
    let poll = |url: String| reqwest::Client::new().get(url).header("x-demo-poll", "1").send();
    assert_eq!(poll(format!("{}{waiting}", app.base)).await.unwrap().status(), 204);
    app.drain().await;
    let sms = app.messages("+14155550100").await;
    let link = sms[0]["text"].as_str().unwrap().rsplit(' ').next().unwrap().to_owned();
    // The click, as the phone's browser makes it: the link page's POST.
    let r = no_redirects().post(&link).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let target = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        target.starts_with(&format!("{}/demo/link/done?vfp=", app.base)),
        "the click lands on the demo: {target}"
    );
    let result = reqwest::get(&target).await.unwrap().text().await.unwrap();
    for shown in [
        "<h1>Link confirmed</h1>",
        "<dt>linkClicked</dt><dd>yes</dd>",
        "<dt>phoneMatch</dt><dd>indeterminate <span",
        "<dt>ipAddressMatch</dt><dd>yes",
        "<dt>lineType</dt>",
    ] {
        assert!(result.contains(shown), "{shown} in {result}");
    }
    let after = app.get_text(&waiting).await;
    assert!(
        after.contains("<h1>Link confirmed</h1>") && !after.contains("refresh"),
        "{after}"
    );
    app.stop().await;
}
on_both_stores!(link_flow, the_link_flow_lands_on_the_demo_result);

/// What the form refuses, it says, in the form again, with the status the API gave.
#[tokio::test]
async fn refusals_are_explained_on_the_form() {
    let app = TestApp::spawn().await;
    let demo = format!("{}/demo", app.base);
    let (status, _, body) = post_form(&demo, &[("number", "+447700900123"), ("via", "link")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("Links go to US and Canadian numbers only"), "{body}");
    assert!(
        body.contains("value=\"+447700900123\""),
        "the typed number is kept: {body}"
    );
    let (status, _, body) = post_form(&demo, &[("number", "12"), ("via", "code")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("role=alert"), "{body}");
    let (status, _, _) = post_form(&demo, &[("number", "+14155550100")]).await;
    assert_eq!(status, 400);
    // Another site cannot make a visitor's browser send messages.
    let r = no_redirects()
        .post(&demo)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("number=%2B14155550100&via=code")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Ids that are not ids, and a result page without a vfp.
    assert_eq!(app.get("/demo/code/..%2Fx").await.status(), 404);
    assert_eq!(app.get("/demo/code/VEnotours").await.status(), 404);
    assert_eq!(app.get("/demo/link/done").await.status(), 400);
    assert_eq!(app.get("/demo/link/done?vfp=unknown").await.status(), 400);
    app.stop().await;
}

/// Credentials that are not the database's demo client (a data directory mixed up): the
/// demo says so instead of failing obscurely.
#[tokio::test]
async fn wrong_credentials_are_named() {
    let dir = crate::helpers::temp_dir("demo-creds");
    let first = TestApp::spawn_with(Opts::default().in_dir(dir.path())).await;
    first.stop().await;
    let path = dir.path().join("demo-credentials.json");
    let mut creds: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    creds["api_secret"] = "not-the-secret".into();
    std::fs::write(&path, creds.to_string()).unwrap();
    let app = TestApp::spawn_with(Opts::default().in_dir(dir.path())).await;
    let (status, _, body) = post_form(
        &format!("{}/demo", app.base),
        &[("number", "+14155550100"), ("via", "code")],
    )
    .await;
    assert_eq!(status, 502);
    assert!(body.contains("credentials were refused"), "{body}");
    app.stop().await;
}
