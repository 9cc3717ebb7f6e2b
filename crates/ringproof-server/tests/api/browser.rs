//! Pages in a real browser: headless Chromium (Debian's `chromium`) driven by
//! `playwright-core`, with axe-core, from `tests/browser` (installed by `.ci/run`). Every
//! page for people must fit a 320 px phone screen without scrolling sideways and have no
//! serious or critical accessibility violation.

use serde_json::Value;

use crate::helpers::{TestApp, on_both_stores};

/// The browser project, when it can run here. Under CI it must; elsewhere a missing piece
/// is said loudly and the test does nothing.
pub fn project() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing: Vec<&str> = [
        (!dir.join("node_modules/playwright-core").exists())
            .then_some("npm ci in crates/ringproof-server/tests/browser"),
        (!dir.join("node_modules/@axe-core/playwright").exists()).then_some("@axe-core/playwright (npm ci)"),
        (!std::path::Path::new(&chromium).exists()).then_some("Debian's chromium package"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    let msg = format!("browser test NOT RUN: missing {}", missing.join(", "));
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("{msg}");
    None
}

/// Opens `url` (or, for `-`, the page `html`) at 320 and 1280 px without script; returns
/// what `page_check.mjs` found. Screenshots at 360 and 1280 px go to `tests/browser/artifacts/`.
async fn check_page(dir: &std::path::Path, url: &str, html: Option<String>) -> Value {
    check_page_in(dir, url, html, None).await
}

/// [`check_page`] by a browser that asks for the language `lang` (`Accept-Language`).
async fn check_page_in(dir: &std::path::Path, url: &str, html: Option<String>, lang: Option<&str>) -> Value {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new("node");
    // Every page checked is also saved at 360 and 1280 px, as a test artifact.
    cmd.current_dir(dir)
        .arg("page_check.mjs")
        .arg(url)
        .arg("--screenshots")
        .arg(dir.join("artifacts"));
    if let Some(lang) = lang {
        cmd.arg("--lang").arg(lang);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(html.unwrap_or_default().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

async fn check(dir: &std::path::Path, url: &str) -> Value {
    check_page(dir, url, None).await
}

/// A page only a POST shows, by its HTML.
async fn check_posted(dir: &std::path::Path, what: &str, r: reqwest::Response) {
    let html = r.text().await.unwrap();
    assert_good(what, &check_page(dir, "-", Some(html)).await, 200);
}

/// Fits both widths, and axe finds nothing serious or critical.
fn assert_good(url: &str, v: &Value, status: u64) {
    assert_eq!(v["status"], status, "{url}");
    for w in [320, 1280] {
        let scroll = v["widths"][w.to_string()].as_u64().unwrap();
        assert!(scroll <= w, "{url} is {scroll} px wide at {w} px: it scrolls sideways");
    }
    let bad: Vec<&Value> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| matches!(x["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(bad.is_empty(), "{url}: accessibility violations {bad:?}");
}

/// The front page, and the link pages a phone can see: the confirm page, a used link, an
/// expired one, one that is not valid.
async fn pages_fit_a_phone_and_pass_axe(app: TestApp) {
    let Some(dir) = project() else { return };
    let home = format!("{}/", app.base);
    assert_good(&home, &check(&dir, &home).await, 200);

    let (_, link) = crate::network_auth::send_link(&app, "+14155550100").await;
    assert_good(&link, &check(&dir, &link).await, 200);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(&link)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // A used link: its POST again is the page a second tap shows.
    let used = reqwest::Client::new().post(&link).send().await.unwrap();
    assert_eq!(used.status(), 410);
    check_posted(&dir, "the used-link page", used).await;
    let (_, old) = crate::network_auth::send_link(&app, "+14155550100").await;
    app.clock.advance_secs(301);
    let expired = reqwest::Client::new().post(&old).send().await.unwrap();
    assert_eq!(expired.status(), 410);
    check_posted(&dir, "the expired-link page", expired).await;
    // The sandbox phone (it holds the links' SMS by now).
    let sandbox = format!("{}/sandbox", app.base);
    assert_good(&sandbox, &check(&dir, &sandbox).await, 200);
    // A malformed token: the "not valid" page.
    let malformed = format!("{}/l/x", app.base);
    assert_good(&malformed, &check(&dir, &malformed).await, 404);
    app.stop().await;
}
on_both_stores!(pages, pages_fit_a_phone_and_pass_axe);

/// The link pages in the person's language, as Chromium asks for it: the confirm page in
/// Arabic (right to left) and Japanese, a used link's and an expired link's pages, each at
/// 320 px without sideways scrolling and with no serious or critical axe violation, with
/// the client's brand colour as the accent (axe checks the button's contrast on the
/// Japanese pages; Arabic text it leaves undecided, which is why the colour's contrast is
/// also a rule when it is set: `BrandColor::parse`).
#[tokio::test]
async fn link_pages_in_arabic_and_japanese_fit_a_phone_and_pass_axe() {
    let Some(dir) = project() else { return };
    let app = TestApp::spawn().await;
    app.update_client(ringproof_core::engine::ClientChange {
        brand_color: Some(Some("#0a7d5a".into())),
        ..Default::default()
    })
    .await;
    let in_lang = |v: &Value, lang: &str, dir: &str, what: &str| {
        assert_eq!(
            (v["lang"].as_str(), v["dir"].as_str()),
            (Some(lang), Some(dir)),
            "{what}: {v}"
        );
    };
    let (_, link) = crate::network_auth::send_link(&app, "+14155550100").await;
    let v = check_page_in(&dir, &link, None, Some("ar-EG")).await;
    assert_good("the confirm page in Arabic", &v, 200);
    in_lang(&v, "ar", "rtl", "the confirm page in Arabic");
    let v = check_page_in(&dir, &link, None, Some("ja-JP")).await;
    assert_good("the confirm page in Japanese", &v, 200);
    in_lang(&v, "ja", "", "the confirm page in Japanese");

    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(&link)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // A used link: GET shows its page too.
    for (lang, tag, direction) in [("ja", "ja", ""), ("ar", "ar", "rtl")] {
        let v = check_page_in(&dir, &link, None, Some(lang)).await;
        assert_good(&format!("the used-link page in {lang}"), &v, 410);
        in_lang(&v, tag, direction, "the used-link page");
    }
    let (_, old) = crate::network_auth::send_link(&app, "+14155550100").await;
    app.clock.advance_secs(301);
    for (lang, tag, direction) in [("ar", "ar", "rtl"), ("ja", "ja", "")] {
        let v = check_page_in(&dir, &old, None, Some(lang)).await;
        assert_good(&format!("the expired-link page in {lang}"), &v, 410);
        in_lang(&v, tag, direction, "the expired-link page");
    }
    app.stop().await;
}

/// The sandbox phone in Chromium reads like a phone: oldest first, and a new SMS shows up
/// by itself (server-sent events, no reload) at the bottom, where the page follows it;
/// its code is highlighted and its "Copy" button copies it and says "Copied".
#[tokio::test]
async fn the_sandbox_phone_shows_new_messages_live() {
    use tokio::io::AsyncBufReadExt;
    let Some(dir) = project() else { return };
    let app = TestApp::spawn().await;
    // Enough earlier messages that the page scrolls on a phone.
    let earlier: Vec<String> = (0..6).map(|i| format!("+1415555013{i}")).collect();
    for to in &earlier {
        app.clock.advance_secs(1);
        app.start_sms(to).await;
    }
    app.drain().await;
    let mut child = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("live_inbox.mjs")
        .arg(format!("{}/sandbox", app.base))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the page opens in 30 s")
        .unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));
    app.clock.advance_secs(1);
    app.start_sms("+14155550139").await;
    app.drain().await;
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the page shows it in 30 s")
        .unwrap()
        .unwrap_or_default();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{result}");
    let v: Value = serde_json::from_str(&result).unwrap();
    assert_eq!((v["before"].as_u64(), v["after"].as_u64()), (Some(6), Some(7)), "{v}");
    // Top to bottom: the earlier messages in the order they were sent, the new one last.
    let mut want: Vec<String> = Vec::new();
    for to in earlier.iter().map(String::as_str).chain(["+14155550139"]) {
        let text = app.messages(to).await[0]["text"].as_str().unwrap().to_owned();
        let code = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|d| (4..=10).contains(&d.len()))
            .unwrap_or_else(|| panic!("a code in {text}"))
            .to_owned();
        want.push(code);
    }
    let codes: Vec<&str> = v["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes, want, "oldest first, the new message at the bottom");
    assert_eq!(v["atBottom"], true, "the page follows the conversation down: {v}");
    assert_eq!(
        v["copied"].as_str(),
        Some(want[6].as_str()),
        "Copy copies the newest code"
    );
    assert_eq!(v["button"], "Copied");
    app.stop().await;
}

/// Both demo flows by clicking in Chromium, on a server whose worker delivers as a real
/// one does: a code read in the sandbox phone and typed into the demo verifies (while the
/// resend button counts its cooldown down); a link
/// tapped in the sandbox phone confirms and lands on the demo's result page, and the
/// waiting view turns into the result by itself. Screenshots of every page at 360 and
/// 1280 px are left in `tests/browser/artifacts/` (the README's come from there).
#[tokio::test]
async fn both_demo_flows_work_by_clicking() {
    use crate::helpers::Opts;
    let Some(dir) = project() else { return };
    let app = TestApp::spawn_with(Opts {
        worker: true,
        worker_poll_interval_ms: Some(50),
        ..Opts::default()
    })
    .await;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new("node")
            .current_dir(&dir)
            .arg("demo_flows.mjs")
            .arg(&app.base)
            .arg(dir.join("artifacts"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the flows end in 120 s")
    .expect("node runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    assert_eq!(v["code"], "Verified");
    // The page's script counts the resend cooldown down in the button, from its data-label.
    let label = v["countdown"]["label"].as_str().unwrap_or_default();
    assert!(
        label.starts_with("Text me a new code (")
            && label.ends_with(" s)")
            && label != "Text me a new code ({seconds} s)",
        "{v}"
    );
    assert_eq!(v["countdown"]["disabled"], true, "{v}");
    let ja = v["countdown"]["ja"].as_str().unwrap_or_default();
    assert!(
        ja.starts_with("新しいコードを受け取る（") && ja.ends_with(" 秒）") && !ja.contains("{seconds}"),
        "{v}"
    );
    assert_eq!(v["link"], "Link confirmed");
    assert_eq!(v["waiting"], "Link confirmed");
    assert_eq!(v["shots"].as_array().unwrap().len(), 14);
    // What the browser did, the API confirms: one approved code verification.
    let sent = app.messages("+14155550100").await;
    assert_eq!(sent.len(), 2, "one code SMS and one link SMS: {sent:?}");
    app.stop().await;
}

/// The demo's pages fit a phone and pass axe: the form, a code page, a waiting view and
/// a result (no script: the form as served, the pending states as they first look); the
/// form and a code page also in Arabic (right to left) and Japanese, as Chromium asks for
/// them.
#[tokio::test]
async fn demo_pages_fit_a_phone_and_pass_axe() {
    let Some(dir) = project() else { return };
    let app = TestApp::spawn().await;
    let form = format!("{}/demo", app.base);
    assert_good(&form, &check(&dir, &form).await, 200);
    let post = |via: &'static str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/demo", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("number=%2B14155550100&via={via}"))
            .send()
    };
    let mut pages = Vec::new();
    for via in ["code", "link"] {
        let r = post(via).await.unwrap();
        let page = format!("{}{}", app.base, r.headers()["location"].to_str().unwrap());
        assert_good(&page, &check(&dir, &page).await, 200);
        pages.push(page);
    }
    let refused = reqwest::Client::new()
        .post(format!("{}/demo", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("number=%2B447700900123&via=link")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert_good("the refused form", &check_page(&dir, "-", Some(html)).await, 200);

    let code = &pages[0];
    for (lang, tag, direction) in [("ar-EG", "ar", "rtl"), ("ja-JP", "ja", "")] {
        for (what, url) in [("the form", &form), ("a code page", code)] {
            let v = check_page_in(&dir, url, None, Some(lang)).await;
            assert_good(&format!("{what} in {lang}"), &v, 200);
            assert_eq!(
                (v["lang"].as_str(), v["dir"].as_str()),
                (Some(tag), Some(direction)),
                "{what} in {lang}: {v}"
            );
        }
    }
    app.stop().await;
}
