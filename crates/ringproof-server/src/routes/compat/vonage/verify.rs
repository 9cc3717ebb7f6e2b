//! `/v2/verify`, `/v2/verify/{request_id}` and `…/next_workflow`: Vonage Verify v2's new
//! request, check code, cancel and next workflow over the engine's verifications. A
//! `request_id` is the ringproof verification id itself.
//!
//! Translation only. Vonage's `workflow` is a list of channels tried one after the other,
//! `channel_timeout` seconds apart, all carrying the request's one code: here that is a
//! workflow whose first step issues a code valid for the whole request and whose later
//! steps repeat it (the core checks the steps). A `silent_auth` first entry is the
//! engine's silent step. One pending request per number is the core's rule, asked for by
//! this face. Vonage's check semantics, from the engine's outcomes: the right code answers
//! 200 `completed`; a wrong one 400; the last wrong one, or any check once they are used
//! up, 410.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ringproof_core::engine::StartOutcome;
use ringproof_core::engine::StartRequest;
use ringproof_core::ids::VerificationId;
use ringproof_core::phone::PhoneNumber;
use ringproof_core::status::Status;
use ringproof_core::webhook_format::FaceIds;
use ringproof_core::workflow::{Channel, CodeMode, StepInput};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::VonageErrorBody;
use super::{VonageClient, VonageError, VonageJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(new_request))
        .routes(routes!(check_code, cancel_request))
        .routes(routes!(next_workflow))
}

/// Vonage's default `channel_timeout`, in seconds.
const DEFAULT_CHANNEL_TIMEOUT_S: u32 = 300;
/// The range Vonage accepts for `channel_timeout`, in seconds.
const CHANNEL_TIMEOUT_S: std::ops::RangeInclusive<u32> = 15..=900;
/// The longest `client_ref` accepted, in characters.
const MAX_CLIENT_REF: usize = 40;

/// A raw member of a request body: `None` when absent or `null`.
pub(super) type Member = Option<Value>;

/// One entry of `workflow`.
#[derive(ToSchema)]
#[allow(dead_code)] // the document's shape; the handler reads the raw JSON
pub struct WorkflowEntry {
    /// `sms`, `voice`, or `silent_auth` (first only, where the server has carrier
    /// authentication). `whatsapp`, `whatsapp_interactive`, `email` and `rcs` are answered
    /// as not enabled.
    #[schema(example = "sms")]
    channel: String,
    /// The number, E.164 with or without the `+` (every entry the same number).
    #[schema(example = "447911123456")]
    to: String,
    /// Accepted, not used (the sender is the server's).
    from: Option<String>,
}

/// The body of a new request (Vonage's `VerificationRequest`).
#[derive(Deserialize, ToSchema)]
pub struct VerificationRequest {
    /// The brand in the messages (1 to 40 characters here; Vonage allows 16).
    #[schema(value_type = String, required = true, example = "ACME")]
    brand: Member,
    /// One to three channels tried in turn.
    #[schema(value_type = Vec<WorkflowEntry>, required = true)]
    workflow: Member,
    /// A language tag such as `en-us` or `es-es`; without one, the number's country's.
    #[schema(value_type = Option<String>, example = "en-us")]
    locale: Member,
    /// Seconds between one workflow and the next, 15 to 900 (default 300).
    #[schema(value_type = Option<u32>, example = 300)]
    channel_timeout: Member,
    /// Your reference, up to 40 characters: stored with the request and echoed in its
    /// callbacks (with the client's webhook format `vonage`, docs/webhooks.md).
    #[schema(value_type = Option<String>, example = "my-personal-reference")]
    client_ref: Member,
    /// 4 to 10 digits (default: the client's code length).
    #[schema(value_type = Option<u8>, example = 6)]
    code_length: Member,
    /// Your own code, 4 to 10 digits (digits only here).
    #[schema(value_type = Option<String>, example = "482913")]
    code: Member,
    /// Accepted; ringproof's SMS-pumping guard applies either way.
    #[schema(value_type = Option<bool>, example = true)]
    fraud_check: Member,
    /// A template of the client (`/v2/verify/templates`): the SMS and call texts are its
    /// fragments for the channel and the request's locale, else the default template's,
    /// else ringproof's own. Without it, the default template's, else ringproof's.
    #[schema(value_type = Option<String>, example = "8f35a1a7-eb2f-4552-8fdf-fffdaee41bc9")]
    template_id: Member,
}

