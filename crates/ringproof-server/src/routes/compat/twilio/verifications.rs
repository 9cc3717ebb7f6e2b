//! `/v2/Services/{ServiceSid}/Verifications[/{Sid}]` and `…/VerificationCheck`: Twilio's
//! Verification (create, fetch, update `Status`) and VerificationCheck over the engine's
//! verifications in a service ([`ringproof_core::engine::services`]). A `VE…` SID is the
//! ringproof verification id itself.
//!
//! Twilio's check semantics, translated from the engine's outcomes: a wrong code answers
//! 200 with `status: pending` and `valid: false`; the right one `approved` and `true`; a
//! verification that is approved, canceled, expired or unknown answers 404 / 20404, one
//! whose wrong codes are used up 429 / 60202.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ringproof_core::crypto::{hex, sha256};
use ringproof_core::engine::services::{InService, ServiceStart};
use ringproof_core::event::EventKind;
use ringproof_core::ids::{ServiceId, VerificationId};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::status::Status;
use ringproof_core::verification::Verification;
use ringproof_core::workflow::Channel;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::TwilioErrorBody;
use super::services::service_id;
use super::{Param, TwilioClient, TwilioError, TwilioForm, base_url, boolean, date, json_object, required};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_verification))
        .routes(routes!(fetch_verification, update_verification))
        .routes(routes!(create_verification_check))
}

/// The body of a verification create (Twilio's `CreateVerificationRequest`).
// The fields are the raw strings: the handler parses each in Twilio's terms.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct VerificationForm {
    /// The number, E.164.
    #[schema(value_type = String, required = true, example = "+15017122661")]
    to: Param,
    /// `sms`, `call`, or `sna` (carrier authentication first, then an SMS if the network
    /// cannot tell; only where the server has carrier authentication). `email`,
    /// `whatsapp`, `auto` and `rcs` answer 60223.
    #[schema(value_type = String, required = true, example = "sms")]
    channel: Param,
    /// The brand in this verification's texts, instead of the service's `FriendlyName`.
    #[schema(value_type = Option<String>, example = "Acme")]
    custom_friendly_name: Param,
    /// This verification's SMS text; the code is appended unless it holds `{code}`.
    #[schema(value_type = Option<String>)]
    custom_message: Param,
    /// Accepted, not used.
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)] // documented and accepted, as Twilio's SDKs may send it; not used
    send_digits: Param,
    /// A language tag such as `en` or `pt-BR`.
    #[schema(value_type = Option<String>, example = "en")]
    locale: Param,
    /// The code to send (4 to 10 digits), when the service has `CustomCodeEnabled`.
    #[schema(value_type = Option<String>, example = "482913")]
    custom_code: Param,
    /// Echoed in this response and the check's (PSD2 parameters are not stored).
    #[schema(value_type = Option<String>)]
    amount: Param,
    /// Echoed in this response and the check's.
    #[schema(value_type = Option<String>)]
    payee: Param,
    /// A JSON object naming the service's rate limits (`UniqueName`) with a value each (a
    /// string or a number, 1 to 256 characters): the start must fit every bucket of each
    /// for its value, else 429 / 60203. A name the service does not define answers 60200; a
    /// rate limit not named is not applied. Values are kept only as keyed hashes.
    #[schema(value_type = Option<String>, example = "{\"end_user_ip\": \"198.51.100.7\"}")]
    rate_limits: Param,
    /// Accepted, not used (no email channel).
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)] // documented and accepted, as Twilio's SDKs may send it; not used
    channel_configuration: Param,
    /// Accepted, not used.
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)] // documented and accepted, as Twilio's SDKs may send it; not used
    app_hash: Param,
    /// A template SID (`HJ` + 32 hex); checked, not used.
    #[schema(value_type = Option<String>, example = "HJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    template_sid: Param,
    /// A JSON object; checked, not used.
    #[schema(value_type = Option<String>)]
    template_custom_substitutions: Param,
    /// The end user's IP address: sends are limited per address too.
    #[schema(value_type = Option<String>, example = "198.51.100.7")]
    device_ip: Param,
    /// Accepted, not used.
    #[schema(value_type = Option<bool>)]
    enable_sna_client_token: Param,
    /// `enable` or `disable`; ringproof's guard applies either way.
    #[schema(value_type = Option<String>, example = "enable")]
    risk_check: Param,
    /// A JSON object of up to 10 tags (keys and values up to 128 characters); checked,
    /// not stored.
    #[schema(value_type = Option<String>, example = "{\"tenant_id\": \"12345\"}")]
    tags: Param,
}

