//! The simulator's configuration file: who may call it (`[[clients]]`) and which phones it
//! knows (`[[phones]]`). `examples/operator-sim.toml` is the commented reference.
//!
//! Everything is checked when the file is read, so a running simulator never meets a
//! malformed number or date.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use ringproof_core::jose::SigningKey;
use ringproof_core::time::Timestamp;
use serde::{Deserialize, Deserializer};

/// The whole simulator configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Where `ringproof operator-sim` listens (`--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The OpenID issuer identifier, also the root of the CAMARA APIs
    /// (`{issuer}/number-verification/vwip/...`). When absent it is `http://<bound address>`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// A PKCS#8 PEM file holding the simulator's ES256 signing key. Created (owner-only) when
    /// missing; when the key is absent from the config, a fresh key is made in memory.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Lifetime of access tokens (and ID tokens), seconds. CAMARA caps it at 300 for Number
    /// Verification.
    #[serde(default = "default_ttl")]
    pub access_token_ttl_s: u64,
    /// Added to every response, to try a client's deadlines.
    #[serde(default)]
    pub delay_ms: u64,
    /// A local-regulation limit on SIM-swap history, in days. Absent: history is unlimited
    /// (retrieve-date answers the activation date when there was no swap).
    #[serde(default)]
    pub monitored_period_days: Option<u32>,
    /// The registered API consumers.
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// The subscribers the simulated network knows.
    #[serde(default)]
    pub phones: Vec<PhoneConfig>,
    /// The signing key, read from `key_file` by [`load_config`]; `None` → generated.
    #[serde(skip)]
    pub signing_key: Option<SigningKey>,
}

/// A registered API consumer.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    /// Where the consumer publishes the public keys of its `private_key_jwt` assertions.
    pub jwks_uri: String,
    /// The redirect URIs `/authorize` accepts for this client (exact string match).
    pub redirect_uris: Vec<String>,
}

/// A subscriber of the simulated network.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneConfig {
    /// E.164, e.g. `+15550100001`.
    #[serde(deserialize_with = "e164")]
    pub number: String,
    /// A request from one of these addresses comes from this phone (its mobile data).
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    /// The latest SIM swap (RFC 3339). Absent: never swapped.
    #[serde(default, deserialize_with = "opt_rfc3339")]
    pub sim_swapped_at: Option<Timestamp>,
    /// When the SIM first attached to the network (RFC 3339). Absent together with
    /// `sim_swapped_at`: the number is not associated with any SIM (retrieve-date → null).
    #[serde(default, deserialize_with = "opt_rfc3339")]
    pub activated_at: Option<Timestamp>,
    /// `false`: the subscriber has not consented and cannot be asked without a user interface,
    /// so `/authorize` answers `consent_required`.
    #[serde(default = "yes")]
    pub consent: bool,
    /// `false`: the SIM Swap service does not apply to this line (e.g. an IoT subscription):
    /// 422 `SERVICE_NOT_APPLICABLE`.
    #[serde(default = "yes")]
    pub sim_swap_applicable: bool,
}

impl PhoneConfig {
    /// A phone with no SIM history, consenting, SIM Swap applicable.
    pub fn new(number: &str) -> Self {
        PhoneConfig {
            number: number.to_owned(),
            ips: Vec::new(),
            sim_swapped_at: None,
            activated_at: None,
            consent: true,
            sim_swap_applicable: true,
        }
    }

    /// The latest change of SIM for this number: the swap, else the activation.
    pub fn latest_sim_change(&self) -> Option<Timestamp> {
        self.sim_swapped_at.or(self.activated_at)
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}
fn default_ttl() -> u64 {
    300
}
fn yes() -> bool {
    true
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: default_listen(),
            issuer: None,
            key_file: None,
            access_token_ttl_s: default_ttl(),
            delay_ms: 0,
            monitored_period_days: None,
            clients: Vec::new(),
            phones: Vec::new(),
            signing_key: None,
        }
    }
}

