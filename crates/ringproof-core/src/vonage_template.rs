//! Vonage Verify v2's custom templates: a client's named templates, each holding at most
//! one text (a *fragment*) per channel and locale, which a start names by `template_id`
//! (or gets through the client's default template).
//!
//! The texts are ringproof's SMS templates ([`crate::message::sms_text`]) with two more
//! placeholders: `{code}` (required, as Vonage requires `${code}`), `{brand}`,
//! `{time-limit}` and `{time-limit-unit}` (how long the code is valid: `5` and
//! `minutes`). The face translates Vonage's `${name}` into `{name}` and back; the rules
//! (names, locales, texts, which fragment a verification gets) are here.
//!
//! Which text a verification gets, per channel: the named template's fragment for the
//! channel and the verification's locale, else the client's default template's, else
//! ringproof's own texts (the client's `set-sms` text, then the catalogue). A fragment
//! matches a locale by its whole tag (`es-mx`), else by its language (`es-es` serves a
//! Spanish verification of any region), the oldest first.

use crate::error::CoreError;
use crate::i18n::Locale;
use crate::ids::ClientId;
use crate::message::duration_phrase;
use crate::time::Timestamp;
use crate::workflow::Channel;

/// The longest template name, in characters.
pub const MAX_NAME: usize = 64;
/// The placeholders a fragment's text may hold (in ringproof's `{name}` form).
pub const PLACEHOLDERS: [&str; 4] = ["code", "brand", "time-limit", "time-limit-unit"];
/// The most templates a client may have, and fragments a template may have: bounds on
/// what a start reads.
pub const MAX_TEMPLATES: u64 = 100;
pub const MAX_FRAGMENTS: u64 = 100;

/// A stored template of a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VonageTemplate {
    /// A UUID (lowercase), as Vonage's.
    pub id: String,
    pub client_id: ClientId,
    pub name: String,
    /// The template a start without `template_id` gets. At most one per client.
    pub is_default: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stored fragment: the text of a template for one channel and one locale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateFragment {
    /// A UUID (lowercase), as Vonage's.
    pub id: String,
    pub client_id: ClientId,
    pub template_id: String,
    pub channel: Channel,
    /// A lowercase language tag whose language the catalogue has (`en-us`).
    pub locale: String,
    /// In ringproof's form (`{code}`, `{brand}`, `{time-limit}`, `{time-limit-unit}`).
    pub text: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Checks a template name: 1 to [`MAX_NAME`] of `A-Z a-z 0-9 _ -` (Vonage's alphabet).
pub fn check_name(name: &str) -> Result<(), CoreError> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} letters, digits, '_' or '-'"),
        ))
    }
}

/// A fragment's locale, lowercase with `-` (`en-US` and `en_us` read `en-us`): a language
/// the catalogue has, optionally with a region ([`Locale::parse`]).
pub fn parse_locale(tag: &str) -> Result<String, CoreError> {
    let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
    Locale::check_tag(&tag, "en-us")?;
    Ok(tag)
}

/// Checks a fragment's text: an SMS text's rules ([`crate::engine`]'s custom SMS: 1 to
/// 480 printable characters), `{code}` in it, and no placeholder but
/// [`PLACEHOLDERS`] (a `{` followed by lowercase letters and `-` and a `}`).
pub fn check_text(text: &str) -> Result<(), CoreError> {
    crate::engine::link::check_sms_text("text", text)?;
    if !text.contains("{code}") {
        return Err(CoreError::invalid("text", "must contain ${code}"));
    }
    for name in placeholders(text) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(CoreError::invalid(
                "text",
                format!(
                    "has an unknown placeholder ${{{name}}} (only ${{code}}, ${{brand}}, ${{time-limit}}, ${{time-limit-unit}})"
                ),
            ));
        }
    }
    Ok(())
}

/// The `{name}` placeholders of a text (names of lowercase letters and `-`).
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('{').filter_map(move |(at, _)| {
        let rest = &text[at + 1..];
        let end = rest.find('}')?;
        let name = &rest[..end];
        (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')).then_some(name)
    })
}

/// The fragment of `fragments` for `channel` and a verification's `locale`: the one of the
/// same tag, else the oldest of the same language.
pub fn pick<'a>(fragments: &'a [TemplateFragment], channel: Channel, locale: &str) -> Option<&'a TemplateFragment> {
    let want = locale.replace('_', "-").to_ascii_lowercase();
    let language = Locale::parse(&want);
    let of_channel = || fragments.iter().filter(move |f| f.channel == channel);
    of_channel().find(|f| f.locale == want).or_else(|| {
        let language = language?;
        of_channel()
            .filter(|f| Locale::parse(&f.locale) == Some(language))
            .min_by_key(|f| (f.created_at, f.id.clone()))
    })
}

