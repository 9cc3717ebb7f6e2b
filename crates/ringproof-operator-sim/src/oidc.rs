//! The OpenID Connect side: discovery, JWKS, `/authorize` (network-based authentication of
//! the device), `/token` (`private_key_jwt` only), and `/sim/as` (the click-as override).
//!
//! Error rules follow the CAMARA Security and Interoperability Profile, Appendix A: an unknown
//! client or a redirect URI that is not registered gets a 400 page and is never redirected;
//! every later `/authorize` failure is a 302 to the redirect URI with `error` and `state`;
//! `/token` answers RFC 6749 §5.2 JSON (`invalid_client` is 401). Signed request objects
//! (`request=`) are checked with the client's keys; `request_uri` is not supported.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use ringproof_core::crypto::{base64url, ct_eq, hex, hmac_sha256, random_bytes};
use ringproof_core::jose::{self, JoseError, KeySet};
use ringproof_core::time::Timestamp;
use serde_json::{Value, json};

use crate::config::is_e164;
use crate::{API_SCOPES, AccessToken, CODE_TTL_S, CodeGrant, Inner, lock};

/// The override header only this simulator honours.
pub const DEVICE_HEADER: &str = "x-operator-sim-device";
/// The cookie `/sim/as` sets.
pub const DEVICE_COOKIE: &str = "opsim_device";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Tolerated clock difference with a client, seconds.
const SKEW_S: i64 = 10;
/// The longest client-assertion lifetime the profile allows, seconds.
const MAX_ASSERTION_LIFETIME_S: i64 = 300;

pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize).post(authorize))
        .route("/token", post(token))
        .route("/sim/as", get(click_as))
        .route("/sim", get(sim_page))
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<Value> {
    let i = &s.issuer;
    let mut scopes = vec!["openid", "dpv:FraudPreventionAndDetection"];
    scopes.extend(API_SCOPES);
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": s.token_endpoint(),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "subject_types_supported": ["pairwise"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr"],
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["ES256"],
        "request_uri_parameter_supported": false,
    }))
}

async fn jwks(State(s): State<Arc<Inner>>) -> Json<Value> {
    Json(s.key.jwks())
}

// ---------------------------------------------------------------------------------------
// /authorize

/// How the device was identified (logged; never the number itself).
#[derive(Clone, Copy, Debug)]
enum Identified {
    Header,
    Cookie,
    SourceAddress,
}

/// The device's number: the override header, then the `/sim/as` cookie, then the source
/// address. `None` is a device the network cannot see (Wi-Fi, another network).
fn identify_device(s: &Inner, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<(String, Identified)> {
    if let Some(n) = headers.get(DEVICE_HEADER).and_then(|v| v.to_str().ok()) {
        let n = n.trim();
        return is_e164(n).then(|| (n.to_owned(), Identified::Header));
    }
    if let Some(n) = cookie(headers, DEVICE_COOKIE)
        && is_e164(&n)
    {
        return Some((n, Identified::Cookie));
    }
    let ip = peer.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    })?;
    s.cfg
        .phones
        .iter()
        .find(|p| p.ips.contains(&ip))
        .map(|p| (p.number.clone(), Identified::SourceAddress))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>operator-sim: request refused</title>\
         <h1>Request refused</h1><p>{}</p><p>The request was not redirected back to the application \
         because the application or its redirect URI could not be trusted.</p>",
        html_escape(message)
    );
    (status, Html(body)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, v),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "The redirect target is not a valid header value.",
        ),
    }
}

/// `redirect_uri` with `params` appended to its query.
fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