/// The body of a verification update.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateVerificationForm {
    /// `canceled`, or `approved` (on your word, with no code).
    #[schema(value_type = String, required = true, example = "canceled")]
    status: Param,
}

/// The body of a verification check (Twilio's `CreateVerificationCheckRequest`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct VerificationCheckForm {
    /// The code the person entered.
    #[schema(value_type = String, required = true, example = "123456")]
    code: Param,
    /// The number: its newest pending verification in the service. Either this or
    /// `VerificationSid`; with both, the verification must be to this number.
    #[schema(value_type = Option<String>, example = "+15017122661")]
    to: Param,
    /// The verification's SID (`VE…`).
    #[schema(value_type = Option<String>, example = "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    verification_sid: Param,
    /// Echoed.
    #[schema(value_type = Option<String>)]
    amount: Param,
    /// Echoed.
    #[schema(value_type = Option<String>)]
    payee: Param,
    /// Accepted, not used.
    #[schema(value_type = Option<String>)]
    #[allow(dead_code)] // documented and accepted, as Twilio's SDKs may send it; not used
    sna_client_token: Param,
}

/// A Verification, in Twilio's shape.
#[derive(Serialize, ToSchema)]
pub struct VerificationView {
    #[schema(example = "VEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    sid: String,
    #[schema(example = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    service_sid: String,
    #[schema(example = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    account_sid: String,
    #[schema(example = "+15017122661")]
    to: String,
    /// `sms`, `call` or `sna`.
    #[schema(example = "sms")]
    channel: &'static str,
    /// `pending`, `approved`, `canceled`, `max_attempts_reached`, `expired` or `failed`.
    #[schema(example = "pending")]
    status: &'static str,
    valid: bool,
    /// Always `{}` (lookups are not run yet).
    #[schema(value_type = Object)]
    lookup: Value,
    amount: Option<String>,
    payee: Option<String>,
    /// One `{time, channel, attempt_sid}` per message or call queued.
    #[schema(value_type = Vec<Object>)]
    send_code_attempts: Vec<Value>,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_created: String,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_updated: String,
    /// With `sna`: `{"url": …}`, the URL the app opens on the device over mobile data.
    #[schema(value_type = Option<Object>)]
    sna: Option<Value>,
    url: String,
}

/// A VerificationCheck, in Twilio's shape.
#[derive(Serialize, ToSchema)]
pub struct VerificationCheckView {
    sid: String,
    service_sid: String,
    account_sid: String,
    to: String,
    channel: &'static str,
    /// `approved`, `pending` (a wrong code) or `max_attempts_reached` (the last wrong one).
    status: &'static str,
    valid: bool,
    amount: Option<String>,
    payee: Option<String>,
    /// `[]` for an `sna` verification, else `null`.
    #[schema(value_type = Option<Vec<Object>>)]
    sna_attempts_error_codes: Option<Vec<Value>>,
    date_created: String,
    date_updated: String,
}

/// Twilio's channel name of a verification.
fn channel_of(v: &Verification) -> &'static str {
    if v.options.silent.is_some() {
        return "sna";
    }
    match v.workflow.first_channel() {
        Channel::Sms => "sms",
        Channel::Voice => "call",
    }
}

/// The number of a request: E.164 only, as Twilio takes it.
fn phone(s: &str, param: &str) -> Result<PhoneNumber, TwilioError> {
    PhoneNumber::parse_e164(s.trim()).map_err(|e| TwilioError::invalid(param, e.to_string()))
}

/// Which verification a path's `{Sid}` means: a `VE…` SID, or a number (Twilio's fetch by
/// `To`); anything else is none.
fn which(sid: &str) -> Result<InService, TwilioError> {
    if let Some(id) = VerificationId::parse(sid) {
        return Ok(InService::Id(id));
    }
    PhoneNumber::parse_e164(sid)
        .map(InService::To)
        .map_err(|_| TwilioError::NotFound)
}

