//! The sandbox phone's inbox: what would have been sent, as JSON and as a plain page, and
//! the calls as sound when `espeak-ng` rendered them. Answers only when the sandbox
//! provider is in use, which production mode forbids.

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

/// Sandbox inbox page
///
/// A plain HTML list of the same messages.
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
    let msgs = load(&state, &q).await?;
    let mut rows = String::new();
    for m in &msgs {
        // A call rendered by espeak-ng can be played (the id is a checked message id).
        let player = match state.sandbox.as_ref() {
            Some(s) if m.channel == "voice" && s.audio_file(&m.id).await.is_some() => format!(
                "<br><audio controls preload=none src=\"/sandbox/audio/{}.wav\"></audio>",
                escape(&m.id)
            ),
            _ => String::new(),
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{player}</td></tr>\n",
            escape(&m.created_at),
            escape(&m.to),
            escape(m.sender.as_deref().unwrap_or("")),
            escape(&m.channel),
            escape(&m.text)
        ));
    }
    if msgs.is_empty() {
        rows.push_str("<tr><td colspan=5>No messages yet. Start a verification and reload.</td></tr>");
    }
    let page = Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
<title>ringproof sandbox inbox</title><style>body{{font:15px system-ui,sans-serif;margin:2em}}\
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}}\
</style></head><body><h1>Sandbox inbox</h1><p>What ringproof would have sent, newest first. \
Filter: <code>/sandbox?to=%2B14155550123</code>. JSON: <a href=\"/sandbox/api/messages\">/sandbox/api/messages</a>.</p>\
<table><thead><tr><th>When (UTC)</th><th>To</th><th>From</th><th>Channel</th><th>Text</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>"
    ));
    let mut res = page.into_response();
    // Nothing from elsewhere: the page's own style, and the calls' sound from this server.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; media-src 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    Ok(res)
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
