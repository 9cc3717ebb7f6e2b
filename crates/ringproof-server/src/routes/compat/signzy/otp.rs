//! `POST /api/v3/otp-verification/send-otp` and `.../verify-otp`: Signzy's OTP pair over
//! [`ringproof_core::engine::number_otp`] (templates, superseding, the distinct verify outcomes live
//! there). This file checks the fields, that `clientId` is the token's client, and renders.

use axum::extract::State;
use ringproof_core::countries;
use ringproof_core::phone::{Dashed, ParseOptions, PhoneNumber};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{SignzyErrorResponse, SignzyUnauthorized};
use super::{SignzyClient, SignzyError, SignzyJson, required_str};
use crate::json_body::Field;
use crate::state::AppState;

/// The only `channel` Signzy documents.
const SMS_OTP: &str = "smsOtp";

/// The body of `send-otp`.
// What the API description shows is what the handler reads: the fields are raw JSON values
// (`Field`) so the handler checks them in the seeds' order, answering each with Signzy's body.
#[derive(Deserialize, ToSchema)]
pub struct SendOtpRequest {
    /// The authenticated client's id (`userId` of the login).
    #[schema(value_type = String, required = true, example = "6462150e29c23b4d42352a63")]
    #[serde(rename = "clientId")]
    client_id: Field,
    /// `+<country code>-<digits>` or E.164.
    #[schema(value_type = String, required = true, example = "+1-4155550123")]
    #[serde(rename = "phoneNumber")]
    phone_number: Field,
    /// `smsOtp`.
    #[schema(value_type = String, required = true, example = "smsOtp")]
    channel: Field,
    /// `"4"`..`"8"` (built in: "Your OTP for verification is ####", one `#` per digit) or
    /// a template id of the client (`ringproof template set`).
    #[schema(value_type = String, required = true, example = "6")]
    #[serde(rename = "customTextId")]
    custom_text_id: Field,
}

/// The body of `verify-otp`.
#[derive(Deserialize, ToSchema)]
pub struct VerifyOtpRequest {
    #[schema(value_type = String, required = true, example = "6462150e29c23b4d42352a63")]
    #[serde(rename = "clientId")]
    client_id: Field,
    #[schema(value_type = String, required = true, example = "+1-4155550123")]
    #[serde(rename = "phoneNumber")]
    phone_number: Field,
    /// The digits received, as a string.
    #[schema(value_type = String, required = true, example = "123456")]
    otp: Field,
}

#[derive(Serialize, ToSchema)]
pub struct OtpResult {
    #[schema(example = 200)]
    status: u16,
    #[serde(rename = "statusDescription")]
    #[schema(example = "Success OTP Sent")]
    status_description: &'static str,
    /// Present (and `true`) on a verified OTP only.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct OtpResponse {
    result: OtpResult,
}

/// A `phoneNumber`: `+<cc>-<digits>` or E.164, in the supported-country table and a valid
/// number of its plan. Every refusal is "Mobile number is not valid/allowed".
fn parse_phone(s: &str) -> Result<PhoneNumber, SignzyError> {
    let options = ParseOptions {
        dashed: Dashed::Allow,
        country_table: Some(countries::table()),
    };
    PhoneNumber::parse(s, options).map_err(|_| SignzyError::MobileNumberInvalid)
}

/// The client the request names must be the token's: another id is "Customer not found".
fn check_client(client_id: &str, client: &ringproof_core::client::Client) -> Result<(), SignzyError> {
    if client_id == client.id.as_str() {
        Ok(())
    } else {
        Err(SignzyError::CustomerNotFound)
    }
}

