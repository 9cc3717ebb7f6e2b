//! Clients (tenants) and their credentials.
//!
//! A client authenticates either with an API key and secret (the secret is ≥128 random
//! bits, shown once, stored as SHA-256) or, for faces that log in, with a username and
//! password (stored as argon2id). Every read and write in ringproof is scoped by client.

use std::collections::{BTreeMap, BTreeSet};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

use serde::{Deserialize, Serialize};

use crate::crypto::{ct_eq, hex, random_bytes, sha256};
use crate::ids::ClientId;
use crate::phone::PhoneNumber;
use crate::policy::PolicyOverrides;
use crate::time::Timestamp;

/// The name of the verification SMS template in [`Client::templates`].
pub const SMS_TEMPLATE: &str = "sms";

#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// Shown in messages: "Your <brand> verification code is …".
    pub brand: String,
    /// The accent of this client's link pages (button, top bar); `None`: ringproof's own.
    pub brand_color: Option<BrandColor>,
    pub api_key: String,
    pub secret_hash: [u8; 32],
    pub username: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    /// Origins (`scheme://host[:port]`) a redirect may lead to.
    pub allowed_origins: Vec<String>,
    /// Message templates by name: `sms` for the verification SMS and `sms:<lang>` for one
    /// language of it ([`Client::sms_template`]), `link` and `link:<lang>` for the one-time
    /// link's SMS, `otp:<id>` for the Signzy face's numbered OTP templates.
    pub templates: BTreeMap<String, String>,
    pub policy: PolicyOverrides,
    /// Which products the client may use and which numbers it may reach.
    pub controls: ClientControls,
    /// Where this client's verification events are POSTed, if anywhere.
    pub webhook: Option<crate::webhook::WebhookConfig>,
    pub created_at: Timestamp,
}

/// A product a client can be enabled or disabled for. The names stored and shown (in
/// client controls, `--enable-product`) are those of the face that sells the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Product {
    /// The link check ([`crate::links`]): the Signzy face's instant link
    /// (`send-instant-link`).
    #[serde(rename = "signzy-link")]
    Link,
    /// The OTP addressed by the number ([`crate::otp`]): the Signzy face's `send-otp`.
    #[serde(rename = "signzy-otp")]
    NumberOtp,
    /// The SMS-then-call fallback ([`crate::fallback`]): the iDenfy face's phone
    /// verification (`/fraud/send-sms`).
    #[serde(rename = "idenfy-sms")]
    SmsThenCall,
}

impl Product {
    pub const ALL: [Product; 3] = [Product::Link, Product::NumberOtp, Product::SmsThenCall];

    pub fn as_str(self) -> &'static str {
        match self {
            Product::Link => "signzy-link",
            Product::NumberOtp => "signzy-otp",
            Product::SmsThenCall => "idenfy-sms",
        }
    }

    pub fn parse(s: &str) -> Option<Product> {
        Product::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A client's controls: products switched off, test mode with its number allowlist, and
/// a number blocklist. The default (nothing disabled, no test mode, empty lists) serves
/// every number with every product. Numbers are E.164 strings, checked when set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientControls {
    /// Products this client may not use (stored as the exceptions, so a product added
    /// later is enabled for existing clients).
    pub disabled_products: BTreeSet<Product>,
    /// In test mode only `allowed_numbers` may receive anything.
    pub test_mode: bool,
    pub allowed_numbers: BTreeSet<String>,
    /// Numbers that may never receive anything from this client.
    pub blocked_numbers: BTreeSet<String>,
    /// Numbers the SMS-pumping guard never counts or blocks (a QA line, a number that
    /// legitimately receives many codes nobody types). Other limits still apply.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub safe_numbers: BTreeSet<String>,
    /// This client's overrides of the server's limits across verifications.
    #[serde(skip_serializing_if = "crate::guard::LimitOverrides::is_empty")]
    pub limits: crate::guard::LimitOverrides,
    /// Whether OTP and link starts ask the operator about a recent SIM swap, and whether a
    /// swap refuses them ([`crate::simswap`]). `None`: not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_swap: Option<crate::simswap::SimSwapPolicy>,
}

