//! The native API, `/v1`: thin handlers that parse, call the engine, and render.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ringproof_core::crypto::sha256;
use ringproof_core::engine::{Idempotency, StartOutcome, StartRequest};
use ringproof_core::ids::VerificationId;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::verification::{CheckOutcome, Event, Status, Verification};
use ringproof_core::workflow::{Channel, CodeMode, StepInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::{ApiError, ApiJson, ErrorResponse};
use crate::auth::ApiClient;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_verification))
        .routes(routes!(get_verification))
        .routes(routes!(check_verification))
        .routes(routes!(cancel_verification))
        .routes(routes!(resend_verification))
        .routes(routes!(list_events))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiChannel {
    Sms,
    Voice,
}

impl From<ApiChannel> for Channel {
    fn from(c: ApiChannel) -> Self {
        match c {
            ApiChannel::Sms => Channel::Sms,
            ApiChannel::Voice => Channel::Voice,
        }
    }
}

impl From<Channel> for ApiChannel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Sms => ApiChannel::Sms,
            Channel::Voice => ApiChannel::Voice,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiCodeMode {
    /// Repeat the code current when the step runs.
    Same,
    /// Send a fresh code; the previous one stops working.
    New,
}

/// The channel of a requested step: a delivery channel, or `silent` (first step only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiStepChannel {
    Sms,
    Voice,
    /// Network authentication through the operator before any code (docs/network-auth.md):
    /// the response's `check_url` is opened by your app on the device, over mobile data.
    /// Only as the first step, followed by at least one `sms` or `voice` step.
    Silent,
}

/// One workflow step as requested.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStepRequest {
    pub channel: ApiStepChannel,
    /// Seconds after the start at which this step runs (0 for the first step).
    #[schema(maximum = 86400)]
    pub after_s: Option<u32>,
    /// `new` (default for the first step) or `same` (default for later steps).
    pub code: Option<ApiCodeMode>,
    /// For a `new` code: how long it stays valid, in seconds (default: the policy's 600).
    #[schema(minimum = 1, maximum = 86400)]
    pub valid_for_s: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVerificationRequest {
    /// The phone number in E.164, e.g. `+14155550123`.
    #[schema(example = "+14155550123", pattern = r"^\+[1-9][0-9]{6,14}$")]
    pub to: String,
    /// One-step shortcut: the channel of the only step. Give this or `workflow`.
    pub channel: Option<ApiChannel>,
    /// Up to 3 steps, e.g. SMS now, a call after 120 s repeating the code, a call with a
    /// new code after 300 s; a `silent` step may come first (not counted in the 3).
    #[schema(min_items = 1, max_items = 4)]
    pub workflow: Option<Vec<WorkflowStepRequest>>,
    /// Digits per code, 4..=10 (default: the policy's, 6).
    #[schema(minimum = 4, maximum = 10)]
    pub code_length: Option<u8>,
    /// Language of the SMS and calls: a language tag whose language is one of `en`, `es`,
    /// `fr`, `de`, `pt`, `it`, `hi`, `ar`, `zh`, `ja`, `ru`, `id`, with a region if you like
    /// (`pt-BR`; calls use it to pick a regional voice). Another language is a 400 naming
    /// `locale`, never a silent fallback. Absent: the language of the number's country, as
    /// Twilio Verify chooses (`+81` → `ja`), else `en` (docs/locales.md).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,16}$", example = "pt-BR")]
    pub locale: Option<String>,
    /// Name shown in the message (default: the client's brand): 1 to 40 printable characters.
    #[schema(min_length = 1, max_length = 40)]
    pub brand: Option<String>,
    /// The end user's IP address (IPv4 or IPv6), as your backend saw it. Optional; when
    /// given, sends are limited per IP too (`limits.ip_sends_per_hour`). Only a keyed
    /// hash of it is kept, in the limit counters.
    #[schema(example = "203.0.113.7")]
    pub end_user_ip: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowStepView {
    pub channel: ApiChannel,
    pub after_s: u32,
    pub code: ApiCodeMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_for_s: Option<u32>,
}

/// A verification. Never contains the code.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VerificationResponse {
    #[schema(example = "VE2f6b2d9c0e4a4b7f9d1c3e5a7b9d1f3a")]
    pub id: String,
    /// `pending`, `approved`, `canceled`, `expired`, `max_attempts_reached` or `failed`.
    #[schema(example = "pending")]
    pub status: String,
    pub to: String,
    /// The channel of the first step.
    pub channel: ApiChannel,
    pub workflow: Vec<WorkflowStepView>,
    pub code_length: u8,
    /// The language of its messages: the request's `locale` as given, or the language
    /// chosen by the number's country (`ja`).
    #[schema(example = "en")]
    pub locale: String,
    pub brand: String,
    /// Messages and calls issued so far (steps and resends).
    pub send_attempts: u32,
    /// Wrong checks still allowed.
    pub remaining_check_attempts: u32,
    /// Messages and calls still allowed (steps and resends), of the policy's `max_sends`.
    pub sends_left: u32,
    /// When `resend` is next accepted (the cooldown doubles with each resend); `null` once
    /// the verification is not pending or every send is used. Earlier, `resend` answers 429
    /// with `Retry-After`.
    #[schema(example = "2026-12-04T10:00:30.000Z")]
    pub next_resend_at: Option<String>,
    /// Steps not yet run.
    pub pending_steps: u32,
    pub created_at: String,
    pub updated_at: String,
    /// When the verification expires if not approved (the last code window's end).
    pub expires_at: String,
    /// Whether the operator says the number's SIM card was changed within the client's
    /// window (`--sim-swap-max-age-h`, default 240 h), asked before the first send:
    /// `true` or `false`; `null` when there is no answer (see `sim_swap`).
    #[schema(example = false)]
    pub sim_swapped: Option<bool>,
    /// The SIM-swap check: `not_swapped`, `swapped`, `unknown` (asked, but the operator
    /// could not be reached, refused, or no check is configured: never a pass), or `null`
    /// when the client does not check (`ringproof client update ID --sim-swap check|block`).
    #[schema(example = "not_swapped")]
    pub sim_swap: Option<String>,
    /// With a silent first step, in the create response only: the URL your app opens on
    /// the device, over mobile data, following redirects (docs/network-auth.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_url: Option<String>,
    /// With a silent first step: `waiting` until the network has answered, then the
    /// verdict's reason: `verified` (approved, no code sent) or why not (`not_verified`,
    /// `unidentified`, `deadline`, …; the next step ran). `null` without a silent step.
    #[schema(example = "verified")]
    pub silent: Option<String>,
}

