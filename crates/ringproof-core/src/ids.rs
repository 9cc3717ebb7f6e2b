//! Identifiers. Each is a newtype so a client id can never be passed where a
//! verification id is expected; each parses its own textual form once, at the edge.

use std::fmt;

use crate::crypto::{hex, random_bytes};

macro_rules! hex_id {
    ($(#[$m:meta])* $name:ident, prefix = $prefix:literal, bytes = $n:literal) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id from the OS CSPRNG.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, hex(&random_bytes::<$n>())))
            }
            /// Parses the textual form; `None` unless it is exactly the prefix followed by
            /// the right number of lowercase hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                (rest.len() == $n * 2
                    && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                .then(|| Self(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_id!(
    /// A client (tenant): 24 lowercase hex characters, the shape Signzy-style ids take.
    ClientId, prefix = "", bytes = 12
);
hex_id!(
    /// A verification: `VE` and 32 lowercase hex characters, like a Twilio Verify SID.
    VerificationId, prefix = "VE", bytes = 16
);
hex_id!(
    /// A service (a named configuration set of a client: the Twilio face's Verify
    /// Service): `VA` and 32 lowercase hex characters, a Twilio Service SID's shape.
    ServiceId, prefix = "VA", bytes = 16
);
hex_id!(
    /// A rate limit of a service (the Twilio face's Service Rate Limit): `RK` and 32
    /// lowercase hex characters.
    RateLimitId, prefix = "RK", bytes = 16
);
hex_id!(
    /// A bucket of a rate limit (its `Max` per `Interval`): `BL` and 32 lowercase hex
    /// characters.
    BucketId, prefix = "BL", bytes = 16
);
hex_id!(
    /// A durable job: `JB` and 32 lowercase hex characters. Also the idempotency key a
    /// provider sees, so a job retried after a crash is recognisable as the same send.
    JobId, prefix = "JB", bytes = 16
);
hex_id!(
    /// A link session's request or session id: 24 lowercase hex characters, the shape the
    /// Signzy face's poll path validates (`^[0-9a-fA-F]{24}$`).
    LinkId, prefix = "", bytes = 12
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let c = ClientId::generate();
        assert_eq!(c.as_str().len(), 24);
        assert_eq!(ClientId::parse(c.as_str()), Some(c));
        let v = VerificationId::generate();
        assert!(v.as_str().starts_with("VE") && v.as_str().len() == 34);
        assert_eq!(VerificationId::parse(v.as_str()), Some(v));
        assert_eq!(VerificationId::parse("VE123"), None);
        assert_eq!(ClientId::parse("ABCDEF0123456789abcdef01"), None);
        assert_eq!(ClientId::parse("../../etc/passwd"), None);
    }
}
