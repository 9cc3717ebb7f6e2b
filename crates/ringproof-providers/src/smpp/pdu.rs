//! The few SMPP 3.4 PDUs an SMS sender needs, encoded and decoded by hand:
//! `bind_transceiver`, `submit_sm`, `deliver_sm` (+ `_resp`), `enquire_link`, `unbind`
//! and `generic_nack`. Every PDU is a 16-octet header (length, command id, status,
//! sequence number, all big-endian u32) and a body of C-strings, integers and TLVs.

use tokio::io::{AsyncRead, AsyncReadExt};

pub const GENERIC_NACK: u32 = 0x8000_0000;
pub const SUBMIT_SM: u32 = 0x0000_0004;
pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
pub const DELIVER_SM: u32 = 0x0000_0005;
pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
pub const UNBIND: u32 = 0x0000_0006;
pub const UNBIND_RESP: u32 = 0x8000_0006;
pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
pub const ENQUIRE_LINK: u32 = 0x0000_0015;
pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;

/// Bit of a command id that marks a response.
pub const RESPONSE_BIT: u32 = 0x8000_0000;

/// Command statuses we name (SMPP 3.4 §5.1.3).
pub mod status {
    pub const ESME_ROK: u32 = 0x00;
    pub const ESME_RINVMSGLEN: u32 = 0x01;
    pub const ESME_RINVCMDLEN: u32 = 0x02;
    pub const ESME_RINVCMDID: u32 = 0x03;
    pub const ESME_RINVBNDSTS: u32 = 0x04;
    pub const ESME_RALYBND: u32 = 0x05;
    pub const ESME_RSYSERR: u32 = 0x08;
    pub const ESME_RINVSRCADR: u32 = 0x0A;
    pub const ESME_RINVDSTADR: u32 = 0x0B;
    pub const ESME_RBINDFAIL: u32 = 0x0D;
    pub const ESME_RINVPASWD: u32 = 0x0E;
    pub const ESME_RINVSYSID: u32 = 0x0F;
    pub const ESME_RMSGQFUL: u32 = 0x14;
    pub const ESME_RSUBMITFAIL: u32 = 0x45;
    pub const ESME_RTHROTTLED: u32 = 0x58;
    pub const ESME_RX_T_APPN: u32 = 0x64;
    pub const ESME_RX_R_APPN: u32 = 0x65;

    /// The status's name, for error messages.
    pub fn name(status: u32) -> &'static str {
        match status {
            ESME_ROK => "ESME_ROK",
            ESME_RINVMSGLEN => "ESME_RINVMSGLEN",
            ESME_RINVCMDLEN => "ESME_RINVCMDLEN",
            ESME_RINVCMDID => "ESME_RINVCMDID",
            ESME_RINVBNDSTS => "ESME_RINVBNDSTS",
            ESME_RALYBND => "ESME_RALYBND",
            ESME_RSYSERR => "ESME_RSYSERR",
            ESME_RINVSRCADR => "ESME_RINVSRCADR",
            ESME_RINVDSTADR => "ESME_RINVDSTADR",
            ESME_RBINDFAIL => "ESME_RBINDFAIL",
            ESME_RINVPASWD => "ESME_RINVPASWD",
            ESME_RINVSYSID => "ESME_RINVSYSID",
            ESME_RMSGQFUL => "ESME_RMSGQFUL",
            ESME_RSUBMITFAIL => "ESME_RSUBMITFAIL",
            ESME_RTHROTTLED => "ESME_RTHROTTLED",
            ESME_RX_T_APPN => "ESME_RX_T_APPN",
            ESME_RX_R_APPN => "ESME_RX_R_APPN",
            _ => "unnamed status",
        }
    }
}

/// TLV tags we read from `deliver_sm`.
pub const TLV_RECEIPTED_MESSAGE_ID: u16 = 0x001E;
pub const TLV_MESSAGE_PAYLOAD: u16 = 0x0424;
pub const TLV_MESSAGE_STATE: u16 = 0x0427;

/// A PDU larger than this is refused (and the connection dropped): nothing we exchange
/// comes near it, and a garbage length must not make us allocate gigabytes.
pub const MAX_PDU_LEN: u32 = 64 * 1024;

/// One PDU as read from or written to the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub command_id: u32,
    pub status: u32,
    pub sequence: u32,
    pub body: Vec<u8>,
}

impl Pdu {
    pub fn new(command_id: u32, status: u32, sequence: u32, body: Vec<u8>) -> Self {
        Pdu {
            command_id,
            status,
            sequence,
            body,
        }
    }

    pub fn is_response(&self) -> bool {
        self.command_id & RESPONSE_BIT != 0
    }

