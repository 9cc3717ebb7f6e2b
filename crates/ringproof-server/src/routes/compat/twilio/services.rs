//! `/v2/Services` and `/v2/Services/{Sid}`: Twilio's Verify Services (create, list, fetch,
//! update, delete) over the engine's services ([`ringproof_core::service`]: a service is a
//! per-client configuration set — brand, code length, options).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ringproof_core::ids::ServiceId;
use ringproof_core::service::{Service, ServiceChange};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::TwilioErrorBody;
use super::{Param, TwilioClient, TwilioError, TwilioForm, base_url, boolean, date, integer, required};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_service, list_services))
        .routes(routes!(fetch_service, update_service, delete_service))
}

/// The body of a service create or update (Twilio's `CreateServiceRequest`). Parameters
/// of Twilio's not listed here (Push, Totp, Whatsapp, Passkeys, `TtsName`, …) are ignored.
// The fields are the raw strings: the handler parses each in Twilio's terms.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceForm {
    /// The brand in the texts ("Your <FriendlyName> verification code is …"): 1 to 32
    /// printable characters. Required on create.
    #[schema(value_type = Option<String>, example = "Acme", max_length = 32)]
    friendly_name: Param,
    /// Digits of each code, 4 to 10 (default: the client's code length).
    #[schema(value_type = Option<i64>, example = 6, minimum = 4, maximum = 10)]
    code_length: Param,
    /// Stored and shown (a lookup on each start is not run yet).
    #[schema(value_type = Option<bool>)]
    lookup_enabled: Param,
    /// Stored and shown (needs `LookupEnabled`; not applied yet).
    #[schema(value_type = Option<bool>)]
    skip_sms_to_landlines: Param,
    /// The SMS ends "Don't share this code with anyone; our employees will never ask for
    /// the code."
    #[schema(value_type = Option<bool>)]
    do_not_share_warning_enabled: Param,
    /// Whether verifications may bring their own `CustomCode`.
    #[schema(value_type = Option<bool>)]
    custom_code_enabled: Param,
    /// A template SID (`HJ` + 32 hex), stored and shown; an empty value clears it.
    #[schema(value_type = Option<String>, example = "HJaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    default_template_sid: Param,
    /// Accepted; PSD2 parameters are not supported (always `false`).
    #[schema(value_type = Option<bool>)]
    psd2_enabled: Param,
    /// Accepted; not supported (always `false`).
    #[schema(value_type = Option<bool>)]
    dtmf_input_required: Param,
}

/// A Verify Service, in Twilio's shape.
#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    #[schema(example = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    sid: String,
    #[schema(example = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    account_sid: String,
    friendly_name: String,
    code_length: u8,
    lookup_enabled: bool,
    psd2_enabled: bool,
    skip_sms_to_landlines: bool,
    dtmf_input_required: bool,
    tts_name: Option<String>,
    do_not_share_warning_enabled: bool,
    custom_code_enabled: bool,
    /// Always the empty configuration (push factors are not supported).
    #[schema(value_type = Object)]
    push: Value,
    /// Always the empty configuration (TOTP factors are not supported).
    #[schema(value_type = Object)]
    totp: Value,
    /// Always the empty configuration (WhatsApp is not supported).
    #[schema(value_type = Object)]
    whatsapp: Value,
    default_template_sid: Option<String>,
    verify_event_subscription_enabled: bool,
    /// ISO 8601, UTC.
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_created: String,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_updated: String,
    url: String,
    /// `verifications`, `verification_checks`, … (absolute URLs).
    #[schema(value_type = Object)]
    links: Value,
}

/// A page of services, with Twilio's paging `meta` (`key` is `services`).
#[derive(Serialize, ToSchema)]
pub struct ServicePage {
    services: Vec<ServiceView>,
    #[schema(value_type = Object)]
    meta: Value,
}

