//! Delivery receipts carried by `deliver_sm`: the SMPP 3.4 Appendix B text
//! (`id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:… text:…`) and the
//! TLVs `receipted_message_id` + `message_state`, which win when both are present.
//!
//! | `stat:` | `message_state` | [`DeliveryStatus`] |
//! |---|---|---|
//! | DELIVRD | 2 DELIVERED | Delivered |
//! | UNDELIV | 5 UNDELIVERABLE | Undelivered |
//! | EXPIRED | 3 EXPIRED | Undelivered (the handset stayed unreachable for the validity period) |
//! | REJECTD | 8 REJECTED | Failed |
//! | DELETED | 4 DELETED | Failed |
//! | UNKNOWN | 7 UNKNOWN | Failed |
//! | ACCEPTD, ENROUTE | 6 ACCEPTED, 1 ENROUTE | Sent (an intermediate state) |
//!
//! The reason of a receipt that is not Delivered is the state and the SMSC's `err:` code
//! (e.g. `UNDELIV err:001`); the `text:` field (the start of the message, which may hold
//! the code) is never read.

use ringproof_core::ports::DeliveryStatus;

use super::pdu::DeliverSm;

/// `esm_class` message types (bits 5–2) that carry a receipt.
const ESM_TYPE_MASK: u8 = 0x3C;
const ESM_DELIVERY_RECEIPT: u8 = 0x04;
const ESM_INTERMEDIATE: u8 = 0x20;

/// A receipt read from a `deliver_sm`, before the provider name is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub message_id: String,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
}

/// The receipt in `d`, if it is one: `None` for a mobile-originated message or a receipt
/// without an id or a state we know.
pub fn from_deliver_sm(d: &DeliverSm) -> Option<Parsed> {
    let kind = d.esm_class & ESM_TYPE_MASK;
    let is_receipt = kind == ESM_DELIVERY_RECEIPT || kind == ESM_INTERMEDIATE || d.receipted_message_id.is_some();
    if !is_receipt {
        return None;
    }
    // The receipt text is ASCII; decode it as Latin-1 so no octet is lost.
    let text: String = d.message.iter().map(|&b| char::from(b)).collect();
    let from_text = parse_text(&text);
    let message_id = d
        .receipted_message_id
        .clone()
        .or_else(|| from_text.as_ref().map(|t| t.0.clone()))?;
    let err = field(&text, "err").filter(|e| !e.is_empty());
    let (state, status) = match d.message_state.and_then(state_from_tlv) {
        Some(s) => s,
        None => {
            let stat = from_text.map(|t| t.1)?;
            state_from_stat(&stat)?
        }
    };
    let reason = (status != DeliveryStatus::Delivered).then(|| match err {
        Some(e) => format!("{state} err:{e}"),
        None => state.to_owned(),
    });
    Some(Parsed {
        message_id,
        status,
        reason,
    })
}

/// `(id, stat)` of a receipt text.
pub fn parse_text(text: &str) -> Option<(String, String)> {
    let id = field(text, "id").filter(|s| !s.is_empty())?;
    let stat = field(text, "stat").filter(|s| !s.is_empty())?;
    Some((id.to_owned(), stat.to_ascii_uppercase()))
}

/// The value of `key:` in a receipt text: the key matched case-insensitively at the start
/// or after a space, the value up to the next whitespace. Only the header before `text:`
/// is searched: the `text:` part repeats the start of the SMS, which holds the code.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let head = text
        .len()
        .min(text.to_ascii_lowercase().find(" text:").unwrap_or(text.len()));
    let text = &text[..head];
    let lower = text.to_ascii_lowercase();
    let pat = format!("{key}:");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&pat) {
        let at = from + i;
        if at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace() {
            let start = at + pat.len();
            let rest = &text[start..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            return Some(&rest[..end]);
        }
        from = at + pat.len();
    }
    None
}

