//! `/demo`: what an end user of a business using ringproof sees. Enter a number, then
//! "text me a code" (a code field, a resend button that honours the cooldown and says how
//! long, tries and sends left) or "text me a link" (a waiting view that asks every 2 s
//! until the click, then the result: linkClicked, phoneMatch, ipAddressMatch, carrier,
//! lineType). The link's click lands back on `/demo/link/done`, the demo's own result page.
//!
//! Every answer comes from the public APIs through [`crate::demo::api::DemoApi`]; these
//! handlers only turn forms into calls and answers into pages. Server-rendered and usable
//! without script (the waiting view then has a "check now" link); with it, the waiting view
//! polls and the resend button counts the cooldown down.
//!
//! Every page is in the person's language (`Accept-Language`, else English: the catalogue
//! [`super::texts::demo`]), right to left in Arabic. What the API wrote stays as it wrote
//! it, in English, marked `lang=en` on a page in another language: its error messages, a
//! verification's status, and the link result's Signzy field names and values (the demo
//! shows what an integrator gets). Phone numbers and times are isolated left to right, so
//! a right-to-left page does not turn `+1415…` into `…1415+`.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::phone::PhoneNumber;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::escape;
use super::texts::demo::{DEMO, DemoTexts};
use super::texts::{self, Locale};
use crate::demo::api::{DemoApi, Failure, LinkIds, LinkResult, Verification};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(form, start))
        .routes(routes!(code_page, code_action))
        .routes(routes!(link_page))
        .routes(routes!(link_done))
}

const STYLE: &str = "body{font:17px/1.45 system-ui,-apple-system,sans-serif;margin:0;padding:1.5em 1em;\
color:#1a1a1a;background:#f6f7f9}main{max-width:28em;margin:0 auto;background:#fff;border-radius:12px;\
padding:1.4em 1.2em;box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:1.35em;margin:0 0 .5em}p{margin:.6em 0}\
label{display:block;font-weight:600;margin:.8em 0 .3em}input{font:inherit;width:100%;box-sizing:border-box;\
padding:.6em;border:1px solid #8a8f98;border-radius:8px}.code{font-size:1.4em;letter-spacing:.2em;\
font-variant-numeric:tabular-nums}button{font:inherit;font-weight:600;border:0;border-radius:8px;\
padding:.75em 1.2em;margin:.8em .4em 0 0;color:#fff;background:#1f6feb}button.second{color:#0b3d91;\
background:#e6eefc}button:disabled{color:#555;background:#e3e5e8}.row{display:flex;flex-wrap:wrap}\
.row button{flex:1 1 10em}.msg{padding:.6em .8em;border-radius:8px;background:#fdecea;color:#7a1a12}\
.ok{background:#dcf5e3;color:#0c4a23}.note{color:#4a4f57;font-size:.92em}a{color:#0b57d0}\
dl{margin:.8em 0}dt{font-weight:600;margin-top:.6em}dd{margin:0;overflow-wrap:anywhere}\
@media(min-width:34em){dl{display:grid;grid-template-columns:auto 1fr;gap:.4em .9em}dt{margin:0}}.top{font-size:.9em;margin:0 0 1em}";

/// The countdown: a button with `data-wait` seconds is disabled until they pass, showing
/// its `data-label` (the page language's "… ({seconds} s)") with the seconds left. Without
/// script the button stays usable and the server says "wait".
const COUNTDOWN: &str = "document.querySelectorAll('button[data-wait]').forEach(function(b){\
var end=Date.now()+1000*Number(b.dataset.wait),label=b.textContent,wait=b.dataset.label;function tick(){\
var s=Math.ceil((end-Date.now())/1000);if(s>0){b.disabled=true;b.textContent=wait.replace('{seconds}',s);\
setTimeout(tick,500)}else{b.disabled=false;b.textContent=label}}tick()});";

/// The waiting view's poll: every 2 s it asks its own URL (with [`POLL_HEADER`]), which
/// answers 204 while the link waits; anything else means there is a result, shown by
/// reloading. (Not `<meta http-equiv=refresh>`: a timed reload is a WCAG 2.2.1 failure.)
const POLL: &str = "if(document.getElementById('waiting')){setInterval(function(){\
fetch(location.href,{headers:{'x-demo-poll':'1'},cache:'no-store'}).then(function(r){\
if(r.status!==204)location.reload()})},2000)}";

