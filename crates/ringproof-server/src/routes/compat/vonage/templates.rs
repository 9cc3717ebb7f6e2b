//! `/v2/verify/templates…`: Vonage Verify v2's custom templates and template fragments
//! over the core's ([`ringproof_core::vonage_template`]), every one the authenticated
//! client's. Translation only: Vonage's `${code}`, `${brand}`, `${time-limit}` and
//! `${time-limit-unit}` are the core's `{code}`, `{brand}`, … (and back); paging is
//! Vonage's `page`/`page_size` with `_embedded` and `_links`; ids are UUIDs (another
//! shape is not found). The rules (names, locales, texts, one fragment per channel and
//! locale, deleting only an empty template, the default template) are the core's.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use ringproof_core::vonage_template::{self as vt, TemplateFragment, VonageTemplate};
use ringproof_core::workflow::Channel;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::VonageErrorBody;
use super::verify::{Member, string};
use super::{VonageClient, VonageError, VonageJson};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(list_fragments, create_fragment))
        .routes(routes!(get_fragment, update_fragment, delete_fragment))
}

/// Vonage's `${name}` placeholders as the core's `{name}` (a `$` before anything else
/// stays text).
fn text_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let is_name = tail[1..]
            .find('}')
            .is_some_and(|end| end > 0 && tail[1..1 + end].bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        if !is_name {
            out.push('$');
        }
        out.push('{');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// The core's placeholders as Vonage's.
fn text_out(text: &str) -> String {
    vt::PLACEHOLDERS.iter().fold(text.to_owned(), |t, name| {
        t.replace(&format!("{{{name}}}"), &format!("${{{name}}}"))
    })
}

/// A template id as the core keeps it (a lowercase UUID); another shape is not found.
fn uuid(id: &str) -> Result<String, VonageError> {
    ringproof_core::vonage_app::parse_application_id(id).ok_or(VonageError::TemplateNotFound)
}

fn templates_url(state: &AppState) -> String {
    format!(
        "{}/v2/verify/templates",
        state.engine.public_base_url().trim_end_matches('/')
    )
}

/// A link (`{"href": …}`).
#[derive(Serialize, ToSchema)]
pub struct VonageLink {
    #[schema(example = "https://verify.example.com/v2/verify/templates/8f35a1a7-eb2f-4552-8fdf-fffdaee41bc9")]
    href: String,
}

fn link(href: String) -> VonageLink {
    VonageLink { href }
}

/// A page's links: `next` only when there is a next page (the SDK pages until it is gone).
#[derive(Serialize, ToSchema)]
pub struct VonagePageLinks {
    #[serde(rename = "self")]
    this: VonageLink,
    first: VonageLink,
    last: VonageLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<VonageLink>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<VonageLink>,
}

/// A template's links.
#[derive(Serialize, ToSchema)]
pub struct VonageTemplateLinks {
    #[serde(rename = "self")]
    this: VonageLink,
    fragments: VonageLink,
}

/// A template.
#[derive(Serialize, ToSchema)]
pub struct VonageTemplateView {
    #[schema(example = "8f35a1a7-eb2f-4552-8fdf-fffdaee41bc9")]
    template_id: String,
    #[schema(example = "my-template")]
    name: String,
    /// Whether a new request without `template_id` uses it.
    is_default: bool,
    _links: VonageTemplateLinks,
}

/// A fragment's links.
#[derive(Serialize, ToSchema)]
pub struct VonageFragmentLinks {
    #[serde(rename = "self")]
    this: VonageLink,
    template: VonageLink,
}

/// A template fragment: the template's text for one channel and locale.
#[derive(Serialize, ToSchema)]
pub struct VonageTemplateFragmentView {
    #[schema(example = "c70f446e-997a-4313-a081-60a02a31dc19")]
    template_fragment_id: String,
    /// `sms` or `voice`.
    #[schema(example = "sms")]
    channel: &'static str,
    /// Lowercase (`en-us`).
    #[schema(example = "en-us")]
    locale: String,
    #[schema(example = "The authentication code for your ${brand} is: ${code}")]
    text: String,
    #[schema(example = "2026-11-22T01:55:47.123Z")]
    date_created: String,
    #[schema(example = "2026-11-22T01:55:47.123Z")]
    date_updated: String,
    _links: VonageFragmentLinks,
}

#[derive(Serialize, ToSchema)]
pub struct VonageTemplatesEmbedded {
    templates: Vec<VonageTemplateView>,
}

#[derive(Serialize, ToSchema)]
pub struct VonageFragmentsEmbedded {
    template_fragments: Vec<VonageTemplateFragmentView>,
}

/// A page of templates, oldest first.
#[derive(Serialize, ToSchema)]
pub struct VonageTemplatePage {
    page_size: u64,
    page: u64,
    total_pages: u64,
    total_items: u64,
    _embedded: VonageTemplatesEmbedded,
    _links: VonagePageLinks,
}

/// A page of a template's fragments, oldest first.
#[derive(Serialize, ToSchema)]
pub struct VonageTemplateFragmentPage {
    page_size: u64,
    page: u64,
    total_pages: u64,
    total_items: u64,
    _embedded: VonageFragmentsEmbedded,
    _links: VonagePageLinks,
}

/// The body of a new template.
#[derive(Deserialize, ToSchema)]
pub struct VonageCreateTemplateRequest {
    /// 1 to 64 of `A-Z a-z 0-9 _ -`, unique among the client's templates.
    #[schema(value_type = String, required = true, example = "my-template")]
    name: Member,
}

/// The body of a template update: the members given change.
#[derive(Deserialize, ToSchema)]
pub struct VonageUpdateTemplateRequest {
    #[schema(value_type = Option<String>, example = "my-renamed-template")]
    name: Member,
    /// `true` makes it the default (the previous one stops being it); `false` leaves the
    /// client without a default if it was.
    #[schema(value_type = Option<bool>, example = true)]
    is_default: Member,
}

/// The body of a new fragment.
#[derive(Deserialize, ToSchema)]
pub struct VonageCreateFragmentRequest {
    /// `sms` or `voice`.
    #[schema(value_type = String, required = true, example = "sms")]
    channel: Member,
    /// A language ringproof speaks, optionally with a region (`en-us`, `es-es`, `pt-br`).
    #[schema(value_type = String, required = true, example = "en-us")]
    locale: Member,
    /// 1 to 480 characters with `${code}`; `${brand}`, `${time-limit}` and
    /// `${time-limit-unit}` may appear too.
    #[schema(value_type = String, required = true, example = "The authentication code for your ${brand} is: ${code}")]
    text: Member,
}

/// The body of a fragment update.
#[derive(Deserialize, ToSchema)]
pub struct VonageUpdateFragmentRequest {
    #[schema(value_type = String, required = true, example = "Your ${brand} code: ${code}")]
    text: Member,
}

fn template_view(state: &AppState, t: &VonageTemplate) -> VonageTemplateView {
    let this = format!("{}/{}", templates_url(state), t.id);
    VonageTemplateView {
        template_id: t.id.clone(),
        name: t.name.clone(),
        is_default: t.is_default,
        _links: VonageTemplateLinks {
            fragments: link(format!("{this}/template_fragments")),
            this: link(this),
        },
    }
}

fn fragment_view(state: &AppState, f: &TemplateFragment) -> VonageTemplateFragmentView {
    let template = format!("{}/{}", templates_url(state), f.template_id);
    VonageTemplateFragmentView {
        template_fragment_id: f.id.clone(),
        channel: f.channel.as_str(),
        locale: f.locale.clone(),
        text: text_out(&f.text),
        date_created: f.created_at.to_rfc3339(),
        date_updated: f.updated_at.to_rfc3339(),
        _links: VonageFragmentLinks {
            this: link(format!("{template}/template_fragments/{}", f.id)),
            template: link(template),
        },
    }
}

/// `page` and `page_size` of a list's query (other parameters are ignored).
fn paging(query: Option<&str>) -> Result<(Option<u64>, Option<u64>), VonageError> {
    let (mut page, mut size) = (None, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match k.as_ref() {
            "page" => &mut page,
            "page_size" => &mut size,
            _ => continue,
        };
        *slot = Some(
            v.parse::<u64>()
                .map_err(|_| VonageError::invalid(k.as_ref(), "must be a positive integer"))?,
        );
    }
    Ok((page, size))
}

/// `(total_pages, links)` of page `page` of `size` over `total` items at `list`.
fn page_links(list: &str, page: u64, size: u64, total: u64) -> (u64, VonagePageLinks) {
    let pages = total.div_ceil(size);
    let at = |p: u64| link(format!("{list}?page_size={size}&page={p}"));
    let links = VonagePageLinks {
        this: at(page),
        first: at(1),
        last: at(pages.max(1)),
        next: (page < pages).then(|| at(page + 1)),
        prev: (page > 1).then(|| at(page - 1)),
    };
    (pages, links)
}

/// List the client's templates (the SDK's `getTemplatePage`, `listAllTemplates`).
#[utoipa::path(
    get,
    path = "/v2/verify/templates",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(
        ("page_size" = Option<u64>, Query, description = "1 to 100, default 20", minimum = 1, maximum = 100),
        ("page" = Option<u64>, Query, description = "From 1 (default 1)", minimum = 1)
    ),
    responses(
        (status = 200, description = "A page of templates, oldest first; `_links.next` while there is a next page", body = VonageTemplatePage),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`page` or `page_size` out of range", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn list_templates(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<VonageTemplatePage>, VonageError> {
    let (page, size) = paging(query.as_deref())?;
    let (offset, limit) = vt::page_window(page, size)?;
    let found = state.engine.list_vonage_templates(&client.id, offset, limit).await?;
    let page = offset / limit + 1;
    let (total_pages, links) = page_links(&templates_url(&state), page, limit, found.total);
    Ok(axum::Json(VonageTemplatePage {
        page_size: limit,
        page,
        total_pages,
        total_items: found.total,
        _embedded: VonageTemplatesEmbedded {
            templates: found.items.iter().map(|t| template_view(&state, t)).collect(),
        },
        _links: links,
    }))
}

/// Create a template (the SDK's `createTemplate`); the client's first is its default.
#[utoipa::path(
    post,
    path = "/v2/verify/templates",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    request_body(content = VonageCreateTemplateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The new template", body = VonageTemplateView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "The client has a template of this name (or 100 templates)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`name` missing or invalid, or a body that is not a JSON object", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn create_template(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    body: VonageJson<VonageCreateTemplateRequest>,
) -> Result<axum::Json<VonageTemplateView>, VonageError> {
    let name = string(&body.name, "name")?.ok_or_else(|| VonageError::invalid("name", "is required"))?;
    let t = state.engine.create_vonage_template(&client.id, name).await?;
    Ok(axum::Json(template_view(&state, &t)))
}

/// Get a template (the SDK's `getTemplate`).
#[utoipa::path(
    get,
    path = "/v2/verify/templates/{template_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("template_id" = String, Path, description = "The template's UUID")),
    responses(
        (status = 200, description = "The template", body = VonageTemplateView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such template of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn get_template(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
) -> Result<axum::Json<VonageTemplateView>, VonageError> {
    let t = state.engine.vonage_template(&client.id, &uuid(&id)?).await?;
    Ok(axum::Json(template_view(&state, &t)))
}

/// Rename a template or change whether it is the default (the SDK's `updateTemplate`).
#[utoipa::path(
    patch,
    path = "/v2/verify/templates/{template_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("template_id" = String, Path, description = "The template's UUID")),
    request_body(content = VonageUpdateTemplateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The template as changed", body = VonageTemplateView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such template of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "Another template of the client has this name", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`name` or `is_default` invalid, or a body that is not a JSON object", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn update_template(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
    body: VonageJson<VonageUpdateTemplateRequest>,
) -> Result<axum::Json<VonageTemplateView>, VonageError> {
    let id = uuid(&id)?;
    let name = string(&body.name, "name")?;
    let is_default = match &body.is_default {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(VonageError::invalid("is_default", "must be true or false")),
    };
    let t = state
        .engine
        .update_vonage_template(&client.id, &id, name, is_default)
        .await?;
    Ok(axum::Json(template_view(&state, &t)))
}

/// Delete a template that has no fragments left (the SDK's `deleteTemplate`).
#[utoipa::path(
    delete,
    path = "/v2/verify/templates/{template_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("template_id" = String, Path, description = "The template's UUID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such template of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "The template still has fragments: delete them first", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn delete_template(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(id): Path<String>,
) -> Result<StatusCode, VonageError> {
    state.engine.delete_vonage_template(&client.id, &uuid(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a template's fragments (the SDK's `getTemplateFragmentPage`,
/// `listAllTemplateFragments`).
#[utoipa::path(
    get,
    path = "/v2/verify/templates/{template_id}/template_fragments",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(
        ("template_id" = String, Path, description = "The template's UUID"),
        ("page_size" = Option<u64>, Query, description = "1 to 100, default 20", minimum = 1, maximum = 100),
        ("page" = Option<u64>, Query, description = "From 1 (default 1)", minimum = 1)
    ),
    responses(
        (status = 200, description = "A page of fragments, oldest first; `_links.next` while there is a next page", body = VonageTemplateFragmentPage),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such template of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`page` or `page_size` out of range", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn list_fragments(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(template_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<axum::Json<VonageTemplateFragmentPage>, VonageError> {
    let template_id = uuid(&template_id)?;
    let (page, size) = paging(query.as_deref())?;
    let (offset, limit) = vt::page_window(page, size)?;
    let found = state
        .engine
        .list_template_fragments(&client.id, &template_id, offset, limit)
        .await?;
    let page = offset / limit + 1;
    let list = format!("{}/{template_id}/template_fragments", templates_url(&state));
    let (total_pages, links) = page_links(&list, page, limit, found.total);
    Ok(axum::Json(VonageTemplateFragmentPage {
        page_size: limit,
        page,
        total_pages,
        total_items: found.total,
        _embedded: VonageFragmentsEmbedded {
            template_fragments: found.items.iter().map(|f| fragment_view(&state, f)).collect(),
        },
        _links: links,
    }))
}

/// Create a fragment (the SDK's `createTemplateFragment`): the template's text for a
/// channel and locale.
#[utoipa::path(
    post,
    path = "/v2/verify/templates/{template_id}/template_fragments",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(("template_id" = String, Path, description = "The template's UUID")),
    request_body(content = VonageCreateFragmentRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The new fragment", body = VonageTemplateFragmentView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such template of this client", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 409, description = "The template has a fragment for this channel and locale (or 100 fragments)", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`channel`, `locale` or `text` missing or invalid (a text without `${code}`, an unknown placeholder, over 480 characters), or a body that is not a JSON object", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn create_fragment(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path(template_id): Path<String>,
    body: VonageJson<VonageCreateFragmentRequest>,
) -> Result<axum::Json<VonageTemplateFragmentView>, VonageError> {
    let template_id = uuid(&template_id)?;
    let channel = match string(&body.channel, "channel")? {
        Some(c) => Channel::parse(c).ok_or_else(|| VonageError::invalid("channel", "must be sms or voice"))?,
        None => return Err(VonageError::invalid("channel", "is required")),
    };
    let locale = string(&body.locale, "locale")?.ok_or_else(|| VonageError::invalid("locale", "is required"))?;
    let text = string(&body.text, "text")?.ok_or_else(|| VonageError::invalid("text", "is required"))?;
    let f = state
        .engine
        .create_template_fragment(&client.id, &template_id, channel, locale, &text_in(text))
        .await?;
    Ok(axum::Json(fragment_view(&state, &f)))
}

/// Get a fragment (the SDK's `getTemplateFragment`).
#[utoipa::path(
    get,
    path = "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(
        ("template_id" = String, Path, description = "The template's UUID"),
        ("template_fragment_id" = String, Path, description = "The fragment's UUID")
    ),
    responses(
        (status = 200, description = "The fragment", body = VonageTemplateFragmentView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fragment of this client's template", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn get_fragment(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path((template_id, id)): Path<(String, String)>,
) -> Result<axum::Json<VonageTemplateFragmentView>, VonageError> {
    let f = state
        .engine
        .template_fragment(&client.id, &uuid(&template_id)?, &uuid(&id)?)
        .await?;
    Ok(axum::Json(fragment_view(&state, &f)))
}

/// Change a fragment's text (the SDK's `updateTemplateFragment`).
#[utoipa::path(
    patch,
    path = "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(
        ("template_id" = String, Path, description = "The template's UUID"),
        ("template_fragment_id" = String, Path, description = "The fragment's UUID")
    ),
    request_body(content = VonageUpdateFragmentRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The fragment as changed", body = VonageTemplateFragmentView),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fragment of this client's template", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 422, description = "`text` missing or invalid, or a body that is not a JSON object", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn update_fragment(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path((template_id, id)): Path<(String, String)>,
    body: VonageJson<VonageUpdateFragmentRequest>,
) -> Result<axum::Json<VonageTemplateFragmentView>, VonageError> {
    let (template_id, id) = (uuid(&template_id)?, uuid(&id)?);
    let text = string(&body.text, "text")?.ok_or_else(|| VonageError::invalid("text", "is required"))?;
    let f = state
        .engine
        .update_template_fragment(&client.id, &template_id, &id, &text_in(text))
        .await?;
    Ok(axum::Json(fragment_view(&state, &f)))
}

/// Delete a fragment (the SDK's `deleteTemplateFragment`).
#[utoipa::path(
    delete,
    path = "/v2/verify/templates/{template_id}/template_fragments/{template_fragment_id}",
    tag = "vonage",
    security(("vonage_jwt" = []), ("basic" = [])),
    params(
        ("template_id" = String, Path, description = "The template's UUID"),
        ("template_fragment_id" = String, Path, description = "The fragment's UUID")
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No or wrong credentials", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fragment of this client's template", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed credentials; see `Retry-After`", body = VonageErrorBody, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable; retry", body = VonageErrorBody, content_type = "application/problem+json")
    )
)]
async fn delete_fragment(
    State(state): State<AppState>,
    VonageClient(client): VonageClient,
    Path((template_id, id)): Path<(String, String)>,
) -> Result<StatusCode, VonageError> {
    state
        .engine
        .delete_template_fragment(&client.id, &uuid(&template_id)?, &uuid(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_translate_both_ways() {
        let vonage = "Your ${brand} code ${code}, valid ${time-limit} ${time-limit-unit}. $5 ${X} {y} $";
        let core = text_in(vonage);
        assert_eq!(
            core,
            "Your {brand} code {code}, valid {time-limit} {time-limit-unit}. $5 ${X} {y} $"
        );
        assert_eq!(
            text_out(&core),
            "Your ${brand} code ${code}, valid ${time-limit} ${time-limit-unit}. $5 ${X} {y} $"
        );
        assert_eq!(text_in("${unknown}"), "{unknown}");
        assert_eq!(text_in("${}"), "${}");
    }

    #[test]
    fn pages_link_on_while_there_is_more() {
        let (pages, l) = page_links("L", 1, 2, 3);
        assert_eq!(pages, 2);
        assert_eq!(l.next.map(|n| n.href).as_deref(), Some("L?page_size=2&page=2"));
        assert!(l.prev.is_none());
        let (_, l) = page_links("L", 2, 2, 3);
        assert!(l.next.is_none());
        assert_eq!(l.prev.map(|n| n.href).as_deref(), Some("L?page_size=2&page=1"));
        let (pages, l) = page_links("L", 1, 20, 0);
        assert_eq!((pages, l.last.href.as_str()), (0, "L?page_size=20&page=1"));
    }
}
