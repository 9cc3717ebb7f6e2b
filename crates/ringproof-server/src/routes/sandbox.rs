//! The sandbox phone: what would have been sent, as JSON and as a page for people (the
//! numbers that received messages; each message as a bubble, oldest first like a phone's
//! conversation, with its links clickable and its code highlighted and copyable, calls
//! with their words and, when `espeak-ng` rendered them, their sound), live through
//! server-sent events (`/sandbox/events`: a new message appears at the bottom), with a
//! "clear" button.
//! Answers only when the sandbox provider is in use, which production mode forbids.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use ringproof_providers::sandbox::SandboxMessage;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::{ApiError, ApiQuery, ErrorResponse};
use crate::pages::escape;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(messages))
        .routes(routes!(inbox))
        .routes(routes!(audio))
        .routes(routes!(clear))
        // A stream that never ends by itself: for the page, not in the API document.
        .route("/sandbox/events", axum::routing::get(events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Only messages to this E.164 number (remember to URL-encode `+` as `%2B`).
    pub to: Option<String>,
    /// At most this many: 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub to: String,
    /// `sms` or `voice` (the text a call would speak).
    pub channel: String,
    /// The sender id, when the verification names one (the iDenfy face's `sender_name`).
    pub sender: Option<String>,
    pub text: String,
    pub created_at: String,
    /// The verification the message belongs to (`null` for an instant link's SMS).
    pub verification_id: Option<String>,
}

impl From<SandboxMessage> for MessageView {
    fn from(m: SandboxMessage) -> Self {
        Self {
            id: m.id,
            to: m.to,
            channel: m.channel,
            sender: m.sender,
            text: m.text,
            created_at: m.created_at,
            verification_id: m.verification_id,
        }
    }
}

async fn load(state: &AppState, q: &MessagesQuery) -> Result<Vec<SandboxMessage>, ApiError> {
    let sandbox = state.sandbox.as_ref().ok_or_else(ApiError::not_found)?;
    let to = q.to.as_deref().map(|t| {
        // A `+` left unencoded in a query string arrives as a space.
        let t = t.trim();
        if t.starts_with('+') {
            t.to_owned()
        } else {
            format!("+{t}")
        }
    });
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "limit must be 1 to 500",
        ));
    }
    sandbox.messages(to.as_deref(), limit).await.map_err(|e| {
        ringproof_core::CoreError::Store(ringproof_core::StoreError::Unavailable(format!("sandbox outbox: {e}"))).into()
    })
}