/// The header of the waiting view's poll.
const POLL_HEADER: &str = "x-demo-poll";

/// A whole demo page in `locale`: `title` is the heading (and the `<title>`), `body` is
/// already HTML. Pure, so every page is tested in every language.
fn html(locale: Locale, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html {attrs}><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><meta name=robots content=noindex>\
<title>{t} · {name}</title><style>{STYLE}</style></head><body><main>\
<p class=top><a href=\"/demo\">{name}</a></p><h1>{t}</h1>{body}</main>\
<script>{COUNTDOWN}{POLL}</script></body></html>",
        attrs = texts::html_attrs(locale),
        t = escape(title),
        name = escape(DEMO.get(locale).demo_name),
    )
}

/// A demo page response ([`html`]), with `Vary: Accept-Language` (the language is the
/// request's).
fn page(locale: Locale, status: StatusCode, title: &str, body: &str) -> Response {
    let mut res = (status, html(locale, title, body)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-language"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The result page's URL carries `vfp`: it never leaves as a Referer.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; \
             base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    res
}

/// A text of the catalogue as HTML, each `{name}` replaced by its value (already HTML).
fn fill(text: &str, values: &[(&str, &str)]) -> String {
    texts::fill(&escape(text), values)
}

/// The text for `n`: `one` for 1, else `other` (which says `n` itself).
fn count<'t>(n: u32, one: &'t str, other: &'t str) -> &'t str {
    if n == 1 { one } else { other }
}

/// A phone number or a time, kept left to right inside any page.
fn ltr(s: &str) -> String {
    format!("<bdi dir=ltr>{}</bdi>", escape(s))
}

/// What the API wrote (a message, a status, a field's value), as it wrote it: English,
/// said so on a page in another language.
fn from_api(locale: Locale, s: &str) -> String {
    if locale == Locale::En {
        escape(s)
    } else {
        format!("<span lang=en dir=ltr>{}</span>", escape(s))
    }
}

/// The link back to the form.
fn again(t: &DemoTexts) -> String {
    format!("<p><a href=\"/demo\">{}</a></p>", escape(t.start_again))
}

/// The name of the credentials file, as the pages show it.
const CREDENTIALS_FILE: &str = "<code>demo-credentials.json</code>";

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The page saying why there is no demo here.
fn no_demo(locale: Locale) -> Response {
    let t = DEMO.get(locale);
    let body = fill(
        t.no_demo_body,
        &[("client", "<code>demo</code>"), ("file", CREDENTIALS_FILE)],
    );
    page(
        locale,
        StatusCode::NOT_FOUND,
        t.no_demo_title,
        &format!("<p>{body}</p>"),
    )
}

/// A page for an answer the demo cannot use: what happened and what to do. Only the
/// demo's own trouble is a 5xx (its credentials refused, the API down); an id the API
/// does not know or refuses is a 404, a limit keeps its 429, any other refusal is a 400.
fn trouble(locale: Locale, f: &Failure) -> Response {
    let t = DEMO.get(locale);
    let (status, hint) = match f {
        Failure::Refused { status: 401, .. } => (
            StatusCode::BAD_GATEWAY,
            fill(t.trouble_credentials, &[("file", CREDENTIALS_FILE)]),
        ),
        Failure::Refused { status: 400 | 404, .. } => (StatusCode::NOT_FOUND, escape(t.trouble_not_known)),
        Failure::Refused { status: 429, .. } => (StatusCode::TOO_MANY_REQUESTS, escape(t.trouble_wait)),
        Failure::Refused { status: 402..=499, .. } => (StatusCode::BAD_REQUEST, escape(t.trouble_start_again)),
        _ => (StatusCode::BAD_GATEWAY, escape(t.trouble_later)),
    };
    trouble_page(locale, status, &from_api(locale, f.message()), &hint)
}

/// [`trouble`] for an id that is not one of ours (never asked of the API).
fn unknown_id(locale: Locale) -> Response {
    let t = DEMO.get(locale);
    trouble_page(
        locale,
        StatusCode::NOT_FOUND,
        &escape(t.no_such_verification),
        &escape(t.trouble_not_known),
    )
}

fn trouble_page(locale: Locale, status: StatusCode, message: &str, hint: &str) -> Response {
    let t = DEMO.get(locale);
    page(
        locale,
        status,
        t.trouble_title,
        &format!("<p class=msg role=alert>{message}</p><p>{hint}</p>{}", again(t)),
    )
}

/// The fields of a form body (`application/x-www-form-urlencoded`); later ones win.
fn fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn not_from_here(locale: Locale) -> Response {
    let t = DEMO.get(locale);
    page(
        locale,
        StatusCode::FORBIDDEN,
        t.not_from_here_title,
        &format!("<p>{}</p>", escape(t.not_from_here_body)),
    )
}

/// A form post from anywhere but this origin is refused: the demo sends messages, and no
/// other page (another site, or another port or subdomain of this one) may make a visitor's
/// browser send them. Browsers say where a request comes from: `Sec-Fetch-Site` must be
/// `same-origin` (or `none`, typed by the person); a browser without it sends `Origin`,
/// which must be this `Host`. A request with neither is not a browser's form post.
fn cross_site(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (get("origin"), get("host")) {
        (Some(origin), Some(host)) => {
            let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
            !authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The typed number, separators dropped; 10 digits alone are taken as a +1 number.
fn normalise(number: &str) -> String {
    let kept: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.' | '\u{a0}'))
        .collect();
    if kept.len() == 10 && kept.bytes().all(|b| b.is_ascii_digit()) {
        format!("+1{kept}")
    } else {
        kept
    }
}

/// An id from a URL: letters and digits only (anything else is not one of ours).
fn plain_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The sandbox phone's link for the code page, opened on `e164`'s conversation.
fn sandbox_link(state: &AppState, t: &DemoTexts, e164: &str) -> String {
    if state.sandbox.is_none() {
        return String::new();
    }
    let q: String = form_urlencoded::byte_serialize(e164.as_bytes()).collect();
    let open = format!(
        "<a href=\"/sandbox?to={q}\" target=_blank>{}</a>",
        escape(t.sandbox_open)
    );
    format!("<p class=note>{}</p>", fill(t.sandbox_code, &[("open", &open)]))
}

/// The start form, with `error` (HTML; the field it names) when the last try was refused.
fn start_form(state: &AppState, locale: Locale, status: StatusCode, number: &str, error: Option<&str>) -> Response {
    let t = DEMO.get(locale);
    let number = if number.is_empty() && state.sandbox.is_some() {
        "+14155550100"
    } else {
        number
    };
    let error = error
        .map(|e| format!("<p class=msg role=alert id=err>{e}</p>"))
        .unwrap_or_default();
    let described = if error.is_empty() { "" } else { " aria-describedby=err" };
    page(
        locale,
        status,
        t.form_title,
        &format!(
            "<p>{intro}</p>{error}<form method=post action=\"/demo\"><label for=number>{label}\
             </label><input id=number name=number type=tel autocomplete=tel inputmode=tel required dir=ltr \
             value=\"{n}\"{described}><p class=note>{note}</p>\
             <div class=row><button name=via value=code>{code}</button>\
             <button name=via value=link class=second>{link}</button></div></form>",
            intro = fill(t.form_intro, &[("client", "<code>demo</code>")]),
            label = escape(t.number_label),
            n = escape(number),
            note = fill(t.number_note, &[("example", &ltr("+14155550100"))]),
            code = escape(t.via_code),
            link = escape(t.via_link),
        ),
    )
}

/// The demo form
///
/// Enter a phone number and choose a code or a link (development mode only). Every demo
/// page is in the language of `Accept-Language` (12 languages, else English;
/// `Vary: Accept-Language`).
#[utoipa::path(get, path = "/demo", tag = "demo",
    responses((status = 200, description = "The form", content_type = "text/html"),
              (status = 404, description = "No demo here (production mode, or no demo client)", content_type = "text/html")))]
async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let locale = texts::negotiate(&headers);
    if state.demo.is_none() {
        return no_demo(locale);
    }
    start_form(&state, locale, StatusCode::OK, "", None)
}

/// Start a demo verification
///
/// Form fields `number` and `via` (`code` or `link`); answers 303 to the code or waiting
/// page, or the form again with the API's reason.
#[utoipa::path(post, path = "/demo", tag = "demo",
    request_body(content_type = "application/x-www-form-urlencoded", content = String),
    responses((status = 303, description = "To the code page or the waiting view"),
              (status = 400, description = "The form again, saying what to fix", content_type = "text/html"),
              (status = 403, description = "A cross-site post, or a destination the controls refuse", content_type = "text/html"),
              (status = 429, description = "A limit; the form says when to try again", content_type = "text/html"),
              (status = 502, description = "The demo client's credentials are refused, or the API is down", content_type = "text/html")))]
