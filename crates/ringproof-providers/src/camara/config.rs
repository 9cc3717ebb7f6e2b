//! The `[[netauth.operators]]` tables: one per operator (or aggregator) ringproof is
//! registered with.

use serde::{Deserialize, Serialize};

/// One operator or aggregator.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// A name for logs and metrics.
    pub name: String,
    /// The numbers it serves, as E.164 prefixes (`"+44"`, `"+1555"`); the longest match
    /// wins. An aggregator that serves everything: `["+"]`.
    pub prefixes: Vec<String>,
    /// The OIDC issuer: discovery at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// ringproof's client id at this operator.
    pub client_id: String,
    /// Where the CAMARA APIs are (`<api_root>/number-verification/vwip/verify`, …);
    /// default: the issuer.
    #[serde(default)]
    pub api_root: Option<String>,
    /// Send `login_hint=tel:+<number>` to `/authorize` (some operators want it).
    #[serde(default = "yes")]
    pub login_hint: bool,
    /// Send `hashedPhoneNumber` (SHA-256, hex) instead of `phoneNumber` to `/verify`.
    #[serde(default)]
    pub hashed_phone_number: bool,
    /// Further origins the device passes through on its way (redirects of the operator's
    /// network authentication), for the link page's Content-Security-Policy.
    #[serde(default)]
    pub extra_origins: Vec<String>,
}

fn yes() -> bool {
    true
}
