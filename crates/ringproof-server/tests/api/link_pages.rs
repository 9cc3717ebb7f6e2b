//! The one-time link pages through HTTP: `GET /l/{token}` renders a confirm form and
//! consumes nothing; `POST /l/{token}` is the click (303 to the target with `vfp`), once.

use ringproof_core::engine::link::{LinkStarted, LinkView};
use ringproof_core::link_session::{LinkOutcome, PhoneMatch};

use ringproof_core::engine::ClientChange;

use crate::helpers::{Opts, TestApp, on_both_stores, pg_database};

const MOBILE: &str = "+14155550100";
const TARGET: &str = "http://localhost:8080/done?x=1";

/// A client that never follows redirects, so the 303 itself can be checked.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts a link with this `sourceIp` and returns it with the link URL from the SMS.
async fn send_link(app: &TestApp, source_ip: &str) -> (LinkStarted, String) {
    crate::helpers::send_link(app, MOBILE, TARGET, Some(source_ip)).await
}

async fn outcome(app: &TestApp, s: &LinkStarted) -> LinkView {
    app.engine
        .link_result(&app.demo().await.id, &s.request_id, &s.session_id)
        .await
        .unwrap()
}

/// Sends a link that the client started from 203.0.113.7, clicks it with
/// `X-Forwarded-For: forwarded` (asserting the redirect) and returns what the client then sees.
async fn click_forwarded(app: &TestApp, forwarded: &str) -> LinkView {
    let (started, url) = send_link(app, "203.0.113.7").await;
    let r = browser()
        .post(&url)
        .header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    outcome(app, &started).await
}

fn assert_private(r: &reqwest::Response) {
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store");
    if h.contains_key("content-type") && h["content-type"].to_str().unwrap().starts_with("text/html") {
        assert_eq!(h["vary"], "accept-language", "a page is in the request's language");
    }
    if r.status() != 200 {
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("form-action 'none'"), "a page without a form: {csp}");
    }
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["x-robots-tag"].to_str().unwrap().contains("noindex"));
}

async fn page(r: reqwest::Response, status: u16, heading: &str) {
    assert_eq!(r.status(), status);
    assert_private(&r);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains(&format!("<h1>{heading}</h1>")), "{body}");
    assert!(!body.contains("<form"), "an error page redirects nowhere: {body}");
}

async fn link_flow(app: TestApp) {
    let http = browser();
    let (started, url) = send_link(&app, "127.0.0.1").await;
    let token = url
        .strip_prefix(&format!("{}/l/", app.base))
        .expect("the link is under the bound address (public_base_url unset)")
        .to_owned();

    // A preview bot (or the phone) GETs the link: a page with a form, nothing consumed.
    for _ in 0..2 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_private(&r);
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(
            csp.contains("form-action 'self' http://localhost:8080;"),
            "the form may lead to the target's origin only: {csp}"
        );
        let body = r.text().await.unwrap();
        assert!(body.contains("<h1>Verifying that this phone is yours…</h1>"), "{body}");
        let brand = app.demo().await.brand;
        assert!(
            body.contains(&format!("<p class=brand dir=auto>{brand}</p>")),
            "the client's brand: {body}"
        );
        assert!(body.starts_with("<!doctype html><html lang=en>"), "English by default");
        assert!(
            body.contains(&format!("<form id=confirm method=post action=\"/l/{token}\">")),
            "{body}"
        );
        assert!(body.contains(">Continue</button>") && body.contains("<noscript>") && body.contains(".submit()"));
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "no external resource: {body}"
        );
        assert_eq!(outcome(&app, &started).await.outcome, LinkOutcome::Waiting);
    }

    // The POST is the click: 303 to the target, its query kept, `vfp` added.
    app.clock.advance_secs(10);
    let r = http
        .post(&url)
        .header("user-agent", "Mozilla/5.0 (Phone)")
        .header("x-forwarded-for", "198.51.100.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_private(&r);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let vfp = location
        .strip_prefix("http://localhost:8080/done?x=1&vfp=")
        .unwrap_or_else(|| panic!("{location}"));
    assert_eq!(vfp.len(), 22);
    let view = outcome(&app, &started).await;
    assert_eq!(
        view.outcome,
        LinkOutcome::Final {
            link_clicked: true,
            phone_match: PhoneMatch::Indeterminate,
            ip_match: true,
        },
        "the socket IP (127.0.0.1) is the click IP; X-Forwarded-For from an untrusted peer is ignored"
    );
    let click = view.record.session.click.unwrap();
    assert_eq!(click.ip, "127.0.0.1".parse::<std::net::IpAddr>().unwrap());
    assert_eq!(click.user_agent, "Mozilla/5.0 (Phone)");

    // A second click is refused with a page that goes nowhere.
    page(http.post(&url).send().await.unwrap(), 410, "This link was already used").await;
    // GET shows the same page (it reads the link; it never consumes it).
    page(http.get(&url).send().await.unwrap(), 410, "This link was already used").await;

    // Junk and unknown tokens.
    for junk in ["nope", "AAAAAAAAAAAAAAAAAAAAA%3C", "%3Cscript%3E"] {
        page(
            http.get(format!("{}/l/{junk}", app.base)).send().await.unwrap(),
            404,
            "This link is not valid",
        )
        .await;
        page(
            http.post(format!("{}/l/{junk}", app.base)).send().await.unwrap(),
            404,
            "This link is not valid",
        )
        .await;
    }
    page(
        http.post(format!("{}/l/AAAAAAAAAAAAAAAAAAAAAA", app.base))
            .send()
            .await
            .unwrap(),
        404,
        "This link is not valid",
    )
    .await;
    page(
        http.get(format!("{}/l/AAAAAAAAAAAAAAAAAAAAAA", app.base))
            .send()
            .await
            .unwrap(),
        404,
        "This link is not valid",
    )
    .await;
    app.stop().await;
}