/// The body of a check.
#[derive(Deserialize, ToSchema)]
pub struct CheckCodeRequest {
    /// The code the person entered.
    #[schema(value_type = String, required = true, example = "482913")]
    code: Member,
}

/// A new request's answer.
#[derive(Serialize, ToSchema)]
pub struct NewRequestResponse {
    #[schema(example = "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    request_id: String,
    /// With `silent_auth` first: the URL the app opens on the device over mobile data.
    #[serde(skip_serializing_if = "Option::is_none")]
    check_url: Option<String>,
}

/// A check's answer.
#[derive(Serialize, ToSchema)]
pub struct CheckCodeResponse {
    #[schema(example = "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    request_id: String,
    /// `completed`.
    #[schema(example = "completed")]
    status: &'static str,
}

pub(super) fn string<'a>(v: &'a Member, name: &str) -> Result<Option<&'a str>, VonageError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(VonageError::invalid(name, "must be a string")),
    }
}

fn integer(v: &Member, name: &str) -> Result<Option<u32>, VonageError> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| VonageError::invalid(name, "must be a positive integer")),
        Some(_) => Err(VonageError::invalid(name, "must be an integer")),
    }
}

/// A number as Vonage takes it: E.164, the `+` optional.
fn number(s: &str, name: &str) -> Result<PhoneNumber, VonageError> {
    let s = s.trim();
    let e164 = if s.starts_with('+') {
        s.to_owned()
    } else {
        format!("+{s}")
    };
    PhoneNumber::parse_e164(&e164).map_err(|e| VonageError::invalid(name, e.to_string()))
}

/// `workflow` as the number, whether a silent step comes first, and the delivery channels.
fn workflow(v: &Member) -> Result<(PhoneNumber, bool, Vec<Channel>), VonageError> {
    let entries = match v {
        Some(Value::Array(a)) if !a.is_empty() => a,
        None => return Err(VonageError::invalid("workflow", "is required")),
        Some(_) => return Err(VonageError::invalid("workflow", "must be a non-empty array")),
    };
    let mut to: Option<PhoneNumber> = None;
    let mut silent = false;
    let mut channels = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = |m: &str| format!("workflow[{i}].{m}");
        let Value::Object(e) = e else {
            return Err(VonageError::invalid(&format!("workflow[{i}]"), "must be an object"));
        };
        let channel = match e.get("channel") {
            Some(Value::String(c)) => c.as_str(),
            _ => return Err(VonageError::invalid(&at("channel"), "is required")),
        };
        match channel {
            "sms" => channels.push(Channel::Sms),
            "voice" => channels.push(Channel::Voice),
            "silent_auth" if i == 0 => silent = true,
            "silent_auth" => {
                return Err(VonageError::invalid(
                    &at("channel"),
                    "silent_auth can only be the first workflow",
                ));
            }
            c @ ("whatsapp" | "whatsapp_interactive" | "email" | "rcs") => {
                return Err(VonageError::ChannelDisabled { channel: c.to_owned() });
            }
            _ => {
                return Err(VonageError::invalid(
                    &at("channel"),
                    "must be sms, voice or silent_auth",
                ));
            }
        }
        let this = match e.get("to") {
            Some(Value::String(t)) => number(t, &at("to"))?,
            _ => return Err(VonageError::invalid(&at("to"), "is required")),
        };
        match &to {
            Some(first) if *first != this => {
                return Err(VonageError::invalid(
                    &at("to"),
                    "every workflow must go to the same number",
                ));
            }
            Some(_) => {}
            None => to = Some(this),
        }
    }
    if channels.is_empty() {
        return Err(VonageError::invalid(
            "workflow",
            "needs an sms or voice workflow (after silent_auth, for when the network cannot tell)",
        ));
    }
    let to = to.ok_or_else(|| VonageError::invalid("workflow", "is required"))?;
    Ok((to, silent, channels))
}

