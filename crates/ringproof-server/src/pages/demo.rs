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

/// The countdown: a button with `data-wait` seconds is disabled until they pass, saying
/// how many are left. Without script the button stays usable and the server says "wait".
const COUNTDOWN: &str = "document.querySelectorAll('button[data-wait]').forEach(function(b){\
var end=Date.now()+1000*Number(b.dataset.wait),label=b.textContent;function tick(){\
var s=Math.ceil((end-Date.now())/1000);if(s>0){b.disabled=true;b.textContent=label+' ('+s+' s)';\
setTimeout(tick,500)}else{b.disabled=false;b.textContent=label}}tick()});";

/// The waiting view's poll: every 2 s it asks its own URL (with [`POLL_HEADER`]), which
/// answers 204 while the link waits; anything else means there is a result, shown by
/// reloading. (Not `<meta http-equiv=refresh>`: a timed reload is a WCAG 2.2.1 failure.)
const POLL: &str = "if(document.getElementById('waiting')){setInterval(function(){\
fetch(location.href,{headers:{'x-demo-poll':'1'},cache:'no-store'}).then(function(r){\
if(r.status!==204)location.reload()})},2000)}";

/// The header of the waiting view's poll.
const POLL_HEADER: &str = "x-demo-poll";

/// A demo page.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><meta name=robots content=noindex>\
<title>{t} · ringproof demo</title><style>{STYLE}</style></head><body><main>\
<p class=top><a href=\"/demo\">ringproof demo</a></p><h1>{t}</h1>{body}</main>\
<script>{COUNTDOWN}{POLL}</script></body></html>",
        t = escape(title)
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
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
fn no_demo() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No demo on this server",
        "<p>The demo runs in development mode, on the <code>demo</code> client that the first start \
         creates (its credentials are in <code>demo-credentials.json</code> in the data directory).</p>",
    )
}

/// A page for an answer the demo cannot use: what happened and what to do. Only the
/// demo's own trouble is a 5xx (its credentials refused, the API down); an id the API
/// does not know or refuses is a 404, a limit keeps its 429, any other refusal is a 400.
fn trouble(f: &Failure) -> Response {
    let (status, hint) = match f {
        Failure::Refused { status: 401, .. } => (
            StatusCode::BAD_GATEWAY,
            "The demo client's credentials were refused: <code>demo-credentials.json</code> must be from the \
             start that created this database's demo client.",
        ),
        Failure::Refused { status: 400 | 404, .. } => (
            StatusCode::NOT_FOUND,
            "This verification is not known (it may have been removed after its retention period).",
        ),
        Failure::Refused { status: 429, .. } => (StatusCode::TOO_MANY_REQUESTS, "Wait a little and try again."),
        Failure::Refused { status: 402..=499, .. } => (StatusCode::BAD_REQUEST, "Start again."),
        _ => (StatusCode::BAD_GATEWAY, "Try again in a moment."),
    };
    page(
        status,
        "Something went wrong",
        &format!(
            "<p class=msg role=alert>{}</p><p>{hint}</p><p><a href=\"/demo\">Start again</a></p>",
            escape(f.message())
        ),
    )
}

/// The fields of a form body (`application/x-www-form-urlencoded`); later ones win.
fn fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn not_from_here() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Not from here",
        "<p>Use the form on this server.</p>",
    )
}

/// A cross-site form post is refused: the demo sends messages, another site must not make
/// a visitor's browser send them (browsers say where a request comes from).
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
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

fn sandbox_link(state: &AppState, e164: &str) -> String {
    if state.sandbox.is_none() {
        return String::new();
    }
    let q: String = form_urlencoded::byte_serialize(e164.as_bytes()).collect();
    format!(
        "<p class=note>No message leaves this machine: <a href=\"/sandbox?to={q}\" target=_blank>open the sandbox \
         phone</a> to read it.</p>"
    )
}

