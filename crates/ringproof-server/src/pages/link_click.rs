//! The one-time link pages: `<public_base_url>/l/{token}`, opened on the phone.
//!
//! `GET` renders "Verifying that this phone is yours…" with the client's brand and a form
//! that POSTs back to the same URL (submitted at once by a tiny inline script, with a
//! visible button when script is off). It only reads (a used, expired or unknown link gets
//! its page at once) and consumes nothing, so a link-preview bot that fetches the URL
//! leaves the link intact. `POST` is the click: [`Engine::confirm_link`] records it once and the
//! browser is sent (303) to the integrator's target with `vfp` added. A used, expired or
//! unknown link gets a plain page that redirects nowhere.
//!
//! Every page is in the person's language (`Accept-Language`, else English: the catalogue
//! of [`super::texts`]), right to left in Arabic, and carries the client's brand and its
//! colour where the link is known. Every way a click stops short of its target is one
//! [`Stop`] with its own page, saying what happened and what to do next (docs/pages.md).
//!
//! The click IP is the request's source address ([`crate::client_ip::source_ip`]): the
//! socket peer, or behind a configured trusted proxy the right-most `X-Forwarded-For`
//! address that is not itself a trusted proxy.
//!
//! With an operator (CAMARA Number Verification) the click goes through it
//! (docs/network-auth.md):
//! - with script, the page POSTs in the background (`x-ringproof-flow: fetch`), gets the
//!   operator's URL as JSON, makes that round trip in the background too (the operator
//!   answers our `GET /l/callback` with the verdict), and gives up at the deadline; then it
//!   POSTs `/l/<token>/done`, which sends the browser on to the target with `vfp`;
//! - without script, the form's POST is answered with a 303 to the operator, whose
//!   redirect to `/l/callback` sends the browser on to the target.
//!
//! [`Engine::confirm_link`]: ringproof_core::engine::Engine

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::client::BrandColor;
use ringproof_core::engine::link::{AuthFlow, CallbackStep, ConfirmStep, LinkError};
use ringproof_core::link_session::ClickError;
use ringproof_core::netauth::Callback;
use ringproof_core::{CoreError, StoreError};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::escape;
use super::texts::{self, Locale, link::LINK, link::LinkTexts};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, confirm))
        .routes(routes!(callback))
        .routes(routes!(done))
        .routes(routes!(jwks))
}

/// The header with which the page's script asks for the background flow.
const FLOW_HEADER: &str = "x-ringproof-flow";

/// Headers every link page and redirect carries: never cached, never indexed, and the
/// token-bearing URL never leaks as a `Referer`. The CSP allows only the inline style and
/// script of the page itself, and requests to itself and to the operators' origins (the
/// background round trip).
fn private(res: Response, state: &AppState) -> Response {
    private_with_form(res, state, None)
}