impl VerificationResponse {
    pub fn from_verification(v: &Verification) -> Self {
        Self {
            id: v.id.to_string(),
            status: v.status.as_str().to_owned(),
            to: v.to.e164().to_owned(),
            channel: v.workflow.first_channel().into(),
            workflow: v
                .workflow
                .steps()
                .iter()
                .map(|s| WorkflowStepView {
                    channel: s.channel.into(),
                    after_s: s.after_s,
                    code: match s.code {
                        CodeMode::Same => ApiCodeMode::Same,
                        CodeMode::New => ApiCodeMode::New,
                    },
                    valid_for_s: s.valid_for_s,
                })
                .collect(),
            code_length: v.code_length,
            locale: v.locale.clone(),
            brand: v.brand.clone(),
            send_attempts: v.sends,
            remaining_check_attempts: v.remaining_attempts(),
            sends_left: v.policy.max_sends.saturating_sub(v.sends),
            next_resend_at: (v.status == Status::Pending && v.sends < v.policy.max_sends)
                .then(|| v.next_resend_at().to_rfc3339()),
            pending_steps: if v.status == Status::Pending {
                (v.workflow.steps().len() as u32).saturating_sub(u32::from(v.next_step))
            } else {
                0
            },
            created_at: v.created_at.to_rfc3339(),
            updated_at: v.updated_at.to_rfc3339(),
            expires_at: v.expires_at.to_rfc3339(),
            sim_swapped: v.options.sim_swap.and_then(|r| r.swapped()),
            sim_swap: v.options.sim_swap.map(|r| r.as_str().to_owned()),
            check_url: None,
            silent: v
                .options
                .silent
                .as_ref()
                .map(|s| s.result.clone().unwrap_or_else(|| "waiting".into())),
        }
    }
}