pub(super) fn view(state: &AppState, account_sid: &str, s: &Service) -> ServiceView {
    let url = format!("{}/Services/{}", base_url(state), s.id);
    let link = |rest: &str| format!("{url}/{rest}");
    let st = &s.settings;
    ServiceView {
        sid: s.id.as_str().to_owned(),
        account_sid: account_sid.to_owned(),
        friendly_name: st.friendly_name.clone(),
        code_length: st.code_length,
        lookup_enabled: st.lookup_enabled,
        psd2_enabled: false,
        skip_sms_to_landlines: st.skip_sms_to_landlines,
        dtmf_input_required: false,
        tts_name: None,
        do_not_share_warning_enabled: st.do_not_share_warning,
        custom_code_enabled: st.custom_code_enabled,
        push: json!({"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null}),
        totp: json!({"issuer": null, "time_step": null, "code_length": null, "skew": null}),
        whatsapp: json!({"msg_service_sid": null, "from": null}),
        default_template_sid: st.default_template.clone(),
        verify_event_subscription_enabled: false,
        date_created: date(s.created_at),
        date_updated: date(s.updated_at),
        links: json!({
            "verification_checks": link("VerificationCheck"),
            "verifications": link("Verifications"),
            "rate_limits": link("RateLimits"),
            "messaging_configurations": link("MessagingConfigurations"),
            "entities": link("Entities"),
            "webhooks": link("Webhooks"),
            "access_tokens": link("AccessTokens"),
        }),
        url,
    }
}

/// The change a form asks for, each parameter checked in Twilio's order of the create
/// request's parameters.
fn change(form: &ServiceForm) -> Result<ServiceChange, TwilioError> {
    let code_length = integer(&form.code_length, "CodeLength")?
        .map(|n| u8::try_from(n).map_err(|_| TwilioError::invalid("CodeLength", "must be 4 to 10")))
        .transpose()?;
    for (p, name) in [
        (&form.psd2_enabled, "Psd2Enabled"),
        (&form.dtmf_input_required, "DtmfInputRequired"),
    ] {
        boolean(p, name)?;
    }
    Ok(ServiceChange {
        friendly_name: form.friendly_name.clone(),
        code_length,
        lookup_enabled: boolean(&form.lookup_enabled, "LookupEnabled")?,
        skip_sms_to_landlines: boolean(&form.skip_sms_to_landlines, "SkipSmsToLandlines")?,
        do_not_share_warning: boolean(&form.do_not_share_warning_enabled, "DoNotShareWarningEnabled")?,
        custom_code_enabled: boolean(&form.custom_code_enabled, "CustomCodeEnabled")?,
        default_template: form
            .default_template_sid
            .as_ref()
            .map(|t| (!t.is_empty()).then(|| t.clone())),
    })
}

/// A service SID from the path; one of another shape is no service.
pub(super) fn service_id(sid: &str) -> Result<ServiceId, TwilioError> {
    ServiceId::parse(sid).ok_or(TwilioError::NotFound)
}

/// Create a Verify Service (Twilio's `CreateService`).
#[utoipa::path(
    post,
    path = "/v2/Services",
    tag = "twilio",
    security(("basic" = [])),
    request_body(content = ServiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The service", body = ServiceView),
        (status = 400, description = "60200: a parameter is missing or invalid (`FriendlyName` is required), or the client has 100 services already", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn create_service(
    State(state): State<AppState>,
    auth: TwilioClient,
    TwilioForm(form): TwilioForm<ServiceForm>,
) -> Result<impl IntoResponse, TwilioError> {
    required(&form.friendly_name, "FriendlyName")?;
    let s = state.engine.create_service(&auth.client, change(&form)?).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&state, &auth.account_sid, &s))))
}

/// Paging parameters of a list (`PageSize` 1 to 1000, default 50; `Page` from 0).
pub(super) fn paging(query: Option<&str>) -> Result<(u64, u64), TwilioError> {
    let (mut size, mut page) = (50u64, 0u64);
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "PageSize" => {
                size = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| TwilioError::invalid("PageSize", "must be 1 to 1000"))?;
            }
            "Page" => {
                page = v
                    .parse()
                    .ok()
                    .filter(|n| *n <= 1_000_000)
                    .ok_or_else(|| TwilioError::invalid("Page", "must be a page number from 0"))?;
            }
            _ => {}
        }
    }
    Ok((size, page))
}