async fn start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let locale = texts::negotiate(&headers);
    let t = DEMO.get(locale);
    let Some(api) = state.demo.as_deref() else {
        return no_demo(locale);
    };
    if cross_site(&headers) {
        return not_from_here(locale);
    }
    let f = fields(&body);
    let typed = f.get("number").map(String::as_str).unwrap_or_default();
    let number = normalise(typed);
    let ip = crate::client_ip::source_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let refused = |f: Failure| match f {
        Failure::Refused {
            status,
            ref message,
            retry_after_s,
            ..
        } if f.for_the_person() => {
            let said = from_api(locale, &format!("{}.", message.trim_end_matches('.')));
            let said = match retry_after_s {
                Some(s) => format!("{said} {}", fill(t.try_again_in, &[("seconds", &s.to_string())])),
                None => said,
            };
            let status = match status {
                403 => StatusCode::FORBIDDEN,
                429 => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_REQUEST,
            };
            start_form(&state, locale, status, typed, Some(&said))
        }
        other => trouble(locale, &other),
    };
    match f.get("via").map(String::as_str) {
        Some("code") => match api.start_code(&number, ip).await {
            Ok(v) => see_other(&format!("/demo/code/{}", v.id)),
            Err(e) => refused(e),
        },
        Some("link") => {
            let region = PhoneNumber::parse_e164(&number).ok().and_then(|p| p.region());
            let (Some(country @ ("US" | "CA")), Some(national)) = (region.as_deref(), number.strip_prefix("+1")) else {
                let why = fill(t.links_us_only, &[("button", &escape(t.via_code))]);
                return start_form(&state, locale, StatusCode::BAD_REQUEST, typed, Some(&why));
            };
            match api.send_link(national, country, ip).await {
                Ok(ids) => see_other(&format!("/demo/link/{}/{}", ids.request_id, ids.session_id)),
                Err(e) => refused(e),
            }
        }
        _ => start_form(
            &state,
            locale,
            StatusCode::BAD_REQUEST,
            typed,
            Some(&escape(t.choose_via)),
        ),
    }
}