async fn authorize(State(s): State<Arc<Inner>>, req: Request) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let headers = req.headers().clone();
    // OIDC Core §3.1.2.1: GET with a query, or POST with a form.
    let raw: Vec<u8> = if req.method() == axum::http::Method::POST {
        match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
            Ok(b) => b.to_vec(),
            Err(_) => return error_page(StatusCode::BAD_REQUEST, "The request body could not be read."),
        }
    } else {
        req.uri().query().unwrap_or_default().as_bytes().to_vec()
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut params: HashMap<&str, &str> = HashMap::new();
    let mut duplicated = None;
    for (k, v) in &pairs {
        if params.insert(k.as_str(), v.as_str()).is_some() {
            duplicated = Some(k.clone());
        }
    }

    // Before the client and its redirect URI are trusted, nothing is redirected.
    let Some(client_id) = params.get("client_id").copied() else {
        tracing::info!(target: "operator_sim", "authorize: refused without redirect (no client_id)");
        return error_page(StatusCode::BAD_REQUEST, "The request names no client_id.");
    };
    let Some(client) = s.client(client_id) else {
        tracing::info!(target: "operator_sim", "authorize: refused without redirect (unknown client)");
        return error_page(
            StatusCode::BAD_REQUEST,
            "The client_id is not registered with this operator.",
        );
    };
    let Some(redirect_uri) = params.get("redirect_uri").copied() else {
        return error_page(StatusCode::BAD_REQUEST, "The request names no redirect_uri.");
    };
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        tracing::info!(target: "operator_sim", client_id, "authorize: refused without redirect (redirect_uri not registered)");
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this client.",
        );
    }
    if matches!(duplicated.as_deref(), Some("client_id" | "redirect_uri")) {
        return error_page(StatusCode::BAD_REQUEST, "A parameter is repeated.");
    }

    // Errors found before the request object is read go back with the query's state.
    let early_fail = |error: &str, description: &str| -> Response {
        tracing::info!(target: "operator_sim", client_id, error, "authorize: error redirect");
        let mut p = vec![("error", error), ("error_description", description)];
        if let Some(st) = params.get("state").copied() {
            p.push(("state", st));
        }
        redirect(&with_params(redirect_uri, &p))
    };
    if let Some(k) = duplicated {
        return early_fail("invalid_request", &format!("the parameter {k} is repeated"));
    }
    if params.contains_key("request_uri") {
        return early_fail("request_uri_not_supported", "request_uri is not supported");
    }
    // A signed request object (OIDC Core §6.1; the CAMARA profile): client_id, redirect_uri,
    // response_type and scope stay in the query (and must match the object); every other
    // parameter is taken from the object only.
    let object: HashMap<String, String>;
    let params: HashMap<&str, &str> = match params.get("request").copied() {
        None => params,
        Some(jwt) => {
            object = match check_request_object(&s, client_id, jwt, &params).await {
                Ok(o) => o,
                Err(why) => return early_fail("invalid_request_object", &why),
            };
            let mut p: HashMap<&str, &str> = HashMap::new();
            for k in ["client_id", "redirect_uri", "response_type", "scope"] {
                if let Some(v) = params.get(k) {
                    p.insert(k, v);
                }
            }
            for (k, v) in &object {
                p.entry(k.as_str()).or_insert(v.as_str());
            }
            p
        }
    };

    let state = params.get("state").copied();
    let fail = |error: &str, description: &str| -> Response {
        tracing::info!(target: "operator_sim", client_id, error, "authorize: error redirect");
        let mut p = vec![("error", error), ("error_description", description)];
        if let Some(st) = state {
            p.push(("state", st));
        }
        redirect(&with_params(redirect_uri, &p))
    };

    if params.get("response_type").copied() != Some("code") {
        return fail("unsupported_response_type", "only response_type=code is supported");
    }
    let scopes: Vec<String> = params
        .get("scope")
        .map(|sc| sc.split(' ').filter(|x| !x.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if !scopes.iter().any(|x| x == "openid") {
        return fail("invalid_scope", "the scope must contain openid");
    }
    if let Err(why) = check_scopes(&scopes, true) {
        return fail("invalid_scope", &why);
    }
    let Some(challenge) = params.get("code_challenge").copied() else {
        return fail("invalid_request", "PKCE is required: code_challenge is missing");
    };
    if params.get("code_challenge_method").copied() != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail("invalid_request", "code_challenge is not a base64url SHA-256 digest");
    }
    // prompt: network-based authentication never shows a user interface, so every value is
    // served as `none` would be. acr_values is ignored, as the CAMARA profile requires.

    let Some((number, how)) = identify_device(&s, &headers, peer) else {
        return fail(
            "access_denied",
            "the mobile network could not identify the subscriber: the device is not connected through this operator's mobile data (e.g. it is on Wi-Fi)",
        );
    };
    if s.phone(&number).is_some_and(|p| !p.consent) {
        return fail(
            "consent_required",
            "the subscriber's consent is required and cannot be asked for without user interaction",
        );
    }
    // login_hint (tel: or ipport:) never changes who is authenticated: the network decides.
    // A hint naming another number yields a token for the device's number, and /verify then
    // answers false; nothing here reveals that they differ.
    let hint_differs = params
        .get("login_hint")
        .and_then(|h| h.strip_prefix("tel:"))
        .is_some_and(|n| n != number);

    let now = s.now();
    let code = base64url(&random_bytes::<32>());
    let grant = CodeGrant {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        code_challenge: challenge.to_owned(),
        nonce: params.get("nonce").map(|n| (*n).to_owned()),
        scopes,
        number,
        auth_time: now,
        expires: now.plus_secs(CODE_TTL_S),
        redeemed_into: None,
    };
    {
        let mut codes = lock(&s.codes);
        // Redeemed codes are kept a while longer, to recognise (and punish) a replay.
        codes.retain(|_, g| g.expires > now || (g.redeemed_into.is_some() && g.expires.plus_secs(600) > now));
        codes.insert(code.clone(), grant);
    }
    tracing::info!(target: "operator_sim", client_id, identified_by = ?how, login_hint_differs = hint_differs, "authorize: code issued");
    let mut p = vec![("code", code.as_str())];
    if let Some(st) = state {
        p.push(("state", st));
    }
    redirect(&with_params(redirect_uri, &p))
}

