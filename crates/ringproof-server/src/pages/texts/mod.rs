//! The page catalogue: every text a page for people shows, in each of core's twelve
//! languages ([`Locale`]), picked by the request's `Accept-Language` ([`negotiate`]; English
//! when nothing listed is in the catalogue).
//!
//! A page family (the link pages `link.rs`, the demo `demo.rs`, …) declares its texts once with [`texts!`]: a
//! struct of `&'static str` fields, one per text. Its catalogue is a [`PerLocale`] of that
//! struct with one value per language, so the compiler refuses a language or a text left
//! out; [`PerLocale::check`] (run by this module's test for every family) refuses an empty
//! text and a translation whose `{placeholders}` differ from English's. A page then does
//! `let t = LINK.get(locale);` and reads `t.expired_title`, filling placeholders with
//! [`fill`] (the values are escaped by the caller, like every text, with
//! [`super::escape`]).
//!
//! Adding a family: a file beside `link.rs` with its `texts! { pub struct … }` and its
//! `pub static …: PerLocale<…>`, declared here, and one line in the test below.

pub mod demo;
pub mod link;

use axum::http::{HeaderMap, header};
pub use ringproof_core::i18n::Locale;

/// The language of the page for this request: the best one of `Accept-Language` the
/// catalogue has, else English.
pub fn negotiate(headers: &HeaderMap) -> Locale {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Locale::from_accept_language)
        .unwrap_or(Locale::En)
}

/// The attributes of a page's `<html>` element: its language, and `dir=rtl` for a
/// language written right to left.
pub fn html_attrs(locale: Locale) -> String {
    if locale.is_rtl() {
        format!("lang={} dir=rtl", locale.tag())
    } else {
        format!("lang={}", locale.tag())
    }
}

/// `text` with each `{name}` replaced by its value. A name without a value stays as it is
/// (the catalogue's test makes sure every translation has English's names).
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A page family's texts as `(name, text)` pairs, for [`PerLocale::check`]. Written by
/// [`texts!`].
pub trait Texts {
    fn entries(&self) -> Vec<(&'static str, &'static str)>;
}

/// Declares a page family's texts: a struct of `&'static str` fields and its [`Texts`].
/// Each field's doc comment says where the text appears (translators read it).
macro_rules! texts {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* $field:ident,)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$fmeta])* pub $field: &'static str,)*
        }

        impl $crate::pages::texts::Texts for $name {
            fn entries(&self) -> Vec<(&'static str, &'static str)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}
pub(crate) use texts;

/// One value per language of the catalogue.
pub struct PerLocale<T: 'static> {
    pub en: T,
    pub es: T,
    pub fr: T,
    pub de: T,
    pub pt: T,
    pub it: T,
    pub hi: T,
    pub ar: T,
    pub zh: T,
    pub ja: T,
    pub ru: T,
    pub id: T,
}

impl<T> PerLocale<T> {
    pub fn get(&self, locale: Locale) -> &T {
        match locale {
            Locale::En => &self.en,
            Locale::Es => &self.es,
            Locale::Fr => &self.fr,
            Locale::De => &self.de,
            Locale::Pt => &self.pt,
            Locale::It => &self.it,
            Locale::Hi => &self.hi,
            Locale::Ar => &self.ar,
            Locale::Zh => &self.zh,
            Locale::Ja => &self.ja,
            Locale::Ru => &self.ru,
            Locale::Id => &self.id,
        }
    }
}

impl<T: Texts> PerLocale<T> {
    /// Every problem of the catalogue, one line each: an empty or padded text, unbalanced
    /// braces, or `{placeholders}` other than English's.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let english = self.en.entries();
        for locale in Locale::ALL {
            for ((name, text), (_, en)) in self.get(locale).entries().into_iter().zip(&english) {
                if text.trim().is_empty() || text.trim() != text {
                    problems.push(format!("{locale} {name}: empty, or spaces around it"));
                }
                match (placeholders(text), placeholders(en)) {
                    (Some(got), Some(want)) if got == want => {}
                    (Some(got), Some(want)) => {
                        problems.push(format!("{locale} {name}: placeholders {got:?}, English has {want:?}"))
                    }
                    _ => problems.push(format!("{locale} {name}: a brace without its pair")),
                }
            }
        }
        problems
    }
}

/// The sorted `{names}` of a text; `None` when a brace has no pair.
fn placeholders(text: &str) -> Option<Vec<&str>> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return None;
        }
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if name.is_empty() || name.contains('{') {
            return None;
        }
        names.push(name);
        rest = &after[close + 1..];
    }
    names.sort_unstable();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family's catalogue: every language has every text (the compiler sees to
    /// that), none empty, each with English's placeholders.
    #[test]
    fn every_locale_has_every_text_with_the_english_placeholders() {
        for (family, problems) in [("link", link::LINK.check()), ("demo", demo::DEMO.check())] {
            assert!(problems.is_empty(), "{family} texts:\n{}", problems.join("\n"));
        }
    }

    #[test]
    fn placeholders_are_read_and_filled() {
        assert_eq!(placeholders("tap {button} or {a}"), Some(vec!["a", "button"]));
        assert_eq!(placeholders("none"), Some(vec![]));
        assert_eq!(placeholders("tap {button"), None);
        assert_eq!(placeholders("tap button}"), None);
        assert_eq!(placeholders("{}"), None);
        assert_eq!(fill("tap {button} now", &[("button", "Continue")]), "tap Continue now");
    }

    #[test]
    fn accept_language_picks_the_page_language_else_english() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_LANGUAGE, axum::http::HeaderValue::from_static(v));
            negotiate(&h)
        };
        assert_eq!(with("ar-EG,ar;q=0.9,en;q=0.5"), Locale::Ar);
        assert_eq!(with("nl-NL,ja;q=0.4"), Locale::Ja);
        assert_eq!(with("nl-NL"), Locale::En);
        assert_eq!(negotiate(&HeaderMap::new()), Locale::En);
        assert_eq!(html_attrs(Locale::Ar), "lang=ar dir=rtl");
        assert_eq!(html_attrs(Locale::Ja), "lang=ja");
    }

    /// A catalogue with a translation that lost its placeholder is caught.
    #[test]
    fn a_lost_placeholder_is_a_problem() {
        texts! {
            pub struct Probe {
                hello,
            }
        }
        let ok = Probe { hello: "tap {button}" };
        let mut c = PerLocale {
            en: Probe { hello: "tap {button}" },
            es: Probe { hello: "toca {button}" },
            fr: Probe {
                hello: "touchez {button}",
            },
            de: Probe {
                hello: "tippen {button}",
            },
            pt: Probe {
                hello: "toque {button}",
            },
            it: Probe {
                hello: "tocca {button}",
            },
            hi: Probe {
                hello: "{button} टैप"
            },
            ar: Probe {
                hello: "اضغط {button}"
            },
            zh: Probe {
                hello: "点按{button}"
            },
            ja: Probe {
                hello: "{button}をタップ",
            },
            ru: Probe {
                hello: "нажмите {button}",
            },
            id: Probe {
                hello: "ketuk {button}",
            },
        };
        assert!(c.check().is_empty(), "{:?}", c.check());
        c.ja = Probe {
            hello: "{ボタン}をタップ",
        };
        c.ru = Probe {
            hello: " нажмите {button}",
        };
        assert_eq!(c.check().len(), 2, "{:?}", c.check());
        assert_eq!(ok.entries(), vec![("hello", "tap {button}")]);
    }
}