/// The outcome of the last action on the code page: good news or not, and its HTML.
struct Note {
    ok: bool,
    html: String,
}

/// The code page: what to type, what is left, and the result once approved.
async fn show_code(state: &AppState, locale: Locale, api: &DemoApi, id: &str, note: Option<Note>) -> Response {
    let t = DEMO.get(locale);
    let v = match api.verification(id).await {
        Ok(v) => v,
        Err(e) => return trouble(locale, &e),
    };
    let note_html = note
        .map(|n| {
            let (class, role) = if n.ok { ("msg ok", "status") } else { ("msg", "alert") };
            format!("<p class=\"{class}\" role={role} id=note>{}</p>", n.html)
        })
        .unwrap_or_default();
    let (title, body) = match v.status.as_str() {
        "approved" => (
            t.verified_title,
            format!(
                "<p class=\"msg ok\" role=status>{}</p>{}",
                fill(t.verified_body, &[("number", &ltr(&v.to))]),
                again(t)
            ),
        ),
        "pending" => (t.code_title, code_form(state, t, &v, &note_html)),
        other => {
            let why = match other {
                "expired" => t.ended_expired,
                "max_attempts_reached" => t.ended_max_attempts,
                "canceled" => t.ended_canceled,
                _ => t.ended_failed,
            };
            let status = format!("<strong>{}</strong>", from_api(locale, other));
            (
                t.ended_title,
                format!(
                    "{note_html}<p>{}</p>{}",
                    fill(t.ended_body, &[("status", &status), ("why", &escape(why))]),
                    again(t)
                ),
            )
        }
    };
    page(locale, StatusCode::OK, title, &body)
}