on_both_stores!(a_link_page_confirms_once_by_post_and_redirects_with_a_vfp, link_flow);

#[tokio::test]
async fn an_expired_link_shows_the_expired_page() {
    let app = TestApp::spawn().await;
    let (started, url) = send_link(&app, "203.0.113.7").await;
    app.clock.advance_secs(300);
    page(browser().get(&url).send().await.unwrap(), 410, "This link has expired").await;
    page(browser().post(&url).send().await.unwrap(), 410, "This link has expired").await;
    assert_eq!(
        outcome(&app, &started).await.outcome,
        LinkOutcome::Final {
            link_clicked: false,
            phone_match: PhoneMatch::False,
            ip_match: false
        }
    );
    app.stop().await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let app = TestApp::spawn_with(Opts {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Opts::default()
    })
    .await;
    // The peer (127.0.0.1) is trusted: the right-most untrusted entry is the client; the
    // left part, which the client itself may have forged, is ignored.
    let view = click_forwarded(&app, "198.51.100.9, 203.0.113.7, 127.0.0.1").await;
    assert_eq!(
        view.record.session.click.unwrap().ip,
        "203.0.113.7".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(
        view.outcome,
        LinkOutcome::Final {
            link_clicked: true,
            phone_match: PhoneMatch::Indeterminate,
            ip_match: true
        }
    );
    app.stop().await;

    // The same header from an untrusted peer: the socket IP, so no match.
    let app = TestApp::spawn().await;
    let view = click_forwarded(&app, "203.0.113.7").await;
    assert_eq!(
        view.record.session.click.unwrap().ip,
        "127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );
    assert!(matches!(view.outcome, LinkOutcome::Final { ip_match: false, .. }));
    app.stop().await;
}

#[tokio::test]
async fn link_pages_are_in_the_openapi_document() {
    let app = TestApp::spawn().await;
    let spec = app.get_json("/openapi.json").await;
    let p = &spec["paths"]["/l/{token}"];
    assert!(p["get"]["responses"]["200"]["content"]["text/html"].is_object(), "{p}");
    assert!(p["post"]["responses"]["303"].is_object(), "{p}");
    assert!(p["post"]["responses"]["410"].is_object(), "{p}");
    app.stop().await;
}

/// A GET of `url` with `Accept-Language: lang`: status, headers and body.
async fn get_in(url: &str, lang: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = browser().get(url).header("accept-language", lang).send().await.unwrap();
    assert_private(&r);
    (r.status().as_u16(), r.headers().clone(), r.text().await.unwrap())
}

/// The link pages speak the person's language (`Accept-Language`, English when none of it
/// is in the catalogue), right to left in Arabic, and say in it what happened and what to
/// do next; the client's brand and colour are on the confirm page and on the pages of its
/// used or expired links.
#[tokio::test]
async fn link_pages_speak_the_persons_language_with_the_clients_brand() {
    let app = TestApp::spawn().await;
    app.update_client(ClientChange {
        brand: Some("Acme Bank".into()),
        brand_color: Some(Some("#0a7d5a".into())),
        ..Default::default()
    })
    .await;
    let (_, url) = send_link(&app, "203.0.113.7").await;

    let (status, headers, body) = get_in(&url, "ar-EG,ar;q=0.9,en;q=0.5").await;
    assert_eq!(status, 200);
    assert_eq!(headers["vary"], "accept-language");
    assert!(body.starts_with("<!doctype html><html lang=ar dir=rtl>"), "{body}");
    assert!(body.contains("<h1>جارٍ التحقق من أن هذا الهاتف لك…</h1>"), "{body}");
    assert!(body.contains(">متابعة</button>"), "the button in Arabic: {body}");
    assert!(body.contains("<p class=brand dir=auto>Acme Bank</p>"), "{body}");
    assert!(body.contains(":root{--accent:#0a7d5a}"), "the client's colour: {body}");

    let (_, _, body) = get_in(&url, "ja").await;
    assert!(body.starts_with("<!doctype html><html lang=ja>"), "{body}");
    assert!(
        body.contains("<h1>この電話があなたのものか確認しています…</h1>"),
        "{body}"
    );
    let (_, _, body) = get_in(&url, "nl-NL, sv;q=0.8").await;
    assert!(body.contains("<html lang=en>") && body.contains("<h1>Verifying that this phone is yours…</h1>"));

    // Used: the page says so in the person's language, with who sent the link.
    let r = browser().post(&url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    for (lang, heading, next) in [
        (
            "de-DE,de;q=0.9",
            "Dieser Link wurde bereits verwendet",
            "fordern Sie einen neuen Link an",
        ),
        ("ru", "Эта ссылка уже использована", "запросите новую ссылку"),
        ("", "This link was already used", "ask for a new link"),
    ] {
        let r = browser()
            .post(&url)
            .header("accept-language", lang)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410);
        assert_private(&r);
        let body = r.text().await.unwrap();
        assert!(body.contains(&format!("<h1>{heading}</h1>")), "{lang}: {body}");
        assert!(body.contains(next), "{lang}: what to do next: {body}");
        assert!(
            body.contains("<p class=brand dir=auto>Acme Bank</p>") && body.contains("#0a7d5a"),
            "{body}"
        );
    }

    // Expired, in Japanese and Arabic (GET shows the same page).
    let (_, old) = send_link(&app, "203.0.113.7").await;
    app.clock.advance_secs(301);
    let (status, _, body) = get_in(&old, "ja-JP").await;
    assert_eq!(status, 410);
    assert!(body.contains("<h1>このリンクは有効期限が切れています</h1>"), "{body}");
    assert!(body.contains("Acme Bank"), "{body}");
    let (status, _, body) = get_in(&old, "ar").await;
    assert_eq!(status, 410);
    assert!(body.contains("<html lang=ar dir=rtl>") && body.contains("<h1>انتهت صلاحية هذا الرابط</h1>"));

    // Not valid: no brand to show (the token names no link).
    let (status, _, body) = get_in(&format!("{}/l/AAAAAAAAAAAAAAAAAAAAAA", app.base), "fr").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("<h1>Ce lien n’est pas valide</h1>") && !body.contains("class=brand"),
        "{body}"
    );
    app.stop().await;
}

/// The database goes away under a running server (PostgreSQL: the test drops it): the
/// link page is the "busy" page (503, `Retry-After`), in the person's language, saying the
/// link was not used and to open it again. Runs where PostgreSQL is available.
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn a_lost_database_is_the_busy_page() {
    let db = pg_database().await;
    let app = TestApp::spawn_with(Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default()
    })
    .await;
    let (_, url) = send_link(&app, "203.0.113.7").await;
    // Dropping the guard drops the database `WITH (FORCE)`.
    drop(db);
    for r in [
        browser()
            .get(&url)
            .header("accept-language", "es")
            .send()
            .await
            .unwrap(),
        browser()
            .post(&url)
            .header("accept-language", "es")
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_private(&r);
        let body = r.text().await.unwrap();
        assert!(body.contains("<h1>Inténtalo de nuevo</h1>"), "{body}");
        assert!(body.contains("tu enlace no se ha usado"), "{body}");
        assert!(!body.contains("<form"), "{body}");
    }
}

