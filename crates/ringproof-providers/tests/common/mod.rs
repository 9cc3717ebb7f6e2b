//! Helpers shared by the wire tests of several providers (each `tests/<vendor>.rs` is its
//! own binary and includes this module with `mod common;`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use ringproof_providers::registry::ProviderConfig;

/// The `toml` examples of a section of docs/providers.md, parsed as the config would be.
pub fn doc_examples(section: &str) -> Vec<(String, ProviderConfig)> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        providers: std::collections::BTreeMap<String, ProviderConfig>,
        #[serde(default)]
        #[allow(dead_code)]
        routes: Vec<ringproof_providers::router::RouteConfig>,
    }
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/providers.md"));
    let start = doc.find(&format!("\n## {section}\n")).unwrap();
    let body = &doc[start + 1..];
    let body = &body[..body[3..].find("\n## ").map_or(body.len(), |i| i + 3)];
    let mut out = Vec::new();
    for block in body.split("```toml\n").skip(1) {
        let toml_text = &block[..block.find("```").unwrap()];
        let parsed: Doc = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
        out.extend(parsed.providers);
    }
    assert!(!out.is_empty(), "no example in section {section}");
    out
}