fn code_form(state: &AppState, t: &DemoTexts, v: &Verification, note_html: &str) -> String {
    let now = state.engine.now();
    let wait = v
        .next_resend_at
        .as_deref()
        .and_then(ringproof_core::time::Timestamp::parse_rfc3339)
        .map(|at| now.secs_until_ceil(at));
    let (resend, sends) = match wait {
        Some(w) => (
            format!(
                "<button name=action value=resend class=second data-wait={w} data-label=\"{countdown}\" \
                 formnovalidate>{label}</button>",
                countdown = escape(t.resend_countdown),
                label = escape(t.resend_button),
            ),
            fill(
                count(v.sends_left, t.sends_left_one, t.sends_left_other),
                &[("sends", &v.sends_left.to_string())],
            ),
        ),
        None => (String::new(), escape(t.no_more_sends)),
    };
    let tries = v.remaining_check_attempts;
    format!(
        "<p>{sent}</p>{sandbox}{note_html}\
         <form method=post action=\"/demo/code/{id}\"><label for=code>{label}</label>\
         <input id=code name=code class=code inputmode=numeric autocomplete=one-time-code pattern=\"[0-9]*\" \
         maxlength={len} required autofocus><p class=note>{tries_note}</p>\
         <div class=row><button name=action value=check>{verify}</button>{resend}</div>\
         <p class=note>{sends}</p></form>",
        sent = fill(
            t.code_sent,
            &[
                ("length", &v.code_length.to_string()),
                ("number", &format!("<strong>{}</strong>", ltr(&v.to))),
            ]
        ),
        sandbox = sandbox_link(state, t, &v.to),
        id = escape(&v.id),
        label = escape(t.code_label),
        len = v.code_length,
        tries_note = fill(
            count(tries, t.tries_note_one, t.tries_note_other),
            &[
                ("tries", &tries.to_string()),
                ("time", &ltr(&clock_time(&v.expires_at)))
            ],
        ),
        verify = escape(t.verify_button),
    )
}

/// `HH:MM:SS UTC` of an RFC 3339 time.
fn clock_time(t: &str) -> String {
    t.get(11..19).map_or_else(|| t.to_owned(), |hms| format!("{hms} UTC"))
}

#[derive(Deserialize)]
struct IdPath {
    id: String,
}

/// A demo code verification
///
/// The code field, tries and sends left, and the result once approved.
#[utoipa::path(get, path = "/demo/code/{id}", tag = "demo",
    params(("id" = String, Path, description = "Verification id")),
    responses((status = 200, description = "The code page", content_type = "text/html"),
              (status = 404, description = "No such verification of the demo client", content_type = "text/html"),
              (status = 400, description = "Refused by the API for another reason; the page says so", content_type = "text/html"),
              (status = 429, description = "A limit of the API; wait and try again", content_type = "text/html"),
              (status = 502, description = "The demo client's credentials are refused, or the API is down", content_type = "text/html")))]
async fn code_page(State(state): State<AppState>, Path(p): Path<IdPath>, headers: HeaderMap) -> Response {
    let locale = texts::negotiate(&headers);
    let Some(api) = state.demo.as_deref() else {
        return no_demo(locale);
    };
    if !plain_id(&p.id) {
        return unknown_id(locale);
    }
    show_code(&state, locale, api, &p.id, None).await
}

/// Check a code or ask for a new one
///
/// Form fields `action` (`check` with `code`, or `resend`); answers the code page with
/// the outcome.
#[utoipa::path(post, path = "/demo/code/{id}", tag = "demo",
    params(("id" = String, Path, description = "Verification id")),
    request_body(content_type = "application/x-www-form-urlencoded", content = String),
    responses((status = 200, description = "The code page with the outcome", content_type = "text/html"),
              (status = 403, description = "A cross-site post", content_type = "text/html"),
              (status = 404, description = "No such verification of the demo client", content_type = "text/html"),
              (status = 400, description = "Refused by the API for another reason; the page says so", content_type = "text/html"),
              (status = 429, description = "A limit of the API; wait and try again", content_type = "text/html"),
              (status = 502, description = "The demo client's credentials are refused, or the API is down", content_type = "text/html")))]