/// The start form, with `error` (and the field it names) when the last try was refused.
fn start_form(state: &AppState, status: StatusCode, number: &str, error: Option<&str>) -> Response {
    let number = if number.is_empty() && state.sandbox.is_some() {
        "+14155550100"
    } else {
        number
    };
    let error = error
        .map(|e| format!("<p class=msg role=alert id=err>{}</p>", escape(e)))
        .unwrap_or_default();
    let described = if error.is_empty() { "" } else { " aria-describedby=err" };
    page(
        status,
        "Verify your phone number",
        &format!(
            "<p>This is what your users see. It calls ringproof's public APIs with the <code>demo</code> client, \
             as your backend would.</p>{error}<form method=post action=\"/demo\"><label for=number>Phone number\
             </label><input id=number name=number type=tel autocomplete=tel inputmode=tel required value=\"{n}\"{described}>\
             <p class=note>With the country code, e.g. +14155550100. Links go to US and Canadian numbers.</p>\
             <div class=row><button name=via value=code>Text me a code</button>\
             <button name=via value=link class=second>Text me a link</button></div></form>",
            n = escape(number)
        ),
    )
}

/// The demo form
///
/// Enter a phone number and choose a code or a link (development mode only).
#[utoipa::path(get, path = "/demo", tag = "demo",
    responses((status = 200, description = "The form", content_type = "text/html"),
              (status = 404, description = "No demo here (production mode, or no demo client)", content_type = "text/html")))]
async fn form(State(state): State<AppState>) -> Response {
    if state.demo.is_none() {
        return no_demo();
    }
    start_form(&state, StatusCode::OK, "", None)
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
    let Some(api) = state.demo.as_deref() else {
        return no_demo();
    };
    if cross_site(&headers) {
        return not_from_here();
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
            let wait = retry_after_s
                .map(|s| format!(" Try again in {s} s."))
                .unwrap_or_default();
            let said = format!("{}.{wait}", message.trim_end_matches('.'));
            let status = match status {
                403 => StatusCode::FORBIDDEN,
                429 => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_REQUEST,
            };
            start_form(&state, status, typed, Some(&said))
        }
        other => trouble(&other),
    };
    match f.get("via").map(String::as_str) {
        Some("code") => match api.start_code(&number, ip).await {
            Ok(v) => see_other(&format!("/demo/code/{}", v.id)),
            Err(e) => refused(e),
        },
        Some("link") => {
            let region = PhoneNumber::parse_e164(&number).ok().and_then(|p| p.region());
            let (Some(country @ ("US" | "CA")), Some(national)) = (region.as_deref(), number.strip_prefix("+1")) else {
                return start_form(
                    &state,
                    StatusCode::BAD_REQUEST,
                    typed,
                    Some(
                        "Links go to US and Canadian numbers only (+1 and 10 digits). Choose “Text me a code” for other numbers.",
                    ),
                );
            };
            match api.send_link(national, country, ip).await {
                Ok(ids) => see_other(&format!("/demo/link/{}/{}", ids.request_id, ids.session_id)),
                Err(e) => refused(e),
            }
        }
        _ => start_form(&state, StatusCode::BAD_REQUEST, typed, Some("Choose a code or a link.")),
    }
}

/// The code page: what to type, what is left, and the result once approved. `note` is
/// the outcome of the last action (`ok` says whether it is good news).
async fn show_code(state: &AppState, api: &DemoApi, id: &str, note: Option<(bool, String)>) -> Response {
    let v = match api.verification(id).await {
        Ok(v) => v,
        Err(e) => return trouble(&e),
    };
    let note_html = note
        .map(|(ok, m)| {
            let (class, role) = if ok { ("msg ok", "status") } else { ("msg", "alert") };
            format!("<p class=\"{class}\" role={role} id=note>{}</p>", escape(&m))
        })
        .unwrap_or_default();
    let to = escape(&v.to);
    let again = "<p><a href=\"/demo\">Start again</a></p>";
    let (title, body) = match v.status.as_str() {
        "approved" => (
            "Verified",
            format!("<p class=\"msg ok\" role=status>{to} is yours: the code was right.</p>{again}"),
        ),
        "pending" => ("Enter the code", code_form(state, &v, &note_html)),
        other => (
            "This verification has ended",
            format!(
                "{note_html}<p>It is <strong>{}</strong>: {}</p>{again}",
                escape(other),
                match other {
                    "expired" => "the code's time ran out",
                    "max_attempts_reached" => "too many wrong codes",
                    "canceled" => "it was canceled",
                    _ => "no code could be delivered",
                }
            ),
        ),
    };
    page(StatusCode::OK, title, &body)
}

