//! `/v2/Services/{ServiceSid}/RateLimits[/{Sid}]` and `…/RateLimits/{RateLimitSid}/Buckets[/{Sid}]`:
//! Twilio's Service Rate Limits and their Buckets (create, list, fetch, update, delete)
//! over the engine's rate limits ([`ringproof_core::ratelimit`], where the rules of names,
//! buckets and a start's admission live). A start names them in `RateLimits`
//! ([`super::verifications`]).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use ringproof_core::engine::rate_limits::BucketChange;
use ringproof_core::ids::{BucketId, RateLimitId, ServiceId};
use ringproof_core::ratelimit::{Bucket, RateLimit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::TwilioErrorBody;
use super::services::{meta, one_page, paging, service_id};
use super::{Param, TwilioClient, TwilioError, TwilioForm, base_url, date, integer, required};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_rate_limit, list_rate_limits))
        .routes(routes!(fetch_rate_limit, update_rate_limit, delete_rate_limit))
        .routes(routes!(create_bucket, list_buckets))
        .routes(routes!(fetch_bucket, update_bucket, delete_bucket))
}

/// The body of a rate limit create or update (Twilio's `CreateRateLimitRequest`; an
/// update takes `Description` only).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RateLimitForm {
    /// What a verification's `RateLimits` names: 1 to 64 letters, digits, `_`, `-` or
    /// `.`, unique in the service (60208), fixed once created. Required on create.
    #[schema(value_type = Option<String>, example = "end_user_ip", max_length = 64)]
    unique_name: Param,
    /// Up to 255 printable characters; an empty value clears it.
    #[schema(value_type = Option<String>, example = "Limit verifications per end-user IP")]
    description: Param,
}

/// The body of a bucket create or update (Twilio's `CreateBucketRequest`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct BucketForm {
    /// Starts allowed per value in any `Interval`: 1 to 1000000. Required on create.
    #[schema(value_type = Option<i64>, example = 5, minimum = 1, maximum = 1000000)]
    max: Param,
    /// The window, in seconds: 1 to 2592000 (30 days), one bucket per interval in a rate
    /// limit (60211). Required on create.
    #[schema(value_type = Option<i64>, example = 60, minimum = 1, maximum = 2592000)]
    interval: Param,
}

/// A Service Rate Limit, in Twilio's shape.
#[derive(Serialize, ToSchema)]
pub struct RateLimitView {
    #[schema(example = "RKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    sid: String,
    #[schema(example = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    service_sid: String,
    #[schema(example = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    account_sid: String,
    #[schema(example = "end_user_ip")]
    unique_name: String,
    description: Option<String>,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_created: String,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_updated: String,
    url: String,
    /// `buckets` (an absolute URL).
    #[schema(value_type = Object)]
    links: Value,
}

/// A Bucket of a Service Rate Limit, in Twilio's shape.
#[derive(Serialize, ToSchema)]
pub struct BucketView {
    #[schema(example = "BLaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    sid: String,
    #[schema(example = "RKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    rate_limit_sid: String,
    #[schema(example = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    service_sid: String,
    #[schema(example = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    account_sid: String,
    #[schema(example = 5)]
    max: u32,
    /// Seconds.
    #[schema(example = 60)]
    interval: u32,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_created: String,
    #[schema(example = "2015-07-30T20:00:00Z")]
    date_updated: String,
    url: String,
}

/// A page of rate limits, with Twilio's paging `meta` (`key` is `rate_limits`).
#[derive(Serialize, ToSchema)]
pub struct RateLimitPage {
    rate_limits: Vec<RateLimitView>,
    #[schema(value_type = Object)]
    meta: Value,
}

/// A page of buckets, with Twilio's paging `meta` (`key` is `buckets`).
#[derive(Serialize, ToSchema)]
pub struct BucketPage {
    buckets: Vec<BucketView>,
    #[schema(value_type = Object)]
    meta: Value,
}