/// Checks a signed request object: the client's signature, `iss`, `aud` (the issuer or the
/// authorization endpoint), a lifetime of at most 300 s, and agreement with the query's
/// mandatory parameters. Returns its other string claims as parameters.
async fn check_request_object(
    s: &Inner,
    client_id: &str,
    jwt: &str,
    query: &HashMap<&str, &str>,
) -> Result<HashMap<String, String>, String> {
    let claims = verify_with_client_keys(s, client_id, jwt)
        .await
        .map_err(|e| e.description)?;
    let obj = claims.as_object().ok_or("the request object is not a JSON object")?;
    if claims["iss"].as_str() != Some(client_id) {
        return Err("the request object's iss is not the client_id".into());
    }
    let authz = format!("{}/authorize", s.issuer);
    let aud_ok = |a: &str| a == s.issuer || a == authz;
    let aud = match &claims["aud"] {
        Value::String(a) => aud_ok(a),
        Value::Array(list) => list.len() == 1 && list[0].as_str().is_some_and(aud_ok),
        _ => false,
    };
    if !aud {
        return Err("the request object's aud must be the issuer or the authorization endpoint".into());
    }
    let now_s = secs(s.now());
    let (Some(exp), Some(iat)) = (claims["exp"].as_i64(), claims["iat"].as_i64()) else {
        return Err("the request object needs exp and iat".into());
    };
    if exp <= now_s || iat > now_s + SKEW_S || exp - iat > MAX_ASSERTION_LIFETIME_S {
        return Err("the request object is expired, not yet valid, or lives more than 300 s".into());
    }
    if claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err("the request object needs a jti".into());
    }
    for k in ["client_id", "redirect_uri", "response_type", "scope"] {
        if let Some(v) = obj.get(k)
            && v.as_str() != query.get(k).copied()
        {
            return Err(format!("{k} differs between the query and the request object"));
        }
    }
    Ok(obj
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "sub"))
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect())
}

