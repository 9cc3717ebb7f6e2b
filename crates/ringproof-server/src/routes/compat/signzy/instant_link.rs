//! Signzy's instant link: `POST /api/v3/us-kyc/send-instant-link`,
//! `GET /api/v3/us-kyc/poll-check-verify/request/{requestId}/session/{sessionId}` and
//! `POST /api/v3/us-kyc/instant-link-result`, over [`ringproof_core::engine::link`] (target check,
//! number lookup, the session and its SMS, the result rules live there). This file checks
//! the fields in Signzy's terms and renders the seeds' shapes. The link page itself
//! (`/l/{token}`) is another route.

use std::net::IpAddr;

use axum::extract::{Path, State};
use ringproof_core::engine::link::{LinkError, LinkView, NewLinkRequest};
use ringproof_core::ids::LinkId;
use ringproof_core::link_session::{LinkOutcome, check_target_url};
use ringproof_core::lookup::LineKind;
use ringproof_core::phone::PhoneNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{SignzyErrorResponse, SignzyPatternResponse, SignzyUnauthorized};
use super::{SignzyClient, SignzyError, SignzyJson, optional_str, required_str};
use crate::json_body::Field;
use crate::state::AppState;

/// The body of `send-instant-link`.
// What the API description shows is what the handler reads: the fields are raw JSON values
// (`Field`) so the handler checks them in the seeds' order, answering each with Signzy's body.
#[derive(Deserialize, ToSchema)]
pub struct SendInstantLinkRequest {
    /// Where the browser goes after the click, with `vfp=<fingerprint>` added to its query:
    /// http(s), under one of the client's allowed origins.
    #[schema(value_type = String, required = true, example = "https://www.example.com/verified")]
    #[serde(rename = "targetUrl")]
    target_url: Field,
    /// The 10-digit national number (no `+`, no country code).
    #[schema(value_type = String, required = true, example = "4155550100")]
    #[serde(rename = "mobileNumber")]
    mobile_number: Field,
    /// `US` or `CA` (any case); must be the number's country.
    #[schema(value_type = String, required = true, example = "US")]
    #[serde(rename = "countryCode")]
    country_code: Field,
    /// The IP address the integrator saw the user at; `ipAddressMatch` compares the click's.
    #[schema(value_type = Option<String>, example = "203.0.113.7")]
    #[serde(rename = "sourceIp")]
    source_ip: Field,
    /// Replaces the default SMS text; `{link}` marks where the link goes, else it is
    /// appended after a space. At most 480 characters.
    #[schema(value_type = Option<String>)]
    #[serde(rename = "customSms")]
    custom_sms: Field,
}

#[derive(Serialize, ToSchema)]
pub struct LinkIds {
    /// 24 lowercase hex characters.
    #[serde(rename = "requestId")]
    #[schema(example = "6462150e29c23b4d42352a63")]
    request_id: String,
    /// 24 lowercase hex characters.
    #[serde(rename = "sessionId")]
    #[schema(example = "646214d929c23b4d42c1fc39")]
    session_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SendInstantLinkResponse {
    result: LinkIds,
}

/// The final result of a link verification (Signzy's Check Link Status page).
#[derive(Serialize, ToSchema)]
pub struct LinkResult {
    /// 11 decimal digits.
    #[serde(rename = "transactionId")]
    #[schema(example = "12225083692")]
    transaction_id: String,
    /// From the number lookup; `unknown` when it has none.
    #[schema(example = "T-Mobile USA")]
    carrier: String,
    /// `mobile` (also for numbers the plan calls fixed-line-or-mobile) or `unknown`.
    #[serde(rename = "lineType")]
    #[schema(example = "mobile")]
    line_type: &'static str,
    /// `US` or `CA`: the number's country.
    #[serde(rename = "countryCode")]
    #[schema(example = "US")]
    country_code: String,
    /// Whether the link was clicked (confirmed) before it expired.
    #[serde(rename = "linkClicked")]
    link_clicked: bool,
    /// `"true"`, `"false"` or `"indeterminate"` (network authentication's verdict; `"false"`
    /// when the link expired unclicked).
    #[serde(rename = "phoneMatch")]
    #[schema(example = "indeterminate")]
    phone_match: &'static str,
    #[serde(rename = "sessionId")]
    #[schema(example = "646214d929c23b4d42c1fc39")]
    session_id: String,
    /// The click's IP equals `sourceIp` (false without a `sourceIp`).
    #[serde(rename = "ipAddressMatch")]
    ip_address_match: bool,
    /// The requestId.
    #[serde(rename = "_id")]
    #[schema(example = "6462150e29c23b4d42352a63")]
    id: String,
    /// ringproof's addition, present only when the client checks for SIM swaps
    /// (`ringproof client update ID --sim-swap check|block`): `"true"` when the operator
    /// said the number's SIM card was changed within the client's window before the link
    /// was sent, `"false"` when it said not, `"unknown"` when it could not be asked.
    #[serde(rename = "simSwapped", skip_serializing_if = "Option::is_none")]
    #[schema(example = "false")]
    sim_swapped: Option<&'static str>,
}

/// Before the click: `{"message":"Please wait for sometime"}`.
#[derive(Serialize, ToSchema)]
pub struct LinkWaiting {
    #[schema(example = "Please wait for sometime")]
    message: &'static str,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PollResult {
    Final(LinkResult),
    Waiting(LinkWaiting),
}

#[derive(Serialize, ToSchema)]
pub struct PollResponse {
    result: PollResult,
}

#[derive(Serialize, ToSchema)]
pub struct LinkResultResponse {
    result: LinkResult,
}

/// The body of `instant-link-result`.
#[derive(Deserialize, ToSchema)]
pub struct InstantLinkResultRequest {
    /// The `vfp` query parameter the browser brought to the target URL.
    #[schema(value_type = String, required = true, example = "3q2-7wE8aZ0kWcQyVd1x9A")]
    vfp: Field,
}

/// The only values `countryCode` takes (Signzy: "only valid values allowed are 'US' or
/// 'CA'"); compared case-insensitively, reported upper-case.
const COUNTRIES: [&str; 2] = ["US", "CA"];

/// `lineType` in Signzy's words. Numbers the plan cannot split (all of NANP's geographic
/// numbers) are reported as `mobile`: the link was sent to them and clicked.
fn line_type(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Mobile | LineKind::FixedLineOrMobile => "mobile",
        other => other.as_str(),
    }
}