/// Vonage's timeline as the engine's steps: one code for the whole request, sent on the
/// first channel at once and repeated on each next one `timeout` seconds later.
fn steps(channels: &[Channel], timeout: u32) -> Vec<StepInput> {
    let n = u32::try_from(channels.len()).unwrap_or(u32::MAX);
    channels
        .iter()
        .zip(0u32..)
        .map(|(c, i)| StepInput {
            channel: Some(*c),
            after_s: Some(i.saturating_mul(timeout)),
            code: Some(if i == 0 { CodeMode::New } else { CodeMode::Same }),
            valid_for_s: (i == 0).then(|| n.saturating_mul(timeout)),
        })
        .collect()
}

fn request_id(id: &str) -> Result<VerificationId, VonageError> {
    VerificationId::parse(id).ok_or(VonageError::NotFound)
}

/// Start a verification (Vonage's `newRequest`).
#[utoipa::path(
    post,
    path = "/v2/verify",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    request_body(content = VerificationRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Started: the first message is on its way", body = NewRequestResponse),
        (status = 401, description = "No or wrong credentials, or a JWT refused (signature, application, expiry, replay)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 403, description = "The destination is blocked (the SMS-pumping guard, the kind of number, the client's blocklist or geo permissions, a recent SIM swap)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "Another request to this number is still in progress", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is missing or invalid, a channel that is not enabled (`whatsapp`, `email`, …), or `silent_auth` without carrier authentication, a `template_id` the client has not; `invalid_parameters` names it", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many sends (the number's, the client's) or failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The provider or the database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn new_request(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    body: VonageJson<VerificationRequest>,
) -> Result<impl IntoResponse, VonageError> {
    let brand = string(&body.brand, "brand")?.ok_or_else(|| VonageError::invalid("brand", "is required"))?;
    let (to, silent, channels) = workflow(&body.workflow)?;
    let timeout = integer(&body.channel_timeout, "channel_timeout")?.unwrap_or(DEFAULT_CHANNEL_TIMEOUT_S);
    if !CHANNEL_TIMEOUT_S.contains(&timeout) {
        return Err(VonageError::invalid("channel_timeout", "must be 15 to 900 seconds"));
    }
    let client_ref = string(&body.client_ref, "client_ref")?;
    if client_ref.is_some_and(|r| r.chars().count() > MAX_CLIENT_REF || r.chars().any(char::is_control)) {
        return Err(VonageError::invalid(
            "client_ref",
            "must be at most 40 characters, none a control character",
        ));
    }
    if !matches!(body.fraud_check, None | Some(Value::Bool(_))) {
        return Err(VonageError::invalid("fraud_check", "must be true or false"));
    }
    let code_length = integer(&body.code_length, "code_length")?
        .map(|n| u8::try_from(n).map_err(|_| VonageError::invalid("code_length", "must be 4 to 10")))
        .transpose()?;
    let code = string(&body.code, "code")?
        .map(ringproof_core::service::parse_custom_code)
        .transpose()?;
    let template_id = string(&body.template_id, "template_id")?
        .map(|id| {
            ringproof_core::vonage_app::parse_application_id(id)
                .ok_or_else(|| VonageError::invalid("template_id", "must be a template's UUID"))
        })
        .transpose()?;
    let req = StartRequest {
        to: Some(to),
        workflow: Some(steps(&channels, timeout)),
        code_length,
        locale: string(&body.locale, "locale")?.map(str::to_owned),
        brand: Some(brand.to_owned()),
        silent,
        code,
        one_pending_per_number: true,
        vonage_template: Some(template_id),
        face: Some(FaceIds::Vonage {
            client_ref: client_ref.map(str::to_owned),
            channel_timeout_s: timeout,
        }),
        ..StartRequest::default()
    };
    let v = match state.engine.start(&client, req, None).await? {
        StartOutcome::Created(v) => v,
        StartOutcome::Replayed { .. } => return Err(VonageError::Internal),
    };
    let body = NewRequestResponse {
        request_id: v.id.as_str().to_owned(),
        check_url: state.engine.silent_check_url(&v),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)))
}