/// Every scope must be one the simulator knows; at most one purpose (`dpv:…`).
fn check_scopes(scopes: &[String], openid_allowed: bool) -> Result<(), String> {
    let mut purposes = 0;
    for sc in scopes {
        if sc.starts_with("dpv:") {
            purposes += 1;
        } else if sc == "openid" {
            if !openid_allowed {
                return Err("openid needs a user: it cannot be granted with client_credentials".into());
            }
        } else if !API_SCOPES.contains(&sc.as_str()) {
            return Err(format!("unknown scope {sc:?}"));
        }
    }
    if purposes > 1 {
        return Err("at most one purpose (dpv:…) may be given".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// /sim/as

/// `GET /sim/as?number=+1555…&then=URL`: from now on this browser clicks as that phone
/// (cookie `opsim_device`), then goes to `then`. An empty `number` clears the override.
async fn click_as(Query(q): Query<HashMap<String, String>>) -> Response {
    // A `+` in a query string decodes to a space: accept both spellings.
    let raw = q.get("number").map(|n| n.trim()).unwrap_or_default();
    let number = if raw.is_empty() || raw.starts_with('+') {
        raw.to_owned()
    } else {
        format!("+{raw}")
    };
    if !number.is_empty() && !is_e164(&number) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "number must be E.164, e.g. +15550100001 (or empty to clear).",
        );
    }
    let Some(then) = q.get("then") else {
        return error_page(StatusCode::BAD_REQUEST, "then (the URL to continue to) is required.");
    };
    match url::Url::parse(then) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return error_page(StatusCode::BAD_REQUEST, "then must be an absolute http(s) URL."),
    }
    let cookie = if number.is_empty() {
        format!("{DEVICE_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
    } else {
        format!("{DEVICE_COOKIE}={number}; Path=/; HttpOnly; SameSite=Lax")
    };
    tracing::info!(target: "operator_sim", cleared = number.is_empty(), "sim/as: device override set");
    let mut resp = redirect(then);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /sim`: the simulator's phones, who this browser is now, and a link to act as each.
async fn sim_page(State(s): State<Arc<Inner>>, req: Request) -> Html<String> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let me = identify_device(&s, req.headers(), peer);
    let here = format!("{}/sim", s.issuer);
    let link = |number: &str| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("number", number)
            .append_pair("then", &here)
            .finish();
        format!("{}/sim/as?{q}", s.issuer)
    };
    let mut rows = String::new();
    for p in &s.cfg.phones {
        let ips: Vec<String> = p.ips.iter().map(ToString::to_string).collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"{}\">act as this phone</a></td></tr>",
            html_escape(&p.number),
            html_escape(&ips.join(", ")),
            p.sim_swapped_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into()),
            if p.consent { "yes" } else { "no" },
            html_escape(&link(&p.number)),
        ));
    }
    let who = match &me {
        Some((n, how)) => format!("This browser is <b>{}</b> (identified by {how:?}).", html_escape(n)),
        None => "This browser is on Wi-Fi: the network cannot identify it.".to_owned(),
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>operator-sim</title><h1>operator-sim</h1>\
         <p>Issuer <code>{issuer}</code> · <a href=\"{issuer}/.well-known/openid-configuration\">discovery</a></p>\
         <p>{who} <a href=\"{clear}\">Stop acting as a phone</a>.</p>\
         <table border=1 cellpadding=4><tr><th>number</th><th>source addresses</th><th>SIM swapped</th>\
         <th>consent</th><th></th></tr>{rows}</table>",
        issuer = html_escape(&s.issuer),
        clear = html_escape(&link("")),
    ))
}

// ---------------------------------------------------------------------------------------
// /token

/// An RFC 6749 §5.2 error.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        TokenError {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        tracing::info!(target: "operator_sim", error = self.error, reason = %self.description, "token: refused");
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        no_store(&mut r);
        r
    }
}

fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

async fn token(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match token_inner(&s, &headers, form.ok().map(|f| f.0)).await {
        Ok(body) => {
            let mut r = Json(body).into_response();
            no_store(&mut r);
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn token_inner(s: &Inner, headers: &HeaderMap, form: Option<Vec<(String, String)>>) -> Result<Value, TokenError> {
    let Some(pairs) = form else {
        return Err(TokenError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let mut p: HashMap<&str, &str> = HashMap::new();
    for (k, v) in &pairs {
        if p.insert(k.as_str(), v.as_str()).is_some() {
            return Err(TokenError::new(
                "invalid_request",
                format!("the parameter {k} is repeated"),
            ));
        }
    }
    let client_id = authenticate_client(s, headers, &p).await?;

    let now = s.now();
    let ttl = s.cfg.access_token_ttl_s as i64;
    match p.get("grant_type").copied() {
        None => Err(TokenError::new("invalid_request", "grant_type is missing")),
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (p.get("code"), p.get("redirect_uri"), p.get("code_verifier"))
            else {
                return Err(TokenError::new(
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                ));
            };
            let access_token = base64url(&random_bytes::<32>());
            let grant = redeem_code(s, code, &client_id, redirect_uri, verifier, now, &access_token)?;
            let api_scopes: Vec<String> = grant.scopes.iter().filter(|x| *x != "openid").cloned().collect();
            lock(&s.tokens).insert(
                access_token.clone(),
                AccessToken {
                    client_id: client_id.clone(),
                    scopes: api_scopes,
                    number: Some(grant.number.clone()),
                    expires: now.plus_secs(ttl),
                    used: false,
                },
            );
            let mut claims = json!({
                "iss": s.issuer,
                "sub": pairwise_sub(s, &client_id, &grant.number),
                "aud": client_id,
                "exp": secs(now) + ttl,
                "iat": secs(now),
                "auth_time": secs(grant.auth_time),
                "amr": ["mno_network"],
            });
            if let Some(n) = &grant.nonce {
                claims["nonce"] = json!(n);
            }
            let id_token = s.key.sign(&claims, "JWT");
            tracing::info!(target: "operator_sim", client_id, "token: authorization_code exchanged");
            Ok(json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": grant.scopes.join(" "),
                "id_token": id_token,
            }))
        }
        Some("client_credentials") => {
            let scopes: Vec<String> = p
                .get("scope")
                .map(|sc| sc.split(' ').filter(|x| !x.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default();
            if scopes.is_empty() {
                return Err(TokenError::new(
                    "invalid_request",
                    "scope is required for client_credentials",
                ));
            }
            check_scopes(&scopes, false).map_err(|why| TokenError::new("invalid_scope", why))?;
            let access_token = base64url(&random_bytes::<32>());
            lock(&s.tokens).insert(
                access_token.clone(),
                AccessToken {
                    client_id: client_id.clone(),
                    scopes: scopes.clone(),
                    number: None,
                    expires: now.plus_secs(ttl),
                    used: false,
                },
            );
            tracing::info!(target: "operator_sim", client_id, "token: client_credentials issued");
            Ok(json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": scopes.join(" "),
            }))
        }
        Some(_) => Err(TokenError::new(
            "unsupported_grant_type",
            "supported: authorization_code, client_credentials",
        )),
    }
}

fn redeem_code(
    s: &Inner,
    code: &str,
    client_id: &str,
    redirect_uri: &str,
    verifier: &str,
    now: Timestamp,
    access_token: &str,
) -> Result<CodeGrant, TokenError> {
    let mut codes = lock(&s.codes);
    let Some(grant) = codes.get_mut(code) else {
        return Err(TokenError::new("invalid_grant", "the code is unknown or expired"));
    };
    if let Some(issued) = grant.redeemed_into.clone() {
        // A replayed code: refuse it and revoke what the first exchange gave.
        lock(&s.tokens).remove(&issued);
        codes.remove(code);
        return Err(TokenError::new("invalid_grant", "the code was already used"));
    }
    let grant = grant.clone();
    // Whatever happens next, a code is presented only once.
    if grant.client_id != client_id || grant.expires <= now || grant.redirect_uri != redirect_uri {
        codes.remove(code);
        return Err(TokenError::new(
            "invalid_grant",
            "the code is expired, was issued to another client, or the redirect_uri differs",
        ));
    }
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !verifier_ok
        || !ct_eq(
            jose::pkce_challenge(verifier).as_bytes(),
            grant.code_challenge.as_bytes(),
        )
    {
        codes.remove(code);
        return Err(TokenError::new(
            "invalid_grant",
            "the code_verifier does not match the code_challenge",
        ));
    }
    // Marked under the same lock: a concurrent second exchange sees it.
    if let Some(g) = codes.get_mut(code) {
        g.redeemed_into = Some(access_token.to_owned());
    }
    Ok(grant)
}

/// A pairwise pseudonym (OIDC §8.1): differs per client, does not reveal the number.
fn pairwise_sub(s: &Inner, client_id: &str, number: &str) -> String {
    let mac = hmac_sha256(&s.pairwise_secret, &[client_id.as_bytes(), b"\n", number.as_bytes()]);
    hex(&mac[..16])
}

fn secs(t: Timestamp) -> i64 {
    t.millis().div_euclid(1000)
}

/// `private_key_jwt` (OIDC Core §9, RFC 7523 §3): the only client authentication accepted.
async fn authenticate_client(s: &Inner, headers: &HeaderMap, p: &HashMap<&str, &str>) -> Result<String, TokenError> {
    if headers.contains_key(header::AUTHORIZATION) || p.contains_key("client_secret") {
        return Err(TokenError::new(
            "invalid_client",
            "only private_key_jwt client authentication is accepted",
        ));
    }
    if p.get("client_assertion_type").copied() != Some(ASSERTION_TYPE) {
        return Err(TokenError::new(
            "invalid_client",
            format!("client_assertion_type must be {ASSERTION_TYPE}"),
        ));
    }
    let Some(assertion) = p.get("client_assertion").copied() else {
        return Err(TokenError::new("invalid_client", "client_assertion is missing"));
    };
    let bad = |why: &str| TokenError::new("invalid_client", format!("client assertion refused: {why}"));
    let unverified = jose::unverified_claims(assertion).map_err(|_| bad("not a compact JWS"))?;
    let Some(iss) = unverified["iss"].as_str() else {
        return Err(bad("no iss"));
    };
    if s.client(iss).is_none() {
        return Err(bad("unknown client"));
    }
    if p.get("client_id").is_some_and(|c| *c != iss) {
        return Err(bad("client_id differs from the assertion's iss"));
    }
    let claims = verify_with_client_keys(s, iss, assertion).await?;

    if claims["sub"].as_str() != Some(iss) {
        return Err(bad("sub must equal iss (the client_id)"));
    }
    // Audience: the token endpoint (what the CAMARA profile recommends) or the issuer (what
    // the OpenID Foundation's 2025 notice on private_key_jwt audiences recommends). One
    // value only: an array with other audiences could be an assertion meant for several.
    let aud_ok = |a: &str| a == s.issuer || a == s.token_endpoint();
    let aud = match &claims["aud"] {
        Value::String(a) => aud_ok(a),
        Value::Array(list) => list.len() == 1 && list[0].as_str().is_some_and(aud_ok),
        _ => false,
    };
    if !aud {
        return Err(bad("aud must be the issuer or the token endpoint URL"));
    }
    let now_s = secs(s.now());
    let (Some(exp), Some(iat)) = (claims["exp"].as_i64(), claims["iat"].as_i64()) else {
        return Err(bad("exp and iat are required numbers"));
    };
    if exp <= now_s - SKEW_S {
        return Err(bad("expired"));
    }
    if exp > now_s + MAX_ASSERTION_LIFETIME_S + SKEW_S {
        return Err(bad("exp is more than 300 s ahead"));
    }
    if iat > now_s + SKEW_S || exp - iat > MAX_ASSERTION_LIFETIME_S {
        return Err(bad("iat is in the future or exp - iat exceeds 300 s"));
    }
    let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
        return Err(bad("jti is required"));
    };
    {
        let now = s.now();
        let mut seen = lock(&s.seen_jtis);
        seen.retain(|_, until| *until > now);
        let key = (iss.to_owned(), jti.to_owned());
        if seen.contains_key(&key) {
            return Err(bad("jti was already used (replay)"));
        }
        seen.insert(key, Timestamp((exp + SKEW_S) * 1000));
    }
    Ok(iss.to_owned())
}

/// Checks the assertion with the client's published keys; an unknown `kid` refetches them
/// once (the client may have rotated its key).
async fn verify_with_client_keys(s: &Inner, client_id: &str, assertion: &str) -> Result<Value, TokenError> {
    let bad = |why: String| TokenError::new("invalid_client", format!("client assertion refused: {why}"));
    let cached = s.client_keys.lock().await.get(client_id).cloned();
    let keys = match cached {
        Some(k) => k,
        None => fetch_client_keys(s, client_id).await?,
    };
    match keys.verify(assertion) {
        Ok((_, claims)) => Ok(claims),
        Err(JoseError::UnknownKey) => {
            let fresh = fetch_client_keys(s, client_id).await?;
            fresh.verify(assertion).map(|(_, c)| c).map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

async fn fetch_client_keys(s: &Inner, client_id: &str) -> Result<KeySet, TokenError> {
    let Some(client) = s.client(client_id) else {
        return Err(TokenError::new("invalid_client", "unknown client"));
    };
    let unreachable = |why: String| {
        tracing::warn!(target: "operator_sim", client_id, reason = %why, "cannot fetch the client's JWKS");
        TokenError::new(
            "invalid_client",
            format!("the client's jwks_uri could not be read: {why}"),
        )
    };
    let resp = s
        .http
        .get(&client.jwks_uri)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("HTTP {}", resp.status())));
    }
    let body: Value = resp.json().await.map_err(|e| unreachable(e.to_string()))?;
    let keys = KeySet::from_jwks(&body).map_err(|e| unreachable(e.to_string()))?;
    s.client_keys.lock().await.insert(client_id.to_owned(), keys.clone());
    Ok(keys)
}