/// Sends a one-time password by SMS (Signzy's Send OTP).
///
/// The text is the template's with the code in place of its `#` run, which also sets the
/// code length. A new OTP to the same number supersedes the client's pending one: only the
/// newest code works.
#[utoipa::path(
    post,
    path = "/api/v3/otp-verification/send-otp",
    tag = "signzy",
    security(("signzy_token" = [])),
    request_body = SendOtpRequest,
    responses(
        (status = 200, description = "`{\"result\":{\"status\":200,\"statusDescription\":\"Success OTP Sent\"}}`", body = OtpResponse),
        (status = 400, description = "Not a JSON object; a field missing or invalid; `Customer not found`; `Mobile number is not valid/allowed`; `Custom text does not exist`", body = SignzyErrorResponse),
        (status = 401, description = "No token, or an invalid one", body = SignzyUnauthorized),
        (status = 403, description = "`SMS to XX is not allowed for this client` (the client's geo permissions; ours); `Subscriber is not found on the required whitelist` (test mode); `SIM swap detected: …` (the client blocks recent SIM swaps and the operator says this number's SIM was changed within its window; ours; nothing was sent)", body = SignzyErrorResponse),
        (status = 404, description = "`Blocked phone number` (statusCode 200): the client's blocklist, a premium-rate or satellite number, or a range blocked by the SMS-pumping guard", body = SignzyErrorResponse),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 409, description = "Upstream down: the delivery provider can send nothing now", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn send_otp(
    State(state): State<AppState>,
    SignzyClient(client): SignzyClient,
    body: SignzyJson<SendOtpRequest>,
) -> Result<axum::Json<OtpResponse>, SignzyError> {
    let client_id = required_str(&body.client_id, "clientId")?;
    let phone = required_str(&body.phone_number, "phoneNumber")?;
    let channel = required_str(&body.channel, "channel")?;
    let text_id = required_str(&body.custom_text_id, "customTextId")?;
    check_client(client_id, &client)?;
    if channel != SMS_OTP {
        return Err(SignzyError::InvalidParameter(Some("channel")));
    }
    let to = parse_phone(phone)?;
    state.engine.send_otp(&client, to, text_id).await?;
    Ok(axum::Json(OtpResponse {
        result: OtpResult {
            status: 200,
            status_description: "Success OTP Sent",
            verified: None,
        },
    }))
}

/// Verifies a one-time password sent with send-otp (a ringproof addition in Signzy's
/// shapes: the seeds have no verify call).
#[utoipa::path(
    post,
    path = "/api/v3/otp-verification/verify-otp",
    tag = "signzy",
    security(("signzy_token" = [])),
    request_body = VerifyOtpRequest,
    responses(
        (status = 200, description = "`{\"result\":{\"status\":200,\"statusDescription\":\"OTP verified\",\"verified\":true}}`", body = OtpResponse),
        (status = 400, description = "`Invalid OTP` (attempts remain), `OTP expired`, a field missing or invalid, `Customer not found`, `Mobile number is not valid/allowed`", body = SignzyErrorResponse),
        (status = 401, description = "No token, or an invalid one", body = SignzyUnauthorized),
        (status = 404, description = "`No OTP pending for this phone number`", body = SignzyErrorResponse),
        (status = 429, description = "`Maximum OTP attempts exceeded`", body = SignzyErrorResponse),
        (status = 408, description = "Request timeout (past `signzy.request_timeout_ms`)", body = SignzyErrorResponse),
        (status = 422, description = "Unprocessable entity: `otp` is well-formed but not the pending OTP's length (no attempt counted)", body = SignzyErrorResponse),
        (status = 503, description = "Request cannot be processed at this time", body = SignzyErrorResponse)
    )
)]
async fn verify_otp(
    State(state): State<AppState>,
    SignzyClient(client): SignzyClient,
    body: SignzyJson<VerifyOtpRequest>,
) -> Result<axum::Json<OtpResponse>, SignzyError> {
    let client_id = required_str(&body.client_id, "clientId")?;
    let phone = required_str(&body.phone_number, "phoneNumber")?;
    let code = required_str(&body.otp, "otp")?;
    check_client(client_id, &client)?;
    let to = parse_phone(phone)?;
    state.engine.verify_otp(&client, &to, code).await?;
    Ok(axum::Json(OtpResponse {
        result: OtpResult {
            status: 200,
            status_description: "OTP verified",
            verified: Some(true),
        },
    }))
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(send_otp))
        .routes(utoipa_axum::routes!(verify_otp))
}