/// Check a code (Vonage's `checkCode`).
#[utoipa::path(
    post,
    path = "/v2/verify/{request_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("request_id" = String, Path, description = "The `request_id` of the new request")),
    request_body(content = CheckCodeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The right code: `completed`", body = CheckCodeResponse),
        (status = 400, description = "A wrong code; the request is still pending", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 410, description = "Too many wrong codes (this was the last, or they were used up), or the request is over (completed, canceled, expired, failed)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`code` missing", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "The number's guess budget is used up, or too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn check_code(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
    body: VonageJson<CheckCodeRequest>,
) -> Result<axum::Json<CheckCodeResponse>, VonageError> {
    let code = string(&body.code, "code")?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| VonageError::invalid("code", "is required"))?;
    let id = request_id(&id)?;
    let (outcome, v) = match state.engine.check(&client, &id, code).await {
        // A code of another shape than the request's cannot be right.
        Err(ringproof_core::CoreError::InvalidParameter { field, .. }) if field == "code" => {
            return Err(VonageError::InvalidCode);
        }
        other => other?,
    };
    if outcome.valid {
        return Ok(axum::Json(CheckCodeResponse {
            request_id: v.id.as_str().to_owned(),
            status: "completed",
        }));
    }
    Err(match outcome.status {
        Status::MaxAttemptsReached => VonageError::TooManyWrongCodes,
        _ => VonageError::InvalidCode,
    })
}

/// Cancel a request (Vonage's `cancelRequest`).
#[utoipa::path(
    delete,
    path = "/v2/verify/{request_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("request_id" = String, Path, description = "The `request_id` of the new request")),
    responses(
        (status = 204, description = "Canceled: no further message is sent and no code is accepted"),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 410, description = "The request is already over", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials from this address or for this key; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn cancel_request(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
) -> Result<StatusCode, VonageError> {
    state.engine.cancel(&client.id, &request_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move the request to its next workflow now (Vonage's `nextWorkflow`).
#[utoipa::path(
    post,
    path = "/v2/verify/{request_id}/next_workflow",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("request_id" = String, Path, description = "The `request_id` of the new request")),
    responses(
        (status = 200, description = "The next workflow ran: its message is on its way (empty body)"),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "No workflow left to move to (or a silent authentication in progress at the operator)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 410, description = "The request is over", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many sends to the number or of the client; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The provider or the database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn next_workflow(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
) -> Result<StatusCode, VonageError> {
    state.engine.run_next_step(&client, &request_id(&id)?).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn workflows_translate_to_one_code_repeated() {
        let (to, silent, ch) = workflow(&Some(json!([
            {"channel": "sms", "to": "447911123456"},
            {"channel": "voice", "to": "+447911123456"}
        ])))
        .unwrap();
        assert_eq!(
            (to.e164(), silent, ch.clone()),
            ("+447911123456", false, vec![Channel::Sms, Channel::Voice])
        );
        let s = steps(&ch, 120);
        assert_eq!(
            (s[0].after_s, s[0].valid_for_s, s[0].code),
            (Some(0), Some(240), Some(CodeMode::New))
        );
        assert_eq!(
            (s[1].after_s, s[1].valid_for_s, s[1].code),
            (Some(120), None, Some(CodeMode::Same))
        );
        let (_, silent, ch) = workflow(&Some(json!([
            {"channel": "silent_auth", "to": "447911123456"},
            {"channel": "sms", "to": "447911123456"}
        ])))
        .unwrap();
        assert!(silent);
        assert_eq!(ch, vec![Channel::Sms]);
        for (bad, name) in [
            (json!([]), "workflow"),
            (json!([{"channel": "sms"}]), "workflow[0].to"),
            (json!([{"channel": "fax", "to": "447911123456"}]), "workflow[0].channel"),
            (
                json!([{"channel": "sms", "to": "447911123456"}, {"channel": "silent_auth", "to": "447911123456"}]),
                "workflow[1].channel",
            ),
            (
                json!([{"channel": "sms", "to": "447911123456"}, {"channel": "voice", "to": "447911123457"}]),
                "workflow[1].to",
            ),
            (json!([{"channel": "silent_auth", "to": "447911123456"}]), "workflow"),
        ] {
            match workflow(&Some(bad.clone())) {
                Err(VonageError::InvalidParameter { name: n, .. }) => assert_eq!(n, name, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            workflow(&Some(json!([{"channel": "whatsapp", "to": "447911123456"}]))).err(),
            Some(VonageError::ChannelDisabled {
                channel: "whatsapp".into()
            })
        );
    }
}
