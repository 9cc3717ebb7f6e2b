//! Text to `short_message` octets: GSM 03.38 (data_coding 0) when every character has a
//! GSM-7 code, else UCS-2 (data_coding 8, UTF-16BE), and the split of a long text into
//! concatenated parts with a user data header (UDH).
//!
//! GSM-7 is sent *unpacked*, one septet per octet, as SMPP 3.4 carries the SMSC default
//! alphabet (the SMSC packs it for the air interface); the alphabet and its extension
//! table are [`crate::gsm7`]'s.
//!
//! | | single message | one part of a long one |
//! |---|---|---|
//! | GSM-7 | 160 septets | 153 septets (+ 6-octet UDH = 7 septets on the air) |
//! | UCS-2 | 70 UTF-16 units | 67 UTF-16 units (+ 6-octet UDH) |
//!
//! A part never ends between an escape and its character, nor between the two halves of
//! a UTF-16 surrogate pair.

use crate::gsm7::{ESC, gsm7_encode};

/// SMPP `data_coding` of the SMSC default alphabet (GSM 03.38 here).
pub const DC_GSM7: u8 = 0x00;
/// SMPP `data_coding` of UCS-2 (UTF-16BE).
pub const DC_UCS2: u8 = 0x08;

/// At most this many parts: a one-octet UDH sequence number allows 255, and no OTP text
/// comes near it.
pub const MAX_PARTS: usize = 255;

const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;
/// One `submit_sm`'s worth of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub data_coding: u8,
    /// The UDH (`05 00 03 ref total seq`) when the message has several parts; `esm_class`
    /// then carries the UDHI bit (0x40).
    pub udh: Option<[u8; 6]>,
    /// The encoded text of this part (without the UDH).
    pub payload: Vec<u8>,
}

impl Part {
    /// The `short_message` octets: the UDH, if any, then the payload.
    pub fn short_message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.payload.len());
        if let Some(udh) = &self.udh {
            out.extend_from_slice(udh);
        }
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Why a text cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the text is empty")]
    Empty,
    #[error("the text needs more than {MAX_PARTS} parts")]
    TooLong,
}

/// Encodes `text` and splits it into parts; `reference` is the concatenation reference
/// shared by the parts of one message (an 8-bit counter is enough: it only has to differ
/// between long messages to one handset that are in flight at the same time).
pub fn split(text: &str, reference: u8) -> Result<Vec<Part>, SplitError> {
    if text.is_empty() {
        return Err(SplitError::Empty);
    }
    let (data_coding, chunks) = match gsm7_encode(text) {
        Some(septets) if septets.len() <= GSM7_SINGLE => (DC_GSM7, vec![septets]),
        Some(septets) => (DC_GSM7, chunk(&septets, GSM7_PART, |s, i| s[i - 1] == ESC)),
        None => {
            let units: Vec<u16> = text.encode_utf16().collect();
            let chunks = if units.len() <= UCS2_SINGLE {
                vec![units]
            } else {
                // A chunk must not end on a high surrogate (the first half of a pair).
                chunk(&units, UCS2_PART, |u, i| (0xD800..0xDC00).contains(&u[i - 1]))
            };
            let bytes = chunks
                .into_iter()
                .map(|c| c.into_iter().flat_map(u16::to_be_bytes).collect())
                .collect();
            (DC_UCS2, bytes)
        }
    };
    if chunks.len() > MAX_PARTS {
        return Err(SplitError::TooLong);
    }
    let total = chunks.len() as u8;
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, payload)| Part {
            data_coding,
            udh: (total > 1).then_some([0x05, 0x00, 0x03, reference, total, i as u8 + 1]),
            payload,
        })
        .collect())
}

/// Cuts `items` into chunks of at most `max`, moving a cut one item back where
/// `splits_pair(items, cut)` says the cut would separate a pair.
fn chunk<T: Copy>(items: &[T], max: usize, splits_pair: impl Fn(&[T], usize) -> bool) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = (start + max).min(items.len());
        if end < items.len() && splits_pair(items, end) {
            end -= 1;
        }
        out.push(items[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7::gsm7_decode;

    #[test]
    fn short_texts_are_one_part_without_udh() {
        let p = split("Your code is 123456", 7).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].data_coding, p[0].udh), (DC_GSM7, None));
        assert_eq!(p[0].short_message(), b"Your code is 123456".to_vec());
        // Exactly 160 septets still fit one message; 161 do not.
        assert_eq!(split(&"x".repeat(160), 0).unwrap().len(), 1);
        assert_eq!(split(&"x".repeat(161), 0).unwrap().len(), 2);
        // An extension character counts twice: 80 of them are 160 septets.
        assert_eq!(split(&"€".repeat(80), 0).unwrap().len(), 1);
        assert_eq!(split(&"€".repeat(81), 0).unwrap().len(), 2);

        let u = split("Код: 123", 0).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].data_coding, DC_UCS2);
        assert_eq!(&u[0].payload[..4], &[0x04, 0x1A, 0x04, 0x3E]);
        assert_eq!(split(&"ж".repeat(70), 0).unwrap().len(), 1);
        assert_eq!(split(&"ж".repeat(71), 0).unwrap().len(), 2);
        assert_eq!(split("", 0), Err(SplitError::Empty));
    }

    #[test]
    fn long_gsm7_parts_carry_udh_and_reassemble() {
        let text: String = (0..400).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let parts = split(&text, 0x2A).unwrap();
        assert_eq!(parts.len(), 3);
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.udh, Some([5, 0, 3, 0x2A, 3, i as u8 + 1]));
            assert!(p.payload.len() <= 153);
        }
        assert_eq!(parts[0].payload.len(), 153);
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(gsm7_decode(&joined), text);
    }

    #[test]
    fn escapes_and_surrogates_are_never_cut() {
        // 152 plain septets, then a two-septet € would straddle the 153 boundary.
        let text = "a".repeat(152) + "€" + &"b".repeat(20);
        let parts = split(&text, 1).unwrap();
        assert_eq!(parts[0].payload.len(), 152);
        assert_eq!(parts[1].payload[..2], [0x1B, 0x65]);
        let joined: Vec<u8> = parts.iter().flat_map(|p| p.payload.clone()).collect();
        assert_eq!(gsm7_decode(&joined), text);

        // 66 BMP units, then an emoji (a surrogate pair) would straddle the 67 boundary.
        let text = "ж".repeat(66) + "😀" + &"ж".repeat(10);
        let parts = split(&text, 1).unwrap();
        assert_eq!(parts[0].payload.len(), 66 * 2);
        let units: Vec<u16> = parts
            .iter()
            .flat_map(|p| p.payload.chunks(2).map(|b| u16::from_be_bytes([b[0], b[1]])))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), text);
    }

    #[test]
    fn too_long() {
        assert_eq!(split(&"x".repeat(153 * 255), 0).unwrap().len(), 255);
        assert_eq!(split(&"x".repeat(153 * 255 + 1), 0), Err(SplitError::TooLong));
    }
}
