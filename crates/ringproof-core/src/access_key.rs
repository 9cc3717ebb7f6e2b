//! Access keys: more credential pairs of a client, in the shapes a vendor's SDK expects
//! (the Twilio face's Account SID and Auth Token, and its API Key SID and secret; the
//! Vonage face's API key and secret).
//!
//! A client's own API key and secret ([`crate::client`]) stay what the native API and the
//! other faces use. An access key is another name for the same client, with its own
//! secret: 128 random bits shown once and stored as SHA-256, checked in constant time, like
//! the API secret. A client has at most one `account` key (its id is the client's
//! Account SID in every response of the face, whichever key authenticated) and any number
//! of `api_key` keys.

use crate::crypto::{ct_eq, hex, random_bytes, sha256};
use crate::ids::ClientId;
use crate::time::Timestamp;

/// What an access key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKeyKind {
    /// The account's own key: id `AC` + 32 lowercase hex, one per client; issuing it again
    /// replaces its secret and keeps its id (Twilio's Auth Token rotation).
    Account,
    /// An API key: id `SK` + 32 lowercase hex, any number per client.
    ApiKey,
    /// A Vonage API key: id 8 lowercase hex (Vonage's shape), any number per client; it
    /// names itself as the account.
    Vonage,
}

impl AccessKeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyKind::Account => "account",
            AccessKeyKind::ApiKey => "api_key",
            AccessKeyKind::Vonage => "vonage",
        }
    }

    const ALL: [AccessKeyKind; 3] = [AccessKeyKind::Account, AccessKeyKind::ApiKey, AccessKeyKind::Vonage];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The letters every id of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            AccessKeyKind::Account => "AC",
            AccessKeyKind::ApiKey => "SK",
            AccessKeyKind::Vonage => "",
        }
    }

    /// How many random bytes follow the prefix, in hex.
    fn random_len(self) -> usize {
        match self {
            AccessKeyKind::Account | AccessKeyKind::ApiKey => 16,
            AccessKeyKind::Vonage => 4,
        }
    }

    /// The kind of a well-formed key id (`AC`/`SK` + 32 lowercase hex, or 8 lowercase hex),
    /// else `None`: an id of another shape is never looked up.
    pub fn of_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            id.strip_prefix(k.prefix()).is_some_and(|rest| {
                rest.len() == 2 * k.random_len()
                    && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
        })
    }
}

/// A stored access key: no secret, only its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub client_id: ClientId,
    pub kind: AccessKeyKind,
    pub secret_hash: [u8; 32],
    pub created_at: Timestamp,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A key just issued, with its secret, which exists only here (and is left out of its
/// `Debug`, so no log line carries it).
#[derive(Clone)]
pub struct IssuedKey {
    pub key: AccessKey,
    pub secret: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl AccessKey {
    /// A key of `kind` for `client` with a fresh secret; `id` keeps an existing key's id
    /// (a rotation), else a fresh one is drawn.
    pub fn issue(kind: AccessKeyKind, client: &ClientId, id: Option<String>, now: Timestamp) -> IssuedKey {
        let secret = hex(&random_bytes::<16>());
        let key = AccessKey {
            id: id.unwrap_or_else(|| {
                let random = random_bytes::<16>();
                format!("{}{}", kind.prefix(), hex(&random[..kind.random_len()]))
            }),
            client_id: client.clone(),
            kind,
            secret_hash: sha256(secret.as_bytes()),
            created_at: now,
        };
        IssuedKey { key, secret }
    }

    /// Constant-time check of a secret against the stored SHA-256.
    pub fn verify_secret(&self, secret: &str) -> bool {
        ct_eq(&sha256(secret.as_bytes()), &self.secret_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_have_twilio_shapes_and_verify() {
        let c = ClientId::generate();
        let a = AccessKey::issue(AccessKeyKind::Account, &c, None, Timestamp(0));
        assert_eq!(AccessKeyKind::of_id(&a.key.id), Some(AccessKeyKind::Account));
        assert_eq!(a.key.id.len(), 34);
        assert_eq!(a.secret.len(), 32);
        assert!(a.key.verify_secret(&a.secret));
        assert!(!a.key.verify_secret("0".repeat(32).as_str()));
        let rotated = AccessKey::issue(AccessKeyKind::Account, &c, Some(a.key.id.clone()), Timestamp(1));
        assert_eq!(rotated.key.id, a.key.id);
        assert!(!rotated.key.verify_secret(&a.secret));
        let k = AccessKey::issue(AccessKeyKind::ApiKey, &c, None, Timestamp(0));
        assert_eq!(AccessKeyKind::of_id(&k.key.id), Some(AccessKeyKind::ApiKey));
        assert!(!format!("{:?}", k.key).contains(&hex(&k.key.secret_hash)));
        let shown = format!("{k:?}");
        assert!(shown.contains(&k.key.id) && !shown.contains(&k.secret), "{shown}");
        for bad in [
            "AC123",
            "ACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "XX00000000000000000000000000000000",
            "",
        ] {
            assert_eq!(AccessKeyKind::of_id(bad), None, "{bad}");
        }
        for k in AccessKeyKind::ALL {
            assert_eq!(AccessKeyKind::parse(k.as_str()), Some(k));
        }
        let v = AccessKey::issue(AccessKeyKind::Vonage, &c, None, Timestamp(0));
        assert_eq!(v.key.id.len(), 8);
        assert_eq!(AccessKeyKind::of_id(&v.key.id), Some(AccessKeyKind::Vonage));
        assert!(v.key.verify_secret(&v.secret));
        for bad in ["ABCDEF12", "abcdef1", "abcdef123", "abcdefgh"] {
            assert_eq!(AccessKeyKind::of_id(bad), None, "{bad}");
        }
    }
}