/// [`private`] for the confirm page, whose form may lead (by redirects) to the operators
/// and to `target`, the link's target origin: `form-action` lists exactly those. Every
/// other page has no form: `form-action 'none'`.
fn private_with_form(mut res: Response, state: &AppState, target: Option<&str>) -> Response {
    let mut to = String::from("'self'");
    for o in &state.netauth.origins {
        to.push(' ');
        to.push_str(o);
    }
    let form = match target {
        Some(t) => format!("{to} {t}"),
        None => "'none'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src {to}; \
         form-action {form}; base-uri 'none'; frame-ancestors 'none'"
    );
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// The pages' style. `--accent` is ringproof's blue (white on it: 4.6:1) unless the
/// client set its brand colour, which [`html`] puts after this (a client's colour is
/// checked for the same contrast when it is set).
const STYLE: &str = ":root{--accent:#1f6feb}\
body{font:17px/1.45 system-ui,-apple-system,sans-serif;margin:0;padding:2em 1.2em;\
color:#1a1a1a;background:#f6f7f9;text-align:center;border-top:.35em solid var(--accent)}\
main{max-width:26em;margin:0 auto;background:#fff;border-radius:12px;padding:1.6em 1.2em;\
box-shadow:0 1px 4px rgba(0,0,0,.08);overflow-wrap:break-word}h1{font-size:1.3em;margin:0 0 .6em}\
p{margin:.6em 0}button{font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;border-radius:8px;\
padding:.8em 2.2em;margin-top:.8em;min-width:60%;max-width:100%}noscript p,#working{color:#555;font-size:.9em}\
.brand{font-weight:700;font-size:1.1em;color:#333;margin:0 0 .4em}";

/// Who sent the link, as its pages show it: the client's brand and its colour.
#[derive(Clone, Debug, Default)]
struct Brand {
    name: String,
    color: Option<BrandColor>,
}

/// A whole page, in `locale`: the brand (when known) above the heading, which is also the
/// title; `body_html` is already HTML. Pure, so every page is tested in every language.
fn html(locale: Locale, brand: Option<&Brand>, title: &str, body_html: &str) -> String {
    let accent = brand
        .and_then(|b| b.color)
        .map(|c| format!(":root{{--accent:{}}}", c.as_hex()))
        .unwrap_or_default();
    let brand_line = match brand {
        Some(b) if !b.name.trim().is_empty() => format!("<p class=brand dir=auto>{}</p>", escape(&b.name)),
        _ => String::new(),
    };
    format!(
        "<!doctype html><html {attrs}><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><meta name=robots content=noindex>\
<title>{t}</title><style>{STYLE}{accent}</style></head><body><main>{brand_line}<h1>{t}</h1>{body_html}</main></body></html>",
        attrs = texts::html_attrs(locale),
        t = escape(title)
    )
}

/// A page response: `status`, the page's headers ([`private_with_form`]: `target` is
/// where its form may lead, `None` for a page without one), and `Vary: Accept-Language`
/// (the language is the request's).
fn respond(state: &AppState, status: StatusCode, html: String, target: Option<&str>) -> Response {
    private_with_form(
        (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::VARY, HeaderValue::from_static("accept-language")),
            ],
            html,
        )
            .into_response(),
        state,
        target,
    )
}

/// Why a link did not reach its target, each with its own page (what happened, what to do
/// next) and status. Every refusal of the link routes ends on one of these
/// ([`refusal`]); nothing is sent on to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// An unknown or malformed token (or operator `state`): 404.
    NotValid,
    /// Clicked before, or its network check already settled: 410.
    Used,
    /// Past its validity: 410.
    Expired,
    /// The store cannot answer now; the link is intact: 503 with `Retry-After`.
    Busy,
    /// Anything else (logged); the link is intact: 500.
    Failed,
}

