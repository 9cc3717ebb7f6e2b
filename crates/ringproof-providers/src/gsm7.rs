//! The GSM 03.38 default alphabet (GSM-7): whether a text can travel as GSM-7, and its
//! septets. One table for every provider that must choose between GSM-7 and UCS-2
//! ([`smpp`](crate::smpp) encodes with it; [`vonage`](crate::vonage) picks
//! `type=unicode` by it).
//!
//! Septets here are *unpacked*, one per octet (as SMPP 3.4 carries the SMSC default
//! alphabet). The extension table's characters (`{}[]~\^|€` and form feed) take two
//! septets: the escape 0x1B and their code.

/// The escape to the extension table.
pub(crate) const ESC: u8 = 0x1B;

/// The GSM 03.38 default alphabet, by code (0x1B, the escape, is never looked up).
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The GSM 03.38 extension table (after the escape).
const EXTENSION: [(char, u8); 10] = [
    ('\u{0C}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

/// The septets of `c`: one code, or the escape and an extension code. `None` if GSM-7
/// has no such character.
fn gsm7_char(c: char) -> Option<(u8, Option<u8>)> {
    if c != '\u{1B}'
        && let Some(i) = BASIC.iter().position(|&b| b == c)
    {
        return Some((i as u8, None));
    }
    EXTENSION
        .iter()
        .find(|(e, _)| *e == c)
        .map(|&(_, code)| (ESC, Some(code)))
}

/// Whether every character of `text` has a GSM-7 code (basic set or extension table);
/// otherwise an SMS must go as UCS-2 (or Vonage's `type=unicode`) or it arrives garbled.
pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| gsm7_char(c).is_some())
}

/// `text` as unpacked GSM-7 septets, or `None` if a character has no GSM-7 code.
pub fn gsm7_encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let (a, b) = gsm7_char(c)?;
        out.push(a);
        out.extend(b);
    }
    Some(out)
}

/// Unpacked GSM-7 septets back to text (for tests and diagnostics). Unknown codes become
/// `?`.
pub fn gsm7_decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut it = septets.iter();
    while let Some(&s) = it.next() {
        if s == ESC {
            let code = it.next().copied().unwrap_or(0);
            out.push(EXTENSION.iter().find(|(_, c)| *c == code).map_or('?', |(ch, _)| *ch));
        } else {
            out.push(BASIC.get(usize::from(s)).copied().unwrap_or('?'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_basic_and_extension() {
        assert_eq!(gsm7_encode("@A a0").unwrap(), vec![0x00, 0x41, 0x20, 0x61, 0x30]);
        assert_eq!(
            gsm7_encode("£$¥èéùìòÇ\nØø\rÅå").unwrap(),
            (0x00..=0x0F).skip(1).collect::<Vec<u8>>()
        );
        assert_eq!(
            gsm7_encode("_ΔÆæßÉ¡§¿à").unwrap(),
            vec![0x11, 0x10, 0x1C, 0x1D, 0x1E, 0x1F, 0x40, 0x5F, 0x60, 0x7F]
        );
        assert_eq!(
            gsm7_encode("{}[]~\\^|€").unwrap(),
            vec![
                0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x3C, 0x1B, 0x3E, 0x1B, 0x3D, 0x1B, 0x2F, 0x1B, 0x14, 0x1B, 0x40, 0x1B,
                0x65
            ]
        );
        // No GSM-7 code: UCS-2 is needed.
        for s in ["ç", "привет", "你好", "😀", "`", "\u{1B}"] {
            assert_eq!(gsm7_encode(s), None, "{s}");
        }
        let all: String = BASIC.iter().filter(|&&c| c != '\u{1B}').collect::<String>() + "{}[]~\\^|€\u{0C}";
        assert_eq!(gsm7_decode(&gsm7_encode(&all).unwrap()), all);
    }
}
