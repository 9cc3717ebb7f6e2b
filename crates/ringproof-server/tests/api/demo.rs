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
    post_form_in(url, None, fields).await
}

/// [`post_form`] from a browser that asks for the language `lang`.
async fn post_form_in(url: &str, lang: Option<&str>, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = no_redirects()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(lang) = lang {
        req = req.header("accept-language", lang);
    }
    let r = req.body(body).send().await.unwrap();
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
    assert_eq!(first, "111111", "the scripted first code");
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
    assert_eq!(second, "222222", "the scripted second code");

    // The old code no longer works; the new one does.
    let (_, _, old) = post_form(&url, &[("action", "check"), ("code", &first)]).await;
    assert!(old.contains("That code is not right. 3 tries left."), "{old}");
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
on_both_stores!(
    code_flow,
    the_code_flow_verifies_through_the_public_api,
    Opts {
        codes: Some(std::sync::Arc::new(ringproof_core::code::ScriptedCodeSource::new([
            "111111", "222222"
        ]))),
        ..Opts::default()
    }
);

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
    // Nor another port of the same host (same-site, not same-origin).
    let r = no_redirects()
        .post(&demo)
        .header("origin", "http://127.0.0.1:1")
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

/// A page as a browser asking for `lang` gets it: its body, after checking that it says
/// its language varies with the request's.
async fn get_in(app: &TestApp, path: &str, lang: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["vary"], "accept-language", "{path}");
    r.text().await.unwrap()
}

fn assert_has(page: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(page.contains(w), "{w} in {page}");
    }
}

/// The demo speaks the browser's language: the form and the code page in Arabic (right
/// to left) and in Japanese, with the outcomes of a wrong code and an early resend, the
/// countdown's label and the counts (one and the others); what the API wrote stays as it
/// wrote it, marked English.
#[tokio::test]
async fn the_demo_speaks_arabic_and_japanese() {
    let app = TestApp::spawn().await;
    let demo = format!("{}/demo", app.base);

    let form = get_in(&app, "/demo", "ar-EG,ar;q=0.9,en;q=0.5").await;
    assert!(form.starts_with("<!doctype html><html lang=ar dir=rtl>"), "{form}");
    assert_has(
        &form,
        &[
            "<h1>تحقّق من رقم هاتفك</h1>",
            "<label for=number>رقم الهاتف</label>",
            ">أرسل لي رمزًا برسالة نصية</button>",
            ">أرسل لي رابطًا برسالة نصية</button>",
            "مثل <bdi dir=ltr>+14155550100</bdi>.",
        ],
    );
    assert!(!form.contains("Text me"), "{form}");
    let form = get_in(&app, "/demo", "ja-JP").await;
    assert!(form.starts_with("<!doctype html><html lang=ja>"), "{form}");
    assert_has(
        &form,
        &[
            "<h1>電話番号の確認</h1>",
            "<label for=number>電話番号</label>",
            ">SMS でコードを受け取る</button>",
            ">SMS でリンクを受け取る</button>",
        ],
    );

    // Refused on the form, in Japanese: the demo's own words, and the API's as it wrote them.
    let (status, _, body) = post_form_in(&demo, Some("ja"), &[("number", "+447700900123"), ("via", "link")]).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("それ以外の番号では「SMS でコードを受け取る」を選んでください。"),
        "{body}"
    );
    let (status, _, body) = post_form_in(&demo, Some("ja"), &[("number", "12"), ("via", "code")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("role=alert id=err><span lang=en dir=ltr>"), "{body}");

    // The code page in Arabic.
    let (status, location, _) = post_form_in(&demo, Some("ar"), &[("number", "+14155550142"), ("via", "code")]).await;
    assert_eq!(status, 303);
    let page = location.unwrap();
    let url = format!("{}{page}", app.base);
    let shown = get_in(&app, &page, "ar").await;
    assert!(shown.starts_with("<!doctype html><html lang=ar dir=rtl>"), "{shown}");
    assert_has(
        &shown,
        &[
            "<h1>أدخل الرمز</h1>",
            "أرسلنا إلى <strong><bdi dir=ltr>+14155550142</bdi></strong> رسالة نصية فيها رمز عدد أرقامه 6.",
            "<label for=code>الرمز</label>",
            "عدد المحاولات الخاطئة المسموح بها: 5.",
            ">تحقّق</button>",
            "data-wait=30 data-label=\"أرسل لي رمزًا جديدًا ({seconds} ث)\"",
            ">أرسل لي رمزًا جديدًا</button>",
            "عدد الرسائل المتبقية التي يمكن إرسالها: 4.",
        ],
    );
    let ar = Some("ar");
    let (_, _, wrong) = post_form_in(&url, ar, &[("action", "check"), ("code", "000000")]).await;
    assert!(
        wrong.contains("هذا الرمز غير صحيح. عدد المحاولات المتبقية: 4."),
        "{wrong}"
    );
    for _ in 0..2 {
        post_form_in(&url, ar, &[("action", "check"), ("code", "000000")]).await;
    }
    let (_, _, last) = post_form_in(&url, ar, &[("action", "check"), ("code", "000000")]).await;
    assert_has(
        &last,
        &["هذا الرمز غير صحيح. بقيت لك محاولة واحدة.", "يُسمح بمحاولة خاطئة واحدة."],
    );
    // The last wrong code ends it; the API's status stays as it wrote it.
    let (_, _, ended) = post_form_in(&url, ar, &[("action", "check"), ("code", "000000")]).await;
    assert_has(
        &ended,
        &[
            "<h1>انتهت عملية التحقق هذه</h1>",
            "هذا الرمز غير صحيح، وكانت هذه المحاولة الأخيرة.",
            "حالتها <strong><span lang=en dir=ltr>max_attempts_reached</span></strong>: أُدخلت رموز خاطئة كثيرة.",
        ],
    );

    // Another code page in Japanese.
    let (_, location, _) = post_form_in(&demo, Some("ja"), &[("number", "+14155550143"), ("via", "code")]).await;
    let page = location.unwrap();
    let url = format!("{}{page}", app.base);
    let shown = get_in(&app, &page, "ja,en;q=0.8").await;
    assert!(shown.starts_with("<!doctype html><html lang=ja>"), "{shown}");
    assert_has(
        &shown,
        &[
            "<h1>コードを入力</h1>",
            "<label for=code>コード</label>",
            "誤入力は 5 回まで可能です。",
            ">確認する</button>",
            "data-label=\"新しいコードを受け取る（{seconds} 秒）\"",
            "あと 4 通送信できます。",
        ],
    );
    let ja = Some("ja");
    let (_, _, wrong) = post_form_in(&url, ja, &[("action", "check"), ("code", "000000")]).await;
    assert!(wrong.contains("コードが正しくありません。残り 4 回です。"), "{wrong}");
    let (_, _, early) = post_form_in(&url, ja, &[("action", "resend")]).await;
    assert!(
        early.contains("新しいコードをリクエストするまで 30 秒お待ちください。"),
        "{early}"
    );
    app.drain().await;
    let code = app.last_code("+14155550143").await;
    let (_, _, done) = post_form_in(&url, ja, &[("action", "check"), ("code", &code)]).await;
    assert_has(&done, &["<h1>確認済み</h1>", "最初からやり直す</a>"]);
    app.stop().await;
}