async fn code_action(
    State(state): State<AppState>,
    Path(p): Path<IdPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let locale = texts::negotiate(&headers);
    let t = DEMO.get(locale);
    let Some(api) = state.demo.as_deref() else {
        return no_demo(locale);
    };
    if !plain_id(&p.id) {
        return unknown_id(locale);
    }
    if cross_site(&headers) {
        return not_from_here(locale);
    }
    let f = fields(&body);
    let good = |html: String| Note { ok: true, html };
    let bad = |html: String| Note { ok: false, html };
    let note = match f.get("action").map(String::as_str) {
        Some("resend") => match api.resend(&p.id).await {
            Ok(_) => good(escape(t.resent)),
            Err(Failure::Refused {
                code, retry_after_s, ..
            }) if code == "resend_cooldown" => bad(fill(
                t.cooldown,
                &[("seconds", &retry_after_s.unwrap_or(1).to_string())],
            )),
            Err(e) if e.for_the_person() => bad(from_api(locale, e.message())),
            Err(e) => return trouble(locale, &e),
        },
        Some("check") => {
            let code: String = f.get("code").map(|c| c.trim().to_owned()).unwrap_or_default();
            match api.check(&p.id, &code).await {
                Ok(r) if r.valid => good(escape(t.right_code)),
                Ok(r) if r.status == "pending" => bad(fill(
                    count(r.remaining_attempts, t.wrong_code_one, t.wrong_code_other),
                    &[("tries", &r.remaining_attempts.to_string())],
                )),
                Ok(_) => bad(escape(t.wrong_code_last)),
                Err(e) if e.for_the_person() => bad(from_api(locale, e.message())),
                Err(e) => return trouble(locale, &e),
            }
        }
        _ => bad(fill(t.choose_action, &[("verify", &escape(t.verify_button))])),
    };
    show_code(&state, locale, api, &p.id, Some(note)).await
}

/// The result table of a link: the Signzy names and values as the API gave them, each
/// with what it means in the page's language.
fn link_result_html(locale: Locale, r: &LinkResult) -> String {
    let t = DEMO.get(locale);
    let phone_match = match r.phone_match.as_str() {
        "true" => t.phone_match_true,
        "false" => t.phone_match_false,
        _ => t.phone_match_other,
    };
    let yes_no = |b: bool| escape(if b { t.yes } else { t.no });
    let dt = |name: &str| {
        if locale == Locale::En {
            format!("<dt>{name}</dt>")
        } else {
            format!("<dt lang=en>{name}</dt>")
        }
    };
    let value = |s: &str| from_api(locale, s);
    let swap = r
        .sim_swapped
        .as_deref()
        .map(|s| format!("{}<dd>{}</dd>", dt("simSwapped"), value(s)))
        .unwrap_or_default();
    format!(
        "<dl>{}<dd>{}</dd>{}<dd>{} <span class=note>{}</span></dd>\
         {}<dd>{} <span class=note>{}</span></dd>\
         {}<dd>{}</dd>{}<dd>{}</dd>{}<dd>{}</dd>{swap}</dl>",
        dt("linkClicked"),
        yes_no(r.link_clicked),
        dt("phoneMatch"),
        value(&r.phone_match),
        escape(phone_match),
        dt("ipAddressMatch"),
        yes_no(r.ip_address_match),
        escape(if r.ip_address_match { t.ip_same } else { t.ip_other }),
        dt("carrier"),
        value(&r.carrier),
        dt("lineType"),
        value(&r.line_type),
        dt("countryCode"),
        value(&r.country_code),
    )
}

fn link_result_page(locale: Locale, r: &LinkResult) -> Response {
    let t = DEMO.get(locale);
    let (title, lead) = if r.link_clicked {
        (
            t.link_confirmed_title,
            format!("<p class=\"msg ok\" role=status>{}</p>", escape(t.link_confirmed_body)),
        )
    } else {
        (
            t.link_unused_title,
            format!("<p class=msg role=alert>{}</p>", escape(t.link_unused_body)),
        )
    };
    page(
        locale,
        StatusCode::OK,
        title,
        &format!("{lead}{}{}", link_result_html(locale, r), again(t)),
    )
}

/// The waiting view of a link: what to do, and the status line the poll watches.
fn waiting_html(state: &AppState, t: &DemoTexts) -> String {
    let check_now = format!("<a href=\"\">{}</a>", escape(t.check_now));
    format!(
        "<p>{}</p>{}<p class=note role=status id=waiting>{}</p>",
        escape(t.waiting_body),
        sandbox_link_any(state, t),
        fill(t.waiting_note, &[("check_now", &check_now)]),
    )
}