/// Renders a verification, its send attempts read from its events.
async fn view(
    state: &AppState,
    auth: &TwilioClient,
    service: &ServiceId,
    v: &Verification,
    psd2: (Option<String>, Option<String>),
) -> Result<VerificationView, TwilioError> {
    let events = state.engine.events(&auth.client.id, &v.id).await?;
    let attempts = events
        .iter()
        .filter(|e| e.kind == EventKind::SendQueued)
        .map(|e| {
            // A stable SID per attempt, derived from the event (nothing more is stored).
            let digest = hex(&sha256(format!("{}/{}", v.id, e.id).as_bytes()));
            json!({
                "time": date(e.at),
                "channel": match e.channel {
                    Some(Channel::Voice) => "call",
                    _ => "sms",
                },
                "attempt_sid": format!("VL{}", &digest[..32]),
            })
        })
        .collect();
    Ok(VerificationView {
        sid: v.id.as_str().to_owned(),
        service_sid: service.as_str().to_owned(),
        account_sid: auth.account_sid.clone(),
        to: v.to.e164().to_owned(),
        channel: channel_of(v),
        status: v.status.as_str(),
        valid: v.status == Status::Approved,
        lookup: json!({}),
        amount: psd2.0,
        payee: psd2.1,
        send_code_attempts: attempts,
        date_created: date(v.created_at),
        date_updated: date(v.updated_at),
        sna: state.engine.silent_check_url(v).map(|url| json!({ "url": url })),
        url: format!("{}/Services/{service}/Verifications/{}", base_url(state), v.id),
    })
}

/// `RateLimits`: rate limit names with their values (strings, or numbers as written).
fn rate_limits(form: &VerificationForm) -> Result<BTreeMap<String, String>, TwilioError> {
    let Some(map) = json_object(&form.rate_limits, "RateLimits")? else {
        return Ok(BTreeMap::new());
    };
    map.into_iter()
        .map(|(name, value)| match value {
            Value::String(v) => Ok((name, v)),
            Value::Number(n) => Ok((name, n.to_string())),
            _ => Err(TwilioError::invalid(
                "RateLimits",
                "each value must be a string or a number",
            )),
        })
        .collect()
}

/// The optional parameters of a create that are checked but not applied.
fn check_unused(form: &VerificationForm) -> Result<(), TwilioError> {
    json_object(&form.template_custom_substitutions, "TemplateCustomSubstitutions")?;
    if let Some(t) = form.template_sid.as_deref()
        && !t
            .strip_prefix("HJ")
            .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(TwilioError::invalid(
            "TemplateSid",
            "must be HJ followed by 32 hex digits",
        ));
    }
    if let Some(tags) = json_object(&form.tags, "Tags")? {
        let ok = tags.len() <= 10
            && tags
                .iter()
                .all(|(k, v)| k.chars().count() <= 128 && v.as_str().is_some_and(|s| s.chars().count() <= 128));
        if !ok {
            return Err(TwilioError::invalid(
                "Tags",
                "must hold up to 10 string tags of up to 128 characters",
            ));
        }
    }
    match form.risk_check.as_deref() {
        None | Some("enable" | "disable") => {}
        Some(_) => return Err(TwilioError::invalid("RiskCheck", "must be enable or disable")),
    }
    boolean(&form.enable_sna_client_token, "EnableSnaClientToken")?;
    Ok(())
}

/// Start a verification in a service (Twilio's `CreateVerification`).
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/Verifications",
    tag = "twilio",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "`VA` + 32 hex")),
    request_body(content = VerificationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The verification, `pending`; the code is on its way", body = VerificationView),
        (status = 400, description = "60200: a parameter is missing or invalid; 60223: a channel that is not enabled (`email`, `whatsapp`, …); 21608: the client is in test mode and the number is not on its allowlist", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 403, description = "60410: the destination is blocked (its range by the SMS-pumping guard, a kind of number, the client's blocklist, a recent SIM swap); 60605: geo permissions do not include the number's country", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "60203: max send attempts for the number, or a bucket of a rate limit named in `RateLimits` is full for its value; 20429: too many sends of the client or the device's address, or too many failed credentials (see `Retry-After`)", body = TwilioErrorBody),
        (status = 503, description = "20503: the provider or the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn create_verification(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(service_sid): Path<String>,
    TwilioForm(form): TwilioForm<VerificationForm>,
) -> Result<impl IntoResponse, TwilioError> {
    let service = service_id(&service_sid)?;
    let to = phone(required(&form.to, "To")?, "To")?;
    let (channel, silent) = match required(&form.channel, "Channel")? {
        "sms" => (Channel::Sms, false),
        "call" => (Channel::Voice, false),
        "sna" => (Channel::Sms, true),
        c @ ("email" | "whatsapp" | "auto" | "rcs") => {
            return Err(TwilioError::ChannelDisabled { channel: c.to_owned() });
        }
        _ => return Err(TwilioError::invalid("Channel", "must be sms, call or sna")),
    };
    let end_user_ip = form
        .device_ip
        .as_deref()
        .map(|s| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| TwilioError::invalid("DeviceIp", "must be an IPv4 or IPv6 address"))
        })
        .transpose()?;
    check_unused(&form)?;
    let rate_limits = rate_limits(&form)?;
    let start = ServiceStart {
        to,
        channel,
        silent,
        brand: form.custom_friendly_name.clone(),
        sms_text: form.custom_message.clone(),
        locale: form.locale.clone(),
        custom_code: form.custom_code.clone(),
        end_user_ip,
        rate_limits,
        account_sid: Some(auth.account_sid.clone()),
    };
    let v = state.engine.start_in_service(&auth.client, &service, start).await?;
    let body = view(&state, &auth, &service, &v, (form.amount.clone(), form.payee.clone())).await?;
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// Fetch a verification of the service (Twilio's `FetchVerification`), by its SID or by
/// the number (its newest pending verification in the service, else its newest).
#[utoipa::path(
    get,
    path = "/v2/Services/{ServiceSid}/Verifications/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("Sid" = String, Path, description = "`VE` + 32 hex, or the number (E.164)")
    ),
    responses(
        (status = 200, description = "The verification", body = VerificationView),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such verification in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn fetch_verification(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, sid)): Path<(String, String)>,
) -> Result<axum::Json<VerificationView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let v = state
        .engine
        .get_in_service(&auth.client.id, &service, &which(&sid)?)
        .await?;
    Ok(axum::Json(view(&state, &auth, &service, &v, (None, None)).await?))
}

