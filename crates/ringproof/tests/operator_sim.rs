//! `ringproof operator-sim`: the real binary serves the committed example configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ringproof");

/// Killed when dropped, so a failing test leaves no process behind.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn operator_sim_serves_the_example_config_on_the_bound_address() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/operator-sim.toml");
    let mut sim = Sim(Command::new(BIN)
        .args(["operator-sim", "--config", example, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    // The first line names the bound address: "operator-sim listening on ADDR; issuer URL; …".
    let mut line = String::new();
    // Kept open until the end: the simulator's output must not meet a closed pipe.
    let mut out = BufReader::new(sim.0.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let issuer = line
        .split("issuer ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(
        issuer.starts_with("http://127.0.0.1:") && !issuer.ends_with(":0"),
        "{issuer}"
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address("127.0.0.1".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let d: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], issuer);
    assert_eq!(d["token_endpoint"], format!("{issuer}/token"));
    // An unknown client is refused without a redirect.
    let r = http
        .get(format!("{issuer}/authorize?client_id=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none());
}

#[test]
fn operator_sim_needs_a_config_file() {
    let out = Command::new(BIN).args(["operator-sim"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}