fn code_form(state: &AppState, v: &Verification, note_html: &str) -> String {
    let now = state.engine.now();
    let wait = v
        .next_resend_at
        .as_deref()
        .and_then(ringproof_core::time::Timestamp::parse_rfc3339)
        .map(|at| now.secs_until_ceil(at));
    let (resend, sends) = match wait {
        Some(w) => (
            format!(
                "<button name=action value=resend class=second data-wait={w} formnovalidate>Text me a new code</button>"
            ),
            format!(
                "<p class=note>{} more {} can be sent.</p>",
                v.sends_left,
                if v.sends_left == 1 { "message" } else { "messages" }
            ),
        ),
        None => (
            String::new(),
            "<p class=note>No more codes can be sent for this verification.</p>".into(),
        ),
    };
    format!(
        "<p>We texted a {len}-digit code to <strong>{to}</strong>.</p>{sandbox}{note_html}\
         <form method=post action=\"/demo/code/{id}\"><label for=code>Code</label>\
         <input id=code name=code class=code inputmode=numeric autocomplete=one-time-code pattern=\"[0-9]*\" \
         maxlength={len} required autofocus><p class=note>{tries} wrong {tw} allowed. The code works until {exp}.</p>\
         <div class=row><button name=action value=check>Verify</button>{resend}</div>{sends}</form>",
        len = v.code_length,
        to = escape(&v.to),
        sandbox = sandbox_link(state, &v.to),
        id = escape(&v.id),
        tries = v.remaining_check_attempts,
        tw = if v.remaining_check_attempts == 1 {
            "try"
        } else {
            "tries"
        },
        exp = escape(&clock_time(&v.expires_at)),
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
async fn code_page(State(state): State<AppState>, Path(p): Path<IdPath>) -> Response {
    let Some(api) = state.demo.as_deref() else {
        return no_demo();
    };
    if !plain_id(&p.id) {
        return trouble(&not_found());
    }
    show_code(&state, api, &p.id, None).await
}

fn not_found() -> Failure {
    Failure::Refused {
        status: 404,
        code: "not_found".into(),
        message: "No such verification.".into(),
        field: None,
        retry_after_s: None,
    }
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
    let Some(api) = state.demo.as_deref() else {
        return no_demo();
    };
    if !plain_id(&p.id) {
        return trouble(&not_found());
    }
    if cross_site(&headers) {
        return not_from_here();
    }
    let f = fields(&body);
    let note = match f.get("action").map(String::as_str) {
        Some("resend") => match api.resend(&p.id).await {
            Ok(_) => (
                true,
                "We texted you a new code. The previous one no longer works.".to_owned(),
            ),
            Err(Failure::Refused {
                code, retry_after_s, ..
            }) if code == "resend_cooldown" => (
                false,
                format!("Wait {} s before asking for a new code.", retry_after_s.unwrap_or(1)),
            ),
            Err(e) if e.for_the_person() => (false, e.message().to_owned()),
            Err(e) => return trouble(&e),
        },
        Some("check") => {
            let code: String = f.get("code").map(|c| c.trim().to_owned()).unwrap_or_default();
            match api.check(&p.id, &code).await {
                Ok(r) if r.valid => (true, "Right code.".into()),
                Ok(r) if r.status == "pending" => (
                    false,
                    format!(
                        "That code is not right. {} {} left.",
                        r.remaining_attempts,
                        if r.remaining_attempts == 1 { "try" } else { "tries" }
                    ),
                ),
                Ok(_) => (false, "That code is not right, and it was the last try.".into()),
                Err(e) if e.for_the_person() => (false, e.message().to_owned()),
                Err(e) => return trouble(&e),
            }
        }
        _ => (false, "Choose Verify or a new code.".into()),
    };
    show_code(&state, api, &p.id, Some(note)).await
}

/// The result table of a link.
fn link_result_html(r: &LinkResult) -> String {
    let phone_match = match r.phone_match.as_str() {
        "true" => "the mobile network says the click came from this number",
        "false" => "the network says the click came from another number (or the link was not used)",
        _ => "no carrier check was possible (none is configured, or the phone was on Wi-Fi)",
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let swap = r
        .sim_swapped
        .as_deref()
        .map(|s| format!("<dt>simSwapped</dt><dd>{}</dd>", escape(s)))
        .unwrap_or_default();
    format!(
        "<dl><dt>linkClicked</dt><dd>{}</dd><dt>phoneMatch</dt><dd>{} <span class=note>{}</span></dd>\
         <dt>ipAddressMatch</dt><dd>{} <span class=note>(the click came from {} address as the request)</span></dd>\
         <dt>carrier</dt><dd>{}</dd><dt>lineType</dt><dd>{}</dd><dt>countryCode</dt><dd>{}</dd>{swap}</dl>",
        yes_no(r.link_clicked),
        escape(&r.phone_match),
        escape(phone_match),
        yes_no(r.ip_address_match),
        if r.ip_address_match { "the same" } else { "another" },
        escape(&r.carrier),
        escape(&r.line_type),
        escape(&r.country_code),
    )
}

fn link_result_page(r: &LinkResult) -> Response {
    let (title, lead) = if r.link_clicked {
        (
            "Link confirmed",
            "<p class=\"msg ok\" role=status>The link was opened and confirmed.</p>",
        )
    } else {
        (
            "The link was not used",
            "<p class=msg role=alert>The link expired before anyone opened it.</p>",
        )
    };
    page(
        StatusCode::OK,
        title,
        &format!("{lead}{}<p><a href=\"/demo\">Start again</a></p>", link_result_html(r)),
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
    let Some(api) = state.demo.as_deref() else {
        return no_demo();
    };
    if !plain_id(&p.request_id) || !plain_id(&p.session_id) {
        return trouble(&not_found());
    }
    let ids = LinkIds {
        request_id: p.request_id,
        session_id: p.session_id,
    };
    match api.poll_link(&ids).await {
        Ok(None) if headers.contains_key(POLL_HEADER) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(r)) => link_result_page(&r),
        Ok(None) => page(
            StatusCode::OK,
            "Check your phone",
            &format!(
                "<p>We texted you a link. Open it on the phone that has this number; this page shows the result \
                 when it is confirmed.</p>{}<p class=note role=status id=waiting>Waiting for the click… This page shows the result by itself \
                 (<a href=\"\">check now</a>).</p>",
                sandbox_link_any(&state)
            ),
        ),
        Err(e) => trouble(&e),
    }
}

/// The sandbox phone's link, for a page that does not know the number.
fn sandbox_link_any(state: &AppState) -> String {
    if state.sandbox.is_none() {
        return String::new();
    }
    "<p class=note>No message leaves this machine: <a href=\"/sandbox\" target=_blank>open the sandbox phone</a> \
     and tap the link there.</p>"
        .into()
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
async fn link_done(State(state): State<AppState>, Query(q): Query<DoneQuery>) -> Response {
    let Some(api) = state.demo.as_deref() else {
        return no_demo();
    };
    let Some(vfp) = q.vfp.filter(|v| !v.is_empty() && v.len() <= 128) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Nothing to show",
            "<p>This page shows a link's result when the link brings you here.</p><p><a href=\"/demo\">Start again</a></p>",
        );
    };
    match api.link_result(&vfp).await {
        Ok(r) => link_result_page(&r),
        Err(e) if e.for_the_person() || matches!(e, Failure::Refused { status: 404, .. }) => page(
            StatusCode::BAD_REQUEST,
            "Nothing to show",
            &format!(
                "<p class=msg role=alert>{}</p><p><a href=\"/demo\">Start again</a></p>",
                escape(e.message())
            ),
        ),
        Err(e) => trouble(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_and_ids_checked() {
        assert_eq!(normalise("(415) 555-0100"), "+14155550100");
        assert_eq!(normalise("+44 7700 900123"), "+447700900123");
        assert!(plain_id("VE0123abc"));
        assert!(!plain_id("../v1"));
        assert!(!plain_id(""));
        assert_eq!(clock_time("2026-01-01T10:05:00+00:00"), "10:05:00 UTC");
    }
}
