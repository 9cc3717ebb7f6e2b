//! The RS256 JWT that authenticates Voice API requests: `{"alg":"RS256","typ":"JWT"}`
//! over `application_id`, `iat`, `nbf`, `exp` and a random `jti`, signed with the
//! application's private key (RSASSA-PKCS1-v1_5 with SHA-256). The signing is aws-lc-rs,
//! already in the tree for rustls, so this costs no extra build.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use ringproof_core::crypto::{base64url, hex, random_bytes};
use ringproof_core::time::Timestamp;

/// How long a token is valid; one is made per request.
const TTL_S: i64 = 300;

pub struct JwtSigner {
    application_id: String,
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl JwtSigner {
    /// From the application id and its private key in PEM (`PRIVATE KEY`, PKCS#8, as
    /// Vonage issues it; or `RSA PRIVATE KEY`, PKCS#1). The error never shows the key.
    pub fn new(application_id: &str, pem: &str) -> Result<Self, String> {
        let (label, der) = pem_decode(pem).ok_or("is not a PEM private key")?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            _ => return Err(format!("is a PEM `{label}`, not an RSA private key")),
        }
        .map_err(|e| format!("is not a usable RSA private key ({e})"))?;
        Ok(JwtSigner {
            application_id: application_id.to_owned(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// A token issued at `now`.
    pub fn token(&self, now: Timestamp) -> Result<String, String> {
        let iat = now.millis().div_euclid(1000);
        let header = base64url(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "application_id": self.application_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + TTL_S,
            "jti": hex(&random_bytes::<16>()),
        });
        let signing_input = format!("{header}.{}", base64url(claims.to_string().as_bytes()));
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| "the JWT could not be signed".to_owned())?;
        Ok(format!("{signing_input}.{}", base64url(&sig)))
    }

    #[cfg(test)]
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        self.key.public_key().as_ref().to_vec()
    }
}

/// The label and bytes of the first PEM block.
fn pem_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end = body.find(&format!("-----END {label}-----"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label, der))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    pub const TEST_KEY: &str = include_str!("testdata/test-only-key.pem");

    #[test]
    fn token_is_a_verifiable_rs256_jwt() {
        let s = JwtSigner::new("app-123", TEST_KEY).unwrap();
        let t = s.token(Timestamp::from_millis(1_700_000_000_999)).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "RS256", "typ": "JWT"}));
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["application_id"], "app-123");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_000_300);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, s.public_key_der())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        // A fresh jti each time.
        assert_ne!(t, s.token(Timestamp::from_millis(1_700_000_000_999)).unwrap());
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        assert!(JwtSigner::new("a", "not a key").err().unwrap().contains("not a PEM"));
        let e = JwtSigner::new("a", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .err()
            .unwrap();
        assert!(e.contains("not a usable RSA private key") && !e.contains("AAAA"), "{e}");
        let e = JwtSigner::new("a", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
            .err()
            .unwrap();
        assert!(e.contains("CERTIFICATE"), "{e}");
    }
}