/// Sandbox messages
///
/// Newest first. Development only: absent when a real provider is configured.
#[utoipa::path(
    get,
    path = "/sandbox/api/messages",
    tag = "sandbox",
    params(MessagesQuery),
    responses(
        (status = 200, body = Vec<MessageView>),
        (status = 400, description = "Bad query parameter", body = ErrorResponse),
        (status = 404, description = "The sandbox provider is not in use", body = ErrorResponse)
    )
)]
async fn messages(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<axum::Json<Vec<MessageView>>, ApiError> {
    Ok(axum::Json(
        load(&state, &q).await?.into_iter().map(Into::into).collect(),
    ))
}

/// Sandbox phone page
///
/// The numbers that received messages and the messages (of one number with `to`) as a
/// phone shows a conversation: the most recent `limit`, oldest first, the newest at the
/// bottom. SMS as bubbles with links clickable and codes highlighted (with a "Copy"
/// button), calls with their words and a player when rendered. Updates itself
/// (server-sent events): a new message appears at the bottom.
#[utoipa::path(
    get,
    path = "/sandbox",
    tag = "sandbox",
    params(MessagesQuery),
    responses(
        (status = 200, description = "HTML page", content_type = "text/html"),
        (status = 400, description = "Bad query parameter", body = ErrorResponse),
        (status = 404, description = "The sandbox provider is not in use", body = ErrorResponse)
    )
)]
async fn inbox(State(state): State<AppState>, ApiQuery(q): ApiQuery<MessagesQuery>) -> Result<Response, ApiError> {
    // The outbox lists newest first; a conversation reads oldest first.
    let mut msgs = load(&state, &q).await?;
    msgs.reverse();
    let recent = load(
        &state,
        &MessagesQuery {
            to: None,
            limit: Some(500),
        },
    )
    .await?;
    let mut numbers: Vec<&str> = Vec::new();
    for m in &recent {
        if !numbers.contains(&m.to.as_str()) {
            numbers.push(&m.to);
        }
    }
    let selected = msgs.last().map(|m| m.to.clone()).filter(|_| q.to.is_some());
    let mut nav = String::from("<nav aria-label=\"Numbers\"><a href=\"/sandbox\"");
    if selected.is_none() {
        nav.push_str(" aria-current=page");
    }
    nav.push_str(">All</a>");
    for n in &numbers {
        let current = if selected.as_deref() == Some(*n) {
            " aria-current=page"
        } else {
            ""
        };
        nav.push_str(&format!(
            "<a href=\"/sandbox?to={}\"{current}>{}</a>",
            n.replace('+', "%2B"),
            escape(n)
        ));
    }
    nav.push_str("</nav>");
    let mut list = String::new();
    for m in &msgs {
        let player = match state.sandbox.as_ref() {
            Some(s) if m.channel == "voice" && s.audio_file(&m.id).await.is_some() => format!(
                "<br><audio controls preload=none src=\"/sandbox/audio/{}.wav\"></audio>",
                escape(&m.id)
            ),
            _ => String::new(),
        };
        let (kind, label) = if m.channel == "voice" {
            ("call", "Call")
        } else {
            ("sms", "SMS")
        };
        let from = m
            .sender
            .as_deref()
            .map(|s| format!(" from {}", escape(s)))
            .unwrap_or_default();
        let status = match verification_status(&state, m).await {
            Some(s) => format!(" <span class=\"status {s}\">{}</span>", s.replace('_', " ")),
            None => String::new(),
        };
        list.push_str(&format!(
            "<li class={kind}><p class=meta>{label} to {to}{from} · <time>{at}</time>{status}</p><p class=text>{text}</p>{player}{as_phone}</li>\n",
            to = escape(&m.to),
            at = escape(&m.created_at),
            text = rich_text(&m.text),
            as_phone = as_this_phone(&state, &m.to, &m.text),
        ));
    }
    if msgs.is_empty() {
        list.push_str("<li class=empty>No messages yet. Start a verification: its SMS and calls appear here.</li>");
    }
    let page = Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\">\
<title>Sandbox phone · ringproof</title><style>{STYLE}</style></head><body><main><h1>Sandbox phone</h1>\
<p class=intro>What ringproof would have sent, as a phone shows it: newest at the bottom, where new messages \
appear by themselves. \
JSON: <a href=\"/sandbox/api/messages\">/sandbox/api/messages</a>.</p>{nav}<ol class=thread>{list}</ol>\
<form method=post action=\"/sandbox/clear\"><button type=submit>Clear all messages</button></form></main>\
<script>{SCRIPT}</script></body></html>"
    ));
    let mut res = page.into_response();
    // Nothing from elsewhere: the page's own style and script, its events and the calls'
    // sound from this server, its one form back to it.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; \
             media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

const STYLE: &str = "body{font:16px/1.45 system-ui,-apple-system,sans-serif;margin:0;color:#1a1a1a;background:#eef0f3}\
main{max-width:34em;margin:0 auto;padding:1em .8em 2em}h1{font-size:1.4em;margin:.2em 0 .3em}\
.intro{color:#444;font-size:.92em}a{color:#0b57d0}nav{display:flex;flex-wrap:wrap;gap:.4em;margin:.8em 0}\
nav a{background:#fff;border:1px solid #ccd2da;border-radius:999px;padding:.25em .7em;text-decoration:none;\
font-variant-numeric:tabular-nums}nav a[aria-current]{background:#0b57d0;color:#fff;border-color:#0b57d0}\
.thread{list-style:none;padding:0;margin:0}.thread li{background:#fff;border-radius:14px 14px 14px 4px;\
padding:.6em .8em;margin:.6em 0;max-width:92%;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow-wrap:anywhere}.thread li.call{background:#fffaf0}\
.meta{margin:0 0 .2em;font-size:.8em;color:#555}.text{margin:0;white-space:pre-wrap}\
.code{font-weight:700;font-size:1.1em;background:#e8f0fe;padding:0 .25em;border-radius:4px;user-select:all;\
letter-spacing:.05em}.copy{display:none;font:inherit;font-size:.8em;margin:0 0 0 .4em;padding:.1em .6em;\
border-radius:999px;border:1px solid #0b57d0;background:#fff;color:#0b57d0;vertical-align:.1em}\
.js .copy{display:inline-block}.copy.done{background:#0c4a23;border-color:#0c4a23;color:#fff}.status{display:inline-block;margin-left:.3em;padding:0 .45em;border-radius:999px;\
background:#e3e6ea;color:#333}.status.approved{background:#d7f2df;color:#0c4a23}.status.pending{background:#fff1c7;\
color:#5c4100}audio{width:100%;margin-top:.4em}.as{font-size:.85em}.empty{color:#555}\
button{font:inherit;margin-top:1em;padding:.5em 1em;border-radius:8px;border:1px solid #b3261e;\
background:#fff;color:#b3261e}";