fn rate_limit_url(state: &AppState, service: &ServiceId, id: &RateLimitId) -> String {
    format!("{}/Services/{service}/RateLimits/{id}", base_url(state))
}

fn rate_limit_view(state: &AppState, account_sid: &str, r: &RateLimit) -> RateLimitView {
    let url = rate_limit_url(state, &r.service_id, &r.id);
    RateLimitView {
        sid: r.id.as_str().to_owned(),
        service_sid: r.service_id.as_str().to_owned(),
        account_sid: account_sid.to_owned(),
        unique_name: r.unique_name.clone(),
        description: r.description.clone(),
        date_created: date(r.created_at),
        date_updated: date(r.updated_at),
        links: json!({ "buckets": format!("{url}/Buckets") }),
        url,
    }
}

fn bucket_view(state: &AppState, account_sid: &str, b: &Bucket) -> BucketView {
    BucketView {
        sid: b.id.as_str().to_owned(),
        rate_limit_sid: b.rate_limit_id.as_str().to_owned(),
        service_sid: b.service_id.as_str().to_owned(),
        account_sid: account_sid.to_owned(),
        max: b.max,
        interval: b.interval_s,
        date_created: date(b.created_at),
        date_updated: date(b.updated_at),
        url: format!(
            "{}/Buckets/{}",
            rate_limit_url(state, &b.service_id, &b.rate_limit_id),
            b.id
        ),
    }
}

/// A rate limit SID from the path; one of another shape is none.
fn rate_limit_id(sid: &str) -> Result<RateLimitId, TwilioError> {
    RateLimitId::parse(sid).ok_or(TwilioError::NotFound)
}

fn bucket_id(sid: &str) -> Result<BucketId, TwilioError> {
    BucketId::parse(sid).ok_or(TwilioError::NotFound)
}

/// Create a rate limit in a service (Twilio's `CreateRateLimit`).
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/RateLimits",
    tag = "twilio",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "`VA` + 32 hex")),
    request_body(content = RateLimitForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The rate limit", body = RateLimitView),
        (status = 400, description = "60200: `UniqueName` missing or `Description` invalid; 60209: `UniqueName` malformed; 60208: the service has a rate limit of this name; 60207: the service has 10 rate limits", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn create_rate_limit(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(service_sid): Path<String>,
    TwilioForm(form): TwilioForm<RateLimitForm>,
) -> Result<impl IntoResponse, TwilioError> {
    let service = service_id(&service_sid)?;
    let name = required(&form.unique_name, "UniqueName")?;
    let r = state
        .engine
        .create_rate_limit(&auth.client.id, &service, name, form.description.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(rate_limit_view(&state, &auth.account_sid, &r)),
    ))
}

/// List a service's rate limits, oldest first (Twilio's `ListRateLimit`; pages by `Page`
/// and `PageSize`).
#[utoipa::path(
    get,
    path = "/v2/Services/{ServiceSid}/RateLimits",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("PageSize" = Option<u64>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("Page" = Option<u64>, Query, description = "From 0", minimum = 0, maximum = 1000000),
        ("PageToken" = Option<String>, Query, description = "Ignored: pages are by `Page`")
    ),
    responses(
        (status = 200, description = "A page of rate limits", body = RateLimitPage),
        (status = 400, description = "60200: bad `PageSize` or `Page`", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn list_rate_limits(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path(service_sid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<RateLimitPage>, TwilioError> {
    let service = service_id(&service_sid)?;
    let (size, page) = paging(query.as_deref())?;
    let found = state
        .engine
        .list_rate_limits(&auth.client.id, &service, page * size, size + 1)
        .await?;
    let (found, more) = one_page(found, size);
    let list = format!("{}/Services/{service}/RateLimits", base_url(&state));
    Ok(axum::Json(RateLimitPage {
        rate_limits: found
            .iter()
            .map(|r| rate_limit_view(&state, &auth.account_sid, r))
            .collect(),
        meta: meta(&list, "rate_limits", size, page, more),
    }))
}

/// Fetch a rate limit (Twilio's `FetchRateLimit`).
#[utoipa::path(
    get,
    path = "/v2/Services/{ServiceSid}/RateLimits/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("Sid" = String, Path, description = "`RK` + 32 hex")
    ),
    responses(
        (status = 200, description = "The rate limit", body = RateLimitView),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such rate limit in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn fetch_rate_limit(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, sid)): Path<(String, String)>,
) -> Result<axum::Json<RateLimitView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let r = state
        .engine
        .rate_limit(&auth.client.id, &service, &rate_limit_id(&sid)?)
        .await?;
    Ok(axum::Json(rate_limit_view(&state, &auth.account_sid, &r)))
}

/// Update a rate limit's `Description` (Twilio's `UpdateRateLimit`; the name is fixed).
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/RateLimits/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("Sid" = String, Path, description = "`RK` + 32 hex")
    ),
    request_body(content = RateLimitForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The rate limit after the change", body = RateLimitView),
        (status = 400, description = "60200: `Description` invalid", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such rate limit in this service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn update_rate_limit(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, sid)): Path<(String, String)>,
    TwilioForm(form): TwilioForm<RateLimitForm>,
) -> Result<axum::Json<RateLimitView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let id = rate_limit_id(&sid)?;
    let r = state
        .engine
        .update_rate_limit(&auth.client.id, &service, &id, form.description.as_deref())
        .await?;
    Ok(axum::Json(rate_limit_view(&state, &auth.account_sid, &r)))
}