impl SimConfig {
    /// Sets the issuer (and API root), e.g. from the address a test bound.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The issuer, or `http://<listen>` when none is configured.
    pub fn issuer_or_listen(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Checks what serde cannot: unique ids, addresses and numbers, a usable issuer.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if let Some(i) = &self.issuer {
            match url::Url::parse(i) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
                _ => return bad(format!("issuer {i:?} is not an http(s) URL without a query")),
            }
        }
        if self.access_token_ttl_s == 0 || self.access_token_ttl_s > 3600 {
            return bad("access_token_ttl_s must be 1..=3600".into());
        }
        for (n, c) in self.clients.iter().enumerate() {
            if c.client_id.is_empty() {
                return bad(format!("clients[{n}]: empty client_id"));
            }
            if self.clients[..n].iter().any(|o| o.client_id == c.client_id) {
                return bad(format!("client_id {:?} is registered twice", c.client_id));
            }
            if url::Url::parse(&c.jwks_uri).is_err() {
                return bad(format!("client {:?}: jwks_uri is not a URL", c.client_id));
            }
            if c.redirect_uris.is_empty() {
                return bad(format!("client {:?}: no redirect_uris", c.client_id));
            }
            for r in &c.redirect_uris {
                match url::Url::parse(r) {
                    Ok(u) if u.fragment().is_none() => {}
                    _ => {
                        return bad(format!(
                            "client {:?}: redirect URI {r:?} is not an absolute URL without fragment",
                            c.client_id
                        ));
                    }
                }
            }
        }
        for (n, p) in self.phones.iter().enumerate() {
            if self.phones[..n].iter().any(|o| o.number == p.number) {
                return bad(format!("phones[{n}]: the number is listed twice"));
            }
            for ip in &p.ips {
                if self.phones[..n].iter().any(|o| o.ips.contains(ip)) {
                    return bad(format!("phones[{n}]: address {ip} already belongs to another phone"));
                }
            }
        }
        Ok(())
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}: not a P-256 private key in PKCS#8 PEM form")]
    Key(PathBuf),
}

/// Reads and checks a TOML configuration file; loads (or creates) the signing key.
pub fn load_config(path: impl AsRef<Path>) -> Result<SimConfig, ConfigError> {
    let path = path.as_ref();
    if let Err(e) = std::fs::metadata(path) {
        return Err(ConfigError::Io(path.to_owned(), e));
    }
    let mut config: SimConfig = Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
    config.validate()?;
    if let Some(file) = config.key_file.clone() {
        // A relative key file is relative to the configuration file.
        let file = match path.parent() {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file,
        };
        config.signing_key = Some(load_or_create_key(&file)?);
    }
    Ok(config)
}

fn load_or_create_key(file: &Path) -> Result<SigningKey, ConfigError> {
    match std::fs::read_to_string(file) {
        Ok(pem) => SigningKey::from_pem(&pem).map_err(|_| ConfigError::Key(file.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            write_owner_only(file, key.to_pem().as_bytes()).map_err(|e| ConfigError::Io(file.to_owned(), e))?;
            Ok(key)
        }
        Err(e) => Err(ConfigError::Io(file.to_owned(), e)),
    }
}

fn write_owner_only(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(file)?.write_all(bytes)
}

/// The number pattern of the CAMARA specifications: `^\+[1-9][0-9]{4,14}$`.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

fn e164<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if is_e164(&s) {
        Ok(s)
    } else {
        Err(serde::de::Error::custom(
            "a phone number must be E.164, e.g. +15550100001",
        ))
    }
}

fn opt_rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| {
        parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 date-time with time zone")))
    })
    .transpose()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let digits = &frac[..n];
        millis = format!("{:0<3}", &digits[..n.min(3)]).parse().ok()?;
        rest = &frac[n..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let t = rest.get(1..)?;
            if t.len() != 5 || t.as_bytes()[2] != b':' {
                return None;
            }
            let (oh, om): (i64, i64) = (t[..2].parse().ok()?, t[3..].parse().ok()?);
            sign * (oh * 60 + om)
        }
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(Timestamp(secs * 1000 + millis))
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_core_formatting() {
        for ms in [0i64, 951_782_400_000, 1_795_312_547_123, 1_811_000_000_000] {
            let t = Timestamp(ms);
            assert_eq!(parse_rfc3339(&t.to_rfc3339()), Some(t));
        }
        assert_eq!(
            parse_rfc3339("2026-12-01T10:00:00+01:00"),
            parse_rfc3339("2026-12-01T09:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-12-01T09:00:00.5Z"),
            Some(Timestamp(parse_rfc3339("2026-12-01T09:00:00Z").unwrap().0 + 500))
        );
        for bad in [
            "2026-12-01",
            "2026-12-01T09:00:00",
            "2026-13-01T09:00:00Z",
            "2026-12-01T09:00:00+0100",
            "x026-12-01T09:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn e164_follows_the_camara_pattern() {
        assert!(is_e164("+15550100001"));
        assert!(is_e164("+12345"));
        assert!(!is_e164("+1234"));
        assert!(!is_e164("15550100001"));
        assert!(!is_e164("+05550100001"));
        assert!(!is_e164("+1555010000123456"));
        assert!(!is_e164("+1555 0100001"));
    }
}