impl Stop {
    fn status(self) -> StatusCode {
        match self {
            Stop::NotValid => StatusCode::NOT_FOUND,
            Stop::Used | Stop::Expired => StatusCode::GONE,
            Stop::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Stop::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Heading and sentence.
    fn texts(self, t: &LinkTexts) -> (&'static str, &'static str) {
        match self {
            Stop::NotValid => (t.not_valid_title, t.not_valid_body),
            Stop::Used => (t.used_title, t.used_body),
            Stop::Expired => (t.expired_title, t.expired_body),
            Stop::Busy => (t.busy_title, t.busy_body),
            Stop::Failed => (t.failed_title, t.failed_body),
        }
    }

    /// The page's HTML (no form: it leads nowhere).
    fn html(self, locale: Locale, brand: Option<&Brand>) -> String {
        let (title, body) = self.texts(LINK.get(locale));
        html(locale, brand, title, &format!("<p>{}</p>", escape(body)))
    }
}

/// The page of a link that stopped: in `locale`, with the sender's brand when known.
fn stopped(state: &AppState, stop: Stop, locale: Locale, brand: Option<&Brand>) -> Response {
    let mut res = respond(state, stop.status(), stop.html(locale, brand), None);
    if stop == Stop::Busy {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// The confirm page's body: the sentence, the form (sent by [`SCRIPT`]), the status line
/// the script shows while it works, and the fallback when script is off.
fn confirm_body(t: &LinkTexts, action: &str) -> String {
    let button = escape(t.confirm_button);
    format!(
        "<p>{body}</p>\
<form id=confirm method=post action=\"{action}\"><button type=submit>{button}</button></form>\
<form id=done method=post></form><p id=working role=status hidden>{working}</p>\
<noscript><p>{noscript}</p></noscript><script>{SCRIPT}</script>",
        body = escape(t.confirm_body),
        action = escape(action),
        working = escape(t.working),
        noscript = texts::fill(&escape(t.noscript), &[("button", &button)]),
    )
}

/// The path prefix of `public_base_url` (e.g. `/rp` for `https://x.example/rp`), so the
/// form posts back through the same reverse proxy path the link came in by.
fn path_prefix(public_base_url: Option<&str>) -> &str {
    let Some(u) = public_base_url else { return "" };
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    rest.find('/').map_or("", |i| rest[i..].trim_end_matches('/'))
}

/// The page's script: the background flow (see the module doc), with the status line
/// shown while it runs. Any surprise falls back to submitting the form (the navigation
/// flow); a refusal page replaces this one.
const SCRIPT: &str = "(async()=>{const f=document.getElementById('confirm');\
document.getElementById('working').hidden=false;\
try{const r=await fetch(f.action,{method:'POST',headers:{'x-ringproof-flow':'fetch'},credentials:'same-origin'});\
if(!(r.headers.get('content-type')||'').startsWith('application/json')){const h=await r.text();\
document.open();document.write(h);document.close();return}\
const j=await r.json();if(j.next){location.replace(j.next);return}\
const c=new AbortController(),t=setTimeout(()=>c.abort(),j.deadline_ms);\
try{await fetch(j.operator,{mode:'no-cors',credentials:'include',redirect:'follow',signal:c.signal})}catch(e){}\
clearTimeout(t);const d=document.getElementById('done');d.action=j.done;d.submit()}\
catch(e){f.submit()}})()";

/// Open a link
///
/// The page a one-time link opens, with the client's brand: a form that POSTs back to the
/// same URL (sent by a tiny inline script; a visible button when script is off). Reads,
/// never consumes: a link-preview bot that only GETs the URL does not use the link. A used,
/// expired or unknown link shows its page at once. Every page is in the language of
/// `Accept-Language` (12 languages, else English; `Vary: Accept-Language`).
#[utoipa::path(
    get,
    path = "/l/{token}",
    tag = "links",
    params(("token" = String, Path, description = "The link token from the SMS (22 base64url characters)")),
    responses(
        (status = 200, description = "The confirm page", content_type = "text/html"),
        (status = 404, description = "Not a link token, or no such link: the \"link not valid\" page", content_type = "text/html"),
        (status = 410, description = "\"This link was already used\" or \"This link has expired\" page", content_type = "text/html"),
        (status = 503, description = "Store unavailable: try again", content_type = "text/html")
    )
)]
async fn show(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let locale = texts::negotiate(&headers);
    let shown = match state.engine.link_page(&token).await {
        Ok(p) => p,
        Err(e) => return refusal(&state, &e, locale, Some(&token)).await,
    };
    let action = format!("{}/l/{}", path_prefix(state.config.public_base_url.as_deref()), token);
    let t = LINK.get(locale);
    let brand = Brand {
        name: shown.brand,
        color: shown.brand_color,
    };
    respond(
        &state,
        StatusCode::OK,
        html(locale, Some(&brand), t.confirm_title, &confirm_body(t, &action)),
        shown.target_origin.as_deref(),
    )
}

/// What the page's script gets back from its background POST.
#[derive(serde::Serialize)]
struct FetchStep {
    /// Decided at once: go here (the target with `vfp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Authenticate through the operator: fetch this, then POST `done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline_ms: Option<u64>,
}

/// Confirm a link (the click)
///
/// Records the click once (time, click IP, user agent). Without an operator round trip
/// it redirects (303) to the integrator's target URL with `vfp` added to its query; with
/// one, to the operator's authorization URL (the operator sends the browser back to
/// `/l/callback`). With the header `x-ringproof-flow: fetch` (the page's own script) it
/// answers JSON instead of redirecting. The click IP is the socket address, or — only
/// when the peer is a configured trusted proxy — the right-most `X-Forwarded-For`
/// address that is not itself a trusted proxy. A used, expired or unknown link gets a
/// page that redirects nowhere.
#[utoipa::path(
    post,
    path = "/l/{token}",
    tag = "links",
    params(("token" = String, Path, description = "The link token from the SMS (22 base64url characters)")),
    responses(
        (status = 200, description = "With `x-ringproof-flow: fetch`: `{next}` or `{operator, done, deadline_ms}`", content_type = "application/json"),
        (status = 303, description = "Clicked: redirect to the target URL with `vfp`, or to the operator",
            headers(("Location" = String, description = "The integrator's target URL with `vfp=<fingerprint>` added, or the operator's authorization URL"))),
        (status = 404, description = "\"This link is not valid\" page", content_type = "text/html"),
        (status = 410, description = "\"This link was already used\" or \"This link has expired\" page", content_type = "text/html"),
        (status = 503, description = "Store unavailable: try again", content_type = "text/html")
    )
)]
async fn confirm(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let click = crate::netauth::click_context(&state, peer.ip(), &headers);
    let flow = match headers.get(FLOW_HEADER).and_then(|v| v.to_str().ok()) {
        Some("fetch") => AuthFlow::Fetch,
        _ => AuthFlow::Navigate,
    };
    let result = state.engine.confirm_link(&token, &click, flow).await;
    count("confirm", result.as_ref().map(|_| ()));
    match (result, flow) {
        (Ok(ConfirmStep::Target(location)), AuthFlow::Navigate) => see_other(&state, &location),
        (Ok(ConfirmStep::Operator { url, .. }), AuthFlow::Navigate) => see_other(&state, &url),
        (Ok(ConfirmStep::Target(location)), AuthFlow::Fetch) => fetch_step(
            &state,
            FetchStep {
                next: Some(location),
                operator: None,
                done: None,
                deadline_ms: None,
            },
        ),
        (Ok(ConfirmStep::Operator { url, budget_ms }), AuthFlow::Fetch) => fetch_step(
            &state,
            FetchStep {
                next: None,
                operator: Some(url),
                done: Some(format!(
                    "{}/l/{}/done",
                    path_prefix(state.config.public_base_url.as_deref()),
                    token
                )),
                // A little less than what is left, so the page's `done` arrives in time.
                deadline_ms: Some(budget_ms.saturating_sub(300)),
            },
        ),
        (Err(e), _) => refusal(&state, &e, texts::negotiate(&headers), Some(&token)).await,
    }
}