/// The page's script. On every change the server announces, the page's main part is
/// replaced by a fresh copy (no reload); the page opens at the bottom of the conversation
/// and, when the reader is there, follows it down as messages arrive. It also shows the
/// "Copy" buttons (hidden without script, where the code itself is selectable with one
/// tap) and makes them copy their code: the Clipboard API where the page is a secure
/// context (`localhost`, HTTPS), else the selection and `execCommand('copy')`; the button
/// says "Copied" for two seconds.
const SCRIPT: &str = "document.documentElement.classList.add('js');\
const atEnd=()=>innerHeight+scrollY>=document.documentElement.scrollHeight-80,\
toEnd=()=>scrollTo(0,document.documentElement.scrollHeight);toEnd();\
window.rpEvents=new EventSource('/sandbox/events');rpEvents.onmessage=async()=>{try{const end=atEnd();\
const r=await fetch(location.href);const d=new DOMParser().parseFromString(await r.text(),'text/html');\
document.querySelector('main').replaceWith(d.querySelector('main'));if(end)toEnd()}catch(e){}};\
document.addEventListener('click',async(e)=>{const b=e.target.closest('button.copy');if(!b)return;\
const c=b.previousElementSibling;try{await navigator.clipboard.writeText(c.textContent)}catch(x){\
const g=document.createRange();g.selectNodeContents(c);getSelection().removeAllRanges();getSelection().addRange(g);\
document.execCommand('copy')}b.textContent='Copied';b.classList.add('done');\
setTimeout(()=>{b.textContent='Copy';b.classList.remove('done')},2000)})";

/// The current status of the verification a message belongs to (`pending`, `approved`, …).
async fn verification_status(state: &AppState, m: &SandboxMessage) -> Option<&'static str> {
    let client = ringproof_core::ids::ClientId::parse(m.client_id.as_deref()?)?;
    let id = ringproof_core::ids::VerificationId::parse(m.verification_id.as_deref()?)?;
    state.engine.get(&client, &id).await.ok().map(|v| v.status.as_str())
}

/// A message's text as HTML: escaped, its http(s) links clickable, its codes (runs of 4
/// to 10 digits outside links) highlighted and selectable with one tap, the first one
/// followed by its "Copy" button (shown by the page's script).
fn rich_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut copy = true;
    let mut rest = text;
    while !rest.is_empty() {
        let link_at = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min();
        let (plain, tail) = match link_at {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        highlight_codes(plain, &mut out, &mut copy);
        if tail.is_empty() {
            break;
        }
        let end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        let url = escape(&tail[..end]);
        out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
        rest = &tail[end..];
    }
    out
}

