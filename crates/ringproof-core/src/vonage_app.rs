//! Vonage applications: how the Vonage face's JWTs are checked.
//!
//! Vonage's SDKs sign every Verify v2 request with a fresh JWT (RS256) under the private
//! key of an *application*, naming it in the `application_id` claim; the server holds only
//! the public key. A client registers an application id (a UUID) with its public key
//! (`ringproof client vonage-application`), and a token is then accepted when:
//!
//! - its signature verifies under the application's key, RS256 only ([`RsaKey::verify`]);
//! - its `application_id` is the application's;
//! - it is current: `iat` not in the future, `exp` not past (both with
//!   [`CLOCK_SKEW_S`] of slack), `nbf` if present reached, and a lifetime of at most
//!   [`MAX_LIFETIME_S`] (Vonage's own limit), so a token cannot be made to live forever;
//! - its `jti` was never used before: the caller records [`TokenUse`] and refuses a second
//!   use while the token could still be current (the record is kept until `exp` + skew).

use serde_json::Value;

use crate::crypto::sha256;
use crate::ids::ClientId;
use crate::jose::{JoseError, RsaKey};
use crate::time::Timestamp;

/// The slack allowed between the signer's clock and ours, in seconds.
pub const CLOCK_SKEW_S: i64 = 60;
/// The longest a token may be valid (`exp - iat`), in seconds: Vonage's 24 hours.
pub const MAX_LIFETIME_S: i64 = 24 * 3600;
/// The longest `jti` accepted, in characters (the SDKs send a 36-character UUID).
pub const MAX_JTI_LEN: usize = 128;

/// A registered application: an id and the public key its tokens verify under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VonageApplication {
    /// A UUID in lowercase (`aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee`).
    pub id: String,
    pub client_id: ClientId,
    pub public_key: RsaKey,
    pub created_at: Timestamp,
}

/// Why a token was refused. Every one answers as a failed authentication; the reason is
/// for the logs and the tests, and never quotes the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the token does not verify: {0}")]
    Jose(#[from] JoseError),
    #[error("the token names another application")]
    WrongApplication,
    #[error("the token's {0} claim is missing or not a number")]
    BadTime(&'static str),
    #[error("the token is issued in the future")]
    NotYetIssued,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token has expired")]
    Expired,
    #[error("the token lives longer than 24 hours")]
    TooLong,
    #[error("the token has no usable jti")]
    NoJti,
}

/// A token accepted by [`VonageApplication::check`]: the key its `jti` is recorded under
/// (a hash of the application and the `jti`) and until when the record must be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenUse {
    pub key: [u8; 32],
    pub keep_until: Timestamp,
}

/// The application id of a `Basic`-less bearer token, read without checking the token, so
/// the application (and its key) can be looked up: never trust it further.
pub fn claimed_application(token: &str) -> Option<String> {
    let claims = crate::jose::unverified_claims(token).ok()?;
    parse_application_id(claims["application_id"].as_str()?)
}

/// An application id: a UUID, any case; `None` for any other shape (never looked up).
pub fn parse_application_id(s: &str) -> Option<String> {
    let s = s.trim();
    let groups: Vec<&str> = s.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}

fn seconds(claims: &Value, name: &'static str) -> Result<i64, TokenRefusal> {
    let v = &claims[name];
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or(TokenRefusal::BadTime(name))
}

