//! The audit log of administrative actions: who changed what about a client (or the server's
//! guard), and when. A leaf: the engine writes entries, the store keeps them, the CLI lists
//! them (`ringproof audit list`).
//!
//! An entry never holds a secret, a password, a token or a phone number. The engine builds
//! every `detail` itself from the *names* of the settings a change touched and from counts
//! (how many numbers a blocklist holds, not which), so no caller-supplied text reaches it
//! unchecked; [`AuditEntry::new`] still refuses a detail that looks like a phone number or
//! names a secret field, so a careless future caller fails loudly in tests, not silently in
//! the log.

use serde_json::{Map, Value};

use crate::ids::ClientId;
use crate::time::Timestamp;

/// What was done. The strings are stored and shown by `ringproof audit list`; they never
/// change once released (add a variant instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    ClientCreated,
    /// Brand, origins, policy, controls (products, test mode, number lists), templates.
    ClientUpdated,
    SecretRotated,
    TokensRevoked,
    WebhookSet,
    WebhookCleared,
    WebhookSecretRotated,
    /// An access key issued, or its secret replaced (the Twilio face's Account SID and Auth
    /// Token, or an API key); the detail names the key's id and kind, never the secret.
    AccessKeyIssued,
    /// An API key deleted (a leaked `SK…` key stops working); the detail names its id.
    AccessKeyRevoked,
    /// For the SMS-pumping guard: a prefix, number or country blocked by hand or by a rule.
    GuardBlocked,
    GuardUnblocked,
    /// For the guard: its thresholds, safe list or geo permissions changed.
    GuardChanged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 12] = [
        Self::ClientCreated,
        Self::ClientUpdated,
        Self::SecretRotated,
        Self::TokensRevoked,
        Self::WebhookSet,
        Self::WebhookCleared,
        Self::WebhookSecretRotated,
        Self::AccessKeyIssued,
        Self::AccessKeyRevoked,
        Self::GuardBlocked,
        Self::GuardUnblocked,
        Self::GuardChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCreated => "client.created",
            Self::ClientUpdated => "client.updated",
            Self::SecretRotated => "client.secret_rotated",
            Self::TokensRevoked => "client.tokens_revoked",
            Self::WebhookSet => "client.webhook_set",
            Self::WebhookCleared => "client.webhook_cleared",
            Self::WebhookSecretRotated => "client.webhook_secret_rotated",
            Self::AccessKeyIssued => "client.access_key_issued",
            Self::AccessKeyRevoked => "client.access_key_revoked",
            Self::GuardBlocked => "guard.blocked",
            Self::GuardUnblocked => "guard.unblocked",
            Self::GuardChanged => "guard.changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Who acted: `cli` or `cli:<os user>` for the command line, `api:<client id>` for a client
/// changing its own settings through an API face, `system` for the server itself (the demo
/// client at start-up, a guard rule firing). At most 64 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// The command line; `user` is the OS user when the caller knows it.
    pub fn cli(user: Option<&str>) -> Self {
        match user.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Self::named(&format!("cli:{u}")),
            None => Self("cli".into()),
        }
    }

    /// A client acting on its own settings through an API face.
    pub fn api(client: &ClientId) -> Self {
        Self(format!("api:{client}"))
    }

    /// The server itself.
    pub fn system() -> Self {
        Self("system".into())
    }

    /// Any other actor, cut to 64 printable ASCII characters (others become `?`).
    pub fn named(s: &str) -> Self {
        Self(
            s.chars()
                .take(64)
                .map(|c| if c.is_ascii_graphic() { c } else { '?' })
                .collect(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One administrative action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: Actor,
    pub action: AuditAction,
    /// The client acted on; `None` for server-wide actions (a guard block of a country).
    pub client_id: Option<ClientId>,
    /// A JSON object: what changed, by name and count. Never a secret or a phone number.
    pub detail: Value,
}

/// Keys a detail must never carry (checked at any depth).
const SECRET_KEYS: [&str; 8] = [
    "secret",
    "api_secret",
    "password",
    "password_hash",
    "token",
    "webhook_secret",
    "sealed_secret",
    "secret_hash",
];

impl AuditEntry {
    /// An entry, if its detail is safe to keep: an object with no secret-named key and no
    /// string that looks like a phone number (a `+` and 7 or more digits).
    pub fn new(
        at: Timestamp,
        actor: Actor,
        action: AuditAction,
        client_id: Option<ClientId>,
        detail: Value,
    ) -> Result<Self, &'static str> {
        let detail = match detail {
            Value::Null => Value::Object(Map::new()),
            o @ Value::Object(_) => o,
            _ => return Err("an audit detail is a JSON object"),
        };
        check_detail(&detail)?;
        Ok(Self {
            at,
            actor,
            action,
            client_id,
            detail,
        })
    }
}

fn check_detail(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if SECRET_KEYS.contains(&k.as_str()) {
                    return Err("an audit detail never holds a secret");
                }
                check_detail(v)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_detail),
        Value::String(s) if looks_like_phone_number(s) => Err("an audit detail never holds a phone number"),
        _ => Ok(()),
    }
}

/// A `+` followed (allowing spaces, dashes, dots and brackets) by 7 or more digits.
fn looks_like_phone_number(s: &str) -> bool {
    s.match_indices('+').any(|(i, _)| {
        s[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .filter(char::is_ascii_digit)
            .count()
            >= 7
    })
}

/// Which entries `Store::list_audit` returns: newest first, at most `limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    pub client_id: Option<ClientId>,
    /// Entries at or after this instant.
    pub since: Option<Timestamp>,
    pub limit: u32,
}

/// How long audit entries are kept by default (a year), then purged with the rest.
pub const DEFAULT_AUDIT_RETENTION_S: i64 = 365 * 86_400;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn actions_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            assert!(seen.insert(a.as_str()));
        }
        assert_eq!(AuditAction::parse("client.deleted"), None);
    }

    #[test]
    fn details_with_a_secret_or_a_number_are_refused() {
        let new = |d| AuditEntry::new(Timestamp(0), Actor::system(), AuditAction::ClientUpdated, None, d);
        assert!(new(json!({"changed": ["brand"], "blocked_numbers": 3})).is_ok());
        assert!(new(json!(null)).is_ok());
        assert!(new(json!({"api_secret": "x"})).is_err());
        assert!(new(json!({"nested": [{"password": "x"}]})).is_err());
        assert!(new(json!({"note": "blocked +44 7700 900123"})).is_err());
        assert!(new(json!({"numbers": ["+14155550123"]})).is_err());
        assert!(new(json!("a string")).is_err());
        // A prefix or a short figure is not a number.
        assert!(new(json!({"prefix": "+4477", "rate": "+12%"})).is_ok());
    }

    #[test]
    fn actors_are_printable_and_bounded() {
        assert_eq!(Actor::cli(Some("alice")).as_str(), "cli:alice");
        assert_eq!(Actor::cli(Some(" ")).as_str(), "cli");
        assert_eq!(Actor::cli(None).as_str(), "cli");
        assert_eq!(Actor::named("a\nb").as_str(), "a?b");
        assert_eq!(Actor::named(&"x".repeat(100)).as_str().len(), 64);
    }
}
