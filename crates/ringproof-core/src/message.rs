//! The words a person receives. Built here, in core, so every provider carries the same
//! text and the voice call reads digits the way a listener can follow.

use crate::code::Code;
use crate::templates;

/// The default SMS: `Your <brand> verification code is: 123456`. A client template may
/// replace it; `{code}` and `{brand}` are filled in (the code is appended if the template
/// has no `{code}`). A template without `{code}` whose one run of `#` is as long as the
/// code (a Signzy OTP template, see [`crate::templates`]) gets the code in place of the `#`.
pub fn sms_text(brand: &str, code: &Code, template: Option<&str>) -> String {
    match template {
        Some(t) if t.contains("{code}") => t.replace("{brand}", brand).replace("{code}", code.expose()),
        // A Signzy-style OTP template: its one run of `#`, as long as the code, is the code.
        Some(t) if u8::try_from(code.len()).is_ok_and(|n| templates::code_length(t) == Ok(n)) => {
            templates::render(t, code)
        }
        Some(t) => format!("{} {}", t.replace("{brand}", brand), code.expose()),
        None => format!("Your {brand} verification code is: {}", code.expose()),
    }
}

/// What a voice call speaks: the code digit by digit with pauses (commas), twice.
/// `locale` picks the language; only English exists so far and is the fallback.
pub fn voice_text(brand: &str, code: &Code, _locale: &str) -> String {
    let spoken = spaced_digits(code);
    format!("Your {brand} verification code is {spoken}. Again: {spoken}.")
}

/// A duration as a person reads it in a message: `5 minutes`, `1 minute`, `30 seconds`,
/// `2 hours`; whole hours or minutes when it divides evenly, else seconds (`90 seconds`).
pub fn duration_phrase(secs: u32) -> String {
    let (n, unit) = match secs {
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn spaced_digits(code: &Code) -> String {
    let mut s = String::with_capacity(code.len() * 3);
    for (i, c) in code.expose().chars().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let c = Code::from_digits("1234").unwrap();
        assert_eq!(sms_text("Acme", &c, None), "Your Acme verification code is: 1234");
        assert_eq!(
            sms_text("Acme", &c, Some("{brand}: {code} is your code")),
            "Acme: 1234 is your code"
        );
        assert_eq!(sms_text("Acme", &c, Some("Acme code:")), "Acme code: 1234");
        assert_eq!(
            sms_text("Acme", &c, Some("Acme: Your OTP for login is ####")),
            "Acme: Your OTP for login is 1234"
        );
        // A run of another length is not a placeholder for this code.
        assert_eq!(sms_text("Acme", &c, Some("Ref ###:")), "Ref ###: 1234");
        assert_eq!(
            voice_text("Acme", &c, "en"),
            "Your Acme verification code is 1, 2, 3, 4. Again: 1, 2, 3, 4."
        );
    }

    #[test]
    fn durations() {
        for (s, phrase) in [
            (300, "5 minutes"),
            (60, "1 minute"),
            (30, "30 seconds"),
            (1, "1 second"),
            (90, "90 seconds"),
            (3600, "1 hour"),
            (7200, "2 hours"),
            (5400, "90 minutes"),
        ] {
            assert_eq!(duration_phrase(s), phrase);
        }
    }
}
