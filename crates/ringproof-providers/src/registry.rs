//! Building the delivery port from the config: the named providers of `[providers.NAME]`
//! (each with a `kind`), and, when `[[routes]]` are given, a [`Router`] over them.
//!
//! ```toml
//! provider = "twilio_us"        # without routes: the one provider every message goes to
//!
//! [providers.twilio_us]
//! kind = "twilio"
//! account_sid = "AC…"
//! auth_token_file = "/run/secrets/twilio"
//! from = "+14155550000"
//!
//! [[routes]]                    # with routes: longest matching prefix, providers in order
//! prefix = "+1"
//! providers = ["twilio_us", "vonage"]
//! [[routes]]
//! providers = ["smsc"]
//! ```
//!
//! Each provider kind adds one variant to [`ProviderConfig`] and one arm to [`build`] (and
//! to [`build_callback_parser`] when its receipts come over HTTP); its folder, in the shape
//! the crate's doc shows, owns its config type and checks, its client and its error
//! classification (docs/providers.md).

use std::collections::BTreeMap;
use std::sync::Arc;

use ringproof_core::ports::{CallbackParser, ReceiptSink, Sender};
use ringproof_core::time::Clock;
use serde::Deserialize;

use crate::error::BuildError;
use crate::router::{BreakerConfig, RouteConfig, Router};

/// One `[providers.NAME]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// The development inbox (`<data_dir>/sandbox.db`, `/sandbox`); refused in production.
    Sandbox,
    /// Twilio SMS and voice (docs/providers.md#twilio).
    Twilio(Box<crate::twilio::TwilioConfig>),
    /// An SMSC over SMPP 3.4 (SMS only).
    Smpp(crate::smpp::SmppConfig),
    /// A generic HTTP SMS gateway ([`crate::http`]).
    Http(Box<crate::http::HttpConfig>),
    /// Vonage SMS API and Voice API ([`crate::vonage`]).
    Vonage(Box<crate::vonage::VonageConfig>),
}

impl ProviderConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Sandbox => "sandbox",
            ProviderConfig::Twilio(_) => "twilio",
            ProviderConfig::Smpp(_) => "smpp",
            ProviderConfig::Http(_) => "http",
            ProviderConfig::Vonage(_) => "vonage",
        }
    }
}

/// What providers may need from the process that builds them.
#[derive(Clone)]
pub struct BuildContext {
    /// The sandbox outbox, when this process has one (development mode).
    pub sandbox: Option<Arc<dyn Sender>>,
    pub clock: Arc<dyn Clock>,
    /// Where providers that receive delivery receipts on their own connection (SMPP)
    /// hand them; `None` drops them.
    pub receipts: Option<Arc<dyn ReceiptSink>>,
}