/// The operator's answer (`code` or `error`, with `state`).
#[derive(Deserialize, utoipa::IntoParams)]
struct CallbackQuery {
    /// The `state` ringproof sent to the operator.
    state: Option<String>,
    /// The authorization code.
    code: Option<String>,
    /// The operator's error (`access_denied`, `login_required`, `consent_required`, …).
    error: Option<String>,
}

/// Operator callback (network authentication)
///
/// Where the operator sends the device back after network-based authentication
/// (the redirect URI registered with it): settles the verdict once (the code is exchanged
/// and Number Verification asked), then redirects (303) to the integrator's target with
/// `vfp`, or answers 204 to the link page's background round trip. A replayed or unknown
/// `state` is refused with a page that redirects nowhere. For a silent step (`/v1/silent`)
/// it answers the JSON result instead.
#[utoipa::path(
    get,
    path = "/l/callback",
    tag = "links",
    params(CallbackQuery),
    responses(
        (status = 200, description = "A silent step settled (its `state` names a verification)", body = crate::routes::silent::SilentResult),
        (status = 204, description = "Settled (the link page's background round trip)"),
        (status = 303, description = "Settled: redirect to the target URL with `vfp`",
            headers(("Location" = String, description = "The integrator's target URL with `vfp=<fingerprint>` added"))),
        (status = 404, description = "Unknown state: the \"link not valid\" page, or for a silent step's state the JSON error",
            content((String = "text/html"), (crate::api_error::ErrorResponse = "application/json"))),
        (status = 409, description = "A silent step already settled (a replay), or its verification not pending", body = crate::api_error::ErrorResponse),
        (status = 410, description = "Already settled (a replay): the \"already used\" page", content_type = "text/html")
    )
)]
async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let cb = Callback {
        code: q.code,
        error: q.error,
        from: Some(crate::client_ip::source_ip(
            peer.ip(),
            &headers,
            &state.config.trusted_proxies,
        )),
    };
    // A silent step's state carries its verification (`<client>.<id>.<random>`); a link's
    // is one token.
    if let Some(s) = q.state.as_deref().filter(|s| s.contains('.')) {
        return private(crate::routes::silent::callback(&state, s, &cb).await, &state);
    }
    let result = state
        .engine
        .link_callback(q.state.as_deref().unwrap_or_default(), &cb)
        .await;
    count("callback", result.as_ref().map(|_| ()));
    match result {
        Ok(CallbackStep::Target(location)) => see_other(&state, &location),
        Ok(CallbackStep::Settled) => private(StatusCode::NO_CONTENT.into_response(), &state),
        // The state names no link the page could brand.
        Err(e) => refusal(&state, &e, texts::negotiate(&headers), None).await,
    }
}