/// One page of a list read with one item more than `size` (the probe for a next page):
/// the page, and whether there is a next one.
pub(super) fn one_page<T>(mut found: Vec<T>, size: u64) -> (Vec<T>, bool) {
    let more = found.len() as u64 > size;
    found.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    (found, more)
}

/// Twilio's paging `meta` of a list at `list` (an absolute URL).
pub(super) fn meta(list: &str, key: &str, size: u64, page: u64, more: bool) -> Value {
    let page_url = |p: u64| format!("{list}?PageSize={size}&Page={p}");
    json!({
        "page": page,
        "page_size": size,
        "first_page_url": page_url(0),
        "previous_page_url": (page > 0).then(|| page_url(page - 1)),
        "next_page_url": more.then(|| page_url(page + 1)),
        "key": key,
        "url": page_url(page),
    })
}

/// List the client's Verify Services, oldest first (Twilio's `ListService`; pages by
/// `Page` and `PageSize`, `next_page_url` leads on).
#[utoipa::path(
    get,
    path = "/v2/Services",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("PageSize" = Option<u64>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("Page" = Option<u64>, Query, description = "From 0", minimum = 0, maximum = 1000000),
        ("PageToken" = Option<String>, Query, description = "Ignored: pages are by `Page`")
    ),
    responses(
        (status = 200, description = "A page of services", body = ServicePage),
        (status = 400, description = "60200: bad `PageSize` or `Page`", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn list_services(
    State(state): State<AppState>,
    auth: TwilioClient,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<ServicePage>, TwilioError> {
    let (size, page) = paging(query.as_deref())?;
    let found = state
        .engine
        .list_services(&auth.client.id, page * size, size + 1)
        .await?;
    let (found, more) = one_page(found, size);
    let list = format!("{}/Services", base_url(&state));
    Ok(axum::Json(ServicePage {
        services: found.iter().map(|s| view(&state, &auth.account_sid, s)).collect(),
        meta: meta(&list, "services", size, page, more),
    }))
}

/// Fetch a Verify Service (Twilio's `FetchService`).
#[utoipa::path(
    get,
    path = "/v2/Services/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(("Sid" = String, Path, description = "`VA` + 32 hex")),
    responses(
        (status = 200, description = "The service", body = ServiceView),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn fetch_service(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(sid): Path<String>,
) -> Result<axum::Json<ServiceView>, TwilioError> {
    let s = state.engine.service(&auth.client.id, &service_id(&sid)?).await?;
    Ok(axum::Json(view(&state, &auth.account_sid, &s)))
}

/// Update a Verify Service (Twilio's `UpdateService`): the parameters given change.
#[utoipa::path(
    post,
    path = "/v2/Services/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(("Sid" = String, Path, description = "`VA` + 32 hex")),
    request_body(content = ServiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The service after the change", body = ServiceView),
        (status = 400, description = "60200: a parameter is invalid", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn update_service(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(sid): Path<String>,
    TwilioForm(form): TwilioForm<ServiceForm>,
) -> Result<axum::Json<ServiceView>, TwilioError> {
    let id = service_id(&sid)?;
    let s = state
        .engine
        .update_service(&auth.client.id, &id, change(&form)?)
        .await?;
    Ok(axum::Json(view(&state, &auth.account_sid, &s)))
}

/// Delete a Verify Service (Twilio's `DeleteService`); its verifications are then found
/// by no request.
#[utoipa::path(
    delete,
    path = "/v2/Services/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(("Sid" = String, Path, description = "`VA` + 32 hex")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn delete_service(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(sid): Path<String>,
) -> Result<StatusCode, TwilioError> {
    state.engine.delete_service(&auth.client.id, &service_id(&sid)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
