//! Every language's verification SMS fits one segment: 160 GSM-7 septets, or 70 UCS-2
//! characters when the text needs a character outside the GSM 03.38 alphabet (as the
//! SMPP and Vonage providers send it, by [`ringproof_providers::gsm7`]). Measured with a
//! 40-character brand and a 10-digit code, the longest a verification may have. The
//! encodings and the room left are the table of docs/locales.md.

use ringproof_core::code::Code;
use ringproof_core::i18n::Locale;
use ringproof_core::message::sms_text;
use ringproof_providers::gsm7::{gsm7_encode, is_gsm7};

/// As long as a brand may be (`brand`: 1 to 40 characters).
const BRAND: &str = "Forty Characters Brand Name Of Acme Corp";

/// (language, needs UCS-2, characters left in the one segment).
const BUDGETS: [(&str, bool, usize); 12] = [
    ("en", false, 82),
    ("es", true, 2),
    ("fr", false, 76),
    ("de", false, 76),
    ("pt", true, 5),
    ("it", false, 80),
    ("hi", true, 6),
    ("ar", true, 4),
    ("zh", true, 11),
    ("ja", true, 13),
    ("ru", true, 0),
    ("id", false, 80),
];

/// A segment's length of `text` and its capacity: GSM-7 septets of 160, or UTF-16 units
/// of 70.
fn measure(text: &str) -> (bool, usize, usize) {
    match gsm7_encode(text) {
        Some(septets) => (false, septets.len(), 160),
        None => (true, text.encode_utf16().count(), 70),
    }
}

#[test]
fn every_languages_sms_fits_one_segment() {
    assert_eq!(BRAND.chars().count(), 40);
    let code = Code::from_digits("0123456789").unwrap();
    let mut seen = Vec::new();
    for (tag, ucs2, room) in BUDGETS {
        let l = Locale::parse(tag).unwrap();
        let text = sms_text(BRAND, &code, None, tag);
        let (is_ucs2, len, cap) = measure(&text);
        assert_eq!(is_ucs2, ucs2, "{tag}: {text}");
        assert_eq!(is_ucs2, !is_gsm7(&text), "{tag}");
        assert!(len <= cap, "{tag}: {len} > {cap}: {text}");
        assert_eq!(cap - len, room, "{tag}: the room docs/locales.md states");
        seen.push(l);
    }
    assert_eq!(seen, Locale::ALL, "one row per language, in the catalogue's order");
}

/// (language, needs UCS-2, characters left) of the SMS with the do-not-share warning (a
/// Twilio-face service's `DoNotShareWarningEnabled`): one GSM-7 segment, or two UCS-2
/// segments (67 characters each once a user data header joins them), measured as above.
const DO_NOT_SHARE_BUDGETS: [(&str, bool, usize); 12] = [
    ("en", false, 3),
    ("es", true, 15),
    ("fr", false, 8),
    ("de", false, 17),
    ("pt", true, 8),
    ("it", false, 23),
    ("hi", true, 15),
    ("ar", true, 29),
    ("zh", true, 54),
    ("ja", true, 39),
    ("ru", true, 10),
    ("id", false, 2),
];

#[test]
fn every_languages_do_not_share_sms_fits_its_budget() {
    let code = Code::from_digits("0123456789").unwrap();
    let mut seen = Vec::new();
    for (tag, ucs2, room) in DO_NOT_SHARE_BUDGETS {
        let l = Locale::parse(tag).unwrap();
        let text = sms_text(
            BRAND,
            &code,
            Some(ringproof_core::message::do_not_share_template(tag)),
            tag,
        );
        assert!(text.starts_with(&sms_text(BRAND, &code, None, tag)), "{tag}: {text}");
        let (is_ucs2, len, _) = measure(&text);
        assert_eq!(is_ucs2, ucs2, "{tag}: {text}");
        let cap = if is_ucs2 { 2 * 67 } else { 160 };
        assert!(len <= cap, "{tag}: {len} > {cap}: {text}");
        assert_eq!(cap - len, room, "{tag}: the room docs/locales.md states");
        seen.push(l);
    }
    assert_eq!(seen, Locale::ALL);
}