fn render_created(engine: &ringproof_core::engine::Engine, v: &Verification) -> (u16, String) {
    let body = serde_json::to_string(&VerificationResponse {
        check_url: engine.silent_check_url(v),
        ..VerificationResponse::from_verification(v)
    })
    .unwrap_or_default();
    (201, body)
}

fn json_response(status: u16, body: String, replayed: bool) -> Response {
    let mut res = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// Start a verification
///
/// Sends the first code at once (through the durable outbox) and schedules the later
/// workflow steps. With an `Idempotency-Key` header, the same key and body within 24 h
/// return the first response again (header `Idempotent-Replayed: true`); the same key with a
/// different body is refused with 422.
#[utoipa::path(
    post,
    path = "/v1/verifications",
    tag = "verifications",
    request_body = CreateVerificationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Up to 255 printable characters")),
    responses(
        (status = 201, description = "Created", body = VerificationResponse),
        (status = 400, description = "Invalid request (phone number, workflow, fields)", body = ErrorResponse),
        (status = 401, description = "Missing or wrong credentials", body = ErrorResponse),
        (status = 403, description = "`destination_blocked` (the client's blocklist, or a premium-rate, shared-cost, satellite or other non-personal number), `number_not_allowed` (test mode, not on the allowlist), `country_not_allowed` (the client's geo permissions for the first step's channel; the message names the country), `prefix_blocked` (the number's range is blocked by the SMS-pumping guard or by hand; Retry-After says when the block ends) or `sim_swapped` (the client blocks recent SIM swaps and the operator says this number's SIM was changed within its window; nothing was sent)", body = ErrorResponse),
        (status = 413, description = "Body over 16 KiB", body = ErrorResponse),
        (status = 415, description = "Body not sent as application/json", body = ErrorResponse),
        (status = 422, description = "Idempotency-Key reused with another body", body = ErrorResponse),
        (status = 429, description = "A limit across verifications (see Retry-After): `rate_limited` (sends to the number, from the end user's IP, or the client's cap) or `guess_budget_exhausted` (too many wrong codes for the number); or `too_many_failures`: too many failed credentials from this address or for this key, not checked", body = ErrorResponse),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn create_verification(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    headers: HeaderMap,
    body: ApiJson<CreateVerificationRequest>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 printable ASCII characters",
                    )
                })?;
            Some(k.to_owned())
        }
    };
    let to = PhoneNumber::parse_e164(body.to.trim()).map_err(ringproof_core::CoreError::from)?;
    let end_user_ip = body
        .end_user_ip
        .as_deref()
        .map(|s| s.trim().parse::<std::net::IpAddr>())
        .transpose()
        .map_err(|_| ringproof_core::CoreError::invalid("end_user_ip", "must be an IPv4 or IPv6 address"))?;
    let (silent, steps) = split_silent(body.workflow.as_deref())?;
    let req = StartRequest {
        to: Some(to),
        channel: body.channel.map(Into::into),
        silent,
        workflow: steps.map(|steps| {
            steps
                .iter()
                .map(|s| StepInput {
                    channel: match s.channel {
                        ApiStepChannel::Sms => Some(Channel::Sms),
                        ApiStepChannel::Voice => Some(Channel::Voice),
                        ApiStepChannel::Silent => None,
                    },
                    after_s: s.after_s,
                    code: s.code.map(|c| match c {
                        ApiCodeMode::Same => CodeMode::Same,
                        ApiCodeMode::New => CodeMode::New,
                    }),
                    valid_for_s: s.valid_for_s,
                })
                .collect()
        }),
        code_length: body.code_length,
        locale: body.locale.clone(),
        brand: body.brand.clone(),
        end_user_ip,
        ..StartRequest::default()
    };
    let render = |v: &Verification| render_created(&state.engine, v);
    let idem = key.map(|key| Idempotency {
        key,
        request_hash: sha256(&serde_json::to_vec(&*body).unwrap_or_default()),
        render: &render,
    });
    match state.engine.start(&client, req, idem).await? {
        StartOutcome::Created(v) => {
            tracing::info!(verification = %v.id, to = %v.to, "verification started");
            let (status, body) = render(&v);
            Ok(json_response(status, body, false))
        }
        StartOutcome::Replayed { status, body } => Ok(json_response(status, body, true)),
    }
}