/// Finish a link after the operator
///
/// The link page's last step after its background round trip through the operator (or
/// when the deadline ran out): a verdict the operator never gave is settled as
/// "indeterminate", and the browser is redirected (303) to the target with `vfp`.
#[utoipa::path(
    post,
    path = "/l/{token}/done",
    tag = "links",
    params(("token" = String, Path, description = "The link token from the SMS (22 base64url characters)")),
    responses(
        (status = 303, description = "Redirect to the target URL with `vfp`",
            headers(("Location" = String, description = "The integrator's target URL with `vfp=<fingerprint>` added"))),
        (status = 404, description = "\"This link is not valid\" page", content_type = "text/html"),
        (status = 410, description = "\"This link was already used\" page", content_type = "text/html")
    )
)]
async fn done(State(state): State<AppState>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    let result = state.engine.finish_link(&token).await;
    count("done", result.as_ref().map(|_| ()));
    match result {
        Ok(location) => see_other(&state, &location),
        Err(e) => refusal(&state, &e, texts::negotiate(&headers), Some(&token)).await,
    }
}

/// ringproof's public keys
///
/// The JSON Web Key Set with the public half of the key ringproof signs its
/// `private_key_jwt` client assertions with: register this URL with the operator. Empty
/// when no operator is configured.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "links",
    responses((status = 200, description = "`{\"keys\": [...]}`", content_type = "application/json"))
)]
async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"))],
        axum::Json(state.netauth.jwks.clone()),
    )
        .into_response()
}

fn count(step: &'static str, result: Result<(), &LinkError>) {
    let outcome = match result {
        Ok(()) => "ok",
        Err(LinkError::Click(ClickError::AlreadyUsed | ClickError::Settled)) => "already_used",
        Err(LinkError::Click(ClickError::Expired)) => "expired",
        Err(LinkError::NotFound) => "not_found",
        Err(_) => "error",
    };
    metrics::counter!("ringproof_link_confirms_total", "step" => step, "outcome" => outcome).increment(1);
}

/// A 303 to `location`. The target URL was checked when the link was sent, so a value
/// that cannot be a header is a bug: the "failed" page, in English (no request to read a
/// language from here, and it cannot happen).
fn see_other(state: &AppState, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => private((StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(), state),
        Err(_) => {
            tracing::error!("the redirect URL of a link is not a valid header value");
            stopped(state, Stop::Failed, Locale::En, None)
        }
    }
}

fn fetch_step(state: &AppState, step: FetchStep) -> Response {
    private(axum::Json(step).into_response(), state)
}

/// Which page a link error stops on (logging what is not the person's doing).
fn stop_of(e: &LinkError) -> Stop {
    match e {
        LinkError::Click(ClickError::AlreadyUsed | ClickError::Settled) => Stop::Used,
        LinkError::Click(ClickError::Expired) => Stop::Expired,
        LinkError::NotFound => Stop::NotValid,
        LinkError::Core(CoreError::Store(StoreError::Unavailable(e))) => {
            tracing::warn!(error = %e, "link page: store unavailable");
            Stop::Busy
        }
        e => {
            tracing::error!(error = %e, "link page failed");
            Stop::Failed
        }
    }
}