impl VonageApplication {
    /// Checks a bearer token against this application at `now` (all but the replay, which
    /// needs the store: record the returned [`TokenUse`] and refuse one seen before).
    pub fn check(&self, token: &str, now: Timestamp) -> Result<TokenUse, TokenRefusal> {
        let (_, claims) = self.public_key.verify(token)?;
        if claims["application_id"]
            .as_str()
            .and_then(parse_application_id)
            .as_deref()
            != Some(self.id.as_str())
        {
            return Err(TokenRefusal::WrongApplication);
        }
        let now_s = now.millis().div_euclid(1000);
        let iat = seconds(&claims, "iat")?;
        let exp = seconds(&claims, "exp")?;
        if iat > now_s + CLOCK_SKEW_S {
            return Err(TokenRefusal::NotYetIssued);
        }
        if exp + CLOCK_SKEW_S <= now_s {
            return Err(TokenRefusal::Expired);
        }
        if exp.saturating_sub(iat) > MAX_LIFETIME_S {
            return Err(TokenRefusal::TooLong);
        }
        if claims.get("nbf").is_some() && seconds(&claims, "nbf")? > now_s + CLOCK_SKEW_S {
            return Err(TokenRefusal::NotYetValid);
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_LEN)
            .ok_or(TokenRefusal::NoJti)?;
        Ok(TokenUse {
            key: sha256(format!("vonage-jti/{}/{jti}", self.id).as_bytes()),
            keep_until: Timestamp((exp + CLOCK_SKEW_S).saturating_mul(1000)),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crypto::base64url;

    const APP: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

    fn token(claims: &Value) -> String {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer as _};
        let key = rsa::PrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa_test_1.pem")).unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
        let input = format!(
            "{}.{}",
            base64url(br#"{"alg":"RS256","typ":"JWT"}"#),
            base64url(claims.to_string().as_bytes())
        );
        format!("{input}.{}", base64url(&signer.sign(input.as_bytes()).to_vec()))
    }

    fn app() -> VonageApplication {
        VonageApplication {
            id: APP.into(),
            client_id: ClientId::generate(),
            public_key: RsaKey::from_pem(include_str!("../testdata/rsa_test_1.pub")).unwrap(),
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn application_ids_are_uuids() {
        assert_eq!(parse_application_id(&APP.to_uppercase()).as_deref(), Some(APP));
        for bad in ["", "aaaaaaaa", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeg", "a-b-c-d-e"] {
            assert_eq!(parse_application_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_current_token_of_the_application_passes_and_names_its_jti() {
        let now = Timestamp(1_800_000_000_000);
        let t = token(&json!({"application_id": APP, "iat": 1_800_000_000, "exp": 1_800_000_900, "jti": "j1"}));
        assert_eq!(claimed_application(&t).as_deref(), Some(APP));
        let used = app().check(&t, now).unwrap();
        assert_eq!(used.keep_until, Timestamp((1_800_000_900 + CLOCK_SKEW_S) * 1000));
        let other = token(&json!({"application_id": APP, "iat": 1_800_000_000, "exp": 1_800_000_900, "jti": "j2"}));
        assert_ne!(app().check(&other, now).unwrap().key, used.key);
    }

    #[test]
    fn stale_future_long_foreign_and_jti_less_tokens_are_refused() {
        let now = Timestamp(1_800_000_000_000);
        let n = 1_800_000_000i64;
        let cases = [
            (
                json!({"application_id": APP, "iat": n - 1000, "exp": n - 100, "jti": "j"}),
                TokenRefusal::Expired,
            ),
            (
                json!({"application_id": APP, "iat": n + 600, "exp": n + 900, "jti": "j"}),
                TokenRefusal::NotYetIssued,
            ),
            (
                json!({"application_id": APP, "iat": n, "exp": n + 90_000, "jti": "j"}),
                TokenRefusal::TooLong,
            ),
            (
                json!({"application_id": APP, "iat": n, "exp": n + 900, "nbf": n + 600, "jti": "j"}),
                TokenRefusal::NotYetValid,
            ),
            (
                json!({"application_id": APP, "iat": n, "exp": n + 900}),
                TokenRefusal::NoJti,
            ),
            (
                json!({"application_id": APP, "iat": n, "exp": n + 900, "jti": ""}),
                TokenRefusal::NoJti,
            ),
            (
                json!({"application_id": APP, "exp": n + 900, "jti": "j"}),
                TokenRefusal::BadTime("iat"),
            ),
            (
                json!({"application_id": APP, "iat": n, "jti": "j"}),
                TokenRefusal::BadTime("exp"),
            ),
            (
                json!({"application_id": "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", "iat": n, "exp": n + 900, "jti": "j"}),
                TokenRefusal::WrongApplication,
            ),
            (
                json!({"iat": n, "exp": n + 900, "jti": "j"}),
                TokenRefusal::WrongApplication,
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(app().check(&token(&claims), now), Err(want), "{claims}");
        }
        // Within the skew: a token issued a little ahead, one just past its exp.
        for claims in [
            json!({"application_id": APP, "iat": n + 30, "exp": n + 900, "jti": "j"}),
            json!({"application_id": APP, "iat": n - 900, "exp": n - 30, "jti": "j"}),
        ] {
            assert!(app().check(&token(&claims), now).is_ok(), "{claims}");
        }
        // Signed by another key.
        let mut other = app();
        other.public_key = RsaKey::from_pem(include_str!("../testdata/rsa_test_2.pub")).unwrap();
        let t = token(&json!({"application_id": APP, "iat": n, "exp": n + 900, "jti": "j"}));
        assert_eq!(other.check(&t, now), Err(TokenRefusal::Jose(JoseError::Signature)));
    }
}