/// A leading `silent` step, taken out of the workflow: whether there was one, and the
/// delivery steps after it. `silent` anywhere else, or with nothing after it, is refused.
fn split_silent(steps: Option<&[WorkflowStepRequest]>) -> Result<(bool, Option<&[WorkflowStepRequest]>), ApiError> {
    let Some(steps) = steps else { return Ok((false, None)) };
    let bad = |step: usize, message: &str| -> ApiError {
        ringproof_core::CoreError::InvalidWorkflow {
            step,
            message: message.into(),
        }
        .into()
    };
    if let Some(i) = steps.iter().skip(1).position(|s| s.channel == ApiStepChannel::Silent) {
        return Err(bad(i + 2, "a silent step can only be the first step"));
    }
    match steps.split_first() {
        Some((first, rest)) if first.channel == ApiStepChannel::Silent => {
            if first.after_s.unwrap_or(0) != 0 || first.code.is_some() || first.valid_for_s.is_some() {
                return Err(bad(1, "a silent step takes no after_s, code or valid_for_s"));
            }
            if rest.is_empty() {
                return Err(bad(
                    2,
                    "a silent step needs a step to fall back to (sms or voice) when the network cannot tell",
                ));
            }
            Ok((true, Some(rest)))
        }
        _ => Ok((false, Some(steps))),
    }
}

fn parse_id(id: &str) -> Result<VerificationId, ApiError> {
    // A malformed id is as unknown as a well-formed one that does not exist.
    VerificationId::parse(id).ok_or_else(|| ringproof_core::CoreError::NotFound.into())
}

