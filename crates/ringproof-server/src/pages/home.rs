//! `/`: the front door. What this server is, its mode, where everything is (the API
//! reference, the sandbox phone, health, metrics) and, in development mode with the
//! sandbox provider, where the demo credentials are and what each test number triggers.
//! Nothing secret is on it. Rendered once at start (it depends on the config only).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::escape;
use crate::config::{Config, Mode, NetAuthKind};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(home))
}

const STYLE: &str = "body{font:16px/1.5 system-ui,-apple-system,sans-serif;margin:0;color:#1a1a1a;background:#f6f7f9}\
main{max-width:46em;margin:0 auto;padding:1.2em 1em 2em}h1{font-size:1.6em;margin:.2em 0 .3em}\
h2{font-size:1.15em;margin:1.6em 0 .4em}p,li{margin:.4em 0}a{color:#0b57d0}code{font-size:.92em;\
overflow-wrap:anywhere;background:#eceef1;padding:.05em .3em;border-radius:4px}\
.mode{display:inline-block;padding:.3em .7em;border-radius:6px;font-weight:600}\
.dev{background:#fff4d6;color:#5c4100}.prod{background:#dcf5e3;color:#0c4a23}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.45em .5em;\
border-bottom:1px solid #dfe2e6;vertical-align:top}td:first-child{white-space:nowrap;font-variant-numeric:tabular-nums}\
ul{padding-left:1.2em}";

/// The page, rendered from the config: `sandbox` says whether the sandbox provider is in
/// use, `demo` whether `/demo` runs; `test_numbers` are the sandbox lookup's numbers and
/// what each triggers.
pub fn render(config: &Config, sandbox: bool, demo: bool, test_numbers: &[(String, String)]) -> String {
    let mut b = String::with_capacity(4096);
    b.push_str(
        "<h1>ringproof</h1><p>A self-hosted server that proves a person holds a phone number: \
one-time codes by SMS with voice-call fallback, and one-time links whose click the mobile network can check. \
It speaks the native API and the shapes of Signzy and iDenfy.</p>",
    );
    match (config.mode, sandbox) {
        (Mode::Production, _) => b.push_str("<p><span class=\"mode prod\">Production mode</span></p>"),
        (Mode::Development, true) => b.push_str(
            "<p><span class=\"mode dev\">Development mode, sandbox phone</span> No message leaves this machine: \
             every SMS and call goes to the sandbox phone instead.</p>",
        ),
        (Mode::Development, false) => b.push_str("<p><span class=\"mode dev\">Development mode</span></p>"),
    }
    b.push_str("<h2>Where things are</h2><ul>");
    if demo {
        b.push_str(
            "<li><a href=\"/demo\">Demo</a>: what your users see, a code or a link to their phone, \
             built on the public APIs</li>",
        );
    }
    b.push_str("<li><a href=\"/docs\">API reference</a> (<a href=\"/openapi.json\">OpenAPI document</a>)</li>");
    if sandbox {
        b.push_str(
            "<li><a href=\"/sandbox\">Sandbox phone</a>: the messages and calls this server would have sent</li>",
        );
    }
    b.push_str(
        "<li><a href=\"/healthz\">Health</a>, <a href=\"/readyz\">readiness</a> and \
         <a href=\"/metrics\">metrics</a> (Prometheus)</li></ul>",
    );
    if config.mode == Mode::Development {
        let path = config.data_dir.join("demo-credentials.json");
        b.push_str(&format!(
            "<h2>Demo credentials</h2><p>The <code>demo</code> client's API key, secret and Signzy-face login are in \
             <code>{}</code>, readable by the server's own user only. They are never shown here.</p>",
            escape(&path.display().to_string())
        ));
    }
    if sandbox && !test_numbers.is_empty() {
        b.push_str(
            "<h2>Test numbers</h2><p>Each triggers one answer of the number lookup (line type, carrier, \
             subscriber state) on the instant-link faces. Any other number gets its line type from the \
             numbering plan, carrier <code>unknown</code>, state <code>active</code>.</p>\
             <table><thead><tr><th scope=\"col\">Number</th><th scope=\"col\">What it triggers</th></tr></thead><tbody>",
        );
        for (number, what) in test_numbers {
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(number),
                escape(what)
            ));
        }
        b.push_str("</tbody></table>");
    }
    let netauth = match config.netauth.authenticator {
        NetAuthKind::None => "off: every link's <code>phoneMatch</code> is <code>indeterminate</code>",
        NetAuthKind::Camara => "CAMARA Number Verification through the configured operators",
        NetAuthKind::Header => "a trusted header from the operator's enrichment proxy",
    };
    b.push_str(&format!(
        "<h2>Carrier authentication</h2><p>{netauth}. See <code>docs/network-auth.md</code>; to try it on one \
         machine, run <code>ringproof operator-sim</code> (README).</p>"
    ));
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\"><title>ringproof</title>\
<style>{STYLE}</style></head><body><main>{b}</main></body></html>"
    )
}

/// The front page
///
/// What this server is, its mode, and where everything is; in development mode with the
/// sandbox provider, where the demo credentials are and the test numbers. Nothing secret.
#[utoipa::path(
    get,
    path = "/",
    tag = "operations",
    responses((status = 200, description = "The front page", content_type = "text/html"))
)]
async fn home(State(state): State<AppState>) -> Response {
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        state.home.to_string(),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    res
}