fn state_from_stat(stat: &str) -> Option<(&'static str, DeliveryStatus)> {
    Some(match stat {
        "DELIVRD" => ("DELIVRD", DeliveryStatus::Delivered),
        "UNDELIV" => ("UNDELIV", DeliveryStatus::Undelivered),
        "EXPIRED" => ("EXPIRED", DeliveryStatus::Undelivered),
        "REJECTD" => ("REJECTD", DeliveryStatus::Failed),
        "DELETED" => ("DELETED", DeliveryStatus::Failed),
        "UNKNOWN" => ("UNKNOWN", DeliveryStatus::Failed),
        "ACCEPTD" => ("ACCEPTD", DeliveryStatus::Sent),
        "ENROUTE" => ("ENROUTE", DeliveryStatus::Sent),
        _ => return None,
    })
}

fn state_from_tlv(state: u8) -> Option<(&'static str, DeliveryStatus)> {
    state_from_stat(match state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        7 => "UNKNOWN",
        8 => "REJECTD",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(text: &str) -> DeliverSm {
        DeliverSm {
            esm_class: 0x04,
            message: text.as_bytes().to_vec(),
            ..DeliverSm::default()
        }
    }

    #[test]
    fn appendix_b_text() {
        let t = "id:0123456789 sub:001 dlvrd:001 submit date:2611220500 done date:2611220501 stat:DELIVRD err:000 text:Your code is";
        assert_eq!(parse_text(t), Some(("0123456789".into(), "DELIVRD".into())));
        assert_eq!(
            from_deliver_sm(&receipt(t)),
            Some(Parsed {
                message_id: "0123456789".into(),
                status: DeliveryStatus::Delivered,
                reason: None
            })
        );
        let t = "id:7f3a sub:001 dlvrd:000 submit date:2611220500 done date:2611220501 stat:UNDELIV err:001 text:";
        assert_eq!(
            from_deliver_sm(&receipt(t)),
            Some(Parsed {
                message_id: "7f3a".into(),
                status: DeliveryStatus::Undelivered,
                reason: Some("UNDELIV err:001".into())
            })
        );
        // Keys in any case, fields in any order, `text:` never mistaken for a field.
        let t = "Stat:expired ID:abc text:id:zzz stat:DELIVRD";
        let p = from_deliver_sm(&receipt(t)).unwrap();
        assert_eq!((p.message_id.as_str(), p.status), ("abc", DeliveryStatus::Undelivered));
    }

    #[test]
    fn every_state() {
        for (stat, want) in [
            ("DELIVRD", DeliveryStatus::Delivered),
            ("UNDELIV", DeliveryStatus::Undelivered),
            ("EXPIRED", DeliveryStatus::Undelivered),
            ("REJECTD", DeliveryStatus::Failed),
            ("DELETED", DeliveryStatus::Failed),
            ("UNKNOWN", DeliveryStatus::Failed),
            ("ACCEPTD", DeliveryStatus::Sent),
            ("ENROUTE", DeliveryStatus::Sent),
        ] {
            let p = from_deliver_sm(&receipt(&format!("id:1 stat:{stat} err:000"))).unwrap();
            assert_eq!(p.status, want, "{stat}");
        }
        assert_eq!(from_deliver_sm(&receipt("id:1 stat:WHATEVER")), None);
        assert_eq!(from_deliver_sm(&receipt("stat:DELIVRD")), None);
        assert_eq!(from_deliver_sm(&receipt("id: stat:DELIVRD")), None);
        assert_eq!(from_deliver_sm(&receipt("")), None);
    }

    #[test]
    fn tlvs_win_and_mo_messages_are_not_receipts() {
        let d = DeliverSm {
            esm_class: 0,
            message: b"id:text-id stat:UNDELIV".to_vec(),
            receipted_message_id: Some("tlv-id".into()),
            message_state: Some(2),
            ..DeliverSm::default()
        };
        let p = from_deliver_sm(&d).unwrap();
        assert_eq!((p.message_id.as_str(), p.status), ("tlv-id", DeliveryStatus::Delivered));
        // TLVs alone, no text.
        let d = DeliverSm {
            esm_class: 0x04,
            receipted_message_id: Some("x".into()),
            message_state: Some(8),
            ..DeliverSm::default()
        };
        assert_eq!(from_deliver_sm(&d).unwrap().reason.as_deref(), Some("REJECTD"));
        // A mobile-originated message that happens to look like a receipt.
        let d = DeliverSm {
            esm_class: 0,
            message: b"id:1 stat:DELIVRD".to_vec(),
            ..DeliverSm::default()
        };
        assert_eq!(from_deliver_sm(&d), None);
    }
}