/// Fetch a verification
#[utoipa::path(
    get,
    path = "/v1/verifications/{id}",
    tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 401, body = ErrorResponse),
        (status = 429, description = "`too_many_failures`: too many failed credentials from this address or for this key; not checked (see Retry-After)", body = ErrorResponse),
        (status = 404, description = "Unknown id, or another client's", body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn get_verification(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<VerificationResponse>, ApiError> {
    let v = state.engine.get(&client.id, &parse_id(&id)?).await?;
    Ok(axum::Json(VerificationResponse::from_verification(&v)))
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The code the person typed: 4 to 10 digits.
    #[schema(example = "123456", pattern = "^[0-9]{4,10}$")]
    pub code: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    /// The verification's status after this check.
    pub status: String,
    /// Whether the code was right.
    pub valid: bool,
    /// Wrong checks still allowed.
    pub remaining_attempts: u32,
}

impl From<CheckOutcome> for CheckResponse {
    fn from(o: CheckOutcome) -> Self {
        Self {
            status: o.status.as_str().to_owned(),
            valid: o.valid,
            remaining_attempts: o.remaining_attempts,
        }
    }
}

/// Check a code
///
/// A wrong code counts against the verification's attempts; the last allowed wrong code
/// ends it as `max_attempts_reached`, after which even the right code is refused. A check on
/// a verification that is no longer pending is refused with 409 and a code naming its
/// status (`verification_approved`, `verification_expired`, `max_attempts_reached`, …).
#[utoipa::path(
    post,
    path = "/v1/verifications/{id}/check",
    tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    request_body = CheckRequest,
    responses(
        (status = 200, body = CheckResponse),
        (status = 400, description = "The code is not 4 to 10 digits, or the body is not valid JSON", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "Not pending any more; the code says why", body = ErrorResponse),
        (status = 413, description = "Body over 16 KiB", body = ErrorResponse),
        (status = 415, description = "Body not sent as application/json", body = ErrorResponse),
        (status = 429, description = "`guess_budget_exhausted`: too many wrong codes for this number across verifications, the code was not evaluated; or `too_many_failures`: too many failed credentials from this address or for this key, not checked (see Retry-After)", body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn check_verification(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    Path(id): Path<String>,
    body: ApiJson<CheckRequest>,
) -> Result<axum::Json<CheckResponse>, ApiError> {
    let id = parse_id(&id)?;
    // Counted by the engine (`ringproof_checks_total`, `…_approved_total`).
    let (outcome, _) = state.engine.check(&client, &id, body.code.trim()).await?;
    Ok(axum::Json(outcome.into()))
}

/// Cancel a verification
///
/// Its code stops working and its pending workflow steps are dropped.
#[utoipa::path(
    post,
    path = "/v1/verifications/{id}/cancel",
    tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 401, body = ErrorResponse),
        (status = 429, description = "`too_many_failures`: too many failed credentials from this address or for this key; not checked (see Retry-After)", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "Not pending any more", body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn cancel_verification(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<VerificationResponse>, ApiError> {
    let v = state.engine.cancel(&client.id, &parse_id(&id)?).await?;
    Ok(axum::Json(VerificationResponse::from_verification(&v)))
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// Channel for the new code (default: the first step's).
    pub channel: Option<ApiChannel>,
}

/// Resend a fresh code
///
/// The previous code stops working. Allowed 30 s after the last send, then 60 s, 120 s…
/// (the policy's cooldown, doubling); inside the cooldown the answer is 429 with
/// `Retry-After`. The body is optional.
#[utoipa::path(
    post,
    path = "/v1/verifications/{id}/resend",
    tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    request_body(content = Option<ResendRequest>),
    responses(
        (status = 200, body = VerificationResponse),
        (status = 400, description = "The body is not valid JSON or names an unknown channel or field", body = ErrorResponse),
        (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 403, description = "`country_not_allowed` (geo permissions for the resend's channel) or `prefix_blocked` (the number's range is blocked; Retry-After says until when); recorded as a `send_refused` event", body = ErrorResponse),
        (status = 409, description = "Not pending any more", body = ErrorResponse),
        (status = 413, description = "Body over 16 KiB", body = ErrorResponse),
        (status = 429, description = "Inside the cooldown (see Retry-After), all sends used, or a limit across verifications (`rate_limited`, `guess_budget_exhausted`; recorded as a `send_refused` event); or `too_many_failures`: too many failed credentials from this address or for this key (see Retry-After)", body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn resend_verification(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<axum::Json<VerificationResponse>, ApiError> {
    let req: ResendRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResendRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            let code = if e.is_data() {
                "invalid_parameter"
            } else {
                "malformed_json"
            };
            ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string())
        })?
    };
    let v = state
        .engine
        .resend(&client, &parse_id(&id)?, req.channel.map(Into::into))
        .await?;
    Ok(axum::Json(VerificationResponse::from_verification(&v)))
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// `created`, `sim_swap_checked`, `silent_auth_started`, `silent_auth`, `send_queued`,
    /// `sent`, `delivered`, `delivery_failed`,
    /// `step_skipped`, `send_refused`, `check_wrong`, `check_no_live_code`, `approved`,
    /// `max_attempts_reached`, `canceled`, `expired`, `failed`, …
    pub kind: String,
    pub channel: Option<ApiChannel>,
    pub detail: Option<String>,
    pub at: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            kind: e.kind.as_str().to_owned(),
            channel: e.channel.map(Into::into),
            detail: e.detail,
            at: e.at.to_rfc3339(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
}

/// List a verification's events
///
/// Oldest first: every step queued, sent, skipped or failed, every check, and the end.
#[utoipa::path(
    get,
    path = "/v1/verifications/{id}/events",
    tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, body = EventList),
        (status = 401, body = ErrorResponse),
        (status = 429, description = "`too_many_failures`: too many failed credentials from this address or for this key; not checked (see Retry-After)", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("basic" = []), ("bearer" = []))
)]
async fn list_events(
    State(state): State<AppState>,
    ApiClient(client): ApiClient,
    Path(id): Path<String>,
) -> Result<axum::Json<EventList>, ApiError> {
    let events = state.engine.events(&client.id, &parse_id(&id)?).await?;
    Ok(axum::Json(EventList {
        events: events.into_iter().map(Into::into).collect(),
    }))
}
