//! Cryptographic building blocks, all in one place: OS randomness, hex, SHA-256, the
//! keyed code hash (HMAC-SHA256) and the AEAD sealing of codes and outbox payloads.
//!
//! Every key is derived from the one server secret with HMAC-SHA256 under a distinct
//! label, so a key used to hash codes is never the key that encrypts them.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Fills an array from the OS CSPRNG.
///
/// The OS generator failing means the machine cannot produce secrets at all; there is no
/// safe fallback, so this aborts the operation loudly rather than continue with weak bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    fill_random(&mut buf);
    buf
}

/// Fills a slice from the OS CSPRNG (see [`random_bytes`] on failure).
#[allow(clippy::panic)]
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {e}");
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// URL-safe base64 without padding (RFC 4648 §5), for tokens that travel in URLs.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}

/// Decodes URL-safe base64 without padding; `None` if it is not.
pub fn unbase64url(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()
}

/// Parses hex (either case); `None` on odd length or a non-hex character.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    hmac(key, parts)
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Why sealed data could not be opened: wrong key, wrong context, or tampering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sealed data could not be opened (wrong key or tampered)")]
pub struct OpenError;

/// The keys derived from the server secret. Cheap to clone; holds no I/O.
#[derive(Clone)]
pub struct Keys {
    code_hmac: [u8; 32],
    seal: [u8; 32],
    guard: [u8; 32],
    throttle: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Derives every key from the server secret (at least 32 bytes recommended).
    pub fn derive(server_secret: &[u8]) -> Self {
        Self {
            code_hmac: hmac(server_secret, &[b"ringproof/v1/code-hmac"]),
            seal: hmac(server_secret, &[b"ringproof/v1/aead"]),
            guard: hmac(server_secret, &[b"ringproof/v1/guard"]),
            throttle: hmac(server_secret, &[b"ringproof/v1/throttle"]),
        }
    }

    /// A fingerprint of the derived keys (32 hex digits), kept in the database so that a
    /// node started with another server secret is refused instead of failing every code,
    /// seal and counter of the others. A one-way function of a key under its own label:
    /// it tells two secrets apart and reveals nothing of either.
    pub fn fingerprint(&self) -> String {
        hex(&hmac(&self.code_hmac, &[b"ringproof/v1/fingerprint"])[..16])
    }

    /// The keyed hash of a code, bound to the verification it belongs to, so the same
    /// digits in two verifications hash differently and a hash cannot be replayed.
    pub fn code_hash(&self, context: &str, code: &str) -> [u8; 32] {
        hmac(&self.code_hmac, &[context.as_bytes(), b"\0", code.as_bytes()])
    }

    /// The key of a limit counter ([`crate::guard`]): an HMAC of what is counted (a number,
    /// an IP), so the counters hold no raw number or address and cannot be reversed by
    /// enumerating the (small) space of phone numbers without the server secret.
    pub fn guard_key(&self, scope: &str, value: &str) -> [u8; 32] {
        hmac(&self.guard, &[scope.as_bytes(), b"\0", value.as_bytes()])
    }

    /// The key of a throttle row: `scope` and 128 bits of a keyed hash of `parts`, so the
    /// store holds no address or name in clear (and none can be recovered by hashing
    /// every IPv4 address without the server secret).
    pub fn throttle_key(&self, scope: &str, parts: &[&[u8]]) -> String {
        let h = hmac(&self.throttle, parts);
        format!("{scope}:{}", hex(&h[..16]))
    }

    /// A 128-bit keyed MAC (base64url) of `parts` for a URL that must not be guessable
    /// but need not be stored: the `check_url` of a silent step. `scope` separates uses.
    pub fn url_mac(&self, scope: &str, parts: &[&str]) -> String {
        let mut all: Vec<&[u8]> = vec![b"url\0", scope.as_bytes()];
        for p in parts {
            all.push(b"\0");
            all.push(p.as_bytes());
        }
        base64url(&hmac(&self.guard, &all)[..16])
    }

    /// Encrypts with XChaCha20-Poly1305 under a fresh random 192-bit nonce. `context`
    /// (a verification or job id) is authenticated, so a sealed blob moved to another row
    /// does not open. Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new_from_slice(&self.seal).unwrap_or_else(|_| unreachable!());
        let nonce_bytes: [u8; 24] = random_bytes();
        let nonce = XNonce::from(nonce_bytes);
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("encryption of an in-memory buffer cannot fail"));
        let mut out = Vec::with_capacity(24 + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < 24 + 16 {
            return Err(OpenError);
        }
        let cipher = XChaCha20Poly1305::new_from_slice(&self.seal).map_err(|_| OpenError)?;
        let (n, ct) = sealed.split_at(24);
        let nonce_bytes: [u8; 24] = n.try_into().map_err(|_| OpenError)?;
        cipher
            .decrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        // RFC 4648 §10 vectors, in the URL-safe alphabet without padding.
        for (input, want) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), want);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0u8; 16]).len(), 22);
    }

    #[test]
    fn fingerprints_tell_secrets_apart_and_hide_them() {
        let a = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let again = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let b = Keys::derive(b"0123456789abcdef0123456789abcdeF");
        assert_eq!(a.fingerprint(), again.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
        // Not any derived key, nor a prefix of one.
        assert!(!hex(&a.code_hmac).starts_with(&a.fingerprint()));
        assert!(!hex(&a.seal).starts_with(&a.fingerprint()));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(unhex("0001abFF"), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn seal_binds_context_and_detects_tampering() {
        let k = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let s = k.seal("VEaaa", b"123456");
        assert!(!s.windows(6).any(|w| w == b"123456"));
        assert_eq!(k.open("VEaaa", &s).unwrap(), b"123456");
        assert_eq!(k.open("VEbbb", &s), Err(OpenError));
        let mut t = s.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert_eq!(k.open("VEaaa", &t), Err(OpenError));
        let other = Keys::derive(b"another secret another secret!!!");
        assert_eq!(other.open("VEaaa", &s), Err(OpenError));
    }

    #[test]
    fn code_hash_depends_on_context_and_key() {
        let k = Keys::derive(b"secret-a");
        assert_eq!(k.code_hash("VE1", "1234"), k.code_hash("VE1", "1234"));
        assert_ne!(k.code_hash("VE1", "1234"), k.code_hash("VE2", "1234"));
        assert_ne!(
            k.code_hash("VE1", "1234"),
            Keys::derive(b"secret-b").code_hash("VE1", "1234")
        );
        assert!(ct_eq(&[1, 2], &[1, 2]));
        assert!(!ct_eq(&[1, 2], &[1, 3]));
        assert!(!ct_eq(&[1, 2], &[1]));
    }
}
