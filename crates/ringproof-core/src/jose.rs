//! Just enough JOSE for OpenID Connect with a mobile operator: ES256 JSON Web Signatures
//! (RFC 7515 compact form), P-256 JSON Web Keys (RFC 7517/7518) and their thumbprints
//! (RFC 7638). ringproof signs its `private_key_jwt` client assertions with it and checks
//! an operator's ID tokens; the operator simulator does the reverse.
//!
//! Only ES256 is accepted when verifying: a token whose header names any other algorithm
//! (`none`, `HS256`, …) is refused before its signature is looked at.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey as EcSigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Value, json};

use crate::crypto::{base64url, random_bytes, sha256};

/// Why a key or a token was refused. Never carries secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("not a P-256 private key in PKCS#8 PEM form")]
    BadPrivateKey,
    #[error("not a usable P-256 public JWK: {0}")]
    BadJwk(&'static str),
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm {0:?} is not accepted (only ES256)")]
    Algorithm(String),
    #[error("no key in the set matches the token's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
}

/// A P-256 signing key with its key id (the RFC 7638 thumbprint of its public JWK).
#[derive(Clone)]
pub struct SigningKey {
    key: EcSigningKey,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        loop {
            // A 32-byte string is a valid scalar unless it is zero or ≥ n (odds ~2^-32).
            if let Ok(key) = EcSigningKey::from_slice(&random_bytes::<32>()) {
                return Self::new(key);
            }
        }
    }

    fn new(key: EcSigningKey) -> Self {
        let kid = thumbprint(key.verifying_key());
        SigningKey { key, kid }
    }

    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `openssl genpkey -algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256` writes it.
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        EcSigningKey::from_pkcs8_pem(pem.trim())
            .map(Self::new)
            .map_err(|_| JoseError::BadPrivateKey)
    }

    /// The key as PKCS#8 PEM, for saving to an owner-only file.
    pub fn to_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .unwrap_or_default()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `use`, `alg`).
    pub fn public_jwk(&self) -> Value {
        let mut jwk = public_members(self.key.verifying_key());
        jwk["kid"] = json!(self.kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!("ES256");
        jwk
    }

    /// A JWK Set holding this key's public half.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// Signs `claims` as a compact JWS with header `{alg: ES256, kid, typ}`.
    pub fn sign(&self, claims: &Value, typ: &str) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", base64url(&sig.to_bytes()))
    }
}

/// `kty`, `crv`, `x`, `y` of a public key: the members the thumbprint is taken over.
fn public_members(key: &VerifyingKey) -> Value {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    // An uncompressed SEC1 point: 0x04 ‖ x (32) ‖ y (32).
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": base64url(&bytes[1..33]),
        "y": base64url(&bytes[33..65]),
    })
}

/// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
fn thumbprint(key: &VerifyingKey) -> String {
    let m = public_members(key);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        m["x"].as_str().unwrap_or_default(),
        m["y"].as_str().unwrap_or_default()
    );
    base64url(&sha256(canonical.as_bytes()))
}

/// Public keys by id, from a JWK Set. Keys that are not P-256 signing keys are skipped.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, VerifyingKey)>,
}

impl KeySet {
    /// Reads a JWK Set (`{"keys": [...]}`), keeping the EC P-256 keys meant for signatures;
    /// a key that does not decode is skipped (a set may hold keys this code does not use).
    pub fn from_jwks(jwks: &Value) -> Result<Self, JoseError> {
        let list = jwks["keys"].as_array().ok_or(JoseError::BadJwk("no keys array"))?;
        let keys = list
            .iter()
            .filter(|k| k["kty"] == "EC" && k["crv"] == "P-256" && k.get("use").is_none_or(|u| u == "sig"))
            .filter_map(|k| Some((k["kid"].as_str().map(str::to_owned), key_of(k).ok()?)))
            .collect();
        Ok(KeySet { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key of the set has this id.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }

    /// Checks a compact JWS against these keys and returns its header and claims. The key
    /// is the one with the header's `kid`; with no `kid`, the only key of the set.
    pub fn verify(&self, token: &str) -> Result<(Value, Value), JoseError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JoseError::Malformed);
        };
        let header = decode_json(h)?;
        let alg = header["alg"].as_str().unwrap_or_default();
        if alg != "ES256" {
            return Err(JoseError::Algorithm(alg.to_owned()));
        }
        let key = match header["kid"].as_str() {
            Some(kid) => self.keys.iter().find(|(k, _)| k.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
        .ok_or(JoseError::UnknownKey)?;
        let sig_bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| JoseError::Malformed)?;
        let sig = Signature::from_slice(&sig_bytes).map_err(|_| JoseError::Signature)?;
        let signed = &token[..h.len() + 1 + c.len()];
        key.1
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| JoseError::Signature)?;
        Ok((header, decode_json(c)?))
    }
}