#[derive(Deserialize)]
struct LinkPath {
    request_id: String,
    session_id: String,
}

/// A demo link, waiting for its click
///
/// Asks every 2 s (with `x-demo-poll`, answered 204 while waiting) and shows the result
/// once the link is clicked or expires.
#[utoipa::path(get, path = "/demo/link/{request_id}/{session_id}", tag = "demo",
    params(("request_id" = String, Path, description = "The link's requestId"),
           ("session_id" = String, Path, description = "The link's sessionId")),
    responses((status = 200, description = "The waiting view or the result", content_type = "text/html"),
              (status = 404, description = "No such link of the demo client", content_type = "text/html"),
              (status = 400, description = "Refused by the API for another reason; the page says so", content_type = "text/html"),
              (status = 429, description = "A limit of the API; wait and try again", content_type = "text/html"),
              (status = 502, description = "The demo client's credentials are refused, or the API is down", content_type = "text/html")))]
async fn link_page(State(state): State<AppState>, Path(p): Path<LinkPath>, headers: HeaderMap) -> Response {
    let locale = texts::negotiate(&headers);
    let Some(api) = state.demo.as_deref() else {
        return no_demo(locale);
    };
    if !plain_id(&p.request_id) || !plain_id(&p.session_id) {
        return unknown_id(locale);
    }
    let ids = LinkIds {
        request_id: p.request_id,
        session_id: p.session_id,
    };
    match api.poll_link(&ids).await {
        Ok(None) if headers.contains_key(POLL_HEADER) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(r)) => link_result_page(locale, &r),
        Ok(None) => {
            let t = DEMO.get(locale);
            page(locale, StatusCode::OK, t.waiting_title, &waiting_html(&state, t))
        }
        Err(e) => trouble(locale, &e),
    }
}

/// The sandbox phone's link, for a page that does not know the number.
fn sandbox_link_any(state: &AppState, t: &DemoTexts) -> String {
    if state.sandbox.is_none() {
        return String::new();
    }
    let open = format!("<a href=\"/sandbox\" target=_blank>{}</a>", escape(t.sandbox_open));
    format!("<p class=note>{}</p>", fill(t.sandbox_link, &[("open", &open)]))
}

#[derive(Deserialize)]
struct DoneQuery {
    vfp: Option<String>,
}

/// Where a demo link's click lands
///
/// The link's target: reads the result for the `vfp` the browser brings.
#[utoipa::path(get, path = "/demo/link/done", tag = "demo",
    params(("vfp" = Option<String>, Query, description = "The verification fingerprint added by the link page")),
    responses((status = 200, description = "The result", content_type = "text/html"),
              (status = 400, description = "No or an unknown `vfp`", content_type = "text/html"),
              (status = 404, description = "No demo here", content_type = "text/html"),
              (status = 502, description = "The demo client's credentials are refused, or the API is down", content_type = "text/html")))]
