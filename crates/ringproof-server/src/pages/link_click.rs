//! The one-time link pages: `<public_base_url>/l/{token}`, opened on the phone.
//!
//! `GET` only renders a page whose form POSTs back to the same URL (submitted at once by
//! a tiny inline script, with a visible button when script is off). It reads nothing from
//! the store and consumes nothing, so a link-preview bot that fetches the URL leaves the
//! link intact. `POST` is the click: [`Engine::confirm_link`] records it once and the
//! browser is sent (303) to the integrator's target with `vfp` added. A used, expired or
//! unknown link gets a plain page that redirects nowhere.
//!
//! The click IP is the request's source address ([`crate::client_ip::source_ip`]): the
//! socket peer, or behind a configured trusted proxy the right-most `X-Forwarded-For`
//! address that is not itself a trusted proxy.
//!
//! [`Engine::confirm_link`]: ringproof_core::engine::Engine

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ringproof_core::engine::link::LinkError;
use ringproof_core::link_session::{ClickError, looks_like_url_token};
use ringproof_core::netauth::NoNetworkAuth;
use ringproof_core::{CoreError, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::escape;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, confirm))
}

/// Headers every link page and redirect carries: never cached, never indexed, and the
/// token-bearing URL never leaks as a `Referer`. The CSP allows only the inline style and
/// script of the page itself.
fn private(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    res
}

const STYLE: &str = "body{font:17px/1.45 system-ui,-apple-system,sans-serif;margin:0;padding:2em 1.2em;\
color:#1a1a1a;background:#f6f7f9;text-align:center}main{max-width:26em;margin:0 auto;background:#fff;\
border-radius:12px;padding:1.6em 1.2em;box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:1.3em;margin:0 0 .6em}\
p{margin:.6em 0}button{font:inherit;font-weight:600;color:#fff;background:#1f6feb;border:0;border-radius:8px;\
padding:.8em 2.2em;margin-top:.8em;min-width:60%}noscript p{color:#555;font-size:.9em}";

/// A whole page: title, heading and body (the body is already HTML).
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><meta name=robots content=noindex>\
<title>{t}</title><style>{STYLE}</style></head><body><main><h1>{t}</h1>{body_html}</main></body></html>",
        t = escape(title)
    );
    private(
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
    )
}

fn not_valid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "<p>Check that you opened the whole link from the message, or ask for a new one.</p>",
    )
}

fn already_used() -> Response {
    page(
        StatusCode::GONE,
        "This link was already used",
        "<p>Each link works once. If you did not open it, ask for a new one.</p>",
    )
}

fn expired() -> Response {
    page(
        StatusCode::GONE,
        "This link has expired",
        "<p>Ask for a new link and open it within a few minutes.</p>",
    )
}

fn unavailable() -> Response {
    let mut res = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "<p>The service is busy right now. Go back and try again in a moment.</p>",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

fn failed() -> Response {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "<p>Your link was not used. Try again, or ask for a new one.</p>",
    )
}

/// The path prefix of `public_base_url` (e.g. `/rp` for `https://x.example/rp`), so the
/// form posts back through the same reverse proxy path the link came in by.
fn path_prefix(public_base_url: Option<&str>) -> &str {
    let Some(u) = public_base_url else { return "" };
    let rest = u.split_once("://").map_or(u, |(_, r)| r);
    rest.find('/').map_or("", |i| rest[i..].trim_end_matches('/'))
}

/// Open a link
///
/// The page a one-time link opens: a form that POSTs back to the same URL (sent by a
/// tiny inline script; a visible button when script is off). Consumes nothing: a
/// link-preview bot that only GETs the URL does not use the link.
#[utoipa::path(
    get,
    path = "/l/{token}",
    tag = "links",
    params(("token" = String, Path, description = "The link token from the SMS (22 base64url characters)")),
    responses(
        (status = 200, description = "The confirm page", content_type = "text/html"),
        (status = 404, description = "Not a link token: the \"link not valid\" page", content_type = "text/html")
    )
)]
async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !looks_like_url_token(&token) {
        return not_valid();
    }
    let action = format!("{}/l/{}", path_prefix(state.config.public_base_url.as_deref()), token);
    let body = format!(
        "<p>Tap Continue to confirm this phone.</p>\
<form id=confirm method=post action=\"{action}\"><button type=submit>Continue</button></form>\
<noscript><p>JavaScript is off: tap Continue to finish.</p></noscript>\
<script>document.getElementById('confirm').submit()</script>",
        action = escape(&action)
    );
    page(StatusCode::OK, "Confirming your phone…", &body)
}

/// Confirm a link (the click)
///
/// Records the click once (time, click IP, user agent) and redirects (303) to the
/// integrator's target URL with `vfp` added to its query. The click IP is the socket
/// address, or — only when the peer is a configured trusted proxy — the right-most
/// `X-Forwarded-For` address that is not itself a trusted proxy. A used, expired or
/// unknown link gets a page that redirects nowhere.
#[utoipa::path(
    post,
    path = "/l/{token}",
    tag = "links",
    params(("token" = String, Path, description = "The link token from the SMS (22 base64url characters)")),
    responses(
        (status = 303, description = "Clicked: redirect to the target URL with `vfp`",
            headers(("Location" = String, description = "The integrator's target URL with `vfp=<fingerprint>` added"))),
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
    let ip = crate::client_ip::source_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let user_agent = headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let result = state.engine.confirm_link(&token, ip, &user_agent, &NoNetworkAuth).await;
    let outcome = match &result {
        Ok(_) => "clicked",
        Err(LinkError::Click(ClickError::AlreadyUsed)) => "already_used",
        Err(LinkError::Click(ClickError::Expired)) => "expired",
        Err(LinkError::NotFound) => "not_found",
        Err(_) => "error",
    };
    metrics::counter!("ringproof_link_confirms_total", "outcome" => outcome).increment(1);
    match result {
        Ok(location) => match HeaderValue::from_str(&location) {
            Ok(v) => private((StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response()),
            Err(_) => {
                tracing::error!("the redirect URL of a clicked link is not a valid header value");
                failed()
            }
        },
        Err(LinkError::Click(ClickError::AlreadyUsed)) => already_used(),
        Err(LinkError::Click(ClickError::Expired)) => expired(),
        Err(LinkError::NotFound) => not_valid(),
        Err(LinkError::Core(CoreError::Store(StoreError::Unavailable(e)))) => {
            tracing::warn!(error = %e, "link confirm: store unavailable");
            unavailable()
        }
        Err(e) => {
            tracing::error!(error = %e, "link confirm failed");
            failed()
        }
    }
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
}