/// Builds one named provider.
pub fn build(name: &str, config: &ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Sender>, BuildError> {
    match config {
        ProviderConfig::Sandbox => ctx
            .sandbox
            .clone()
            .ok_or_else(|| BuildError::config(name, "the sandbox is not available in this mode")),
        ProviderConfig::Twilio(cfg) => Ok(Arc::new(crate::twilio::TwilioSender::new(name, cfg)?)),
        ProviderConfig::Smpp(c) => Ok(Arc::new(crate::smpp::SmppSender::new(name, c, ctx.receipts.clone())?)),
        ProviderConfig::Http(c) => Ok(Arc::new(crate::http::HttpSender::new(name, c)?)),
        ProviderConfig::Vonage(c) => Ok(Arc::new(crate::vonage::VonageSender::new(name, c, ctx.clock.clone())?)),
    }
}

/// The verifier and reader of one named provider's delivery-receipt callbacks
/// (`POST /callbacks/<name>`), for the kinds that receive them over HTTP; `None` for the
/// others, and for a Twilio provider without an Auth Token (its callbacks cannot be
/// verified). Stateless: it may be built beside the provider's [`Sender`] from the same
/// config.
pub fn build_callback_parser(
    name: &str,
    config: &ProviderConfig,
) -> Result<Option<Arc<dyn CallbackParser>>, BuildError> {
    match config {
        ProviderConfig::Sandbox => Ok(None),
        ProviderConfig::Twilio(c) => {
            Ok(crate::twilio::TwilioCallbacks::from_config(name, c)?.map(|p| Arc::new(p) as Arc<dyn CallbackParser>))
        }
        // Receipts arrive on the SMPP session itself (`BuildContext::receipts`).
        ProviderConfig::Smpp(_) | ProviderConfig::Http(_) => Ok(None),
        ProviderConfig::Vonage(c) => {
            Ok(crate::vonage::VonageCallbacks::from_config(name, c)?.map(|p| Arc::new(p) as Arc<dyn CallbackParser>))
        }
    }
}

/// Every configured provider's callback reader, by name.
pub fn callback_parsers(
    providers: &BTreeMap<String, ProviderConfig>,
) -> Result<BTreeMap<String, Arc<dyn CallbackParser>>, BuildError> {
    let mut out = BTreeMap::new();
    for (name, cfg) in providers {
        if let Some(p) = build_callback_parser(name, cfg)? {
            out.insert(name.clone(), p);
        }
    }
    Ok(out)
}

/// The delivery port: with routes, a [`Router`] over every configured provider; without,
/// the provider named `default` (`sandbox` needs no `[providers]` entry).
pub fn build_sender(
    default: &str,
    providers: &BTreeMap<String, ProviderConfig>,
    routes: &[RouteConfig],
    breaker: BreakerConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn Sender>, BuildError> {
    let one = |name: &str| -> Result<Arc<dyn Sender>, BuildError> {
        match providers.get(name) {
            Some(cfg) => build(name, cfg, ctx),
            None if name == "sandbox" => build(name, &ProviderConfig::Sandbox, ctx),
            None => Err(BuildError::config(name, "is not configured under [providers]")),
        }
    };
    if routes.is_empty() {
        return one(default);
    }
    let mut named = Vec::new();
    let mut used: Vec<&str> = routes
        .iter()
        .flat_map(|r| r.providers.iter().map(String::as_str))
        .collect();
    used.sort_unstable();
    used.dedup();
    for name in used {
        named.push((name.to_owned(), one(name)?));
    }
    Ok(Arc::new(Router::new(named, routes, breaker, ctx.clock.clone())?))
}

/// Whether any provider the config would use is the sandbox (refused in production).
pub fn uses_sandbox(default: &str, providers: &BTreeMap<String, ProviderConfig>, routes: &[RouteConfig]) -> bool {
    let is_sandbox = |name: &str| {
        providers
            .get(name)
            .map_or(name == "sandbox", |c| matches!(c, ProviderConfig::Sandbox))
    };
    if routes.is_empty() {
        is_sandbox(default)
    } else {
        routes.iter().flat_map(|r| &r.providers).any(|n| is_sandbox(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twilio_table_builds_a_sender_and_a_callback_parser() {
        let table = serde_json::json!({
            "kind": "twilio",
            "account_sid": "AC0123456789abcdef0123456789abcdef",
            "auth_token": "tok",
            "from": "+14155550100",
        });
        let cfg: ProviderConfig = serde_json::from_value(table.clone()).unwrap();
        assert_eq!(cfg.kind(), "twilio");
        let ctx = BuildContext {
            sandbox: None,
            clock: Arc::new(ringproof_core::time::ManualClock::new(
                ringproof_core::time::Timestamp::from_millis(0),
            )),
            receipts: None,
        };
        assert_eq!(build("tw", &cfg, &ctx).unwrap().name(), "tw");
        assert!(build_callback_parser("tw", &cfg).unwrap().is_some());
        assert!(
            build_callback_parser("sandbox", &ProviderConfig::Sandbox)
                .unwrap()
                .is_none()
        );

        // Unknown keys inside the table are refused (a typo must not pass silently).
        let mut typo = table;
        typo["status_callback"] = "https://rp.example.com/callbacks/tw".into();
        let e = serde_json::from_value::<ProviderConfig>(typo).unwrap_err().to_string();
        assert!(e.contains("status_callback"), "{e}");
    }
}