/// A fragment's text as the verification's template: `{time-limit}` and
/// `{time-limit-unit}` filled in from how long the code is valid (`5`, `minutes`);
/// `{code}` and `{brand}` stay for [`crate::message`] to fill at each send.
pub fn with_time_limit(text: &str, valid_for_s: u32) -> String {
    let phrase = duration_phrase(valid_for_s);
    let (n, unit) = phrase.split_once(' ').unwrap_or((phrase.as_str(), ""));
    text.replace("{time-limit-unit}", unit).replace("{time-limit}", n)
}

/// The page size of a list without `page_size`, and the largest one allowed.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// A page of a list as `(offset, limit)`: `page` from 1 (default 1), `page_size` 1 to
/// [`MAX_PAGE_SIZE`] (default [`DEFAULT_PAGE_SIZE`]).
pub fn page_window(page: Option<u64>, page_size: Option<u64>) -> Result<(u64, u64), CoreError> {
    let size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(CoreError::invalid("page_size", format!("must be 1 to {MAX_PAGE_SIZE}")));
    }
    let page = page.unwrap_or(1);
    if page == 0 || page > 1_000_000 {
        return Err(CoreError::invalid("page", "must be 1 or more"));
    }
    Ok(((page - 1) * size, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(channel: Channel, locale: &str, at: i64) -> TemplateFragment {
        TemplateFragment {
            id: format!("f{at}"),
            client_id: ClientId::generate(),
            template_id: "t".into(),
            channel,
            locale: locale.into(),
            text: format!("{locale} {{code}}"),
            created_at: Timestamp(at),
            updated_at: Timestamp(at),
        }
    }

    #[test]
    fn names_locales_and_texts() {
        assert!(check_name("my-template_1").is_ok());
        for bad in ["", "a b", "é", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_locale("en-US").unwrap(), "en-us");
        assert_eq!(parse_locale("pt_BR").unwrap(), "pt-br");
        assert!(parse_locale("nl-nl").is_err());
        assert!(parse_locale("en us").is_err());
        assert!(check_text("Your ${code}".replace("${", "{").as_str()).is_ok());
        assert!(check_text("{brand} {code} valid {time-limit} {time-limit-unit}").is_ok());
        assert!(check_text("{brand} only").is_err());
        assert!(check_text("{code} {name}").is_err());
        // Braces that are not a placeholder are text.
        assert!(check_text("{code} {A} {} {1}").is_ok());
        assert!(check_text(&format!("{{code}}{}", "x".repeat(480))).is_err());
        assert!(check_text("{code}\u{7}").is_err());
    }

    #[test]
    fn picks_the_tag_then_the_language_then_nothing() {
        let fs = vec![
            fragment(Channel::Sms, "es-mx", 3),
            fragment(Channel::Sms, "es-es", 2),
            fragment(Channel::Voice, "en-us", 1),
            fragment(Channel::Sms, "en-gb", 4),
        ];
        assert_eq!(pick(&fs, Channel::Sms, "es-MX").unwrap().locale, "es-mx");
        // No tag of its own: the oldest of the language.
        assert_eq!(pick(&fs, Channel::Sms, "es").unwrap().locale, "es-es");
        assert_eq!(pick(&fs, Channel::Sms, "es-ar").unwrap().locale, "es-es");
        assert_eq!(pick(&fs, Channel::Sms, "en-us").unwrap().locale, "en-gb");
        assert_eq!(pick(&fs, Channel::Voice, "en").unwrap().locale, "en-us");
        assert!(pick(&fs, Channel::Voice, "es-es").is_none());
        assert!(pick(&fs, Channel::Sms, "fr").is_none());
    }

    #[test]
    fn pages() {
        assert_eq!(page_window(None, None).unwrap(), (0, 20));
        assert_eq!(page_window(Some(3), Some(2)).unwrap(), (4, 2));
        assert!(page_window(Some(0), None).is_err());
        assert!(page_window(None, Some(0)).is_err());
        assert!(page_window(None, Some(101)).is_err());
    }

    #[test]
    fn time_limits_are_filled_at_the_start() {
        assert_eq!(
            with_time_limit("{code} valid {time-limit} {time-limit-unit}", 300),
            "{code} valid 5 minutes"
        );
        assert_eq!(with_time_limit("{time-limit} {time-limit-unit}", 60), "1 minute");
        assert_eq!(with_time_limit("{time-limit} {time-limit-unit}", 90), "90 seconds");
    }
}