/// The final result object, or `None` while waiting for the click.
fn final_result(view: LinkView) -> Option<LinkResult> {
    let LinkOutcome::Final {
        link_clicked,
        phone_match,
        ip_match,
    } = view.outcome
    else {
        return None;
    };
    let r = view.record;
    Some(LinkResult {
        transaction_id: r.transaction_id,
        carrier: r.session.carrier,
        line_type: line_type(r.session.line),
        // Only US and CA numbers are accepted, so the region is one of them.
        country_code: r.session.to.region().unwrap_or_else(|| "US".into()),
        link_clicked,
        phone_match: phone_match.as_str(),
        session_id: r.session_id.as_str().to_owned(),
        ip_address_match: ip_match,
        id: r.request_id.as_str().to_owned(),
        sim_swapped: r.session.sim_swap.map(|s| match s.swapped() {
            Some(true) => "true",
            Some(false) => "false",
            None => "unknown",
        }),
    })
}

/// Sends a one-time link by SMS (Signzy's Send Link).
///
/// The SMS is the default text ("Your identity verification journey has started, please
/// click on the following link to verify possession of the device <link>") or `customSms`.
/// The link is valid 300 s (configurable); the click is the confirm step of its page.
#[utoipa::path(
    post,
    path = "/api/v3/us-kyc/send-instant-link",
    tag = "signzy",
    security(("signzy_token" = [])),
    request_body = SendInstantLinkRequest,
    responses(
        (status = 200, description = "`{\"result\":{\"requestId\":\"…\",\"sessionId\":\"…\"}}`", body = SendInstantLinkResponse),
        (status = 400, description = "Not a JSON object; `<field> is required`; `Parameter is invalid`; `Not a valid or active number`; `Subscriber is not supported for this service` (landline, VoIP, toll-free); `Carrier mismatch`", body = SignzyErrorResponse),
        (status = 401, description = "No token, or an invalid one", body = SignzyUnauthorized),
        (status = 403, description = "`Subscriber is suspended`, `Subscriber is deactivated`, `Subscriber is not eligible for the service`; `SIM swap detected: …` (the client blocks recent SIM swaps and the operator says this number's SIM was changed within its window; nothing was sent)", body = SignzyErrorResponse),
        (status = 404, description = "`Cannot identify subscriber` (statusCode 409), `No CRM data available`", body = SignzyErrorResponse),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 409, description = "Upstream down: the delivery provider can send nothing now", body = SignzyErrorResponse),
        (status = 503, description = "`The external provider cannot be reached`; `Request cannot be processed at this time`", body = SignzyErrorResponse)
    )
)]
async fn send_instant_link(
    State(state): State<AppState>,
    SignzyClient(client): SignzyClient,
    body: SignzyJson<SendInstantLinkRequest>,
) -> Result<axum::Json<SendInstantLinkResponse>, SignzyError> {
    let target_url = required_str(&body.target_url, "targetUrl")?;
    let mobile = required_str(&body.mobile_number, "mobileNumber")?;
    let country = required_str(&body.country_code, "countryCode")?;
    let source_ip = optional_str(&body.source_ip, "sourceIp")?;
    let custom_sms = optional_str(&body.custom_sms, "customSms")?;
    let Some(country) = COUNTRIES.into_iter().find(|c| c.eq_ignore_ascii_case(country)) else {
        return Err(SignzyError::InvalidParameter(Some("countryCode")));
    };
    if mobile.len() != 10 || !mobile.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignzyError::InvalidParameter(Some("mobileNumber")));
    }
    let source_ip = match source_ip {
        Some(s) => Some(
            s.parse::<IpAddr>()
                .map_err(|_| SignzyError::InvalidParameter(Some("sourceIp")))?,
        ),
        None => None,
    };
    // Every "Parameter is invalid" before the number's own checks.
    check_target_url(target_url, &client.allowed_origins)
        .map_err(|_| SignzyError::InvalidParameter(Some("targetUrl")))?;
    let to = PhoneNumber::parse_e164(&format!("+1{mobile}")).map_err(|_| SignzyError::NotValidNumber)?;
    // A valid +1 number of another country than the one named (or of another NANP member):
    // the country named is what does not fit.
    if to.region().as_deref() != Some(country) {
        return Err(SignzyError::InvalidParameter(Some("countryCode")));
    }
    let started = state
        .engine
        .start_link(
            &client,
            NewLinkRequest {
                to,
                target_url: target_url.to_owned(),
                source_ip,
                custom_sms: custom_sms.map(str::to_owned),
                // Signzy's requests name no language: its SMS is the English one it specifies.
                locale: None,
            },
        )
        .await?;
    Ok(axum::Json(SendInstantLinkResponse {
        result: LinkIds {
            request_id: started.request_id.as_str().to_owned(),
            session_id: started.session_id.as_str().to_owned(),
        },
    }))
}

