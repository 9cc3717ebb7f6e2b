//! `[providers.NAME]` with `kind = "smpp"`: where the SMSC is, how to bind, and how hard
//! to push it. The doc comments are the reference (docs/providers.md has an example).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::error::BuildError;
use crate::secret;

/// The SMPP provider's settings.
#[derive(Clone, Debug, Deserialize)]
pub struct SmppConfig {
    /// The SMSC's host name or IP address.
    pub host: String,
    /// The SMSC's TCP port (plain TCP; put stunnel in front for TLS).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The account (at most 15 characters).
    pub system_id: String,
    /// The password (at most 8 characters in SMPP 3.4), inline …
    pub password: Option<SecretString>,
    /// … or read from a file.
    pub password_file: Option<PathBuf>,
    /// Sent in `bind_transceiver` (at most 12 characters); most SMSCs want it empty.
    #[serde(default)]
    pub system_type: String,
    /// The sender: digits (an E.164 number, `+` optional) or an alphanumeric sender id (at
    /// most 11 characters). A message's own sender, when it has one, replaces it.
    pub source_addr: String,
    /// Type of number of `source_addr`. Default: 5 (alphanumeric) for an alphanumeric
    /// sender, 1 (international) for digits. Set 3 for a short code.
    pub source_ton: Option<u8>,
    /// Numbering plan of `source_addr`. Default: 0 for alphanumeric, 1 (E.164) for digits.
    pub source_npi: Option<u8>,
    /// The most `submit_sm` awaiting their response at once.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Seconds between `enquire_link` keep-alives; one unanswered for a whole period drops
    /// the session.
    #[serde(default = "default_enquire_link_s")]
    pub enquire_link_s: u64,
    /// The deadline to connect and get the `bind_transceiver_resp`.
    #[serde(default = "default_bind_timeout_ms")]
    pub bind_timeout_ms: u64,
    /// The deadline for one `submit_sm_resp` (time waiting for a window slot included).
    #[serde(default = "default_submit_timeout_ms")]
    pub submit_timeout_ms: u64,
    /// The longest wait between reconnection attempts (backoff doubles from 1 s up to it).
    #[serde(default = "default_reconnect_max_s")]
    pub reconnect_max_s: u64,
    /// At most this many `submit_sm` per second (each part counts), if the SMSC limits it.
    pub throughput_per_s: Option<u32>,
}

fn default_port() -> u16 {
    2775
}
fn default_window() -> u32 {
    10
}
fn default_enquire_link_s() -> u64 {
    30
}
fn default_bind_timeout_ms() -> u64 {
    5_000
}
fn default_submit_timeout_ms() -> u64 {
    10_000
}
fn default_reconnect_max_s() -> u64 {
    60
}

/// [`SmppConfig`] checked, with the secret resolved and the durations typed.
#[derive(Clone, Debug)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub system_id: String,
    pub password: SecretString,
    pub system_type: String,
    pub source: super::pdu::Address,
    pub window: usize,
    pub enquire_link: Duration,
    pub bind_timeout: Duration,
    pub submit_timeout: Duration,
    pub reconnect_max: Duration,
    pub throughput_per_s: Option<u32>,
}

/// TON and NPI for a sender: digits are an international number (1/1), anything else an
/// alphanumeric sender id (5/0). Returns the address without a leading `+`.
pub fn source_address(addr: &str) -> Result<super::pdu::Address, String> {
    let digits = addr.strip_prefix('+').unwrap_or(addr);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() > 20 {
            return Err("a numeric sender has at most 20 digits".into());
        }
        return Ok(super::pdu::Address {
            ton: 1,
            npi: 1,
            addr: digits.to_owned(),
        });
    }
    if addr.is_empty() || addr.chars().count() > 11 || !addr.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err("an alphanumeric sender has 1 to 11 printable ASCII characters".into());
    }
    Ok(super::pdu::Address {
        ton: 5,
        npi: 0,
        addr: addr.to_owned(),
    })
}