async fn link_done(State(state): State<AppState>, Query(q): Query<DoneQuery>, headers: HeaderMap) -> Response {
    let locale = texts::negotiate(&headers);
    let t = DEMO.get(locale);
    let Some(api) = state.demo.as_deref() else {
        return no_demo(locale);
    };
    let nothing = |message: String| {
        page(
            locale,
            StatusCode::BAD_REQUEST,
            t.nothing_title,
            &format!("{message}{}", again(t)),
        )
    };
    let Some(vfp) = q.vfp.filter(|v| !v.is_empty() && v.len() <= 128) else {
        return nothing(format!("<p>{}</p>", escape(t.nothing_body)));
    };
    match api.link_result(&vfp).await {
        Ok(r) => link_result_page(locale, &r),
        Err(e) if e.for_the_person() || matches!(e, Failure::Refused { status: 404, .. }) => {
            nothing(format!("<p class=msg role=alert>{}</p>", from_api(locale, e.message())))
        }
        Err(e) => trouble(locale, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_origin_may_post() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(!cross_site(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(!cross_site(&h(&[("sec-fetch-site", "none")])));
        assert!(cross_site(&h(&[("sec-fetch-site", "same-site")])));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&h(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(cross_site(&h(&[
            ("origin", "http://127.0.0.1:9000"),
            ("host", "127.0.0.1:8080")
        ])));
        assert!(cross_site(&h(&[("origin", "null"), ("host", "127.0.0.1:8080")])));
        assert!(!cross_site(&h(&[("host", "127.0.0.1:8080")])), "not a browser's form");
    }

    #[test]
    fn numbers_are_normalised_and_ids_checked() {
        assert_eq!(normalise("(415) 555-0100"), "+14155550100");
        assert_eq!(normalise("+44 7700 900123"), "+447700900123");
        assert!(plain_id("VE0123abc"));
        assert!(!plain_id("../v1"));
        assert!(!plain_id(""));
        assert_eq!(clock_time("2026-01-01T10:05:00+00:00"), "10:05:00 UTC");
    }

    /// Every language: its `<html lang>` (and `dir=rtl` for Arabic), its heading and its
    /// name of the demo; the result table keeps the Signzy names and values as the API gave
    /// them (marked English on a page in another language) and explains them in the page's
    /// language.
    #[test]
    fn every_language_renders_with_the_api_words_as_they_are() {
        let r = LinkResult {
            link_clicked: true,
            phone_match: "indeterminate".into(),
            ip_address_match: false,
            carrier: "<Carrier & Co>".into(),
            line_type: "mobile".into(),
            country_code: "US".into(),
            sim_swapped: Some("false".into()),
        };
        for locale in Locale::ALL {
            let t = DEMO.get(locale);
            let page = html(locale, t.link_confirmed_title, &link_result_html(locale, &r));
            let open = match locale {
                Locale::Ar => "<html lang=ar dir=rtl>".to_owned(),
                l => format!("<html lang={}>", l.tag()),
            };
            assert!(page.starts_with(&format!("<!doctype html>{open}")), "{locale}: {page}");
            assert!(
                page.contains(&format!("<h1>{}</h1>", escape(t.link_confirmed_title))),
                "{locale}: {page}"
            );
            assert!(page.contains(&format!("{}</a></p>", escape(t.demo_name))), "{page}");
            for name in [
                "linkClicked",
                "phoneMatch",
                "ipAddressMatch",
                "carrier",
                "lineType",
                "countryCode",
                "simSwapped",
            ] {
                assert!(page.contains(&format!(">{name}</dt>")), "{locale}: {name} in {page}");
            }
            assert!(
                page.contains("indeterminate")
                    && page.contains("&lt;Carrier &amp; Co&gt;")
                    && page.contains(&escape(t.phone_match_other))
                    && page.contains(&escape(t.ip_other)),
                "{locale}: {page}"
            );
        }
        let en = link_result_html(Locale::En, &r);
        assert!(
            en.contains("<dt>phoneMatch</dt><dd>indeterminate <span class=note>"),
            "{en}"
        );
        let ja = link_result_html(Locale::Ja, &r);
        assert!(
            ja.contains("<dt lang=en>phoneMatch</dt><dd><span lang=en dir=ltr>indeterminate</span> "),
            "{ja}"
        );
        assert!(ja.contains("<dt lang=en>linkClicked</dt><dd>はい</dd>"), "{ja}");
    }

    /// A count picks the text for one or for the others, and the others say the count.
    #[test]
    fn counts_read_right_in_each_language() {
        let said = |locale: Locale, n: u32| {
            let t = DEMO.get(locale);
            fill(
                count(n, t.wrong_code_one, t.wrong_code_other),
                &[("tries", &n.to_string())],
            )
        };
        assert_eq!(said(Locale::En, 1), "That code is not right. 1 try left.");
        assert_eq!(said(Locale::En, 4), "That code is not right. 4 tries left.");
        assert_eq!(said(Locale::Ru, 1), "Код неверный. Осталась одна попытка.");
        assert_eq!(said(Locale::Ru, 2), "Код неверный. Осталось попыток: 2.");
        assert_eq!(said(Locale::Ar, 1), "هذا الرمز غير صحيح. بقيت لك محاولة واحدة.");
        assert_eq!(said(Locale::Ar, 11), "هذا الرمز غير صحيح. عدد المحاولات المتبقية: 11.");
        // The countdown's label, for the page's script, has the seconds to fill in.
        for locale in Locale::ALL {
            assert!(DEMO.get(locale).resend_countdown.contains("{seconds}"), "{locale}");
        }
    }
}
