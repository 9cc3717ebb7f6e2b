//! Provider secrets: given inline (`auth_token = "…"`, or `RINGPROOF_PROVIDERS__NAME__AUTH_TOKEN`)
//! or read from a file (`auth_token_file = "/run/secrets/…"`, for container secrets). Held
//! as [`SecretString`], whose `Debug` prints nothing, so a config dump or a log line can
//! never show one.

use std::path::{Path, PathBuf};

pub use secrecy::{ExposeSecret, SecretString};

use crate::error::BuildError;

/// The secret named `field` of provider `provider`, from `value` or else `file` (trailing
/// whitespace and newlines of the file are dropped). Exactly one must be given.
pub fn resolve(
    provider: &str,
    field: &str,
    value: Option<&SecretString>,
    file: Option<&Path>,
) -> Result<SecretString, BuildError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(BuildError::config(
            provider,
            format!("give either `{field}` or `{field}_file`, not both"),
        )),
        (Some(v), None) if v.expose_secret().trim().is_empty() => {
            Err(BuildError::config(provider, format!("`{field}` is empty")))
        }
        (Some(v), None) => Ok(v.clone()),
        (None, Some(path)) => read_file(provider, field, path),
        (None, None) => Err(BuildError::config(
            provider,
            format!("`{field}` (or `{field}_file`) is required"),
        )),
    }
}

/// Like [`resolve`], for a secret that may be absent.
pub fn resolve_optional(
    provider: &str,
    field: &str,
    value: Option<&SecretString>,
    file: Option<&Path>,
) -> Result<Option<SecretString>, BuildError> {
    if value.is_none() && file.is_none() {
        return Ok(None);
    }
    resolve(provider, field, value, file).map(Some)
}

fn read_file(provider: &str, field: &str, path: &Path) -> Result<SecretString, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        BuildError::config(
            provider,
            format!("`{field}_file` {} cannot be read: {e}", PathBuf::from(path).display()),
        )
    })?;
    let trimmed = text.trim_end_matches(['\n', '\r', ' ', '\t']);
    if trimmed.is_empty() {
        return Err(BuildError::config(provider, format!("`{field}_file` is empty")));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_file_both_none() {
        let v = SecretString::from("tok".to_owned());
        assert_eq!(
            resolve("p", "auth_token", Some(&v), None).unwrap().expose_secret(),
            "tok"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "from-file\n").unwrap();
        assert_eq!(
            resolve("p", "auth_token", None, Some(&f)).unwrap().expose_secret(),
            "from-file"
        );
        let both = resolve("p", "auth_token", Some(&v), Some(&f)).unwrap_err().to_string();
        assert!(both.contains("not both"), "{both}");
        let none = resolve("p", "auth_token", None, None).unwrap_err().to_string();
        assert!(none.contains("required") && none.contains("provider `p`"), "{none}");
        assert!(resolve_optional("p", "x", None, None).unwrap().is_none());
        // Debug never shows the value.
        assert!(!format!("{v:?}").contains("tok"));
    }
}