    /// The wire octets.
    pub fn encode(&self) -> Vec<u8> {
        let len = 16 + self.body.len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&self.command_id.to_be_bytes());
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Decodes one whole PDU (header and body).
    pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
        if bytes.len() < 16 {
            return Err(PduError::Short);
        }
        let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        if word(0) as usize != bytes.len() {
            return Err(PduError::Length(word(0)));
        }
        Ok(Pdu::new(word(4), word(8), word(12), bytes[16..].to_vec()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PduError {
    #[error("the PDU is truncated")]
    Short,
    #[error("invalid command_length {0}")]
    Length(u32),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one PDU; `Ok(None)` on a clean end of stream between PDUs.
pub async fn read_pdu<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Pdu>, PduError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let n = u32::from_be_bytes(len);
    if !(16..=MAX_PDU_LEN).contains(&n) {
        return Err(PduError::Length(n));
    }
    let mut buf = vec![0u8; n as usize];
    buf[..4].copy_from_slice(&len);
    r.read_exact(&mut buf[4..]).await?;
    Pdu::decode(&buf).map(Some)
}

/// Appends a C-octet string (the text and a NUL).
fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// The body of `bind_transceiver` (interface version 3.4, no address range).
pub fn bind_transceiver(system_id: &str, password: &str, system_type: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(40);
    cstr(&mut b, system_id);
    cstr(&mut b, password);
    cstr(&mut b, system_type);
    b.push(0x34); // interface_version
    b.push(0); // addr_ton
    b.push(0); // addr_npi
    cstr(&mut b, ""); // address_range
    b
}

/// An address: type of number, numbering plan, digits or alphanumeric text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

/// What a `submit_sm` carries (the fields we set; the rest are SMSC defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitSm {
    pub source: Address,
    pub destination: Address,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub short_message: Vec<u8>,
}

/// `esm_class` bit: the short message starts with a UDH.
pub const ESM_UDHI: u8 = 0x40;

impl SubmitSm {
    /// The body (`short_message` is at most 254 octets, which [`split`](super::encoding::split)
    /// guarantees: 6 + 153 or 6 + 134).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64 + self.short_message.len());
        cstr(&mut b, ""); // service_type
        b.push(self.source.ton);
        b.push(self.source.npi);
        cstr(&mut b, &self.source.addr);
        b.push(self.destination.ton);
        b.push(self.destination.npi);
        cstr(&mut b, &self.destination.addr);
        b.push(self.esm_class);
        b.push(0); // protocol_id
        b.push(0); // priority_flag
        cstr(&mut b, ""); // schedule_delivery_time: now
        cstr(&mut b, ""); // validity_period: the SMSC's default
        b.push(self.registered_delivery);
        b.push(0); // replace_if_present_flag
        b.push(self.data_coding);
        b.push(0); // sm_default_msg_id
        b.push(self.short_message.len().min(254) as u8);
        b.extend_from_slice(&self.short_message[..self.short_message.len().min(254)]);
        b
    }
}

/// A body being read field by field.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn u8(&mut self) -> Result<u8, PduError> {
        let b = *self.buf.get(self.pos).ok_or(PduError::Short)?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        let s = self.buf.get(self.pos..self.pos + n).ok_or(PduError::Short)?;
        self.pos += n;
        Ok(s)
    }

    /// A C-octet string (lossy: these are ASCII in practice).
    fn cstr(&mut self) -> Result<String, PduError> {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        let end = rest.iter().position(|&b| b == 0).ok_or(PduError::Short)?;
        self.pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// The `message_id` of a `submit_sm_resp` (absent, or empty, when the status is an error).
pub fn submit_sm_resp_message_id(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    Reader::new(body).cstr().ok().filter(|s| !s.is_empty())
}

/// The body of `deliver_sm_resp` (its `message_id` is unused and empty).
pub fn deliver_sm_resp() -> Vec<u8> {
    vec![0]
}

/// The parts of a `deliver_sm` a receipt needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliverSm {
    pub esm_class: u8,
    pub data_coding: u8,
    /// `short_message`, or the `message_payload` TLV when `short_message` is empty.
    pub message: Vec<u8>,
    pub receipted_message_id: Option<String>,
    pub message_state: Option<u8>,
}