/// Delete a rate limit and its buckets (Twilio's `DeleteRateLimit`).
#[utoipa::path(
    delete,
    path = "/v2/Services/{ServiceSid}/RateLimits/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("Sid" = String, Path, description = "`RK` + 32 hex")
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such rate limit in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn delete_rate_limit(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, sid)): Path<(String, String)>,
) -> Result<StatusCode, TwilioError> {
    let service = service_id(&service_sid)?;
    state
        .engine
        .delete_rate_limit(&auth.client.id, &service, &rate_limit_id(&sid)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a bucket of a rate limit (Twilio's `CreateBucket`).
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("RateLimitSid" = String, Path, description = "`RK` + 32 hex")
    ),
    request_body(content = BucketForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The bucket", body = BucketView),
        (status = 400, description = "60200: `Max` or `Interval` missing or out of range; 60211: the rate limit has a bucket of this interval; 60210: the rate limit has 5 buckets", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such rate limit in this service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn create_bucket(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, rate_limit_sid)): Path<(String, String)>,
    TwilioForm(form): TwilioForm<BucketForm>,
) -> Result<impl IntoResponse, TwilioError> {
    let service = service_id(&service_sid)?;
    let rate_limit = rate_limit_id(&rate_limit_sid)?;
    required(&form.max, "Max")?;
    required(&form.interval, "Interval")?;
    let max = integer(&form.max, "Max")?.unwrap_or_default();
    let interval = integer(&form.interval, "Interval")?.unwrap_or_default();
    let b = state
        .engine
        .create_bucket(&auth.client.id, &service, &rate_limit, max, interval)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(bucket_view(&state, &auth.account_sid, &b)),
    ))
}

