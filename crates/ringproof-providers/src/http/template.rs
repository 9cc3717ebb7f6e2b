//! Templates of the generic HTTP provider: literal text with `{name}` placeholders.
//!
//! A placeholder is `{` + a name of lowercase letters, digits and `_` + `}`. Every other
//! `{` is literal, so a JSON body template reads as JSON: in `{"to":"{to}"}` the outer
//! braces are text and `{to}` is a placeholder. A name that is not in the allowed set
//! is refused when the config is loaded, not discovered at the first send.
//!
//! Values are encoded for where they land ([`Encoding`]): a JSON string's content, a
//! form value, a URL component, or a header value.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A value a template may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// The destination in E.164 (`+447700900123`).
    To,
    /// The destination without `+` (`447700900123`), as many gateways want it.
    ToDigits,
    /// The message text (holds the code).
    Text,
    /// The sender id: the message's, else the provider's `sender`.
    Sender,
    /// Stable across retries of one job.
    IdempotencyKey,
    /// The message's locale (`en`, `pt-BR`).
    Locale,
}

impl Placeholder {
    pub const ALL: [(&'static str, Placeholder); 6] = [
        ("to", Placeholder::To),
        ("to_digits", Placeholder::ToDigits),
        ("text", Placeholder::Text),
        ("sender", Placeholder::Sender),
        ("idempotency_key", Placeholder::IdempotencyKey),
        ("locale", Placeholder::Locale),
    ];

    fn by_name(name: &str) -> Option<Placeholder> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

/// How substituted values are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Inside a JSON string: the template supplies the quotes (`"text":"{text}"`).
    JsonString,
    /// An `application/x-www-form-urlencoded` value (space as `+`).
    Form,
    /// A URL path segment or query value: everything but `A-Z a-z 0-9 - . _ ~`
    /// percent-encoded.
    Url,
    /// As is (header values; only placeholders that cannot hold a line break are allowed).
    Raw,
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Value(Placeholder),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`, refusing a placeholder outside `allowed` (the message names the
    /// placeholder and the ones allowed).
    pub fn parse(text: &str, allowed: &[Placeholder]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with('}') {
                let name = &after[..name_len];
                let Some(p) = Placeholder::by_name(name).filter(|p| allowed.contains(p)) else {
                    let names: Vec<String> = Placeholder::ALL
                        .iter()
                        .filter(|(_, p)| allowed.contains(p))
                        .map(|(n, _)| format!("{{{n}}}"))
                        .collect();
                    return Err(format!(
                        "unknown placeholder `{{{name}}}` (allowed here: {})",
                        names.join(", ")
                    ));
                };
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Value(p));
                rest = &after[name_len + 1..];
            } else {
                literal.push('{');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Whether the template names `p`.
    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.contains(&Part::Value(p))
    }

    /// The template with each placeholder replaced by `value(p)`, encoded.
    pub fn render(&self, encoding: Encoding, value: impl Fn(Placeholder) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Value(p) => encode_into(&mut out, encoding, &value(*p)),
            }
        }
        out
    }
}

fn encode_into(out: &mut String, encoding: Encoding, v: &str) {
    match encoding {
        Encoding::JsonString => {
            // serde_json's string escaping, without the surrounding quotes.
            let quoted = serde_json::Value::String(v.to_owned()).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        Encoding::Form => out.extend(form_urlencoded::byte_serialize(v.as_bytes())),
        Encoding::Url => {
            let _ = write!(out, "{}", utf8_percent_encode(v, URL_COMPONENT));
        }
        Encoding::Raw => out.push_str(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placeholder.
    fn all() -> Vec<Placeholder> {
        Placeholder::ALL.iter().map(|&(_, p)| p).collect()
    }

    fn values(p: Placeholder) -> String {
        match p {
            Placeholder::To => "+447700900123".into(),
            Placeholder::ToDigits => "447700900123".into(),
            Placeholder::Text => "Code \"123 456\" & {x} — é".into(),
            Placeholder::Sender => "Acme".into(),
            Placeholder::IdempotencyKey => "k1".into(),
            Placeholder::Locale => "en".into(),
        }
    }

    #[test]
    fn json_braces_are_literal_and_values_escaped() {
        let t = Template::parse(r#"{"to":"{to}","msg":{"text":"{text}"},"n":{}}"#, &all()).unwrap();
        let out = t.render(Encoding::JsonString, values);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["to"], "+447700900123");
        assert_eq!(v["msg"]["text"], "Code \"123 456\" & {x} — é");
    }

    #[test]
    fn form_and_url_encoding() {
        let t = Template::parse("to={to_digits}&text={text}", &all()).unwrap();
        assert_eq!(
            t.render(Encoding::Form, values),
            "to=447700900123&text=Code+%22123+456%22+%26+%7Bx%7D+%E2%80%94+%C3%A9"
        );
        let u = Template::parse("https://gw.example/send/{to}?m={text}", &all()).unwrap();
        assert_eq!(
            u.render(Encoding::Url, values),
            "https://gw.example/send/%2B447700900123?m=Code%20%22123%20456%22%20%26%20%7Bx%7D%20%E2%80%94%20%C3%A9"
        );
    }

    #[test]
    fn unknown_or_disallowed_placeholders_are_refused() {
        let e = Template::parse("x={phone}", &all()).unwrap_err();
        assert!(e.contains("`{phone}`") && e.contains("{to_digits}"), "{e}");
        let e = Template::parse("{text}", &[Placeholder::IdempotencyKey]).unwrap_err();
        assert!(e.contains("`{text}`") && e.contains("{idempotency_key}"), "{e}");
        // Not placeholders: uppercase, empty, unclosed.
        let t = Template::parse("{A} {} {to", &all()).unwrap();
        assert_eq!(t.render(Encoding::Raw, values), "{A} {} {to");
        assert!(Template::parse("{to}", &all()).unwrap().uses(Placeholder::To));
    }
}
