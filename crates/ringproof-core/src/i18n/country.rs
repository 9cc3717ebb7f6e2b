//! The language of a destination when a verification names none: the country of its
//! number decides, as Twilio Verify does ("the locale will automatically resolve based on
//! the country code of the phone number provided … with `en` … as the fallback",
//! <https://www.twilio.com/docs/verify/supported-languages>; its table is
//! <https://www.twilio.com/docs/verify/default-phone-verification-languages>).
//!
//! [`COUNTRIES`] is Twilio's table where it names one of the catalogue's languages
//! (India stays English there, and here: English is the language shared across India's
//! states, and a Hindi text would be foreign to many of its numbers), plus a few
//! countries Twilio leaves English whose main written language the catalogue has
//! (Russia, Taiwan, Hong Kong, more Arabic-, Spanish- and Portuguese-speaking
//! countries); docs/locales.md lists them. Countries are ISO 3166 region codes, so the
//! Dominican Republic (+1 809) is Spanish while the rest of +1 stays English.

use super::Locale;

/// Region code → language, for the countries whose default is not English: Twilio's,
/// and those marked `added`. Sorted by region code (a test checks), so a lookup is a
/// binary search.
pub const COUNTRIES: &[(&str, Locale)] = &[
    ("AE", Locale::Ar),
    ("AO", Locale::Pt), // added
    ("AR", Locale::Es),
    ("AT", Locale::De),
    ("BE", Locale::Fr),
    ("BH", Locale::Ar), // added
    ("BO", Locale::Es),
    ("BR", Locale::Pt),
    ("CH", Locale::De),
    ("CL", Locale::Es),
    ("CN", Locale::Zh),
    ("CO", Locale::Es),
    ("CR", Locale::Es),
    ("CU", Locale::Es),
    ("DE", Locale::De),
    ("DO", Locale::Es),
    ("DZ", Locale::Ar), // added
    ("EC", Locale::Es),
    ("EG", Locale::Ar),
    ("ES", Locale::Es),
    ("FR", Locale::Fr),
    ("GT", Locale::Es),
    ("HK", Locale::Zh), // added
    ("HN", Locale::Es),
    ("ID", Locale::Id),
    ("IQ", Locale::Ar), // added
    ("IT", Locale::It),
    ("JO", Locale::Ar), // added
    ("JP", Locale::Ja),
    ("KW", Locale::Ar),
    ("LB", Locale::Ar), // added
    ("LI", Locale::De), // added
    ("LU", Locale::De),
    ("LY", Locale::Ar), // added
    ("MA", Locale::Ar), // added
    ("MC", Locale::Fr),
    ("MO", Locale::Zh), // added
    ("MX", Locale::Es),
    ("MZ", Locale::Pt), // added
    ("NI", Locale::Es),
    ("OM", Locale::Ar),
    ("PA", Locale::Es),
    ("PE", Locale::Es),
    ("PS", Locale::Ar), // added
    ("PT", Locale::Pt),
    ("PY", Locale::Es),
    ("QA", Locale::Ar), // added
    ("RU", Locale::Ru), // added
    ("SA", Locale::Ar),
    ("SM", Locale::It),
    ("SV", Locale::Es),
    ("SY", Locale::Ar), // added
    ("TN", Locale::Ar), // added
    ("TW", Locale::Zh), // added
    ("UY", Locale::Es),
    ("VA", Locale::It),
    ("VE", Locale::Es),
    ("YE", Locale::Ar), // added
];

impl Locale {
    /// The default language of a country (an ISO 3166 region code such as `ES`, as
    /// [`crate::phone::PhoneNumber::region`] gives it): [`COUNTRIES`], else English.
    pub fn of_country(region: Option<&str>) -> Locale {
        region
            .and_then(|r| COUNTRIES.binary_search_by(|(c, _)| (*c).cmp(r)).ok())
            .and_then(|i| COUNTRIES.get(i))
            .map_or(Locale::En, |(_, l)| *l)
    }
}

/// The region of a BCP 47 tag, upper-cased: its first subtag after the language that is
/// two letters or three digits (`pt-BR` → `BR`, `zh-Hant-TW` → `TW`, `es-419` → `419`,
/// `pt_br` → `BR`); `None` without one. Text-to-speech voices are chosen by it.
pub fn region(tag: &str) -> Option<String> {
    tag.trim()
        .split(['-', '_'])
        .skip(1)
        .find(|s| {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()))
                || (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_names_no_english_country() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no duplicate");
        assert!(COUNTRIES.iter().all(|(_, l)| *l != Locale::En));
        assert!(
            COUNTRIES
                .iter()
                .all(|(c, _)| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn a_country_picks_its_language_and_any_other_english() {
        for (region, want) in [
            ("ES", Locale::Es),
            ("MX", Locale::Es),
            ("DO", Locale::Es),
            ("FR", Locale::Fr),
            ("AT", Locale::De),
            ("BR", Locale::Pt),
            ("PT", Locale::Pt),
            ("IT", Locale::It),
            ("SA", Locale::Ar),
            ("CN", Locale::Zh),
            ("TW", Locale::Zh), // added
            ("JP", Locale::Ja),
            ("RU", Locale::Ru), // added
            ("ID", Locale::Id),
            ("IN", Locale::En),
            ("US", Locale::En),
            ("GB", Locale::En),
            ("PR", Locale::En),
            ("ZZ", Locale::En),
            ("", Locale::En),
        ] {
            assert_eq!(Locale::of_country(Some(region)), want, "{region}");
        }
        assert_eq!(Locale::of_country(None), Locale::En);
    }

    #[test]
    fn regions_of_tags() {
        assert_eq!(region("pt-BR").as_deref(), Some("BR"));
        assert_eq!(region("pt_br").as_deref(), Some("BR"));
        assert_eq!(region("zh-Hant-TW").as_deref(), Some("TW"));
        assert_eq!(region("es-419").as_deref(), Some("419"));
        assert_eq!(region("en"), None);
        assert_eq!(region("zh-Hans"), None);
        assert_eq!(region(""), None);
    }
}
