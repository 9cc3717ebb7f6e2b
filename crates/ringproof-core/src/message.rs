//! The words a person receives. Built here, in core, so every provider carries the same
//! text and the voice call reads digits the way a listener can follow. The texts of each
//! language are in [`crate::i18n::messages`]; a locale outside the catalogue (a
//! verification stored before it was checked) reads as English.

use crate::code::Code;
use crate::i18n::Locale;
use crate::templates;

/// The catalogue's language of a stored locale tag; English when it has none.
fn language(locale: &str) -> Locale {
    Locale::parse(locale).unwrap_or(Locale::En)
}

/// The default SMS of a verification whose service warns not to share the code
/// ([`crate::i18n::Texts::sms_do_not_share`]), in the locale's language: a template of
/// [`sms_text`].
pub fn do_not_share_template(locale: &str) -> &'static str {
    language(locale).texts().sms_do_not_share
}

/// The verification SMS. By default the language's text (in English `Your <brand>
/// verification code is: 123456`). A client template may replace it; `{code}` and
/// `{brand}` are filled in (the code is appended if the template has no `{code}`). A
/// template without `{code}` whose one run of `#` is as long as the code (a Signzy OTP
/// template, see [`crate::templates`]) gets the code in place of the `#`.
pub fn sms_text(brand: &str, code: &Code, template: Option<&str>, locale: &str) -> String {
    match template {
        Some(t) if t.contains("{code}") => fill(t, brand, code.expose()),
        // A Signzy-style OTP template: its one run of `#`, as long as the code, is the code.
        Some(t) if u8::try_from(code.len()).is_ok_and(|n| templates::code_length(t) == Ok(n)) => {
            templates::render(t, code)
        }
        Some(t) => format!("{} {}", fill(t, brand, ""), code.expose()),
        None => fill(language(locale).texts().sms, brand, code.expose()),
    }
}

/// What a voice call speaks, in the locale's language: the code digit by digit with the
/// language's pauses between digits, twice.
pub fn voice_text(brand: &str, code: &Code, locale: &str) -> String {
    let texts = language(locale).texts();
    fill(texts.voice, brand, &spaced_digits(code, texts.digit_pause))
}

/// What a call speaks from a template of the integrator's (a Vonage fragment): `{brand}`
/// filled in, `{code}` as the code digit by digit with the locale's pauses (once: the
/// template says whether to repeat it).
pub fn voice_text_from(template: &str, brand: &str, code: &Code, locale: &str) -> String {
    fill(
        template,
        brand,
        &spaced_digits(code, language(locale).texts().digit_pause),
    )
}

/// A call's text cut where the code is repeated (before `Again:` in English), for a
/// provider that puts a pause there: `(first sentence, repetition)`, or `None` when the
/// text is not a call script of the locale's language.
pub fn split_repetition<'a>(text: &'a str, locale: &str) -> Option<(&'a str, &'a str)> {
    let at = text.rfind(language(locale).texts().repeat)?;
    let (first, again) = text.split_at(at);
    let first = first.trim_end();
    (!first.is_empty()).then_some((first, again))
}

/// `{brand}` and `{code}` filled in one pass, so a brand that reads `{code}` stays text.
fn fill(template: &str, brand: &str, code: &str) -> String {
    let mut out = String::with_capacity(template.len() + brand.len() + 2 * code.len());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{brand}") {
            out.push_str(brand);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{code}") {
            out.push_str(code);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
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

fn spaced_digits(code: &Code, pause: &str) -> String {
    let mut s = String::with_capacity(code.len() * (1 + pause.len()));
    for (i, c) in code.expose().chars().enumerate() {
        if i > 0 {
            s.push_str(pause);
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
        assert_eq!(sms_text("Acme", &c, None, "en"), "Your Acme verification code is: 1234");
        assert_eq!(
            sms_text("Acme", &c, Some("{brand}: {code} is your code"), "en"),
            "Acme: 1234 is your code"
        );
        assert_eq!(sms_text("Acme", &c, Some("Acme code:"), "en"), "Acme code: 1234");
        assert_eq!(
            sms_text("Acme", &c, Some("Acme: Your OTP for login is ####"), "en"),
            "Acme: Your OTP for login is 1234"
        );
        // A run of another length is not a placeholder for this code.
        assert_eq!(sms_text("Acme", &c, Some("Ref ###:"), "en"), "Ref ###: 1234");
        assert_eq!(
            voice_text("Acme", &c, "en"),
            "Your Acme verification code is 1, 2, 3, 4. Again: 1, 2, 3, 4."
        );
        // A brand is text, never a placeholder.
        assert_eq!(
            sms_text("{code}", &c, None, "en"),
            "Your {code} verification code is: 1234"
        );
        assert_eq!(sms_text("A{b}", &c, Some("{brand} {code} {x}"), "en"), "A{b} 1234 {x}");
    }

    #[test]
    fn the_locale_picks_the_language_and_a_template_wins() {
        let c = Code::from_digits("1234").unwrap();
        assert_eq!(sms_text("Acme", &c, None, "es"), "Tu código de Acme es: 1234");
        assert_eq!(sms_text("Acme", &c, None, "pt-BR"), "Seu código Acme é: 1234");
        assert_eq!(sms_text("Acme", &c, None, "ja"), "Acmeの認証コード：1234");
        // A tag outside the catalogue (stored before locales were checked) reads as English.
        assert_eq!(sms_text("Acme", &c, None, "nl"), "Your Acme verification code is: 1234");
        assert_eq!(sms_text("Acme", &c, Some("{code} Acme"), "ja"), "1234 Acme");
        assert_eq!(
            voice_text("Acme", &c, "fr-CA"),
            "Votre code de vérification Acme est 1, 2, 3, 4. Je répète : 1, 2, 3, 4."
        );
        assert_eq!(
            voice_text("Acme", &c, "zh"),
            "您的Acme验证码是1、2、3、4。再说一遍：1、2、3、4。"
        );
        assert_eq!(
            voice_text("Acme", &c, "ar"),
            "رمز التحقق من Acme هو 1، 2، 3، 4. مرة أخرى: 1، 2، 3، 4."
        );
    }

    #[test]
    fn a_call_is_cut_where_the_code_is_repeated() {
        let c = Code::from_digits("1234").unwrap();
        for l in Locale::ALL {
            let text = voice_text("Again: Acme", &c, l.tag());
            let (first, again) = split_repetition(&text, l.tag()).unwrap();
            assert!(again.starts_with(l.texts().repeat), "{l}: {again}");
            assert!(first.contains('1') && again.contains('4'), "{l}: {first} | {again}");
            assert!(text.starts_with(first) && text.ends_with(again), "{l}");
            assert!(text[first.len()..text.len() - again.len()].trim().is_empty(), "{l}");
        }
        assert_eq!(
            split_repetition("Your A verification code is 1, 2. Again: 1, 2.", "en"),
            Some(("Your A verification code is 1, 2.", "Again: 1, 2."))
        );
        assert_eq!(split_repetition("Your code is 1, 2.", "en"), None);
        assert_eq!(split_repetition("Again: 1, 2.", "en"), None);
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