/// The page for a link error, in `locale`. A used or expired link still names who sent
/// it (one more read, on these pages only), so the person knows where to go back to.
async fn refusal(state: &AppState, e: &LinkError, locale: Locale, token: Option<&str>) -> Response {
    let stop = stop_of(e);
    let brand = match (stop, token) {
        (Stop::Used | Stop::Expired, Some(token)) => state
            .engine
            .link_brand(token)
            .await
            .map(|(name, color)| Brand { name, color }),
        _ => None,
    };
    stopped(state, stop, locale, brand.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_posts_through_the_public_path_prefix() {
        assert_eq!(path_prefix(None), "");
        assert_eq!(path_prefix(Some("https://v.example")), "");
        assert_eq!(path_prefix(Some("https://v.example/")), "");
        assert_eq!(path_prefix(Some("https://v.example/rp/")), "/rp");
    }

    /// Every page in every language: its `<html lang>` (and `dir=rtl` for Arabic), its
    /// heading, the brand escaped with its colour as the accent, under 30 KB.
    #[test]
    fn every_page_renders_in_every_language() {
        let brand = Brand {
            name: "<Acme & Co>".into(),
            color: BrandColor::parse("#0a7d5a").ok(),
        };
        for locale in Locale::ALL {
            let t = LINK.get(locale);
            let mut pages = vec![(
                t.confirm_title,
                html(locale, Some(&brand), t.confirm_title, &confirm_body(t, "/l/x")),
            )];
            for stop in [Stop::NotValid, Stop::Used, Stop::Expired, Stop::Busy, Stop::Failed] {
                pages.push((stop.texts(t).0, stop.html(locale, Some(&brand))));
            }
            for (title, page) in pages {
                let open = if locale == Locale::Ar {
                    "<html lang=ar dir=rtl>".to_owned()
                } else {
                    format!("<html lang={}>", locale.tag())
                };
                assert!(page.starts_with(&format!("<!doctype html>{open}")), "{locale}: {page}");
                assert!(
                    page.contains(&format!("<h1>{}</h1>", escape(title))),
                    "{locale}: {page}"
                );
                assert!(
                    page.contains("<p class=brand dir=auto>&lt;Acme &amp; Co&gt;</p>"),
                    "{page}"
                );
                assert!(page.contains(":root{--accent:#0a7d5a}"), "{page}");
                assert!(page.len() < 30 * 1024, "{locale}: {} bytes", page.len());
                assert!(
                    !page.contains("http://") && !page.contains("https://"),
                    "nothing from outside"
                );
            }
        }
        // The confirm page's fallback names its button, in the page's language.
        let ja = confirm_body(LINK.get(Locale::Ja), "/l/x");
        assert!(
            ja.contains("「続ける」をタップ") && ja.contains(">続ける</button>"),
            "{ja}"
        );
        // Without a brand: no brand line, ringproof's own accent.
        let plain = Stop::Expired.html(Locale::En, None);
        assert!(!plain.contains("class=brand") && !plain.contains("}:root"), "{plain}");
    }

    #[test]
    fn each_stop_has_its_status() {
        assert_eq!(Stop::NotValid.status(), 404);
        assert_eq!(Stop::Used.status(), 410);
        assert_eq!(Stop::Expired.status(), 410);
        assert_eq!(Stop::Busy.status(), 503);
        assert_eq!(Stop::Failed.status(), 500);
        assert_eq!(stop_of(&LinkError::Click(ClickError::Settled)), Stop::Used);
        assert_eq!(
            stop_of(&LinkError::Core(CoreError::Store(StoreError::Unavailable("x".into())))),
            Stop::Busy
        );
        assert_eq!(stop_of(&LinkError::Core(CoreError::Internal("x".into()))), Stop::Failed);
    }
}