/// Why a client may not send to a number. Carries no number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientRefusal {
    #[error("the client is not enabled for {}", .0.as_str())]
    ProductDisabled(Product),
    #[error("the number is on the client's blocklist")]
    NumberBlocked,
    #[error("the client is in test mode and the number is not on its allowlist")]
    NotOnAllowlist,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// A freshly created client with the plaintext credentials, which exist only here.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub client: Client,
    pub api_secret: String,
    pub password: String,
}

/// The key of a client's template `name` for one language (`sms:es`), or for every
/// language without its own (`sms`).
pub fn template_key(name: &str, language: Option<crate::i18n::Locale>) -> String {
    match language {
        Some(l) => format!("{name}:{}", l.tag()),
        None => name.to_owned(),
    }
}

impl Client {
    /// The client's template `name` (`sms`, `link`) for a message in `locale`: the
    /// language's own (`sms:es` for `es-MX`), else the one for every language (`sms`), else
    /// `None` (the catalogue's text of the language applies).
    pub fn template_for(&self, name: &str, locale: &str) -> Option<&str> {
        crate::i18n::Locale::parse(locale)
            .and_then(|l| self.templates.get(&template_key(name, Some(l))))
            .or_else(|| self.templates.get(name))
            .map(String::as_str)
    }

    /// The client's verification SMS template for `locale` ([`Client::template_for`]).
    pub fn sms_template(&self, locale: &str) -> Option<&str> {
        self.template_for(SMS_TEMPLATE, locale)
    }

    /// Creates a client with fresh credentials. The username is derived from the name.
    pub fn create(name: &str, allowed_origins: Vec<String>, now: Timestamp) -> NewClient {
        let api_secret = new_api_secret();
        let password = format!("pw_{}", hex(&random_bytes::<12>()));
        let client = Client {
            id: ClientId::generate(),
            name: name.to_owned(),
            brand: name.to_owned(),
            brand_color: None,
            api_key: format!("rk_{}", hex(&random_bytes::<12>())),
            secret_hash: sha256(api_secret.as_bytes()),
            username: username_from(name),
            password_hash: hash_password(&password),
            allowed_origins,
            templates: BTreeMap::new(),
            policy: PolicyOverrides::default(),
            controls: ClientControls::default(),
            webhook: None,
            created_at: now,
        };
        NewClient {
            client,
            api_secret,
            password,
        }
    }

    /// Whether this client may send `product` to `to`, checked before anything is stored
    /// or sent: the product must be enabled, the number not blocked and, in test mode, on
    /// the allowlist (in that order).
    pub fn may_serve(&self, product: Product, to: &PhoneNumber) -> Result<(), ClientRefusal> {
        if self.controls.disabled_products.contains(&product) {
            return Err(ClientRefusal::ProductDisabled(product));
        }
        self.may_send_to(to)
    }

    /// Whether this client may send anything to `to`: the number not blocked and, in test
    /// mode, on the allowlist. Every face obeys it (the native API through
    /// [`Engine::start`](crate::engine::Engine::start), the others through [`Self::may_serve`]).
    pub fn may_send_to(&self, to: &PhoneNumber) -> Result<(), ClientRefusal> {
        let c = &self.controls;
        if c.blocked_numbers.contains(to.e164()) {
            return Err(ClientRefusal::NumberBlocked);
        }
        if c.test_mode && !c.allowed_numbers.contains(to.e164()) {
            return Err(ClientRefusal::NotOnAllowlist);
        }
        Ok(())
    }

    /// Constant-time check of an API secret against the stored SHA-256.
    pub fn verify_secret(&self, secret: &str) -> bool {
        ct_eq(&sha256(secret.as_bytes()), &self.secret_hash)
    }

