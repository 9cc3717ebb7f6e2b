//! The languages ringproof speaks: SMS texts, voice scripts and the pages people see.
//!
//! A [`Locale`] is one of the catalogue's languages. A verification keeps the tag it was
//! given (`pt-BR`, `zh-HK`): providers' text-to-speech voices want the region, the
//! catalogue only the language. [`Locale::parse`] maps a tag to its language and refuses a
//! language the catalogue does not have (an unknown `locale` is a 4xx, never a silent
//! fallback). Pages pick theirs from `Accept-Language` with
//! [`Locale::from_accept_language`], where an unknown language is skipped and English is
//! the last resort.
//!
//! [`messages`] holds each language's SMS, call and link texts ([`Locale::texts`]);
//! [`country`] the language of a destination that names none ([`Locale::of_country`]).

pub mod country;
pub mod messages;

use std::fmt;

/// A language of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    En,
    Es,
    Fr,
    De,
    Pt,
    It,
    Hi,
    Ar,
    Zh,
    Ja,
    Ru,
    Id,
}

impl Locale {
    /// Every language, English first.
    pub const ALL: [Locale; 12] = [
        Locale::En,
        Locale::Es,
        Locale::Fr,
        Locale::De,
        Locale::Pt,
        Locale::It,
        Locale::Hi,
        Locale::Ar,
        Locale::Zh,
        Locale::Ja,
        Locale::Ru,
        Locale::Id,
    ];

    /// The ISO 639-1 code (`en`, `pt`): what `<html lang>` carries.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::Fr => "fr",
            Locale::De => "de",
            Locale::Pt => "pt",
            Locale::It => "it",
            Locale::Hi => "hi",
            Locale::Ar => "ar",
            Locale::Zh => "zh",
            Locale::Ja => "ja",
            Locale::Ru => "ru",
            Locale::Id => "id",
        }
    }

    /// The language's own name for itself (for a language picker).
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Es => "Español",
            Locale::Fr => "Français",
            Locale::De => "Deutsch",
            Locale::Pt => "Português",
            Locale::It => "Italiano",
            Locale::Hi => "हिन्दी",
            Locale::Ar => "العربية",
            Locale::Zh => "中文",
            Locale::Ja => "日本語",
            Locale::Ru => "Русский",
            Locale::Id => "Bahasa Indonesia",
        }
    }

    /// Written right to left (`<html dir=rtl>`).
    pub fn is_rtl(self) -> bool {
        self == Locale::Ar
    }

    /// `Ok` when `tag` is well formed (1 to 16 letters, digits, `-` or `_`) and names a
    /// language the catalogue has ([`Locale::parse`]); else the 400 on `locale` that names
    /// the supported languages, `example` showing a tag with a region.
    pub fn check_tag(tag: &str, example: &str) -> Result<(), crate::error::CoreError> {
        let well_formed =
            (1..=16).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        match Locale::parse(tag) {
            Some(_) if well_formed => Ok(()),
            _ => {
                let supported: Vec<&str> = Locale::ALL.iter().map(|l| l.tag()).collect();
                Err(crate::error::CoreError::invalid(
                    "locale",
                    format!(
                        "must be a supported language ({}), optionally with a region such as \"{example}\"",
                        supported.join(", ")
                    ),
                ))
            }
        }
    }

    /// The language of a BCP 47 tag (`pt-BR`, `zh_Hant`, `EN`): its first subtag, case
    /// and `_` forgiven. `in` is the old code of Indonesian. `None` for a language the
    /// catalogue does not have, or for something that is not a tag.
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim();
        if tag.is_empty() || tag.len() > 35 || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let lang = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Some(match lang.as_str() {
            "en" => Locale::En,
            "es" => Locale::Es,
            "fr" => Locale::Fr,
            "de" => Locale::De,
            "pt" => Locale::Pt,
            "it" => Locale::It,
            "hi" => Locale::Hi,
            "ar" => Locale::Ar,
            "zh" => Locale::Zh,
            "ja" => Locale::Ja,
            "ru" => Locale::Ru,
            "id" | "in" => Locale::Id,
            _ => return None,
        })
    }

    /// The best language for an `Accept-Language` header (RFC 9110 §12.5.4): the highest
    /// `q` the catalogue has, the earlier on a tie; `q=0` means "not this one". `None` when
    /// nothing listed is in the catalogue (the caller falls back to English).
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(u16, Locale)> = None;
        for item in header.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(range) = parts.next().map(str::trim) else {
                continue;
            };
            let q = parts
                .find_map(|p| {
                    let (name, value) = p.trim().split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then(|| parse_q(value))
                })
                .unwrap_or(Some(1000));
            let Some(q) = q.filter(|q| *q > 0) else { continue };
            let Some(locale) = Locale::parse(range) else { continue };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, locale));
            }
        }
        best.map(|(_, l)| l)
    }
}

/// A `q` value in thousandths (`0.8` → 800); `None` when it is not one.
fn parse_q(s: &str) -> Option<u16> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let milli = match int {
        "0" => format!("{frac:0<3}").parse::<u16>().ok()?,
        "1" if frac.bytes().all(|b| b == b'0') => 1000,
        _ => return None,
    };
    Some(milli)
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_to_their_language() {
        for l in Locale::ALL {
            assert_eq!(Locale::parse(l.tag()), Some(l));
            assert_eq!(Locale::parse(&l.tag().to_uppercase()), Some(l));
        }
        assert_eq!(Locale::parse("pt-BR"), Some(Locale::Pt));
        assert_eq!(Locale::parse("zh_Hant_HK"), Some(Locale::Zh));
        assert_eq!(Locale::parse("in"), Some(Locale::Id));
        assert_eq!(Locale::parse("nl"), None);
        assert_eq!(Locale::parse("english"), None);
        assert_eq!(Locale::parse(""), None);
        assert_eq!(Locale::parse("en US"), None);
        assert!(Locale::Ar.is_rtl() && !Locale::Ja.is_rtl());
    }

    #[test]
    fn accept_language_takes_the_best_known_language() {
        let best = Locale::from_accept_language;
        assert_eq!(best("ja,en;q=0.8"), Some(Locale::Ja));
        assert_eq!(best("nl-NL, de;q=0.5, fr;q=0.7"), Some(Locale::Fr));
        assert_eq!(best("ar-EG;q=0.9, en;q=0.9"), Some(Locale::Ar));
        assert_eq!(best("en;q=0, ru;q=0.1"), Some(Locale::Ru));
        assert_eq!(
            best("en;Q=0, ru;q=0.1"),
            Some(Locale::Ru),
            "parameter names ignore case"
        );
        assert_eq!(best("nl, sv"), None);
        assert_eq!(best("*"), None);
        assert_eq!(best("es;q=2, it"), Some(Locale::It));
        assert_eq!(best(""), None);
    }
}
