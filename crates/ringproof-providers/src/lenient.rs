//! Config strings that may arrive as numbers. figment reads an environment variable that
//! looks like a number as one (`RINGPROOF_PROVIDERS__VONAGE__API_KEY=12345678`,
//! `…__FROM=447700900000`), and a `String` field would then refuse it. Fields that are
//! often all digits (API keys, sender numbers, secrets) take either.
//!
//! Use with `#[serde(default, deserialize_with = "crate::lenient::…")]`.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Unsigned(u64),
    Signed(i64),
}

impl From<StrOrNum> for String {
    fn from(v: StrOrNum) -> String {
        match v {
            StrOrNum::Str(s) => s,
            StrOrNum::Unsigned(n) => n.to_string(),
            StrOrNum::Signed(n) => n.to_string(),
        }
    }
}

pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    StrOrNum::deserialize(d).map(String::from)
}

pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StrOrNum>::deserialize(d)?.map(String::from))
}

pub fn opt_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<StrOrNum>::deserialize(d)?.map(|v| SecretString::from(String::from(v))))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "string")]
        a: String,
        #[serde(default, deserialize_with = "opt_string")]
        b: Option<String>,
        #[serde(default, deserialize_with = "opt_secret")]
        c: Option<SecretString>,
    }

    #[test]
    fn numbers_become_strings() {
        let t: T = serde_json::from_value(json!({"a": 12345678, "b": 447700900000_u64, "c": 999})).unwrap();
        assert_eq!((t.a.as_str(), t.b.as_deref()), ("12345678", Some("447700900000")));
        assert_eq!(t.c.unwrap().expose_secret(), "999");
        let t: T = serde_json::from_value(json!({"a": "x"})).unwrap();
        assert_eq!((t.a.as_str(), t.b, t.c.is_none()), ("x", None, true));
        assert!(serde_json::from_value::<T>(json!({"a": [1]})).is_err());
    }
}