    /// Checks a password against the stored argon2id hash (argon2 compares in constant
    /// time). About 30 ms of CPU.
    pub fn verify_password(&self, password: &str) -> bool {
        verify_password_hash(&self.password_hash, password)
    }
}

/// A client's brand colour: `#rrggbb` (stored lower-case), dark enough that white text on
/// it is readable. The link pages put white text on it (the button), so a colour
/// that fails WCAG 2.x AA for normal text (a contrast ratio under 4.5:1 against white) is
/// refused when it is set rather than rendering an unreadable button on a phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrandColor([u8; 3]);

/// The contrast ratio WCAG 2.x AA asks of normal text.
pub const MIN_CONTRAST_WITH_WHITE: f64 = 4.5;

impl BrandColor {
    /// Parses `#rrggbb` (either case) and refuses a colour white text is unreadable on.
    /// The error is a sentence for the person who set it.
    pub fn parse(s: &str) -> Result<BrandColor, String> {
        let hex = s
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("{s:?} is not a colour of the form #rrggbb (for example #0a7d5a)"))?;
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
        let c = BrandColor([byte(0), byte(2), byte(4)]);
        let ratio = c.contrast_with_white();
        if ratio < MIN_CONTRAST_WITH_WHITE {
            return Err(format!(
                "{} is too light: white text on it has a contrast ratio of {:.2}:1, and the link pages \
                 need at least {MIN_CONTRAST_WITH_WHITE}:1 (WCAG AA) for their white button text; choose a darker shade",
                c.as_hex(),
                ratio
            ));
        }
        Ok(c)
    }

    /// `#rrggbb`, lower-case: what is stored and put in a page's CSS.
    pub fn as_hex(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// The WCAG 2.x contrast ratio of white on this colour: (1 + 0.05) / (L + 0.05), L the
    /// relative luminance of the sRGB colour.
    pub fn contrast_with_white(self) -> f64 {
        let channel = |v: u8| {
            let c = f64::from(v) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        let l = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
        1.05 / (l + 0.05)
    }
}

impl Serialize for BrandColor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_hex())
    }
}

/// A new API secret: `rs_` and 48 hex characters (192 random bits).
pub fn new_api_secret() -> String {
    format!("rs_{}", hex(&random_bytes::<24>()))
}

