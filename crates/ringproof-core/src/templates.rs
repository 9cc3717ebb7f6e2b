//! OTP message templates in the Signzy style: the code's digits replace a run of `#`
//! characters, one `#` per digit, so the template also sets the code length.
//!
//! Templates `"4"` to `"8"` are built in ("Your OTP for verification is ####" with 4 to 8
//! `#`); a client may own more under other ids (e.g. `"41"`: "Acme: Your OTP for login is
//! ####"), kept in [`crate::client::Client::templates`] under the key `otp:<id>`.

use crate::code::{Code, MAX_CODE_LENGTH, MIN_CODE_LENGTH};

/// The key under which a client's OTP template with id `id` is stored.
pub fn client_key(id: &str) -> String {
    format!("otp:{id}")
}

/// A built-in template, by id.
pub fn builtin(id: &str) -> Option<&'static str> {
    Some(match id {
        "4" => "Your OTP for verification is ####",
        "5" => "Your OTP for verification is #####",
        "6" => "Your OTP for verification is ######",
        "7" => "Your OTP for verification is #######",
        "8" => "Your OTP for verification is ########",
        _ => return None,
    })
}

/// Why a template is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("a template id is 1 to 16 letters or digits")]
    BadId,
    #[error("a template needs one run of {MIN_CODE_LENGTH} to {MAX_CODE_LENGTH} `#` where the code goes")]
    BadPlaceholder,
    #[error("a template is at most 480 characters of printable text")]
    BadText,
}

/// Checks a template id.
pub fn check_id(id: &str) -> Result<(), TemplateError> {
    if (1..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(TemplateError::BadId)
    }
}

/// The code length a template sets: the length of its single run of `#`.
pub fn code_length(template: &str) -> Result<u8, TemplateError> {
    if template.chars().count() > 480 || template.chars().any(char::is_control) {
        return Err(TemplateError::BadText);
    }
    let mut runs = template.split(|c| c != '#').filter(|r| !r.is_empty());
    let run = runs.next().ok_or(TemplateError::BadPlaceholder)?;
    if runs.next().is_some() {
        return Err(TemplateError::BadPlaceholder);
    }
    let n = u8::try_from(run.len()).map_err(|_| TemplateError::BadPlaceholder)?;
    if (MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&n) {
        Ok(n)
    } else {
        Err(TemplateError::BadPlaceholder)
    }
}

/// The message: the template with its `#` run replaced by the code (whose length must be
/// the template's; see [`code_length`]).
pub fn render(template: &str, code: &Code) -> String {
    let run = "#".repeat(code.len());
    template.replacen(&run, code.expose(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_set_their_length() {
        for (id, len) in [("4", 4), ("5", 5), ("6", 6), ("7", 7), ("8", 8)] {
            assert_eq!(code_length(builtin(id).unwrap()), Ok(len));
        }
        assert_eq!(builtin("3"), None);
        assert_eq!(builtin("41"), None);
        let code = Code::from_digits("123456").unwrap();
        assert_eq!(
            render(builtin("6").unwrap(), &code),
            "Your OTP for verification is 123456"
        );
    }

    #[test]
    fn client_templates() {
        let t = "Acme: Your OTP for login is ####";
        assert_eq!(code_length(t), Ok(4));
        assert_eq!(
            render(t, &Code::from_digits("0042").unwrap()),
            "Acme: Your OTP for login is 0042"
        );
        assert_eq!(code_length("#### then ##"), Err(TemplateError::BadPlaceholder));
        assert_eq!(code_length("no placeholder"), Err(TemplateError::BadPlaceholder));
        assert_eq!(code_length("###"), Err(TemplateError::BadPlaceholder));
        assert_eq!(code_length("###########"), Err(TemplateError::BadPlaceholder));
        assert_eq!(code_length("line\nbreak ####"), Err(TemplateError::BadText));
        assert_eq!(check_id("41"), Ok(()));
        assert_eq!(check_id(""), Err(TemplateError::BadId));
        assert_eq!(check_id("4 1"), Err(TemplateError::BadId));
        assert_eq!(client_key("41"), "otp:41");
    }
}