fn key_of(jwk: &Value) -> Result<VerifyingKey, JoseError> {
    let coord = |name: &'static str| -> Result<Vec<u8>, JoseError> {
        let v = URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().ok_or(JoseError::BadJwk("missing coordinate"))?)
            .map_err(|_| JoseError::BadJwk("coordinate is not base64url"))?;
        if v.len() == 32 {
            Ok(v)
        } else {
            Err(JoseError::BadJwk("coordinate is not 32 bytes"))
        }
    };
    let mut sec1 = vec![4u8];
    sec1.extend(coord("x")?);
    sec1.extend(coord("y")?);
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| JoseError::BadJwk("not a point on P-256"))
}

fn decode_json(part: &str) -> Result<Value, JoseError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JoseError::Malformed)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| JoseError::Malformed)?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(JoseError::Malformed)
    }
}

/// Reads the claims of a compact JWS without checking it: only for choosing which key set
/// to check it against (e.g. the `iss` of a client assertion). Never trust the result.
pub fn unverified_claims(token: &str) -> Result<Value, JoseError> {
    let c = token.split('.').nth(1).ok_or(JoseError::Malformed)?;
    decode_json(c)
}

/// Reads the header of a compact JWS without checking it (to pick the key by `kid`).
pub fn unverified_header(token: &str) -> Result<Value, JoseError> {
    decode_json(token.split('.').next().ok_or(JoseError::Malformed)?)
}

/// A PKCE S256 pair (RFC 7636): a 43-character verifier and its challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = base64url(&random_bytes::<32>());
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

/// The S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64url(&sha256(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_round_trip() {
        let k = SigningKey::generate();
        let set = KeySet::from_jwks(&k.jwks()).unwrap();
        let t = k.sign(&json!({"iss": "a", "n": 1}), "JWT");
        let (h, c) = set.verify(&t).unwrap();
        assert_eq!(h["kid"], k.kid());
        assert_eq!(c["iss"], "a");
    }

    #[test]
    fn refuses_tampering_other_keys_and_other_algorithms() {
        let k = SigningKey::generate();
        let set = KeySet::from_jwks(&k.jwks()).unwrap();
        let t = k.sign(&json!({"sub": "x"}), "JWT");
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], base64url(br#"{"sub":"y"}"#), parts[2]);
        assert_eq!(set.verify(&forged), Err(JoseError::Signature));
        let other = SigningKey::generate().sign(&json!({"sub": "x"}), "JWT");
        assert_eq!(set.verify(&other), Err(JoseError::UnknownKey));
        let none = format!("{}.{}.", base64url(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(set.verify(&none), Err(JoseError::Algorithm("none".into())));
        let hs = format!("{}.{}.{}", base64url(br#"{"alg":"HS256"}"#), parts[1], parts[2]);
        assert_eq!(set.verify(&hs), Err(JoseError::Algorithm("HS256".into())));
        assert_eq!(set.verify("a.b"), Err(JoseError::Malformed));
    }

    #[test]
    fn pem_round_trip_keeps_the_kid() {
        let k = SigningKey::generate();
        let again = SigningKey::from_pem(&k.to_pem()).unwrap();
        assert_eq!(again.kid(), k.kid());
        assert_eq!(SigningKey::from_pem("nope").err(), Some(JoseError::BadPrivateKey));
    }

    #[test]
    fn thumbprint_matches_rfc7638_shape() {
        let k = SigningKey::generate();
        assert_eq!(k.kid().len(), 43);
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (v, c) = pkce_pair();
        assert_eq!(v.len(), 43);
        assert_eq!(pkce_challenge(&v), c);
    }
}