/// Checks `password` against a PHC string; false if the string does not parse.
pub fn verify_password_hash(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// argon2id with the crate's recommended parameters and a random salt.
pub fn hash_password(password: &str) -> String {
    let hashed: Result<PasswordHash, _> = Argon2::default().hash_password(password.as_bytes());
    hashed
        .map(|h| h.to_string())
        .unwrap_or_else(|e| unreachable!("argon2 with default parameters cannot fail: {e}"))
}

fn username_from(name: &str) -> String {
    let mut u: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    u = u.trim_matches('-').to_owned();
    if u.is_empty() {
        u = "client".into();
    }
    u.truncate(48);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_verify_and_are_not_stored_in_plaintext() {
        let n = Client::create("Acme Bank", vec![], Timestamp(0));
        assert!(n.client.verify_secret(&n.api_secret));
        assert!(!n.client.verify_secret("rs_wrong"));
        assert!(n.client.verify_password(&n.password));
        assert!(!n.client.verify_password("nope"));
        assert!(n.client.password_hash.starts_with("$argon2id$"));
        assert!(!n.client.password_hash.contains(&n.password));
        assert_eq!(n.client.username, "acme-bank");
        assert_eq!(n.client.id.as_str().len(), 24);
        assert!(n.api_secret.len() >= 3 + 32);
    }

    #[test]
    fn a_languages_own_template_comes_before_the_one_for_every_language() {
        use crate::i18n::Locale;
        let mut c = Client::create("Acme", vec![], Timestamp(0)).client;
        assert_eq!(c.sms_template("es"), None);
        c.templates
            .insert(template_key(SMS_TEMPLATE, Some(Locale::Es)), "{code} es".into());
        assert_eq!(template_key(SMS_TEMPLATE, Some(Locale::Es)), "sms:es");
        assert_eq!(c.sms_template("es-MX"), Some("{code} es"));
        assert_eq!(c.sms_template("en"), None);
        c.templates
            .insert(template_key(SMS_TEMPLATE, None), "{code} all".into());
        assert_eq!(c.sms_template("es"), Some("{code} es"));
        assert_eq!(c.sms_template("en"), Some("{code} all"));
        assert_eq!(c.sms_template("nl"), Some("{code} all"));
        assert_eq!(
            c.template_for("link", "es"),
            None,
            "one kind's template is not another's"
        );
    }

    #[test]
    fn may_serve_checks_products_then_blocklist_then_allowlist() {
        let mut c = Client::create("Acme", vec![], Timestamp(0)).client;
        let a = PhoneNumber::parse_e164("+14155550123").unwrap();
        let b = PhoneNumber::parse_e164("+14155550124").unwrap();
        for p in Product::ALL {
            assert_eq!(c.may_serve(p, &a), Ok(()));
            assert_eq!(Product::parse(p.as_str()), Some(p));
        }
        c.controls.disabled_products.insert(Product::NumberOtp);
        assert_eq!(
            c.may_serve(Product::NumberOtp, &a),
            Err(ClientRefusal::ProductDisabled(Product::NumberOtp))
        );
        assert_eq!(c.may_serve(Product::Link, &a), Ok(()));
        c.controls.blocked_numbers.insert(a.e164().to_owned());
        assert_eq!(c.may_serve(Product::Link, &a), Err(ClientRefusal::NumberBlocked));
        assert_eq!(c.may_serve(Product::Link, &b), Ok(()));
        c.controls.test_mode = true;
        assert_eq!(c.may_serve(Product::Link, &b), Err(ClientRefusal::NotOnAllowlist));
        c.controls.allowed_numbers.insert(b.e164().to_owned());
        assert_eq!(c.may_serve(Product::Link, &b), Ok(()));
        // Blocked wins over allowed.
        c.controls.allowed_numbers.insert(a.e164().to_owned());
        assert_eq!(c.may_serve(Product::Link, &a), Err(ClientRefusal::NumberBlocked));
    }

    #[test]
    fn brand_colours_are_hex_and_dark_enough_for_white_text() {
        let c = BrandColor::parse("#0A7D5A").unwrap();
        assert_eq!(c.as_hex(), "#0a7d5a");
        assert!(c.contrast_with_white() >= 4.5);
        // Black is the darkest (21:1); WCAG's own figure for white on #767676 is 4.54:1.
        assert!((BrandColor::parse("#000000").unwrap().contrast_with_white() - 21.0).abs() < 1e-9);
        assert!((BrandColor::parse("#767676").unwrap().contrast_with_white() - 4.54).abs() < 0.01);
        // #777777 is 4.48:1: just too light.
        let e = BrandColor::parse("#777777").unwrap_err();
        assert!(
            e.contains("#777777 is too light") && e.contains("4.48:1") && e.contains("4.5:1"),
            "{e}"
        );
        for bad in ["0a7d5a", "#0a7d5", "#0a7d5a0", "#0a7g5a", "", "#", "red", "#fff"] {
            assert!(BrandColor::parse(bad).unwrap_err().contains("#rrggbb"), "{bad}");
        }
        assert!(BrandColor::parse("#ffcc00").is_err());
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"#0a7d5a\"");
    }

    /// The stored and shown names are the faces' product names.
    #[test]
    fn product_names_are_the_faces() {
        for (p, name) in [
            (Product::Link, "signzy-link"),
            (Product::NumberOtp, "signzy-otp"),
            (Product::SmsThenCall, "idenfy-sms"),
        ] {
            assert_eq!(p.as_str(), name);
            assert_eq!(Product::parse(name), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{name}\""));
        }
    }
}