impl DeliverSm {
    pub fn decode(body: &[u8]) -> Result<DeliverSm, PduError> {
        let mut r = Reader::new(body);
        r.cstr()?; // service_type
        r.u8()?; // source_addr_ton
        r.u8()?; // source_addr_npi
        r.cstr()?; // source_addr
        r.u8()?; // dest_addr_ton
        r.u8()?; // dest_addr_npi
        r.cstr()?; // destination_addr
        let esm_class = r.u8()?;
        r.u8()?; // protocol_id
        r.u8()?; // priority_flag
        r.cstr()?; // schedule_delivery_time
        r.cstr()?; // validity_period
        r.u8()?; // registered_delivery
        r.u8()?; // replace_if_present_flag
        let data_coding = r.u8()?;
        r.u8()?; // sm_default_msg_id
        let sm_length = r.u8()?;
        let mut d = DeliverSm {
            esm_class,
            data_coding,
            message: r.bytes(usize::from(sm_length))?.to_vec(),
            ..DeliverSm::default()
        };
        while !r.done() {
            let tag = u16::from_be_bytes([r.u8()?, r.u8()?]);
            let len = u16::from_be_bytes([r.u8()?, r.u8()?]);
            let value = r.bytes(usize::from(len))?;
            match tag {
                TLV_RECEIPTED_MESSAGE_ID => {
                    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                    let id = String::from_utf8_lossy(&value[..end]).into_owned();
                    d.receipted_message_id = (!id.is_empty()).then_some(id);
                }
                TLV_MESSAGE_STATE => d.message_state = value.first().copied(),
                TLV_MESSAGE_PAYLOAD if d.message.is_empty() => d.message = value.to_vec(),
                _ => {}
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let p = Pdu::new(ENQUIRE_LINK, 0, 7, vec![]);
        let bytes = p.encode();
        assert_eq!(bytes, [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(Pdu::decode(&bytes).unwrap(), p);
        assert!(Pdu::decode(&bytes[..15]).is_err());
        let mut wrong = bytes.clone();
        wrong[3] = 17;
        assert!(Pdu::decode(&wrong).is_err());
        assert!(Pdu::new(GENERIC_NACK, 3, 1, vec![]).is_response());
        assert!(!p.is_response());
    }

    #[tokio::test]
    async fn read_from_a_stream() {
        let mut bytes = Pdu::new(ENQUIRE_LINK_RESP, 0, 9, vec![]).encode();
        bytes.extend(Pdu::new(UNBIND, 0, 10, vec![]).encode());
        let mut r = &bytes[..];
        assert_eq!(read_pdu(&mut r).await.unwrap().unwrap().sequence, 9);
        assert_eq!(read_pdu(&mut r).await.unwrap().unwrap().command_id, UNBIND);
        assert!(read_pdu(&mut r).await.unwrap().is_none());
        // A length below the header's or above the limit is refused.
        let mut bad = &[0u8, 0, 0, 3][..];
        assert!(read_pdu(&mut bad).await.is_err());
        let mut huge = &[0x7Fu8, 0, 0, 0][..];
        assert!(read_pdu(&mut huge).await.is_err());
    }

    #[test]
    fn bind_body() {
        assert_eq!(bind_transceiver("id", "pw", ""), b"id\0pw\0\0\x34\0\0\0".to_vec());
    }

    #[test]
    fn submit_body() {
        let s = SubmitSm {
            source: Address {
                ton: 5,
                npi: 0,
                addr: "Acme".into(),
            },
            destination: Address {
                ton: 1,
                npi: 1,
                addr: "4915112345678".into(),
            },
            esm_class: 0,
            registered_delivery: 1,
            data_coding: 0,
            short_message: b"hi".to_vec(),
        };
        let mut want = b"\0\x05\x00Acme\0\x01\x014915112345678\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        want.extend_from_slice(b"hi");
        assert_eq!(s.encode(), want);
    }

    #[test]
    fn submit_resp_id() {
        assert_eq!(submit_sm_resp_message_id(b"abc\0").as_deref(), Some("abc"));
        assert_eq!(submit_sm_resp_message_id(b"\0"), None);
        assert_eq!(submit_sm_resp_message_id(b""), None);
    }

    #[test]
    fn deliver_sm_with_and_without_tlvs() {
        let mut body = b"\0\x01\x01447700900123\0\x05\x00Acme\0".to_vec();
        body.extend_from_slice(&[0x04, 0, 0, 0, 0, 0, 0, 0, 0]);
        let text = b"id:42 stat:DELIVRD";
        body.push(text.len() as u8);
        body.extend_from_slice(text);
        let base_len = body.len();
        let d = DeliverSm::decode(&body).unwrap();
        assert_eq!((d.esm_class, d.message.as_slice()), (0x04, &text[..]));
        assert_eq!((d.receipted_message_id, d.message_state), (None, None));

        body.extend_from_slice(&[0x00, 0x1E, 0x00, 0x03, b'4', b'2', 0]);
        body.extend_from_slice(&[0x04, 0x27, 0x00, 0x01, 0x02]);
        body.extend_from_slice(&[0x12, 0x34, 0x00, 0x00]); // an unknown, empty TLV
        let d = DeliverSm::decode(&body).unwrap();
        assert_eq!(
            (d.receipted_message_id.as_deref(), d.message_state),
            (Some("42"), Some(2))
        );

        // Truncated bodies are errors, not panics.
        for n in 0..base_len {
            assert!(DeliverSm::decode(&body[..n]).is_err(), "{n}");
        }
    }
}