/// A path id: must match `^[0-9a-fA-F]{24}$` (else Signzy's Check Link Status page's 400 naming the parameter);
/// read lower-case, the form ids are issued in.
fn path_id(s: &str, param: &'static str) -> Result<LinkId, SignzyError> {
    if s.len() != 24 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignzyError::IdPattern(param));
    }
    LinkId::parse(&s.to_ascii_lowercase()).ok_or(SignzyError::IdPattern(param))
}

/// Polls a link verification (Signzy's Check Link Status).
///
/// `{"result":{"message":"Please wait for sometime"}}` until the link is clicked or
/// expires, then the final result. `requestId` is checked before `sessionId`.
#[utoipa::path(
    get,
    path = "/api/v3/us-kyc/poll-check-verify/request/{requestId}/session/{sessionId}",
    tag = "signzy",
    security(("signzy_token" = [])),
    params(
        ("requestId" = String, Path, description = "From send-instant-link; `^[0-9a-fA-F]{24}$`"),
        ("sessionId" = String, Path, description = "From send-instant-link; `^[0-9a-fA-F]{24}$`")
    ),
    responses(
        (status = 200, description = "The final result, or `{\"result\":{\"message\":\"Please wait for sometime\"}}`", body = PollResponse),
        (status = 400, description = "`params requestId should match pattern \"^[0-9a-fA-F]{24}$\"` (or sessionId)", body = SignzyPatternResponse),
        (status = 401, description = "`Invalid requestId or sessionId` (unknown ids, or another client's; statusCode 500 as in the seed); no token or an invalid one", body = SignzyUnauthorized),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn poll_check_verify(
    State(state): State<AppState>,
    SignzyClient(client): SignzyClient,
    Path((request_id, session_id)): Path<(String, String)>,
) -> Result<axum::Json<PollResponse>, SignzyError> {
    let request_id = path_id(&request_id, "requestId")?;
    let session_id = path_id(&session_id, "sessionId")?;
    let view = state.engine.link_result(&client.id, &request_id, &session_id).await?;
    let result = match final_result(view) {
        Some(r) => PollResult::Final(r),
        None => PollResult::Waiting(LinkWaiting {
            message: "Please wait for sometime",
        }),
    };
    Ok(axum::Json(PollResponse { result }))
}

/// Exchanges the VFP of the redirect for the final result (Signzy's instant-link result).
///
/// A VFP exists only once the link was clicked; it belongs to the client that sent the
/// link and expires with it.
#[utoipa::path(
    post,
    path = "/api/v3/us-kyc/instant-link-result",
    tag = "signzy",
    security(("signzy_token" = [])),
    request_body = InstantLinkResultRequest,
    responses(
        (status = 200, body = LinkResultResponse),
        (status = 400, description = "Not a JSON object; `vfp is required`; `Parameter is invalid`; `Transaction has not completed` (unknown or expired VFP, or another client's)", body = SignzyErrorResponse),
        (status = 401, description = "No token, or an invalid one", body = SignzyUnauthorized),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn instant_link_result(
    State(state): State<AppState>,
    SignzyClient(client): SignzyClient,
    body: SignzyJson<InstantLinkResultRequest>,
) -> Result<axum::Json<LinkResultResponse>, SignzyError> {
    let vfp = required_str(&body.vfp, "vfp")?;
    let view = match state.engine.link_result_by_vfp(&client.id, vfp).await {
        Ok(v) => v,
        Err(LinkError::NotFound) => return Err(SignzyError::TransactionNotCompleted),
        Err(e) => return Err(e.into()),
    };
    // A VFP is issued on the click, so its session is final; be safe anyway.
    let result = final_result(view).ok_or(SignzyError::TransactionNotCompleted)?;
    Ok(axum::Json(LinkResultResponse { result }))
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(send_instant_link))
        .routes(utoipa_axum::routes!(poll_check_verify))
        .routes(utoipa_axum::routes!(instant_link_result))
}