/// The codes of `plain` highlighted; the first of the message (while `copy` is true) gets
/// the "Copy" button, right after it (the script copies its previous sibling).
fn highlight_codes(plain: &str, out: &mut String, copy: &mut bool) {
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String, copy: &mut bool| {
        if (4..=10).contains(&digits.len()) {
            out.push_str(&format!("<strong class=code>{digits}</strong>"));
            if std::mem::take(copy) {
                out.push_str("<button type=button class=copy>Copy</button>");
            }
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in plain.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, out, copy);
            out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    flush(&mut digits, out, copy);
}

/// With the CAMARA authenticator in development mode: for each link in an SMS, a link
/// that opens it "as this phone" through each operator's `/sim/as` (an override only the
/// operator simulator honours; docs/network-auth.md).
fn as_this_phone(state: &AppState, to: &str, text: &str) -> String {
    let c = &state.config;
    if c.mode != crate::config::Mode::Development || c.netauth.authenticator != crate::config::NetAuthKind::Camara {
        return String::new();
    }
    let Some(link) = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
    else {
        return String::new();
    };
    let mut out = String::new();
    for op in c
        .netauth
        .operators
        .iter()
        .filter(|o| o.prefixes.iter().any(|p| to.starts_with(p.as_str())))
    {
        let url = format!(
            "{}/sim/as?{}",
            op.issuer.trim_end_matches('/'),
            form_urlencoded::Serializer::new(String::new())
                .append_pair("number", to)
                .append_pair("then", link)
                .finish()
        );
        out.push_str(&format!(
            "<p class=as><a href=\"{}\">Open the link as this phone</a> (operator simulator {})</p>",
            escape(&url),
            escape(&op.name)
        ));
    }
    out
}

/// Clear the sandbox phone
///
/// Deletes every message (and rendered call), then goes back to the page.
#[utoipa::path(
    post,
    path = "/sandbox/clear",
    tag = "sandbox",
    responses(
        (status = 303, description = "Cleared: back to /sandbox", headers(("Location" = String, description = "`/sandbox`"))),
        (status = 404, description = "The sandbox provider is not in use", body = ErrorResponse)
    )
)]
async fn clear(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sandbox = state.sandbox.as_ref().ok_or_else(ApiError::not_found)?;
    sandbox.clear().await.map_err(|e| {
        ApiError::from(ringproof_core::CoreError::Store(
            ringproof_core::StoreError::Unavailable(format!("sandbox outbox: {e}")),
        ))
    })?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/sandbox")]).into_response())
}

/// Server-sent events: one `changed` event each time messages are added or cleared, until
/// the server shuts down.
async fn events(State(state): State<AppState>) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let sandbox = state.sandbox.as_ref().ok_or_else(ApiError::not_found)?;
    // Ends when the server shuts down, so the graceful shutdown does not wait on it.
    let stream = futures_util::stream::unfold(
        (sandbox.changes(), state.closing.clone()),
        |(mut rx, mut closing)| async move {
            tokio::select! {
                changed = rx.changed() => changed.ok()?,
                _ = closing.wait_for(|c| *c) => return None,
            }
            Some((
                Ok::<_, std::convert::Infallible>(Event::default().data("changed")),
                (rx, closing),
            ))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// A call as sound
///
/// The WAV file `espeak-ng` rendered from the words of call `<message id>` (listed as a
/// `voice` message). Only when `espeak-ng` is installed where the server runs.
#[utoipa::path(
    get,
    path = "/sandbox/audio/{file}",
    tag = "sandbox",
    params(("file" = String, Path, description = "`<message id>.wav`")),
    responses(
        (status = 200, description = "WAV audio", content_type = "audio/wav"),
        (status = 404, description = "No such rendered call, or the sandbox provider is not in use", body = ErrorResponse)
    )
)]
async fn audio(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let sandbox = state.sandbox.as_ref().ok_or_else(ApiError::not_found)?;
    let id = file.strip_suffix(".wav").ok_or_else(ApiError::not_found)?;
    let path = sandbox.audio_file(id).await.ok_or_else(ApiError::not_found)?;
    let bytes = tokio::fs::read(&path).await.map_err(|_| ApiError::not_found())?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_clickable_codes_highlighted_and_the_rest_escaped() {
        assert_eq!(
            rich_text("Your <b>Acme</b> code is 123456. Again: 123456"),
            "Your &lt;b&gt;Acme&lt;/b&gt; code is <strong class=code>123456</strong><button type=button class=copy>Copy</button>. \
             Again: <strong class=code>123456</strong>"
        );
        assert_eq!(
            rich_text("Tap http://127.0.0.1:8080/l/AbC_-1234567890123456 now"),
            "Tap <a href=\"http://127.0.0.1:8080/l/AbC_-1234567890123456\">http://127.0.0.1:8080/l/AbC_-1234567890123456</a> now"
        );
        assert_eq!(
            rich_text("1, 2, 3, 4 and 12 and 12345678901"),
            "1, 2, 3, 4 and 12 and 12345678901"
        );
        assert_eq!(
            rich_text("x https://a.example/?q=\"><script>"),
            "x <a href=\"https://a.example/?q=&quot;&gt;&lt;script&gt;\">https://a.example/?q=&quot;&gt;&lt;script&gt;</a>"
        );
        assert_eq!(rich_text(""), "");
    }
}
