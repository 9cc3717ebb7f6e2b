//! The end-user demo (`/demo`): a sign-up form like the one the vendors' documents
//! describe, built on the `demo` client through the public APIs only ([`api`]), so it is
//! also an integration example. The pages are in [`crate::pages::demo`].
//!
//! It exists in development mode with the sandbox provider only, when this data directory
//! holds the demo client's credentials (`demo-credentials.json`, written when the first
//! start created the client): an anonymous form that sends messages must never reach a
//! real phone network at the operator's cost.

pub mod api;

use std::net::SocketAddr;
use std::path::Path;

use crate::config::{Config, Mode};

/// The demo's backend, or `None` (with the reason logged) when there is no demo here.
pub fn build(config: &Config, sandbox: bool, bound: SocketAddr, public_base_url: &str) -> Option<api::DemoApi> {
    if config.mode != Mode::Development {
        return None;
    }
    if !sandbox {
        tracing::info!("no /demo: it runs on the sandbox provider only (no message may leave this machine)");
        return None;
    }
    let path = config.data_dir.join("demo-credentials.json");
    let creds = match read_credentials(&path) {
        Ok(c) => c,
        Err(why) => {
            tracing::info!(path = %path.display(), "no /demo: {why}");
            return None;
        }
    };
    // The server's own address, reached over loopback when it listens on every address.
    let ip = match bound.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let base = format!("http://{}", SocketAddr::new(ip, bound.port()));
    match api::DemoApi::new(base, public_base_url.trim_end_matches('/').to_owned(), creds) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "no /demo: its HTTP client could not be built");
            None
        }
    }
}

fn read_credentials(path: &Path) -> Result<api::Credentials, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the demo credentials ({e})"))?;
    serde_json::from_str(&text).map_err(|e| format!("the demo credentials are not readable ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_in_development_with_the_credentials() {
        let dir = std::env::temp_dir().join(format!("rp-demo-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bound: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        assert!(build(&config, true, bound, "http://x").is_none(), "no credentials file");
        std::fs::write(
            dir.join("demo-credentials.json"),
            r#"{"api_key":"k","api_secret":"s","username":"u","password":"p","client_id":"c"}"#,
        )
        .unwrap();
        let demo = build(&config, true, bound, "http://example.test/").unwrap();
        assert!(
            build(&config, false, bound, "http://x").is_none(),
            "a real provider: no demo"
        );
        assert_eq!(demo.link_target(), "http://example.test/demo/link/done");
        let production = Config {
            mode: Mode::Production,
            ..config
        };
        assert!(build(&production, true, bound, "http://x").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
