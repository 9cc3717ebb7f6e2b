//! Network authentication, as configured (`[netauth]`): builds the authenticator the
//! engine asks (none, CAMARA Number Verification through the operators, or a trusted
//! enrichment header), loads or creates ringproof's signing key for `private_key_jwt`, and
//! holds what the HTTP side needs: the JWKS it publishes, the header rule, and the
//! operators' origins for the link page's Content-Security-Policy.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName};
use ringproof_core::jose::SigningKey;
use ringproof_core::netauth::{ClickContext, HeaderNetworkAuth, NetworkAuthenticator, NoNetworkAuth};
use ringproof_providers::camara::{CamaraNumberVerification, Operators};
use serde_json::{Value, json};

use crate::client_ip::Cidr;
use crate::config::{Config, NetAuthKind};
use crate::startup::StartupError;

/// Where operators send the device back, under `public_base_url`.
pub const CALLBACK_PATH: &str = "/l/callback";

/// What the HTTP side needs of network authentication.
#[derive(Clone, Debug)]
pub struct NetAuth {
    /// ringproof's public keys (`/.well-known/jwks.json`); empty without CAMARA.
    pub jwks: Value,
    /// The trusted enrichment header and the proxies it is believed from.
    pub header: Option<(HeaderName, Vec<Cidr>)>,
    /// Origins the link page may send the device to (CSP `connect-src`, `form-action`).
    pub origins: Vec<String>,
}

impl Default for NetAuth {
    fn default() -> Self {
        NetAuth {
            jwks: json!({ "keys": [] }),
            header: None,
            origins: Vec::new(),
        }
    }
}

impl NetAuth {
    /// The enrichment header's value, when the request's source address is a trusted
    /// proxy. A header from anyone else is dropped and counted
    /// (`ringproof_netauth_untrusted_headers_total`).
    pub fn network_msisdn(&self, source: IpAddr, headers: &HeaderMap) -> Option<String> {
        let (name, cidrs) = self.header.as_ref()?;
        let mut values = headers.get_all(name).iter();
        let first = values.next()?;
        if values.next().is_some() {
            // A proxy that appends rather than replaces would leave the device's own
            // header first: with more than one, none is believed.
            metrics::counter!("ringproof_netauth_untrusted_headers_total").increment(1);
            tracing::warn!(header = %name, "more than one MSISDN header: all ignored");
            return None;
        }
        let value = first.to_str().ok()?.trim().to_owned();
        if cidrs.iter().any(|c| c.contains(source)) {
            Some(value)
        } else {
            metrics::counter!("ringproof_netauth_untrusted_headers_total").increment(1);
            tracing::warn!(header = %name, "an MSISDN header from an untrusted address was ignored");
            None
        }
    }
}

/// What a device's request (a link click, a silent step's `check_url`) tells network
/// authentication: its source address, user agent and, from a trusted enrichment proxy,
/// the MSISDN header.
pub fn click_context(state: &crate::state::AppState, peer: IpAddr, headers: &HeaderMap) -> ClickContext {
    let ip = crate::client_ip::source_ip(peer, headers, &state.config.trusted_proxies);
    ClickContext {
        ip: Some(ip),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
        network_msisdn: state.netauth.network_msisdn(ip, headers),
    }
}

/// The operators of `[[netauth.operators]]` with ringproof's signing key; `None` when
/// there are none. They serve Number Verification (with `authenticator = "camara"`) and
/// SIM-swap checks.
pub fn operators(config: &Config) -> Result<Option<Arc<Operators>>, StartupError> {
    if config.netauth.operators.is_empty() {
        return Ok(None);
    }
    let key = Arc::new(signing_key(config)?);
    Operators::new(config.netauth.operators.clone(), key)
        .map(|o| Some(Arc::new(o)))
        .map_err(|e| StartupError::Config(e.to_string()))
}

/// The authenticator and the HTTP side's part, for links under `public_base_url`.
pub fn build(
    config: &Config,
    public_base_url: &str,
    operators: Option<Arc<Operators>>,
) -> Result<(Arc<dyn NetworkAuthenticator>, NetAuth), StartupError> {
    let n = &config.netauth;
    // The key is published whenever operators are configured (SIM-swap checks sign with it too).
    let published = NetAuth {
        jwks: operators
            .as_ref()
            .map_or_else(|| json!({ "keys": [] }), |o| o.key().jwks()),
        ..NetAuth::default()
    };
    Ok(match n.authenticator {
        NetAuthKind::None => (Arc::new(NoNetworkAuth), published),
        NetAuthKind::Header => {
            let name = HeaderName::from_bytes(n.header.name.as_bytes())
                .map_err(|_| StartupError::Config("netauth.header.name is not a valid header name".into()))?;
            let cidrs = n.header.trusted_cidrs.iter().filter_map(|c| Cidr::parse(c)).collect();
            let auth = NetAuth {
                header: Some((name, cidrs)),
                ..published
            };
            (Arc::new(HeaderNetworkAuth), auth)
        }
        NetAuthKind::Camara => {
            let operators = operators
                .ok_or_else(|| StartupError::Config("authenticator = \"camara\" needs [[netauth.operators]]".into()))?;
            let origins = operators.origins();
            let redirect_uri = format!("{public_base_url}{CALLBACK_PATH}");
            tracing::info!(
                operators = n.operators.len(),
                %redirect_uri,
                jwks_uri = %format!("{public_base_url}/.well-known/jwks.json"),
                "network authentication: CAMARA Number Verification"
            );
            let auth = NetAuth { origins, ..published };
            (Arc::new(CamaraNumberVerification::new(operators, redirect_uri)), auth)
        }
    })
}

/// ringproof's signing key: `netauth.key_file`, or `<data_dir>/netauth-key.pem`, created
/// owner-only on first start.
fn signing_key(config: &Config) -> Result<SigningKey, StartupError> {
    let (path, given) = match &config.netauth.key_file {
        Some(p) => (p.clone(), true),
        None => (config.data_dir.join("netauth-key.pem"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(pem) => {
            warn_if_shared(&path);
            SigningKey::from_pem(&pem).map_err(|e| bad_key(&path, &e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !given => {
            let key = SigningKey::generate();
            match create_private(&path, &key.to_pem()) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), kid = key.kid(), "network authentication: created a signing key");
                    Ok(key)
                }
                // Another process (a second node on a shared data directory) created it
                // first: use that one, so both publish the same key.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => signing_key(config),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(bad_key(&path, &e.to_string())),
    }
}

/// Writes a new owner-only file; fails with `AlreadyExists` if there is one.
fn create_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// A key others can read is a key others can sign as ringproof with.
fn warn_if_shared(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the netauth key file is readable by others: chmod 600 it");
        }
    }
}

fn bad_key(path: &std::path::Path, why: &str) -> StartupError {
    StartupError::Config(format!(
        "netauth key {}: {why} (a P-256 key in PKCS#8 PEM: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
        PathBuf::from(path).display()
    ))
}