impl SmppConfig {
    pub fn settings(&self, name: &str) -> Result<Settings, BuildError> {
        let err = |m: &str| BuildError::config(name, m.to_owned());
        let password = secret::resolve(name, "password", self.password.as_ref(), self.password_file.as_deref())?;
        if self.host.trim().is_empty() {
            return Err(err("`host` is required"));
        }
        if self.system_id.is_empty() || self.system_id.len() > 15 {
            return Err(err("`system_id` has 1 to 15 characters"));
        }
        if secrecy::ExposeSecret::expose_secret(&password).len() > 8 {
            return Err(err("`password` has at most 8 characters in SMPP 3.4"));
        }
        if self.system_type.len() > 12 {
            return Err(err("`system_type` has at most 12 characters"));
        }
        let mut source = source_address(&self.source_addr).map_err(|m| err(&format!("`source_addr`: {m}")))?;
        if let Some(ton) = self.source_ton {
            source.ton = ton;
        }
        if let Some(npi) = self.source_npi {
            source.npi = npi;
        }
        if self.window == 0 {
            return Err(err("`window` is at least 1"));
        }
        if self.enquire_link_s == 0 || self.bind_timeout_ms == 0 || self.submit_timeout_ms == 0 {
            return Err(err(
                "`enquire_link_s`, `bind_timeout_ms` and `submit_timeout_ms` are at least 1",
            ));
        }
        if self.throughput_per_s == Some(0) {
            return Err(err("`throughput_per_s` is at least 1 (leave it out for no limit)"));
        }
        Ok(Settings {
            host: self.host.clone(),
            port: self.port,
            system_id: self.system_id.clone(),
            password,
            system_type: self.system_type.clone(),
            source,
            window: self.window as usize,
            enquire_link: Duration::from_secs(self.enquire_link_s),
            bind_timeout: Duration::from_millis(self.bind_timeout_ms),
            submit_timeout: Duration::from_millis(self.submit_timeout_ms),
            reconnect_max: Duration::from_secs(self.reconnect_max_s.max(1)),
            throughput_per_s: self.throughput_per_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_like: serde_json::Value) -> SmppConfig {
        serde_json::from_value(toml_like).unwrap()
    }

    #[test]
    fn defaults_and_sender_kinds() {
        let c = parse(serde_json::json!({
            "host": "smsc.example", "system_id": "acct", "password": "pw", "source_addr": "Acme"
        }));
        let s = c.settings("smsc").unwrap();
        assert_eq!((s.port, s.window, s.enquire_link.as_secs()), (2775, 10, 30));
        assert_eq!((s.source.ton, s.source.npi, s.source.addr.as_str()), (5, 0, "Acme"));
        assert!(c.throughput_per_s.is_none());

        let num = source_address("+14155550000").unwrap();
        assert_eq!((num.ton, num.npi, num.addr.as_str()), (1, 1, "14155550000"));
        assert!(source_address("TooLongSender").is_err());
        assert!(source_address("").is_err());

        let c = parse(serde_json::json!({
            "host": "h", "system_id": "acct", "password": "pw", "source_addr": "12345",
            "source_ton": 3, "source_npi": 0
        }));
        let s = c.settings("smsc").unwrap();
        assert_eq!((s.source.ton, s.source.npi), (3, 0));
    }

    #[test]
    fn refusals_name_the_field_never_the_secret() {
        let base = serde_json::json!({"host": "h", "system_id": "acct", "source_addr": "Acme"});
        let mut no_pw = base.clone();
        no_pw["window"] = 1.into();
        let e = parse(no_pw).settings("smsc").unwrap_err().to_string();
        assert!(e.contains("`password`"), "{e}");
        let mut long_pw = base.clone();
        long_pw["password"] = "secret-too-long".into();
        let e = parse(long_pw).settings("smsc").unwrap_err().to_string();
        assert!(e.contains("at most 8") && !e.contains("secret-too-long"), "{e}");
        let mut zero = base.clone();
        zero["password"] = "pw".into();
        zero["window"] = 0.into();
        assert!(parse(zero).settings("smsc").is_err());
    }
}
