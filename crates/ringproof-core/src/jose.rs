//! Just enough JOSE for OpenID Connect with a mobile operator: ES256 JSON Web Signatures
//! (RFC 7515 compact form), P-256 JSON Web Keys (RFC 7517/7518) and their thumbprints
//! (RFC 7638). ringproof signs its `private_key_jwt` client assertions with it and checks
//! an operator's ID tokens; the operator simulator does the reverse.
//!
//! Only ES256 is accepted when verifying: a token whose header names any other algorithm
//! (`none`, `HS256`, …) is refused before its signature is looked at.
//!
//! The Vonage face's JWTs are RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) under
//! a public key an application registered ([`RsaKey`]): the same rule holds, RS256 only.

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
    #[error("not an RSA public key of 2048 to 8192 bits in PEM form (SPKI or PKCS#1)")]
    BadRsaKey,
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

/// An RSA public key that checks RS256 signatures (a Vonage application's key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaKey(rsa::PublicKey);

impl RsaKey {
    /// The smallest modulus accepted, in bits: RFC 7518 §3.3 requires 2048.
    pub const MIN_BITS: usize = 2048;
    /// The largest: bigger keys only make each check slower for an attacker's token.
    pub const MAX_BITS: usize = 8192;

    /// Reads a public key in PEM: `-----BEGIN PUBLIC KEY-----` (SPKI, what Vonage's
    /// dashboard and `openssl pkey -pubout` give) or `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, JoseError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let pem = pem.trim();
        let key = rsa::PublicKey::from_public_key_pem(pem)
            .or_else(|_| rsa::PublicKey::from_pkcs1_pem(pem))
            .map_err(|_| JoseError::BadRsaKey)?;
        let bits = key.size() * 8;
        if !(Self::MIN_BITS..=Self::MAX_BITS).contains(&bits) {
            return Err(JoseError::BadRsaKey);
        }
        Ok(RsaKey(key))
    }

    /// The key in SPKI PEM, the form it is stored in.
    pub fn to_pem(&self) -> String {
        use rsa::pkcs8::EncodePublicKey;
        self.0.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap_or_default()
    }

    /// Checks a compact JWS signed RS256 with this key and returns its header and claims.
    /// Any other `alg` (`none`, `HS256`, `RS512`, …) is refused before the signature is
    /// looked at, so a token cannot choose how it is checked.
    pub fn verify(&self, token: &str) -> Result<(Value, Value), JoseError> {
        use rsa::signature::Verifier as _;
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JoseError::Malformed);
        };
        let header = decode_json(h)?;
        let alg = header["alg"].as_str().unwrap_or_default();
        if alg != "RS256" {
            return Err(JoseError::Algorithm(alg.to_owned()));
        }
        let sig_bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| JoseError::Malformed)?;
        let sig = rsa::pkcs1v15::Signature::try_from(sig_bytes.as_slice()).map_err(|_| JoseError::Signature)?;
        let signed = &token[..h.len() + 1 + c.len()];
        rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(self.0.clone())
            .verify(signed.as_bytes(), &sig)
            .map_err(|_| JoseError::Signature)?;
        Ok((header, decode_json(c)?))
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

    /// Signs RS256 with a test key, as the Vonage SDKs do.
    fn rs256(pem: &str, header: &Value, claims: &Value) -> String {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer as _};
        let key = rsa::PrivateKey::from_pkcs8_pem(pem).unwrap();
        let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key);
        let input = format!(
            "{}.{}",
            base64url(header.to_string().as_bytes()),
            base64url(claims.to_string().as_bytes())
        );
        let sig = signer.sign(input.as_bytes());
        format!("{input}.{}", base64url(&sig.to_vec()))
    }

    #[test]
    fn rs256_verifies_only_its_keys_signature_and_only_rs256() {
        let public = RsaKey::from_pem(include_str!("../testdata/rsa_test_1.pub")).unwrap();
        let other = RsaKey::from_pem(include_str!("../testdata/rsa_test_2.pub")).unwrap();
        assert_eq!(RsaKey::from_pem(&public.to_pem()).unwrap(), public);
        let private = include_str!("../testdata/rsa_test_1.pem");
        let header = json!({"alg": "RS256", "typ": "JWT"});
        let t = rs256(private, &header, &json!({"application_id": "a", "jti": "1"}));
        let (h, c) = public.verify(&t).unwrap();
        assert_eq!(
            (h["alg"].as_str(), c["application_id"].as_str()),
            (Some("RS256"), Some("a"))
        );
        assert_eq!(other.verify(&t), Err(JoseError::Signature));
        // A claim changed after signing.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], base64url(br#"{"application_id":"b"}"#), parts[2]);
        assert_eq!(public.verify(&forged), Err(JoseError::Signature));
        // The algorithm is the server's choice, not the token's.
        for alg in ["none", "HS256", "RS512", "ES256", "PS256"] {
            let h = base64url(format!(r#"{{"alg":"{alg}"}}"#).as_bytes());
            let t = format!("{h}.{}.{}", parts[1], parts[2]);
            assert_eq!(public.verify(&t), Err(JoseError::Algorithm(alg.into())), "{alg}");
        }
        assert_eq!(
            public.verify(&format!("{}.{}.", parts[0], parts[1])),
            Err(JoseError::Signature)
        );
        assert_eq!(public.verify("a.b"), Err(JoseError::Malformed));
        // Keys: a small one, a private one, junk.
        for bad in [
            include_str!("../testdata/rsa_test_1024.pub"),
            private,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "",
        ] {
            assert_eq!(RsaKey::from_pem(bad), Err(JoseError::BadRsaKey));
        }
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