/// Cancel or approve a pending verification of the service (Twilio's
/// `UpdateVerification`, `Status=canceled|approved`).
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/Verifications/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("Sid" = String, Path, description = "`VE` + 32 hex")
    ),
    request_body(content = UpdateVerificationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The verification, `canceled` or `approved`", body = VerificationView),
        (status = 400, description = "60200: `Status` missing or not `canceled`/`approved`", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such pending verification in this service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "60202: its wrong codes are used up; 20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn update_verification(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, sid)): Path<(String, String)>,
    TwilioForm(form): TwilioForm<UpdateVerificationForm>,
) -> Result<axum::Json<VerificationView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let status = match required(&form.status, "Status")? {
        "canceled" => Status::Canceled,
        "approved" => Status::Approved,
        _ => return Err(TwilioError::invalid("Status", "must be canceled or approved")),
    };
    let id = VerificationId::parse(&sid).ok_or(TwilioError::NotFound)?;
    let v = state
        .engine
        .finish_in_service(&auth.client.id, &service, &id, status)
        .await?;
    Ok(axum::Json(view(&state, &auth, &service, &v, (None, None)).await?))
}

/// Check a code (Twilio's `CreateVerificationCheck`), by `VerificationSid` or `To`.
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/VerificationCheck",
    tag = "twilio",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "`VA` + 32 hex")),
    request_body(content = VerificationCheckForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`approved` with `valid: true`, or `pending` with `valid: false` for a wrong code (`max_attempts_reached` for the last one)", body = VerificationCheckView),
        (status = 400, description = "60200: `Code` missing or not 4 to 10 digits, or neither `To` nor `VerificationSid`", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such verification in this service of this client (a `VerificationSid` with a `To` that is not its number included), or one already approved, canceled or expired", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "60202: max check attempts (the verification's, or the number's guess budget; see `Retry-After`); 20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn create_verification_check(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(service_sid): Path<String>,
    TwilioForm(form): TwilioForm<VerificationCheckForm>,
) -> Result<axum::Json<VerificationCheckView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let code = required(&form.code, "Code")?;
    let sid = |sid: &str| {
        VerificationId::parse(sid)
            .ok_or_else(|| TwilioError::invalid("VerificationSid", "must be VE followed by 32 hex digits"))
    };
    let target = match (form.verification_sid.as_deref(), form.to.as_deref()) {
        (Some(s), Some(to)) => InService::IdTo(sid(s)?, phone(to, "To")?),
        (Some(s), None) => InService::Id(sid(s)?),
        (None, Some(to)) => InService::To(phone(to, "To")?),
        (None, None) => return Err(TwilioError::invalid("To", "either To or VerificationSid is required")),
    };
    let (outcome, v) = state
        .engine
        .check_in_service(&auth.client, &service, &target, code)
        .await?;
    Ok(axum::Json(VerificationCheckView {
        sid: v.id.as_str().to_owned(),
        service_sid: service.as_str().to_owned(),
        account_sid: auth.account_sid.clone(),
        to: v.to.e164().to_owned(),
        channel: channel_of(&v),
        status: outcome.status.as_str(),
        valid: outcome.valid,
        amount: form.amount.clone(),
        payee: form.payee.clone(),
        sna_attempts_error_codes: v.options.silent.is_some().then(Vec::new),
        date_created: date(v.created_at),
        date_updated: date(v.updated_at),
    }))
}