/// A link page is small enough for a slow phone connection: under 30 KB in every
/// language, the confirm page (with its script) and the used and expired pages.
#[tokio::test]
async fn link_pages_stay_under_30_kb_in_every_language() {
    const BUDGET: usize = 30 * 1024;
    let app = TestApp::spawn().await;
    let (_, fresh) = send_link(&app, "203.0.113.7").await;
    let (_, used) = send_link(&app, "203.0.113.7").await;
    assert_eq!(browser().post(&used).send().await.unwrap().status(), 303);
    for locale in ringproof_core::i18n::Locale::ALL {
        let lang = locale.tag();
        let (status, _, confirm) = get_in(&fresh, lang).await;
        assert_eq!(status, 200);
        let (status, _, again) = get_in(&used, lang).await;
        assert_eq!(status, 410);
        for (what, html) in [("confirm", &confirm), ("used", &again)] {
            assert!(html.len() < BUDGET, "the {what} page in {lang} is {} bytes", html.len());
            assert!(html.contains(&format!("lang={lang}")), "{what} in {lang}");
        }
    }
    app.clock.advance_secs(301);
    for locale in ringproof_core::i18n::Locale::ALL {
        let (status, _, expired) = get_in(&fresh, locale.tag()).await;
        assert_eq!(status, 410);
        assert!(
            expired.len() < BUDGET,
            "the expired page in {locale} is {} bytes",
            expired.len()
        );
    }
    app.stop().await;
}