/// List a rate limit's buckets, oldest first (Twilio's `ListBucket`).
#[utoipa::path(
    get,
    path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("RateLimitSid" = String, Path, description = "`RK` + 32 hex"),
        ("PageSize" = Option<u64>, Query, description = "1 to 1000, default 50", minimum = 1, maximum = 1000),
        ("Page" = Option<u64>, Query, description = "From 0", minimum = 0, maximum = 1000000),
        ("PageToken" = Option<String>, Query, description = "Ignored: pages are by `Page`")
    ),
    responses(
        (status = 200, description = "A page of buckets", body = BucketPage),
        (status = 400, description = "60200: bad `PageSize` or `Page`", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such rate limit in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn list_buckets(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, rate_limit_sid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<BucketPage>, TwilioError> {
    let service = service_id(&service_sid)?;
    let rate_limit = rate_limit_id(&rate_limit_sid)?;
    let (size, page) = paging(query.as_deref())?;
    let found = state
        .engine
        .list_buckets(&auth.client.id, &service, &rate_limit, page * size, size + 1)
        .await?;
    let (found, more) = one_page(found, size);
    let list = format!("{}/Buckets", rate_limit_url(&state, &service, &rate_limit));
    Ok(axum::Json(BucketPage {
        buckets: found
            .iter()
            .map(|b| bucket_view(&state, &auth.account_sid, b))
            .collect(),
        meta: meta(&list, "buckets", size, page, more),
    }))
}

/// Fetch a bucket (Twilio's `FetchBucket`).
#[utoipa::path(
    get,
    path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("RateLimitSid" = String, Path, description = "`RK` + 32 hex"),
        ("Sid" = String, Path, description = "`BL` + 32 hex")
    ),
    responses(
        (status = 200, description = "The bucket", body = BucketView),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such bucket of this rate limit in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn fetch_bucket(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
) -> Result<axum::Json<BucketView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let b = state
        .engine
        .bucket(
            &auth.client.id,
            &service,
            &rate_limit_id(&rate_limit_sid)?,
            &bucket_id(&sid)?,
        )
        .await?;
    Ok(axum::Json(bucket_view(&state, &auth.account_sid, &b)))
}

/// Update a bucket's `Max` or `Interval` (Twilio's `UpdateBucket`); the counts so far stay.
#[utoipa::path(
    post,
    path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("RateLimitSid" = String, Path, description = "`RK` + 32 hex"),
        ("Sid" = String, Path, description = "`BL` + 32 hex")
    ),
    request_body(content = BucketForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The bucket after the change", body = BucketView),
        (status = 400, description = "60200: `Max` or `Interval` out of range; 60211: another bucket of the rate limit has this interval", body = TwilioErrorBody),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such bucket of this rate limit in this service of this client", body = TwilioErrorBody),
        (status = 413, description = "Body over 16 KiB", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn update_bucket(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
    TwilioForm(form): TwilioForm<BucketForm>,
) -> Result<axum::Json<BucketView>, TwilioError> {
    let service = service_id(&service_sid)?;
    let rate_limit = rate_limit_id(&rate_limit_sid)?;
    let id = bucket_id(&sid)?;
    let change = BucketChange {
        max: integer(&form.max, "Max")?,
        interval_s: integer(&form.interval, "Interval")?,
    };
    let b = state
        .engine
        .update_bucket(&auth.client.id, &service, &rate_limit, &id, change)
        .await?;
    Ok(axum::Json(bucket_view(&state, &auth.account_sid, &b)))
}

/// Delete a bucket (Twilio's `DeleteBucket`).
#[utoipa::path(
    delete,
    path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}",
    tag = "twilio",
    security(("basic" = [])),
    params(
        ("ServiceSid" = String, Path, description = "`VA` + 32 hex"),
        ("RateLimitSid" = String, Path, description = "`RK` + 32 hex"),
        ("Sid" = String, Path, description = "`BL` + 32 hex")
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "20003: no or wrong credentials", body = TwilioErrorBody),
        (status = 404, description = "20404: no such bucket of this rate limit in this service of this client", body = TwilioErrorBody),
        (status = 429, description = "20429: too many failed credentials", body = TwilioErrorBody),
        (status = 503, description = "20503: the database is unavailable; retry", body = TwilioErrorBody)
    )
)]
async fn delete_bucket(
    State(state): State<AppState>,
    auth: TwilioClient,
    Path((service_sid, rate_limit_sid, sid)): Path<(String, String, String)>,
) -> Result<StatusCode, TwilioError> {
    let service = service_id(&service_sid)?;
    state
        .engine
        .delete_bucket(
            &auth.client.id,
            &service,
            &rate_limit_id(&rate_limit_sid)?,
            &bucket_id(&sid)?,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
