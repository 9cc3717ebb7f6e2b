//! The real binary: crash safety under SIGKILL, and the CLI commands acting on the same
//! store as the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

#[path = "../../ringproof-store/tests/support/eventually.rs"]
mod eventually;
#[path = "../../ringproof-store/tests/support/pg.rs"]
mod pg;

use eventually::eventually;
use pg::PgDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_ringproof");

/// A fresh directory `rp-cli-<tag>-<random>` in the system temp directory, removed with
/// its guard.
fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("rp-cli-{tag}-"))
        .tempdir()
        .unwrap()
}

fn ringproof(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RINGPROOF_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `client create --name NAME --json` (asserting it succeeds); returns the new client's id.
fn create_client(data: &Path, name: &str) -> String {
    let (ok, out, err) = ringproof(data, &["client", "create", "--name", name, "--json"]);
    assert!(ok, "{err}");
    let c: Value = serde_json::from_str(out.trim()).unwrap();
    c["client_id"].as_str().unwrap().to_owned()
}

/// `client show ID` (asserting it succeeds), parsed.
fn show_client(data: &Path, id: &str) -> Value {
    let (ok, out, err) = ringproof(data, &["client", "show", id]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// Starts `ringproof serve` on a free port and returns the child and its base URL.
fn serve(data: &Path) -> (Server, String) {
    serve_with(data, true)
}

/// A running server, killed (SIGKILL) when dropped, so a failing test leaves no process behind.
struct Server(Child);

impl Server {
    /// SIGKILL: no shutdown hook runs.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve_with(data: &Path, worker: bool) -> (Server, String) {
    let mut cmd = Command::new(BIN);
    cmd.env("RINGPROOF_WORKER__ENABLED", worker.to_string())
        .env("RINGPROOF_WORKER__LEASE_S", "1")
        .env("RINGPROOF_WEBHOOKS__TIMEOUT_MS", "500")
        .env("RINGPROOF_WORKER__POLL_INTERVAL_MS", "50")
        .env_remove("RINGPROOF_DATABASE_URL");
    spawn_serve(cmd, data)
}

/// Runs `cmd` (the binary, with its environment set) as `serve` on a free port.
fn spawn_serve(mut cmd: Command, data: &Path) -> (Server, String) {
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let base = loop {
        let Some(line) = lines.next() else {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            panic!("the server exited before printing its address: {err}");
        };
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ringproof is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stdout and stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (Server(child), base)
}

fn creds(data: &Path) -> (String, String) {
    let c: Value = serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap()).unwrap();
    (
        c["api_key"].as_str().unwrap().to_owned(),
        c["api_secret"].as_str().unwrap().to_owned(),
    )
}

/// How long a real process may take to do something, and how often the tests look (a
/// real process has no injected clock).
const LIMIT: Duration = Duration::from_secs(20);
const EVERY: Duration = Duration::from_millis(50);

/// The server's /metrics text (`None` while it cannot be read).
async fn metrics(http: &reqwest::Client, base: &str) -> Option<String> {
    http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()
}

/// The messages the sandbox outbox of the server at `base` holds for `to`, once it holds any.
async fn sandbox_messages(http: &reqwest::Client, base: &str, to: &str) -> Vec<Value> {
    let url = format!("{base}/sandbox/api/messages?to={}", to.replace('+', "%2B"));
    eventually(&format!("a message to {to}"), LIMIT, EVERY, async || {
        let m: Vec<Value> = http.get(&url).send().await.ok()?.json().await.ok()?;
        (!m.is_empty()).then_some(m)
    })
    .await
}

/// Phase 1 runs with the worker off, so the kill certainly lands before delivery; phase 2
/// with the worker on, so the kill lands wherever it lands. After a restart every accepted
/// verification is delivered exactly once and checks fine.
#[tokio::test]
async fn sigkill_right_after_201_loses_nothing() {
    let tmp = temp_dir("crash");
    let data = tmp.path();
    let http = reqwest::Client::new();
    let numbers: Vec<String> = (0..6).map(|i| format!("+1415555{:04}", 100 + i)).collect();
    let mut ids = Vec::new();
    for (phase, batch) in numbers.chunks(3).enumerate() {
        let (mut child, base) = serve_with(data, phase == 1);
        let (key, secret) = creds(data);
        for to in batch {
            let r = http
                .post(format!("{base}/v1/verifications"))
                .basic_auth(&key, Some(&secret))
                .json(&json!({"to": to}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        // SIGKILL: no shutdown hook runs.
        child.kill();
    }
    let (key, secret) = creds(data);

    let (mut child, base) = serve(data);
    for (to, id) in numbers.iter().zip(&ids) {
        let msgs = sandbox_messages(&http, &base, to).await;
        let code: String = msgs[0]["text"].as_str().unwrap().rsplit(' ').next().unwrap().to_owned();
        let r = http
            .post(format!("{base}/v1/verifications/{id}/check"))
            .basic_auth(&key, Some(&secret))
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "approved");
    }
    // The queue is empty, so no further send can happen; each number got exactly one SMS.
    eventually("an empty queue", LIMIT, EVERY, async || {
        let m = metrics(&http, &base).await?;
        (m.contains("ringproof_jobs{state=\"due\"} 0") && m.contains("ringproof_jobs{state=\"scheduled\"} 0"))
            .then_some(())
    })
    .await;
    for to in &numbers {
        let url = format!("{base}/sandbox/api/messages?to={}", to.replace('+', "%2B"));
        let m: Vec<Value> = http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(m.len(), 1, "exactly one SMS to {to}");
    }
    child.kill();
}

#[tokio::test]
async fn cli_manages_clients_and_verifications_on_the_servers_store() {
    let tmp = temp_dir("cmds");
    let data = tmp.path();
    let (ok, out, err) = ringproof(data, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("database is up to date"));

    let (ok, out, err) = ringproof(
        data,
        &[
            "client",
            "create",
            "--name",
            "Acme Bank",
            "--allowed-origin",
            "https://acme.example",
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let c: Value = serde_json::from_str(out.trim()).unwrap();
    for k in ["client_id", "api_key", "api_secret", "username", "password"] {
        assert!(c[k].as_str().is_some_and(|v| !v.is_empty()), "{k} in {c}");
    }
    assert_eq!(c["username"], "acme-bank");
    let id = c["client_id"].as_str().unwrap();

    let (ok, out, _) = ringproof(data, &["client", "list", "--json"]);
    assert!(ok);
    let list: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(list[0]["client_id"], id);
    assert!(
        !out.contains(c["api_secret"].as_str().unwrap()),
        "list never shows secrets"
    );

    let (ok, _, err) = ringproof(
        data,
        &[
            "client",
            "create",
            "--name",
            "x",
            "--allowed-origin",
            "javascript:alert(1)",
        ],
    );
    assert!(!ok);
    assert!(err.contains("allowed_origin"), "{err}");

    // Per-client policy: 8-digit codes and its own brand, for this client only.
    let (ok, out, err) = ringproof(data, &["client", "update", id, "--code-length", "8", "--brand", "Acme"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["effective_policy"]["code_length"], 8);
    assert_eq!(shown["effective_policy"]["max_checks"], 5);
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--code-length", "11"]);
    assert!(!ok);
    assert!(err.contains("code_length"), "{err}");
    assert_eq!(show_client(data, id)["policy_overrides"]["code_length"], 8);

    // The link pages' accent: `#rrggbb`, dark enough for white text, or refused saying why.
    let (ok, out, err) = ringproof(data, &["client", "update", id, "--brand-color", "#0A7D5A"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["brand_color"], "#0a7d5a");
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--brand-color", "#ffcc00"]);
    assert!(!ok);
    assert!(
        err.contains("brand_color: #ffcc00 is too light") && err.contains("4.5:1"),
        "{err}"
    );
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--brand-color", "green"]);
    assert!(!ok && err.contains("#rrggbb"), "{err}");
    assert_eq!(show_client(data, id)["brand_color"], "#0a7d5a");
    let (ok, out, err) = ringproof(data, &["client", "update", id, "--clear-brand-color"]);
    assert!(ok, "{err}");
    assert!(serde_json::from_str::<Value>(&out).unwrap()["brand_color"].is_null());

    // A server runs on the same data while the CLI starts and checks a verification.
    let (mut child, base) = serve(data);
    let (ok, out, err) = ringproof(data, &["verify", "start", "--client", id, "--to", "+14155550123"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let vid = v["id"].as_str().unwrap();
    let http = reqwest::Client::new();
    let msgs = sandbox_messages(&http, &base, "+14155550123").await;
    assert!(
        msgs[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Your Acme verification code is: "),
        "{}",
        msgs[0]
    );
    let code = msgs[0]["text"].as_str().unwrap().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(code.len(), 8, "the client's policy applies");
    let (ok, out, _) = ringproof(data, &["verify", "check", "--client", id, vid, &code]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["status"], "approved");
    let (ok, out, _) = ringproof(data, &["verify", "status", "--client", id, vid]);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["status"], "approved");

    // The server accepts the credentials the CLI printed, until the secret is rotated.
    let auth_status = |secret: String| {
        let (http, base, key, vid) = (
            http.clone(),
            base.clone(),
            c["api_key"].as_str().unwrap().to_owned(),
            vid.to_owned(),
        );
        async move {
            http.get(format!("{base}/v1/verifications/{vid}"))
                .basic_auth(key, Some(secret))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(auth_status(c["api_secret"].as_str().unwrap().to_owned()).await, 200);
    let (ok, out, _) = ringproof(data, &["client", "rotate-secret", id]);
    assert!(ok);
    let new_secret = out.lines().last().unwrap().trim().to_owned();
    assert_eq!(auth_status(c["api_secret"].as_str().unwrap().to_owned()).await, 401);
    assert_eq!(auth_status(new_secret).await, 200);

    // Signzy-face tokens from a login work until `client revoke-tokens`.
    let login = async || {
        let r = http
            .post(format!("{base}/api/v3/patrons/login"))
            .json(&json!({"username": c["username"], "password": c["password"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    let me = async |t: &str| {
        http.get(format!("{base}/api/v3/patrons/me"))
            .header("authorization", t)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let (t1, t2) = (login().await, login().await);
    assert_eq!(me(&t1).await, 200);
    let (ok, out, err) = ringproof(data, &["client", "revoke-tokens", id]);
    assert!(ok, "{err}");
    assert!(out.contains("Revoked 2 access token(s)"), "{out}");
    assert_eq!(me(&t1).await, 401);
    assert_eq!(me(&t2).await, 401);
    let (ok, out, _) = ringproof(data, &["client", "revoke-tokens", id]);
    assert!(ok);
    assert!(out.contains("Revoked 0 access token(s)"), "{out}");
    let (ok, _, err) = ringproof(data, &["client", "revoke-tokens", "0123456789abcdef01234567"]);
    assert!(!ok);
    assert!(err.contains("no such client"), "{err}");

    // A different client cannot see the verification through the CLI either.
    let (ok, _, err) = ringproof(data, &["verify", "status", "--client", "0123456789abcdef01234567", vid]);
    assert!(!ok);
    assert!(err.contains("no such client"), "{err}");
    child.kill();
}

#[test]
fn production_mode_refuses_the_sandbox() {
    let tmp = temp_dir("prod");
    let data = tmp.path();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("RINGPROOF_MODE", "production")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refuses the sandbox provider"), "{err}");
    assert!(!data.join("sandbox.db").exists());
}

#[test]
fn template_set_stores_a_clients_otp_template() {
    let tmp = temp_dir("template");
    let data = tmp.path();
    let id = create_client(data, "Acme");
    let id = id.as_str();

    let (ok, out, err) = ringproof(data, &["template", "set", id, "41", "Acme: Your OTP for login is ####"]);
    assert!(ok, "{err}");
    assert!(out.contains("Template 41 of client"), "{out}");
    assert!(out.contains("(4-digit code)"), "{out}");
    assert_eq!(
        show_client(data, id)["templates"],
        json!({"otp:41": "Acme: Your OTP for login is ####"})
    );

    // The instant-link text: set, shown, cleared.
    let (ok, out, err) = ringproof(data, &["template", "set-link", id, "Acme: tap {link}"]);
    assert!(ok, "{err}");
    assert!(out.contains("Link SMS text of client"), "{out}");
    assert_eq!(show_client(data, id)["templates"]["link"], "Acme: tap {link}");
    let (ok, _, _) = ringproof(data, &["template", "set-link", id, "--clear"]);
    assert!(ok);
    assert!(show_client(data, id)["templates"].get("link").is_none());
    let (ok, _, err) = ringproof(data, &["template", "set-link", id, "   "]);
    assert!(!ok, "a blank text is refused");
    assert!(err.contains("text"), "{err}");
    let (ok, _, err) = ringproof(
        data,
        &["template", "set-link", id, "--locale", "es", "Acme: toca {link}"],
    );
    assert!(ok, "{err}");
    assert_eq!(show_client(data, id)["templates"]["link:es"], "Acme: toca {link}");
    let (ok, _, _) = ringproof(data, &["template", "set-link", id, "--locale", "es", "--clear"]);
    assert!(ok);

    // The verification SMS: for every language, or for one; a language outside the
    // catalogue, or with a region, is refused.
    let (ok, out, err) = ringproof(data, &["template", "set-sms", id, "{brand}: {code}"]);
    assert!(ok, "{err}");
    assert!(out.contains("Verification SMS text of client"), "{out}");
    let (ok, out, err) = ringproof(
        data,
        &["template", "set-sms", id, "--locale", "ES", "{code} es tu código"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("text (es) of client"), "{out}");
    assert_eq!(show_client(data, id)["templates"]["sms"], "{brand}: {code}");
    assert_eq!(show_client(data, id)["templates"]["sms:es"], "{code} es tu código");
    for bad in ["nl", "es-MX"] {
        let (ok, _, err) = ringproof(data, &["template", "set-sms", id, "--locale", bad, "{code}"]);
        assert!(!ok, "{bad}");
        assert!(err.contains("--locale must be one of en, es"), "{err}");
    }
    for locale in [None, Some("es")] {
        let mut args = vec!["template", "set-sms", id, "--clear"];
        args.extend(locale.map(|l| ["--locale", l]).into_iter().flatten());
        let (ok, _, err) = ringproof(data, &args);
        assert!(ok, "{err}");
    }
    // Audited by name, never by text.
    let (ok, audit, err) = ringproof(data, &["audit", "list", "--client", id, "--json"]);
    assert!(ok, "{err}");
    assert!(
        audit.contains("templates.sms:es") && !audit.contains("tu código"),
        "{audit}"
    );

    // Refused: no code placeholder, two runs, a bad id, a built-in id, an unknown client.
    for (args, why) in [
        (vec![id, "42", "no placeholder"], "`#`"),
        (vec![id, "42", "#### and ####"], "`#`"),
        (vec![id, "4 2", "code ####"], "template id"),
        (vec![id, "6", "code ######"], "built-in"),
        (vec!["0123456789abcdef01234567", "42", "code ####"], "no such client"),
    ] {
        let mut all = vec!["template", "set"];
        all.extend(args);
        let (ok, _, err) = ringproof(data, &all);
        assert!(!ok, "{all:?}");
        assert!(err.contains(why), "{all:?}: {err}");
    }
    // Nothing else was stored.
    assert_eq!(show_client(data, id)["templates"].as_object().unwrap().len(), 1);
}

/// `client update --sim-swap off|check|block [--sim-swap-max-age-h N]` sets the SIM-swap
/// policy, `client show` shows it, and a bad window is refused without a change.
#[test]
fn client_update_sets_the_sim_swap_policy() {
    let tmp = temp_dir("simswap");
    let data = tmp.path();
    let id = create_client(data, "Acme");
    let id = id.as_str();
    let shown = || show_client(data, id)["controls"]["sim_swap"].clone();
    assert_eq!(shown(), Value::Null);
    let update = |args: &[&str]| {
        let mut all = vec!["client", "update", id];
        all.extend_from_slice(args);
        ringproof(data, &all)
    };
    let (ok, out, err) = update(&["--sim-swap", "check"]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["controls"]["sim_swap"],
        json!({"block": false, "max_age_h": 240})
    );
    let (ok, _, err) = update(&["--sim-swap", "block", "--sim-swap-max-age-h", "72"]);
    assert!(ok, "{err}");
    assert_eq!(shown(), json!({"block": true, "max_age_h": 72}));
    // The window alone keeps the mode; a bad one changes nothing.
    let (ok, _, err) = update(&["--sim-swap-max-age-h", "48"]);
    assert!(ok, "{err}");
    assert_eq!(shown(), json!({"block": true, "max_age_h": 48}));
    for bad in [
        &["--sim-swap-max-age-h", "0"][..],
        &["--sim-swap-max-age-h", "2401"],
        &["--sim-swap", "on"],
    ] {
        let (ok, _, err) = update(bad);
        assert!(!ok, "{bad:?} accepted");
        assert!(err.contains("sim") || err.contains("sim-swap"), "{err}");
    }
    assert_eq!(shown(), json!({"block": true, "max_age_h": 48}));
    let (ok, _, err) = update(&["--sim-swap", "off"]);
    assert!(ok, "{err}");
    assert_eq!(shown(), Value::Null);
    let (ok, _, err) = update(&["--sim-swap-max-age-h", "48"]);
    assert!(!ok && err.contains("sim_swap"), "{err}");
}

#[test]
fn client_update_sets_and_shows_the_controls() {
    let tmp = temp_dir("controls");
    let data = tmp.path();
    let id = create_client(data, "Acme");
    let id = id.as_str();
    let show = || show_client(data, id)["controls"].clone();
    // The defaults: both products on, no test mode, no lists.
    assert_eq!(
        show(),
        json!({"products": {"signzy-link": true, "signzy-otp": true, "idenfy-sms": true}, "test_mode": false,
            "allowed_numbers": [], "blocked_numbers": [], "safe_numbers": [], "limits": {}, "sim_swap": null})
    );

    let (ok, out, err) = ringproof(
        data,
        &[
            "client",
            "update",
            id,
            "--disable-product",
            "signzy-otp",
            "--test-mode",
            "on",
            "--allow-number",
            "+14155550123",
            "--allow-number",
            "+447911123456",
            "--block-number",
            "+14155550199",
        ],
    );
    assert!(ok, "{err}");
    let expected = json!({"products": {"signzy-link": true, "signzy-otp": false, "idenfy-sms": true}, "test_mode": true,
        "allowed_numbers": ["+14155550123", "+447911123456"], "blocked_numbers": ["+14155550199"],
        "safe_numbers": [], "limits": {}, "sim_swap": null});
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["controls"], expected);
    assert_eq!(show(), expected);

    // Lists are replaced, not extended; other settings stay.
    let (ok, _, err) = ringproof(
        data,
        &[
            "client",
            "update",
            id,
            "--enable-product",
            "signzy-otp",
            "--disable-product",
            "signzy-link",
            "--test-mode",
            "off",
            "--block-number",
            "+14155550100",
            "--clear-allowed-numbers",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        show(),
        json!({"products": {"signzy-link": false, "signzy-otp": true, "idenfy-sms": true}, "test_mode": false,
            "allowed_numbers": [], "blocked_numbers": ["+14155550100"], "safe_numbers": [], "limits": {}, "sim_swap": null})
    );

    // Refused, and nothing changed: an unknown product, a bad test mode, a number that is
    // not E.164, a product both enabled and disabled.
    for (args, why) in [
        (
            vec!["--disable-product", "signzy-fraud"],
            "signzy-link, signzy-otp, idenfy-sms",
        ),
        (vec!["--test-mode", "maybe"], "maybe"),
        (vec!["--block-number", "4155550100"], "E.164"),
        (vec!["--allow-number", "+1415"], "E.164"),
        (
            vec!["--enable-product", "signzy-otp", "--disable-product", "signzy-otp"],
            "both enabled and disabled",
        ),
    ] {
        let mut all = vec!["client", "update", id];
        all.extend(args);
        let (ok, _, err) = ringproof(data, &all);
        assert!(!ok, "{all:?}");
        assert!(err.contains(why), "{all:?}: {err}");
    }
    assert_eq!(
        show(),
        json!({"products": {"signzy-link": false, "signzy-otp": true, "idenfy-sms": true}, "test_mode": false,
            "allowed_numbers": [], "blocked_numbers": ["+14155550100"], "safe_numbers": [], "limits": {}, "sim_swap": null})
    );
}

/// The SMS-pumping guard from the command line: the client's safe list, geo permissions
/// and limits (`client update`), then a block by hand listed, refusing, lifted, and both
/// in the audit log.
#[test]
fn guard_commands_block_list_and_unblock_and_client_update_sets_the_guard() {
    let tmp = temp_dir("guard");
    let data = tmp.path();
    let id = create_client(data, "Acme");
    let id = id.as_str();
    let (ok, _, err) = ringproof(
        data,
        &[
            "client",
            "update",
            id,
            "--safe-number",
            "+447400123456",
            "--allow-country",
            "sms:GB,US",
            "--allow-country",
            "voice:GB",
            "--limit",
            "pump_block_hours=24",
        ],
    );
    assert!(ok, "{err}");
    let c = show_client(data, id)["controls"].clone();
    assert_eq!(c["safe_numbers"], json!(["+447400123456"]));
    assert_eq!(
        c["limits"],
        json!({"allowed_countries_sms": ["GB", "US"], "allowed_countries_voice": ["GB"], "pump_block_hours": 24})
    );
    for (args, why) in [
        (vec!["--allow-country", "fax:GB"], "CHANNEL:COUNTRIES"),
        (vec!["--allow-country", "sms:Britain"], "not a country"),
        (vec!["--limit", "pump_nonsense=1"], "unknown limit"),
        (vec!["--limit", "pump_max_conversion_pct=150"], "percentages"),
        (vec!["--safe-number", "7400123456"], "E.164"),
    ] {
        let mut all = vec!["client", "update", id];
        all.extend(args);
        let (ok, _, err) = ringproof(data, &all);
        assert!(!ok, "{all:?}");
        assert!(err.contains(why), "{all:?}: {err}");
    }

    let (ok, out, _) = ringproof(data, &["guard", "list"]);
    assert!(ok);
    assert_eq!(out.trim(), "No blocks in force.");
    let (ok, out, err) = ringproof(
        data,
        &[
            "guard",
            "block",
            "--client",
            id,
            "--prefix",
            "+44740099",
            "--hours",
            "6",
            "--reason",
            "fraud report",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("+44740099 (GB)"), "{out}");
    let (ok, _, err) = ringproof(data, &["guard", "block", "--client", id, "--prefix", "+4474"]);
    assert!(!ok && err.contains("last four"), "{err}");
    let (ok, out, _) = ringproof(data, &["guard", "list", "--client", id, "--json"]);
    assert!(ok);
    let b: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&b["client_id"], &b["range"], &b["country"], &b["rule"], &b["why"]),
        (
            &json!(id),
            &json!("+44740099"),
            &json!("GB"),
            &json!("manual_block"),
            &json!("fraud report")
        )
    );
    assert!(b["by"].as_str().unwrap().starts_with("cli"), "{b}");
    let (ok, out, err) = ringproof(data, &["guard", "unblock", "--client", id, "--prefix", "+44740099"]);
    assert!(ok, "{err}");
    assert!(out.contains("Unblocked +44740099"), "{out}");
    let (ok, _, err) = ringproof(data, &["guard", "unblock", "--client", id, "--prefix", "+44740099"]);
    assert!(!ok && err.contains("no block"), "{err}");
    let (ok, out, _) = ringproof(data, &["audit", "list", "--client", id, "--json"]);
    assert!(ok);
    let actions: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(actions.contains(&"guard.blocked".to_owned()), "{actions:?}");
    assert!(actions.contains(&"guard.unblocked".to_owned()), "{actions:?}");
    assert!(
        !out.contains("+44740099"),
        "no number-like text in the audit log: {out}"
    );
}

#[test]
fn client_webhook_is_set_shown_rotated_and_cleared() {
    let tmp = temp_dir("webhook");
    let data = tmp.path();
    let id = create_client(data, "Hooked");
    let id = id.as_str();
    let show = || {
        let (ok, out, err) = ringproof(data, &["client", "show", id]);
        assert!(ok, "{err}");
        (serde_json::from_str::<Value>(&out).unwrap(), out)
    };
    assert_eq!(show().0["webhook_url"], Value::Null);

    // The first URL generates the secret, printed once with the settings.
    let (ok, out, err) = ringproof(
        data,
        &["client", "update", id, "--webhook-url", "https://hooks.example/rp"],
    );
    assert!(ok, "{err}");
    let updated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(updated["webhook_url"], "https://hooks.example/rp");
    let secret = updated["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() == 38, "{secret}");
    let (shown, raw) = show();
    assert_eq!(shown["webhook_url"], "https://hooks.example/rp");
    assert!(
        shown.get("webhook_secret").is_none() && !raw.contains("whsec_"),
        "{raw}"
    );

    // A new URL keeps the secret (none printed); a bad one changes nothing.
    let (ok, out, err) = ringproof(
        data,
        &["client", "update", id, "--webhook-url", "https://hooks.example/v2"],
    );
    assert!(ok, "{err}");
    assert!(!out.contains("whsec_"), "{out}");
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--webhook-url", "ftp://hooks.example/"]);
    assert!(!ok);
    assert!(err.contains("webhook_url"), "{err}");
    assert_eq!(show().0["webhook_url"], "https://hooks.example/v2");
    assert_eq!(show().0["webhook_format"], "ringproof");

    // The format: shown, kept across a URL change, refused when unknown.
    let (ok, out, err) = ringproof(data, &["client", "update", id, "--webhook-format", "vonage"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["webhook_format"], "vonage");
    let (ok, _, err) = ringproof(
        data,
        &[
            "client",
            "update",
            id,
            "--webhook-url",
            "https://hooks.example/v3",
            "--webhook-format",
            "twilio",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = ringproof(
        data,
        &["client", "update", id, "--webhook-url", "https://hooks.example/v2"],
    );
    assert!(ok, "{err}");
    assert_eq!(show().0["webhook_format"], "twilio");
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--webhook-format", "stripe"]);
    assert!(!ok);
    assert!(err.contains("stripe"), "{err}");
    assert_eq!(show().0["webhook_format"], "twilio");

    // Rotation prints a new secret, once.
    let (ok, out, err) = ringproof(data, &["client", "rotate-webhook-secret", id]);
    assert!(ok, "{err}");
    let rotated = out.lines().last().unwrap().trim();
    assert!(rotated.starts_with("whsec_") && rotated != secret, "{out}");
    assert!(!show().1.contains("whsec_"));

    // Cleared: no URL, and nothing left to rotate.
    let (ok, out, err) = ringproof(data, &["client", "update", id, "--clear-webhook"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["webhook_url"], Value::Null);
    let (ok, _, err) = ringproof(data, &["client", "rotate-webhook-secret", id]);
    assert!(!ok);
    assert!(err.contains("no webhook"), "{err}");
    // A format needs a webhook.
    let (ok, _, err) = ringproof(data, &["client", "update", id, "--webhook-format", "twilio"]);
    assert!(!ok);
    assert!(err.contains("--webhook-url"), "{err}");
    assert_eq!(show().0["webhook_format"], Value::Null);
}

/// `client twilio-credentials`: an Account SID kept across Auth Token rotations, API keys
/// under the same account, each secret printed once and audited by key id and kind (never the
/// secret); `--list` shows the keys and `--revoke` deletes an API key, audited with its id.
#[test]
fn twilio_credentials_are_issued_rotated_and_audited() {
    let tmp = temp_dir("twilio");
    let data = tmp.path();
    let id = create_client(data, "Twilio Shop");
    let json = |args: &[&str]| {
        let (ok, out, err) = ringproof(data, args);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(out.trim()).unwrap()
    };
    let first = json(&["client", "twilio-credentials", &id, "--json"]);
    let sid = first["account_sid"].as_str().unwrap().to_owned();
    let token = first["auth_token"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("AC") && sid.len() == 34, "{sid}");
    assert_eq!(token.len(), 32);
    let second = json(&["client", "twilio-credentials", &id, "--json"]);
    assert_eq!(second["account_sid"], sid.as_str(), "the SID stays");
    assert_ne!(second["auth_token"], token.as_str(), "a new token");
    let key = json(&["client", "twilio-credentials", &id, "--api-key", "--json"]);
    assert_eq!(key["account_sid"], sid.as_str());
    let key_sid = key["api_key_sid"].as_str().unwrap().to_owned();
    assert!(key_sid.starts_with("SK") && key_sid.len() == 34, "{key_sid}");
    let (ok, out, _) = ringproof(data, &["client", "twilio-credentials", &id]);
    assert!(ok && out.contains(&sid) && out.contains("shown once"), "{out}");
    let (ok, _, err) = ringproof(data, &["client", "twilio-credentials", "0123456789abcdef01234567"]);
    assert!(!ok && err.contains("no such client"), "{err}");

    let (ok, out, err) = ringproof(data, &["audit", "list", "--client", &id, "--json"]);
    assert!(ok, "{err}");
    let issued: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "client.access_key_issued")
        .collect();
    assert_eq!(issued.len(), 4);
    // Each issuance names its key id (never its secret).
    let ids: Vec<&str> = issued.iter().filter_map(|e| e["detail"]["key_id"].as_str()).collect();
    assert_eq!(
        ids,
        [sid.as_str(), key_sid.as_str(), sid.as_str(), sid.as_str()],
        "newest first"
    );
    for secret in [
        &token,
        second["auth_token"].as_str().unwrap(),
        key["api_key_secret"].as_str().unwrap(),
    ] {
        assert!(!out.contains(secret), "a secret in the audit log");
    }

    // --list shows both keys, no secret; --revoke deletes the API key, audited with its id.
    let (ok, out, err) = ringproof(data, &["client", "twilio-credentials", &id, "--list", "--json"]);
    assert!(ok, "{err}");
    let listed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        listed
            .iter()
            .map(|k| (k["id"].as_str().unwrap(), k["kind"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [(sid.as_str(), "account"), (key_sid.as_str(), "api_key")]
    );
    assert!(!out.contains(key["api_key_secret"].as_str().unwrap()));
    for bad in [sid.as_str(), "SK0123", "SK0123456789abcdef0123456789abcdef"] {
        let (ok, _, err) = ringproof(data, &["client", "twilio-credentials", &id, "--revoke", bad]);
        assert!(!ok, "{bad}: {err}");
    }
    let (ok, out, err) = ringproof(data, &["client", "twilio-credentials", &id, "--revoke", &key_sid]);
    assert!(ok && out.contains(&key_sid), "{out} {err}");
    let (_, out, _) = ringproof(data, &["client", "twilio-credentials", &id, "--list"]);
    assert!(out.contains(&sid) && !out.contains(&key_sid), "{out}");
    let (_, out, _) = ringproof(data, &["audit", "list", "--client", &id, "--json"]);
    let revoked: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "client.access_key_revoked")
        .collect();
    assert_eq!(revoked.len(), 1, "one entry, for the key that was revoked");
    assert_eq!(revoked[0]["detail"]["key_id"], key_sid.as_str());
}

/// `client vonage-credentials` and `client vonage-application`: a Vonage API key (8 hex)
/// and secret printed once; an application registered with its public key (a drawn id, or
/// the one given, kept when its key is replaced), bad keys and ids refused, another
/// client's id not taken over; each audited without a secret.
#[test]
fn vonage_credentials_and_applications() {
    let tmp = temp_dir("vonage");
    let data = tmp.path();
    let id = create_client(data, "Vonage Shop");
    let other = create_client(data, "Other Shop");
    let json = |args: &[&str]| {
        let (ok, out, err) = ringproof(data, args);
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str::<Value>(out.trim()).unwrap()
    };
    let key = json(&["client", "vonage-credentials", &id, "--json"]);
    let api_key = key["api_key"].as_str().unwrap();
    let secret = key["api_secret"].as_str().unwrap().to_owned();
    assert!(
        api_key.len() == 8 && api_key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{api_key}"
    );

    let core = concat!(env!("CARGO_MANIFEST_DIR"), "/../ringproof-core/testdata/");
    let (pub1, pub2, small, private) = (
        format!("{core}rsa_test_1.pub"),
        format!("{core}rsa_test_2.pub"),
        format!("{core}rsa_test_1024.pub"),
        format!("{core}rsa_test_1.pem"),
    );
    let drawn = json(&["client", "vonage-application", &id, "--public-key", &pub1, "--json"]);
    let drawn = drawn["application_id"].as_str().unwrap();
    assert_eq!(drawn.len(), 36, "{drawn}");
    let app = "AAAAAAAA-1111-4222-8333-444455556666";
    let given = json(&[
        "client",
        "vonage-application",
        &id,
        "--public-key",
        &pub1,
        "--application-id",
        app,
        "--json",
    ]);
    assert_eq!(given["application_id"], app.to_lowercase());
    let (ok, out, err) = ringproof(
        data,
        &[
            "client",
            "vonage-application",
            &id,
            "--public-key",
            &pub2,
            "--application-id",
            app,
        ],
    );
    assert!(ok && out.contains(&app.to_lowercase()), "{out}{err}");
    for (args, why) in [
        (vec!["--public-key", small.as_str()], "RSA public key"),
        (vec!["--public-key", private.as_str()], "RSA public key"),
        (vec!["--public-key", "/nonexistent.pem"], "cannot read"),
        (
            vec!["--public-key", pub1.as_str(), "--application-id", "not-a-uuid"],
            "UUID",
        ),
    ] {
        let mut all = vec!["client", "vonage-application", id.as_str()];
        all.extend(args);
        let (ok, _, err) = ringproof(data, &all);
        assert!(!ok && err.contains(why), "{all:?}: {err}");
    }
    let (ok, _, err) = ringproof(
        data,
        &[
            "client",
            "vonage-application",
            &other,
            "--public-key",
            &pub1,
            "--application-id",
            app,
        ],
    );
    assert!(!ok && err.contains("another client"), "{err}");

    let (ok, out, err) = ringproof(data, &["audit", "list", "--client", &id, "--json"]);
    assert!(ok, "{err}");
    let issued = out.lines().filter(|l| l.contains("client.access_key_issued")).count();
    assert_eq!(issued, 4, "{out}");
    assert!(!out.contains(&secret), "a secret in the audit log");

    // A Vonage API key is revoked (audited with its id), once; another client cannot.
    let (ok, _, err) = ringproof(data, &["client", "vonage-credentials", &other, "--revoke", api_key]);
    assert!(!ok && err.contains("no such API key"), "{err}");
    let (ok, out, err) = ringproof(data, &["client", "vonage-credentials", &id, "--revoke", api_key]);
    assert!(
        ok && out.contains(&format!("Revoked Vonage API key {api_key}")),
        "{out}{err}"
    );
    let (ok, _, err) = ringproof(data, &["client", "vonage-credentials", &id, "--revoke", api_key]);
    assert!(!ok && err.contains("no such API key"), "{err}");
    let (_, out, _) = ringproof(data, &["audit", "list", "--client", &id, "--json"]);
    assert!(
        out.lines()
            .any(|l| l.contains("client.access_key_revoked") && l.contains(api_key)),
        "{out}"
    );
}

/// Every administrative command leaves one audit entry with the right action, recorded as
/// the CLI's (`cli:<user>`), and no entry holds any of the secrets those commands printed,
/// a webhook URL's token, or a phone number. `audit list` filters by client, time and count.
#[test]
fn admin_commands_are_audited_once_each_without_secrets() {
    let tmp = temp_dir("audit");
    let data = tmp.path();
    let run = |args: &[&str]| {
        let (ok, out, err) = ringproof(data, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    let created: Value =
        serde_json::from_str(run(&["client", "create", "--name", "Audited", "--json"]).trim()).unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let id = id.as_str();
    let mut secrets = vec![
        created["api_secret"].as_str().unwrap().to_owned(),
        created["password"].as_str().unwrap().to_owned(),
    ];
    run(&[
        "client",
        "update",
        id,
        "--brand",
        "Audited Co",
        "--max-checks",
        "3",
        "--block-number",
        "+14155550123",
        "--block-number",
        "+14155550124",
    ]);
    secrets.push(
        run(&["client", "rotate-secret", id])
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned(),
    );
    let hooked: Value = serde_json::from_str(&run(&[
        "client",
        "update",
        id,
        "--webhook-url",
        "https://hooks.example/rp?token=tok3n5ecret",
    ]))
    .unwrap();
    secrets.push(hooked["webhook_secret"].as_str().unwrap().to_owned());
    secrets.push("tok3n5ecret".into());
    secrets.push(
        run(&["client", "rotate-webhook-secret", id])
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned(),
    );
    run(&["client", "update", id, "--clear-webhook"]);
    run(&["client", "revoke-tokens", id]);
    run(&["template", "set", id, "41", "Audited: your code is ####"]);
    // An update that changes nothing records nothing.
    run(&["client", "update", id, "--brand", "Audited Co"]);
    let other = create_client(data, "Someone Else");

    let raw = run(&["audit", "list", "--client", id, "--json"]);
    let entries: Vec<Value> = raw.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "client.updated",
            "client.tokens_revoked",
            "client.webhook_cleared",
            "client.webhook_secret_rotated",
            "client.webhook_set",
            "client.secret_rotated",
            "client.updated",
            "client.created",
        ],
        "newest first, one each"
    );
    for e in &entries {
        assert_eq!(e["client_id"], id);
        assert!(e["actor"].as_str().unwrap().starts_with("cli"), "{e}");
    }
    assert_eq!(
        entries[6]["detail"],
        json!({
            "changed": ["brand", "controls.blocked_numbers", "policy.max_checks"],
            "sizes": {"controls.blocked_numbers": 2},
        })
    );
    assert_eq!(entries[0]["detail"]["changed"], json!(["templates.otp:41"]));
    assert_eq!(entries[4]["detail"]["origin"], "https://hooks.example");
    let everything = run(&["audit", "list", "--json"]) + &run(&["audit", "list"]);
    for s in &secrets {
        assert!(!everything.contains(s.as_str()), "a secret in the audit log: {s}");
    }
    assert!(
        !everything.contains("4155550123") && !everything.contains("Audited:"),
        "{everything}"
    );

    // Filters: the other client's entry, since, limit; a bad --since is refused clearly.
    let theirs = run(&["audit", "list", "--client", &other]);
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
    assert!(theirs.contains("client.created"));
    assert_eq!(run(&["audit", "list", "--since", "1d"]).lines().count(), 9);
    assert_eq!(run(&["audit", "list", "--since", "2999-01-01"]).lines().count(), 0);
    assert_eq!(
        run(&["audit", "list", "--since", "2000-01-01T00:00:00Z"])
            .lines()
            .count(),
        9
    );
    assert_eq!(run(&["audit", "list", "--limit", "2"]).lines().count(), 2);
    let (ok, _, err) = ringproof(data, &["audit", "list", "--since", "yesterday"]);
    assert!(!ok && err.contains("--since"), "{err}");
}

/// Two `ringproof serve` processes on one PostgreSQL database (each with its own data
/// directory and the same server secret) run a fallback workflow in real time: an SMS, a
/// call after 1 s repeating its code, a call after 3 s with a new code. Every number gets
/// exactly those three messages in the sandbox outbox the nodes share (both show the same),
/// and every history shows each `sent` once. A job claimed by both nodes would show up as a
/// second `sent` (the shared outbox drops a repeated idempotency key; the kill test's
/// carrier double, which keeps repeats, counts them).
/// Nothing here forces the two workers to race (with `SKIP LOCKED` removed from the claim
/// it failed two runs in three): `ringproof-server`'s `tests/api/multinode.rs` proves
/// exclusivity with an injected clock and the workers made to race; this one checks the
/// real binary, configuration and polling, in about 4 s.
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn two_serve_processes_on_one_postgres_send_each_message_once() {
    let db = PgDatabase::create("cli").await;
    let url = &db.url;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let server_secret = format!("{nanos:064x}");
    let node = |tag: &str| {
        let data = temp_dir(tag);
        let mut cmd = Command::new(BIN);
        cmd.env("RINGPROOF_DATABASE_URL", url)
            .env("RINGPROOF_SERVER_SECRET", &server_secret)
            .env("RINGPROOF_WORKER__POLL_INTERVAL_MS", "20")
            // 30 sends to one range, none approved, are what the SMS-pumping guard stops;
            // this test is about exactly-once delivery, so the guard's rules are off.
            .env("RINGPROOF_LIMITS__PUMP_BLOCK_HOURS", "0")
            .env("RINGPROOF_LIMITS__PUMP_COUNTRY_BLOCK_HOURS", "0");
        let (child, base) = spawn_serve(cmd, data.path());
        (child, base, data)
    };
    // One after the other: the first creates the schema and the demo client.
    let (a, base_a, data_a) = node("node-a");
    let (b, base_b, data_b) = node("node-b");
    let (key, secret) = creds(data_a.path());
    let http = reqwest::Client::new();
    let numbers: Vec<String> = (0..10).map(|i| format!("+1415555{:04}", 200 + i)).collect();
    let bases = [base_a.as_str(), base_b.as_str()];
    let mut ids = Vec::new();
    for (i, to) in numbers.iter().enumerate() {
        let r = http
            .post(format!("{}/v1/verifications", bases[i % 2]))
            .basic_auth(&key, Some(&secret))
            .json(&json!({"to": to, "workflow": [
                {"channel": "sms", "code": "new", "valid_for_s": 60},
                {"channel": "voice", "after_s": 1, "code": "same"},
                {"channel": "voice", "after_s": 3, "code": "new", "valid_for_s": 60}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    // The messages to each number in the sandbox outbox the nodes share (in the database),
    // as node A shows it.
    let outbox_of = async |base: &str, to: &str| -> Option<Vec<Value>> {
        let url = format!("{base}/sandbox/api/messages?to={}", to.replace('+', "%2B"));
        http.get(&url).send().await.ok()?.json::<Vec<Value>>().await.ok()
    };
    let outboxes = async |to: &str| outbox_of(&base_a, to).await;
    // Done when every number has its three messages and no job is due any more (every
    // delivery and step recorded; only the expiry jobs wait).
    eventually("every message sent", Duration::from_secs(30), EVERY, async || {
        for to in &numbers {
            if outboxes(to).await?.len() < 3 {
                return None;
            }
        }
        let m = metrics(&http, &base_a).await?;
        m.contains("ringproof_jobs{state=\"due\"} 0").then_some(())
    })
    .await;
    for to in &numbers {
        let mut msgs = outboxes(to).await.unwrap();
        assert_eq!(
            Some(&msgs),
            outbox_of(&base_b, to).await.as_ref(),
            "both nodes show one outbox"
        );
        msgs.sort_by(|x, y| x["created_at"].as_str().cmp(&y["created_at"].as_str()));
        let channels: Vec<&str> = msgs.iter().map(|m| m["channel"].as_str().unwrap()).collect();
        assert_eq!(channels, ["sms", "voice", "voice"], "{to}: {msgs:?}");
    }
    for (i, id) in ids.iter().enumerate() {
        let h: Value = http
            .get(format!("{}/v1/verifications/{id}/events", bases[(i + 1) % 2]))
            .basic_auth(&key, Some(&secret))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent: Vec<&str> = h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "sent")
            .map(|e| e["channel"].as_str().unwrap())
            .collect();
        assert_eq!(sent, ["sms", "voice", "voice"], "{id}: {h}");
    }
    drop((a, b, data_a, data_b, db));
}

/// A port already taken: the error names the address and the flag that changes it, not
/// only the operating system's "Address already in use".
#[test]
fn serve_on_a_port_in_use_names_the_address_and_the_flag() {
    let tmp = temp_dir("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(tmp.path())
        .env_remove("RINGPROOF_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("--listen"), "{err}");
}

/// The README's lines that read `KEY` and `SECRET`, run as written with `sh`, read both the
/// pretty-printed `data/demo-credentials.json` a first start writes and the one-line JSON
/// of `ringproof client create --json` (the README's own command, with `acme.json` in place
/// of the demo file as it says).
#[test]
fn the_readme_reads_the_credentials_of_the_demo_and_of_client_create() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let line = |prefix: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("README.md has no line starting with {prefix}"))
            .to_owned()
    };
    let read_creds = format!("{}\n{}\n", line("KEY=$("), line("SECRET=$("));
    let idenfy_doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/compat-idenfy.md")).unwrap();
    assert!(
        idenfy_doc.contains(&read_creds),
        "docs/compat-idenfy.md reads the credentials with the README's lines"
    );
    let create = readme
        .split('`')
        .find(|s| s.starts_with("ringproof client create") && s.contains("--json > "))
        .expect("README.md shows how to save `client create --json`")
        .replace('\n', " ");
    let file = create.rsplit("> ").next().unwrap().trim().to_owned();

    // Run where the README runs: `./data` is the default data directory.
    let tmp = temp_dir("readme");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let sh = |script: &str| {
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(tmp.path())
            .env("PATH", &path)
            .env_remove("RINGPROOF_DATABASE_URL")
            .env_remove("RINGPROOF_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = |creds_file: &str| {
        let script = read_creds.replace("data/demo-credentials.json", creds_file);
        let out = sh(&format!("{script}printf '%s %s' \"$KEY\" \"$SECRET\""));
        let (key, secret) = out.split_once(' ').unwrap();
        (key.to_owned(), secret.to_owned())
    };

    let (server, _) = serve(&tmp.path().join("data"));
    drop(server);
    let demo = printed("data/demo-credentials.json");
    assert_eq!(demo, creds(&tmp.path().join("data")));
    assert!(!demo.0.is_empty() && !demo.1.is_empty());

    sh(&create);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join(&file)).unwrap()).unwrap();
    let acme = printed(&file);
    assert_eq!(acme.0, saved["api_key"].as_str().unwrap());
    assert_eq!(acme.1, saved["api_secret"].as_str().unwrap());
    assert_ne!(acme, demo);
}

/// Everything `serve` writes in a fresh data directory (the databases with their -wal and
/// -shm files, the sandbox's audio folder, the secrets) is its owner's alone, and the demo
/// client's secret and password are never printed.
#[cfg(unix)]
#[tokio::test]
async fn a_fresh_data_directory_is_owner_only_and_the_demo_secret_is_not_printed() {
    use std::os::unix::fs::PermissionsExt;

    let dir = temp_dir("modes");
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .env("RINGPROOF_WORKER__POLL_INTERVAL_MS", "50")
        .env_remove("RINGPROOF_DATABASE_URL")
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.strip_prefix("ringproof is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let _server = Server(child);

    let c: Value = serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap()).unwrap();
    for secret in ["api_secret", "password"] {
        let s = c[secret].as_str().unwrap();
        assert!(!printed.contains(s), "the demo {secret} was printed:\n{printed}");
    }
    assert!(printed.contains("demo-credentials.json"), "{printed}");

    // A verification and its SMS, so both databases have been written through their WAL.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/verifications"))
        .basic_auth(c["api_key"].as_str().unwrap(), c["api_secret"].as_str())
        .json(&json!({"to": "+14155550123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    sandbox_messages(&http, &base, "+14155550123").await;

    let mut seen = Vec::new();
    let mut todo = vec![data.clone()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", p.display());
        seen.push(p.strip_prefix(&data).unwrap().display().to_string());
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    for name in [
        "ringproof.db",
        "ringproof.db-wal",
        "sandbox.db",
        "sandbox.db-wal",
        "server-secret",
    ] {
        assert!(seen.iter().any(|s| s == name), "{name} not among {seen:?}");
    }
}

/// A node whose server secret is not the one the database was first served with refuses
/// to start and says why, without printing either secret; the right secret starts again.
#[test]
fn another_server_secret_on_the_same_database_is_refused() {
    let data = temp_dir("secret-fingerprint");
    let store = data.path().join("shared.db");
    let url = format!("sqlite:{}", store.display());
    let run = |secret: &str| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(data.path())
            .arg("migrate")
            .env("RINGPROOF_DATABASE_URL", &url)
            .env("RINGPROOF_SERVER_SECRET", secret)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    // A command before any server records nothing: another secret still passes.
    assert!(run(&b).0, "a command recorded the fingerprint");
    // The first `serve` records it.
    let mut first = Command::new(BIN);
    first
        .env("RINGPROOF_DATABASE_URL", &url)
        .env("RINGPROOF_SERVER_SECRET", &a);
    let (mut server, _) = spawn_serve(first, data.path());
    server.kill();
    let (ok, err) = run(&b);
    assert!(!ok, "another secret was accepted");
    assert!(
        err.contains("another server secret") && err.contains("docs/deploy.md"),
        "{err}"
    );
    assert!(!err.contains(&a) && !err.contains(&b), "a secret was printed: {err}");
    assert!(run(&a).0, "the first secret still starts");
}

/// Only `serve` records the fingerprint: a command run first after an upgrade (from an
/// admin's own data directory, say) checks and records nothing. A node whose data
/// directory has no secret, on a database that already has clients, is refused and leaves
/// no generated secret behind.
#[test]
fn commands_record_no_fingerprint_and_a_new_secret_on_a_used_database_is_refused() {
    let node = temp_dir("fp-node");
    let admin = temp_dir("fp-admin");
    let url = format!("sqlite:{}", node.path().join("shared.db").display());
    let run = |data: &Path, args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .env("RINGPROOF_DATABASE_URL", &url)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // A database made by a command (no fingerprint yet), with a client.
    let (ok, err) = run(node.path(), &["client", "create", "--name", "Acme", "--json"]);
    assert!(ok, "{err}");
    // The admin's data directory has no secret: refused, and none is left there.
    let (ok, err) = run(admin.path(), &["client", "list"]);
    assert!(!ok && err.contains("already in use"), "{err}");
    assert!(!admin.path().join("server-secret").exists());
    // The node's own secret still works, and its serve records the fingerprint.
    let (ok, err) = run(node.path(), &["client", "list"]);
    assert!(ok, "{err}");
}

/// `bench run` drives every scenario through a real server (codes read from the sandbox,
/// links confirmed by POST) and reports each with no error and a ratio to the baseline;
/// it fails, naming the cause, when the server refuses. `bench seed` adds finished
/// verifications with their histories, and the server reads them.
#[tokio::test]
async fn bench_runs_every_scenario_and_seed_fills_the_store() {
    let data = temp_dir("bench");
    // As BENCHMARKS.md runs it: the check and status pools are unconverted sends, which the
    // SMS-pumping guard stops after 20 to one country.
    let mut cmd = Command::new(BIN);
    cmd.env("RINGPROOF_LIMITS__PUMP_BLOCK_HOURS", "0")
        .env("RINGPROOF_LIMITS__PUMP_COUNTRY_BLOCK_HOURS", "0")
        .env_remove("RINGPROOF_DATABASE_URL");
    let (mut server, base) = spawn_serve(cmd, data.path());
    let id = show_client_id(data.path());
    let (ok, twilio, err) = ringproof(data.path(), &["client", "twilio-credentials", &id, "--json"]);
    assert!(ok, "{err}");
    let twilio_file = data.path().join("twilio.json");
    std::fs::write(&twilio_file, twilio).unwrap();
    let creds_file = data.path().join("demo-credentials.json");
    let out = Command::new(BIN)
        .args([
            "bench",
            "run",
            "--url",
            &base,
            "--requests",
            "12",
            "--concurrency",
            "3",
            "--credentials",
        ])
        .arg(&creds_file)
        .arg("--twilio")
        .arg(&twilio_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios.iter().map(|s| s["scenario"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "baseline",
            "otp",
            "check",
            "status",
            "signzy-otp",
            "signzy-link",
            "idenfy",
            "twilio"
        ]
    );
    for s in scenarios {
        assert_eq!((s["units"].as_u64(), s["errors"].as_u64()), (Some(12), Some(0)), "{s}");
        assert!(s["throughput_per_s"].as_f64().unwrap() > 0.0, "{s}");
        let l = &s["latency_ms"];
        assert!(
            l["p50"].as_f64() <= l["p99"].as_f64() && l["p99"].as_f64() <= l["max"].as_f64(),
            "{s}"
        );
        // The server runs here: its RSS is read before and after.
        assert!(s["server_rss_kib"]["after"].as_u64().unwrap() > 1000, "{s}");
    }
    assert_eq!(scenarios[0]["ratio_to_baseline"], 1.0);
    assert!(scenarios[1]["ratio_to_baseline"].as_f64().unwrap() > 0.0);
    // A refusal is an error with the server's answer, and the exit status says so.
    let out = Command::new(BIN)
        .args([
            "bench",
            "run",
            "--url",
            &base,
            "--requests",
            "2",
            "--scenario",
            "otp",
            "--credentials",
        ])
        .arg(data.path().join("twilio.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a credentials file"));
    server.kill();

    let (ok, out, err) = ringproof(data.path(), &["bench", "seed", "--verifications", "300"]);
    assert!(ok, "{err}");
    let seeded: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (seeded["verifications"].as_u64(), seeded["client_id"].as_str()),
        (Some(300), Some(id.as_str()))
    );
    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", data.path().join("ringproof.db").display()))
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap() }
    };
    // The flows went through the faces to the engine: otp, signzy-otp, idenfy and twilio
    // approved 12 verifications each.
    assert_eq!(
        count("SELECT count(*) FROM verifications WHERE status = 'approved' AND brand <> 'Bench'").await,
        48
    );
    assert_eq!(count("SELECT count(*) FROM verifications WHERE to_e164 LIKE '+1212%' OR to_e164 LIKE '+1305%' OR to_e164 LIKE '+1312%' OR to_e164 LIKE '+1646%' OR to_e164 LIKE '+1718%' OR to_e164 LIKE '+1213%'").await, 300);
    assert_eq!(
        count("SELECT count(*) FROM verifications WHERE status = 'approved' AND brand = 'Bench'").await,
        270
    );
    assert_eq!(
        count("SELECT count(*) FROM events e JOIN verifications v ON v.id = e.verification_id WHERE v.brand = 'Bench'")
            .await,
        900
    );
    // Nothing seeded is left to run.
    assert_eq!(
        count("SELECT count(*) FROM jobs j JOIN verifications v ON v.id = j.verification_id WHERE v.brand = 'Bench'")
            .await,
        0
    );
}

fn show_client_id(data: &Path) -> String {
    let c: Value = serde_json::from_str(&std::fs::read_to_string(data.join("demo-credentials.json")).unwrap()).unwrap();
    c["client_id"].as_str().unwrap().to_owned()
}

/// `serve --role api` answers every route and sends nothing; `serve --role worker` on the
/// same store answers only the operations routes and sends what the API node accepted.
#[tokio::test]
async fn api_and_worker_roles_split_the_routes_and_the_sending() {
    let data = temp_dir("roles");
    let node = |role: &str| {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("RINGPROOF_DATABASE_URL");
        cmd.env("RINGPROOF_WORKER__POLL_INTERVAL_MS", "50")
            .env("RINGPROOF_ROLE", role);
        spawn_serve(cmd, data.path())
    };
    let (_api, api) = node("api");
    let (key, secret) = creds(data.path());
    let http = reqwest::Client::new();
    let to = "+14155550188";
    let r = http
        .post(format!("{api}/v1/verifications"))
        .basic_auth(&key, Some(&secret))
        .json(&json!({"to": to}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // No worker: the SMS stays queued (the jobs metric says so; the inbox stays empty).
    let queued = eventually("the delivery job is due", LIMIT, EVERY, async || {
        metrics(&http, &api)
            .await
            .filter(|m| m.contains("ringproof_jobs{state=\"due\"} 1"))
    })
    .await;
    assert!(queued.contains("ringproof_jobs"));
    let inbox = format!("{api}/sandbox/api/messages?to=%2B14155550188");
    let m: Vec<Value> = http.get(&inbox).send().await.unwrap().json().await.unwrap();
    assert!(m.is_empty(), "an API node sent: {m:?}");

    let (_worker, worker) = node("worker");
    for (path, want) in [
        ("/healthz", 200),
        ("/readyz", 200),
        ("/metrics", 200),
        ("/v1/verifications", 404),
        ("/sandbox", 404),
    ] {
        let r = http.get(format!("{worker}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{path} on the worker node");
    }
    // The worker sends it; the API node's sandbox phone shows it (one data directory).
    let m = sandbox_messages(&http, &api, to).await;
    assert_eq!(m.len(), 1, "{m:?}");
}

/// `ringproof backup` copies the database while a server writes to it; the copy is
/// owner-only, holds everything committed before it, and a server started on it (with the
/// same secret) answers as the original did. An existing file is never overwritten.
#[tokio::test]
async fn backup_while_serving_and_restore() {
    let data = temp_dir("backup");
    let (_server, base) = serve(data.path());
    let (key, secret) = creds(data.path());
    let http = reqwest::Client::new();
    let started: Value = http
        .post(format!("{base}/v1/verifications"))
        .basic_auth(&key, Some(&secret))
        .json(&json!({"to": "+14155550123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = started["id"].as_str().unwrap();
    let copy = data.path().join("backup.db");
    let (ok, out, err) = ringproof(data.path(), &["backup", copy.to_str().unwrap()]);
    assert!(ok && out.contains("consistent copy"), "{out}{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (ok, _, err) = ringproof(data.path(), &["backup", copy.to_str().unwrap()]);
    assert!(
        !ok && err.contains("cannot create"),
        "overwrote an existing file: {err}"
    );

    // Restore: a new data directory with the copy as its database and the same secret.
    let restored = temp_dir("restored");
    std::fs::copy(&copy, restored.path().join("ringproof.db")).unwrap();
    std::fs::copy(data.path().join("server-secret"), restored.path().join("server-secret")).unwrap();
    let (_again, base2) = serve(restored.path());
    let r: Value = http
        .get(format!("{base2}/v1/verifications/{id}"))
        .basic_auth(&key, Some(&secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["id"].as_str(), r["status"].as_str()),
        (Some(id), Some("pending")),
        "{r}"
    );
}

/// One request the carrier double received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    idempotency: String,
    body: String,
}

/// A carrier that accepts everything and, unlike the sandbox, does **not** drop repeats of
/// an idempotency key: every request it is sent is recorded, so a message sent twice shows
/// twice. It answers as Twilio's API does (`/Messages.json`, `/Calls.json`: 201 and a sid,
/// after 300 ms), and records webhook POSTs to `/hook` the same way.
async fn carrier_double() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let s = s.clone();
            n += 1;
            let conn = n;
            tokio::spawn(async move {
                let mut r = tokio::io::BufReader::new(sock);
                let mut count = 0u64;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let (mut len, mut idempotency) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap_or((h, ""));
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.trim().parse().unwrap(),
                            "i-twilio-idempotency-token" => idempotency = v.trim().to_owned(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).await.unwrap();
                    let body = String::from_utf8_lossy(&body).into_owned();
                    count += 1;
                    let carrier = path.ends_with("/Messages.json") || path.ends_with("/Calls.json");
                    if carrier {
                        // A carrier's answer takes a while: a node killed now dies mid-send.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    let answer = if carrier {
                        format!("{{\"sid\":\"SM{conn:016x}{count:016x}\",\"status\":\"queued\"}}")
                    } else {
                        String::new()
                    };
                    s.lock().unwrap().push(Received {
                        path,
                        idempotency,
                        body,
                    });
                    let status = if answer.is_empty() { "200 OK" } else { "201 Created" };
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        answer.len()
                    );
                    let sock = r.get_mut();
                    if sock.write_all(head.as_bytes()).await.is_err()
                        || sock.write_all(answer.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (base, seen)
}

/// Two nodes on one PostgreSQL under a mixed load (native SMS verifications, iDenfy's SMS
/// with two scheduled calls, webhooks); one node is SIGKILLed the moment its last request
/// is answered, while its worker holds claimed jobs. The survivor
/// finishes everything: every verification a node accepted (answered 2xx) gets its SMS,
/// every iDenfy timeline both its calls, every event its webhook. The carrier double keeps
/// repeats, so what the crash repeated is counted, not hidden: a repeat can only be a
/// delivery leased at the kill (sent or being sent, its completion not recorded: the lease
/// lapses and the survivor sends it again), so there are at most as many as were leased
/// then, and some were (the carrier answers slowly). The figures are printed.
#[tokio::test]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn a_node_killed_under_load_loses_nothing_and_repeats_at_most_its_claims() {
    const CONCURRENCY: usize = 4;
    let db = PgDatabase::create("kill").await;
    let (carrier, seen) = carrier_double().await;
    let conf_dir = temp_dir("kill-conf");
    let config = conf_dir.path().join("ringproof.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"double\"\n\
             [providers.double]\nkind = \"twilio\"\naccount_sid = \"AC{sid}\"\nauth_token = \"token\"\n\
             from = \"+14155550100\"\nbase_url = \"{carrier}\"\n\
             [worker]\nconcurrency = {CONCURRENCY}\nwebhook_concurrency = 2\npoll_interval_ms = 20\nlease_s = 2\n\
             [webhooks]\ntimeout_ms = 1000\n\
             [idenfy]\nfirst_call_after_s = 1\nsecond_call_after_s = 6\n\
             [limits]\npump_block_hours = 0\npump_country_block_hours = 0\n",
            sid = "0".repeat(32)
        ),
    )
    .unwrap();
    // Not digits only: the configuration loader would read that as a number.
    let secret = format!("kill-test-{:064x}", std::process::id());
    let cmd = || {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&config)
            .env("RINGPROOF_DATABASE_URL", &db.url)
            .env("RINGPROOF_SERVER_SECRET", &secret);
        c
    };
    let data_a = temp_dir("kill-a");
    let data_b = temp_dir("kill-b");
    let (mut a, base_a) = spawn_serve(cmd(), data_a.path());
    let (b, base_b) = spawn_serve(cmd(), data_b.path());
    let (key, api_secret) = creds(data_a.path());
    let client_id = show_client_id(data_a.path());
    let out = cmd()
        .args(["--data-dir"])
        .arg(data_a.path())
        .args([
            "client",
            "update",
            &client_id,
            "--webhook-url",
            &format!("{carrier}/hook"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The load: each request to one node or the other, A killed after the first half.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = |i: usize, base: String| {
        let (http, key, api_secret) = (http.clone(), key.clone(), api_secret.clone());
        async move {
            let to = format!("+1415620{i:04}");
            let r = if i.is_multiple_of(3) {
                http.post(format!("{base}/fraud/send-sms"))
                    .basic_auth(&key, Some(&api_secret))
                    .json(&json!({"phone_number": to}))
                    .send()
                    .await
            } else {
                http.post(format!("{base}/v1/verifications"))
                    .basic_auth(&key, Some(&api_secret))
                    .json(&json!({"to": to}))
                    .send()
                    .await
            };
            // The verification id of an accepted request (iDenfy's request_id is the id
            // without its VE prefix).
            let id = match r {
                Ok(r) if r.status().is_success() => {
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    body["id"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| body["request_id"].as_str().map(|x| format!("VE{x}")))
                }
                _ => None,
            };
            (i, to, id)
        }
    };
    // Phase 1: 24 requests, half to each node, all accepted. A is killed the moment the
    // last answer is in, while its worker still holds claimed deliveries.
    let first: Vec<_> = (0..24)
        .map(|i| start(i, if i % 2 == 0 { base_a.clone() } else { base_b.clone() }))
        .collect();
    let mut accepted = futures_join_all(first).await;
    a.kill();
    let sent_before_kill = seen.lock().unwrap().len();
    // The deliveries leased at the kill (A's among them: the carrier holds every send
    // 300 ms, so A's are still in flight). Only these can be sent again.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let leased_at_kill: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND kind = 'deliver' AND locked_until > $1",
    )
    .bind(now_ms)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(leased_at_kill > 0, "the kill landed when no delivery was claimed");
    assert!(
        accepted.iter().all(|(_, _, id)| id.is_some()),
        "a node refused a request before the kill"
    );
    // Phase 2: the survivor takes the rest.
    let second: Vec<_> = (24..39).map(|i| start(i, base_b.clone())).collect();
    let results = futures_join_all(second).await;
    assert!(
        results.iter().all(|(_, _, id)| id.is_some()),
        "the survivor refused a request"
    );
    accepted.extend(results);

    let to_of = |r: &Received| {
        r.body
            .split('&')
            .find_map(|kv| kv.strip_prefix("To="))
            .map(|v| v.replace("%2B", "+"))
            .unwrap_or_default()
    };
    // What each accepted verification is owed: an SMS, and for iDenfy's the two calls 1 s
    // and 6 s on. (The first call repeats the SMS code, valid until the second: a call the
    // crash delayed past that would rightly be skipped, so the gap is wider than a lapsed
    // lease, 2 s, and a poll. Expiry jobs stay scheduled for minutes: "nothing due" is the
    // other half of done.)
    let owed = |seen: &[Received]| -> Vec<String> {
        let mut missing = Vec::new();
        for (i, to, _) in &accepted {
            let sms = seen
                .iter()
                .filter(|r| r.path.ends_with("/Messages.json") && to_of(r) == *to)
                .count();
            let calls = seen
                .iter()
                .filter(|r| r.path.ends_with("/Calls.json") && to_of(r) == *to)
                .count();
            let calls_owed = if i.is_multiple_of(3) { 2 } else { 0 };
            if sms == 0 || calls < calls_owed {
                missing.push(format!("{to}: {sms} SMS, {calls} of {calls_owed} calls"));
            }
        }
        missing
    };
    let seen_now = || seen.lock().unwrap().clone();
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let done = metrics(&http, &base_b)
                .await
                .is_some_and(|m| m.contains("ringproof_jobs{state=\"due\"} 0"));
            if done && owed(&seen_now()).is_empty() {
                return;
            }
            tokio::time::sleep(EVERY).await;
        }
    })
    .await;
    let seen = seen_now();
    let missing = owed(&seen);
    if !missing.is_empty() {
        // What the store holds of them, to tell a lost job from a slow one.
        let rows: Vec<(String, String, i64, i64, i64, Option<String>)> = sqlx::query_as(
            "SELECT j.kind, j.state, j.attempts, j.due_at, j.locked_until, v.to_e164 FROM jobs j \
             LEFT JOIN verifications v ON v.id = j.verification_id ORDER BY j.due_at",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let events: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT v.to_e164, e.kind, e.channel, e.detail FROM events e JOIN verifications v ON v.id = e.verification_id ORDER BY e.id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let who: Vec<&str> = missing.iter().map(|m| m.split(':').next().unwrap()).collect();
        let jobs: Vec<_> = rows
            .iter()
            .filter(|r| r.5.as_deref().is_some_and(|t| who.contains(&t)))
            .collect();
        let evs: Vec<_> = events.iter().filter(|e| who.contains(&e.0.as_str())).collect();
        panic!("lost after the kill: {missing:?}\njobs: {jobs:?}\nevents: {evs:?}");
    }
    for (i, to, _) in &accepted {
        if !i.is_multiple_of(3) {
            assert!(
                !seen.iter().any(|r| r.path.ends_with("/Calls.json") && to_of(r) == *to),
                "{to} was called"
            );
        }
    }
    // Repeats: the same idempotency key (a job) sent more than once.
    let mut by_key = std::collections::HashMap::<&str, usize>::new();
    for r in seen.iter().filter(|r| !r.idempotency.is_empty()) {
        *by_key.entry(&r.idempotency).or_default() += 1;
    }
    let repeats: usize = by_key.values().map(|n| n - 1).sum();
    let webhooks = seen.iter().filter(|r| r.path == "/hook").count();
    println!(
        "kill test: {} accepted, {sent_before_kill} requests at the carrier and {leased_at_kill} deliveries \
         leased when A died, {} sends, {repeats} repeated by the crash, {webhooks} webhooks",
        accepted.len(),
        by_key.len()
    );
    assert!(
        repeats as i64 <= leased_at_kill,
        "{repeats} repeats: more than the {leased_at_kill} deliveries leased when A died"
    );
    // Every verification's events reached the webhook.
    for (_, to, id) in &accepted {
        let id = id.as_deref().unwrap();
        assert!(
            seen.iter().any(|r| r.path == "/hook" && r.body.contains(id)),
            "{to}: no webhook for {id}"
        );
    }
    pool.close().await;
    drop((b, data_a, data_b, conf_dir, db));
}

/// Runs the futures at once (each on its own task) and returns their outputs in order.
async fn futures_join_all<F>(fs: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A carrier (Twilio's API shape) that holds every send until the test releases it: the
/// returned receiver sees how many sends have arrived, and `release` lets them answer.
async fn holding_carrier() -> (
    String,
    tokio::sync::watch::Receiver<usize>,
    std::sync::Arc<tokio::sync::Notify>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (arrived, arrivals) = tokio::sync::watch::channel(0usize);
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let (arrived, gate) = (arrived.clone(), gate.clone());
            tokio::spawn(async move {
                let mut r = tokio::io::BufReader::new(sock);
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).await.unwrap();
                    let h = h.trim_end().to_ascii_lowercase();
                    if h.is_empty() {
                        break;
                    }
                    if let Some(v) = h.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).await.unwrap();
                let released = gate.notified();
                arrived.send_modify(|n| *n += 1);
                released.await;
                let answer = "{\"sid\":\"SM00000000000000000000000000000001\",\"status\":\"queued\"}";
                let head = format!(
                    "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = r.get_mut().write_all(format!("{head}{answer}").as_bytes()).await;
            });
        }
    });
    (base, arrivals, release)
}

/// SIGTERM, as systemd or a container runtime sends it: the node first answers `/readyz`
/// with 503 `draining` while still serving everything else (`shutdown_grace_ms`), a second
/// SIGTERM ends that wait, and the node then stops accepting but does not exit while its
/// worker's send is in flight: once the carrier answers, the send is recorded and the
/// process exits 0. Restarted (worker off), the verification shows the SMS `sent`, and the
/// carrier got it once. Were the drain to skip the in-flight job, the process would exit
/// before the carrier answered and the restart would show no `sent`.
#[tokio::test]
async fn sigterm_drains_readiness_first_then_finishes_the_send_in_flight() {
    let (carrier, mut arrivals, release) = holding_carrier().await;
    let data = temp_dir("sigterm");
    let config = data.path().join("ringproof.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"double\"\nshutdown_grace_ms = 600000\n\
             [providers.double]\nkind = \"twilio\"\naccount_sid = \"AC{sid}\"\nauth_token = \"token\"\n\
             from = \"+14155550100\"\nbase_url = \"{carrier}\"\ntimeout_ms = 60000\n\
             [worker]\npoll_interval_ms = 20\n",
            sid = "0".repeat(32)
        ),
    )
    .unwrap();
    let cmd = |worker: bool| {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&config)
            .env("RINGPROOF_WORKER__ENABLED", worker.to_string())
            .env_remove("RINGPROOF_DATABASE_URL");
        c
    };
    let (mut server, base) = spawn_serve(cmd(true), data.path());
    let (key, secret) = creds(data.path());
    let http = reqwest::Client::builder().timeout(LIMIT).build().unwrap();
    let r = http
        .post(format!("{base}/v1/verifications"))
        .basic_auth(&key, Some(&secret))
        .json(&json!({"to": "+14155550123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    tokio::time::timeout(LIMIT, arrivals.wait_for(|n| *n == 1))
        .await
        .expect("the worker sends the SMS")
        .unwrap();

    let sigterm = |child: &Child| {
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    sigterm(&server.0);
    let ready = eventually("/readyz says draining", LIMIT, EVERY, || {
        let http = http.clone();
        let url = format!("{base}/readyz");
        async move {
            let r = http.get(url).send().await.ok()?;
            (r.status() == 503).then_some(r.json::<Value>().await.ok()?)
        }
    })
    .await;
    assert_eq!(ready, json!({"status": "draining"}));
    // Everything else is still served while draining.
    let r = http
        .get(format!("{base}/v1/verifications/{id}"))
        .basic_auth(&key, Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A second SIGTERM ends the grace: the node stops accepting, but waits for the send.
    sigterm(&server.0);
    eventually("the listener closes", LIMIT, EVERY, || {
        let http = http.clone();
        let url = format!("{base}/healthz");
        async move { http.get(url).send().await.is_err().then_some(()) }
    })
    .await;
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the process waits for the send in flight"
    );
    release.notify_waiters();
    let status = eventually("the process exits", LIMIT, EVERY, || {
        let status = server.0.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(status.success(), "{status:?}");
    assert_eq!(*arrivals.borrow(), 1);

    // Restarted without a worker: the send was recorded before the exit.
    let (_again, base) = spawn_serve(cmd(false), data.path());
    let r = http
        .get(format!("{base}/v1/verifications/{id}/events"))
        .basic_auth(&key, Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events: Value = r.json().await.unwrap();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "send_queued", "sent"]);
}

/// A TCP proxy in front of PostgreSQL that the test can take down and bring back, as a
/// database restart does: down, it closes every connection and stops listening (new
/// connections are refused); up, it listens on the same port again.
struct PgProxy {
    addr: std::net::SocketAddr,
    up: tokio::sync::watch::Sender<bool>,
}

impl PgProxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, mut state) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                match &listener {
                    Some(l) => tokio::select! {
                        accepted = l.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let (target, mut down) = (target.clone(), state.clone());
                            tokio::spawn(async move {
                                let Ok(server) = tokio::net::TcpStream::connect(&target).await else { return };
                                let (mut client, mut server) = (client, server);
                                tokio::select! {
                                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {},
                                    _ = down.wait_for(|up| !*up) => {},
                                }
                            });
                        }
                        changed = state.changed() => {
                            if changed.is_err() { return }
                            if !*state.borrow_and_update() { listener = None }
                        }
                    },
                    None => {
                        if state.changed().await.is_err() {
                            return;
                        }
                        if *state.borrow_and_update() {
                            listener = Some(tokio::net::TcpListener::bind(addr).await.unwrap());
                        }
                    }
                }
            }
        });
        Self { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// `url` (`postgres://user@host:port/db…`) pointed at `proxy` instead, and the host:port it
/// named.
fn through_proxy(url: &str, proxy: std::net::SocketAddr) -> (String, String) {
    let start = url.find("://").unwrap() + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |i| i + 1);
    let host = &rest[host_start..authority_end];
    let target = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let proxied = format!(
        "{}{}{proxy}{}",
        &url[..start],
        &rest[..host_start],
        &rest[authority_end..]
    );
    (proxied, target)
}

/// PostgreSQL goes away under load and comes back (a restart, through a proxy that closes
/// every connection and refuses new ones), while verifications keep being started: the
/// node says so on `/readyz` (503 `database unavailable`), answers the requests it cannot
/// store with 503 (never another 5xx), recovers by itself when the database is back
/// (`/readyz` 200 again, new starts accepted), and every verification it accepted (201) —
/// before, during and after — gets its SMS once (the sandbox outbox is in the same
/// database, so it too went away and came back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(ringproof_pg), ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL")]
async fn a_postgresql_restart_under_load_is_ridden_out_and_nothing_accepted_is_lost() {
    let db = PgDatabase::create("outage").await;
    let (_, target) = through_proxy(&db.url, "127.0.0.1:1".parse().unwrap());
    let proxy = PgProxy::start(target).await;
    let (url, _) = through_proxy(&db.url, proxy.addr);
    let data = temp_dir("outage");
    let config = data.path().join("ringproof.toml");
    std::fs::write(
        &config,
        "[worker]\npoll_interval_ms = 20\nlease_s = 2\n[webhooks]\ntimeout_ms = 1000\n\
         [limits]\npump_block_hours = 0\npump_country_block_hours = 0\n",
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(&config).env("RINGPROOF_DATABASE_URL", &url);
    let (_server, base) = spawn_serve(cmd, data.path());
    let (key, secret) = creds(data.path());
    let http = reqwest::Client::builder().timeout(LIMIT * 2).build().unwrap();

    // The load: a start every 50 ms, each to its own number, until told to stop.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u16, Option<String>)>::new()));
    let load = {
        let (http, base, answers) = (http.clone(), base.clone(), answers.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut inflight = tokio::task::JoinSet::new();
            for i in 0.. {
                tick.tick().await;
                if *stopped.borrow() {
                    break;
                }
                let (http, base, answers) = (http.clone(), base.clone(), answers.clone());
                let (key, secret) = (key.clone(), secret.clone());
                inflight.spawn(async move {
                    let to = format!("+1415630{i:04}");
                    let r = http
                        .post(format!("{base}/v1/verifications"))
                        .basic_auth(&key, Some(&secret))
                        .json(&json!({"to": to}))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let id = body["id"].as_str().map(str::to_owned);
                    answers.lock().unwrap().push((to, status, id));
                });
            }
            while inflight.join_next().await.is_some() {}
        })
    };
    let accepted = |answers: &std::sync::Mutex<Vec<(String, u16, Option<String>)>>| {
        answers.lock().unwrap().iter().filter(|a| a.1 == 201).count()
    };
    eventually("10 starts accepted", LIMIT, EVERY, || {
        let n = accepted(&answers);
        async move { (n >= 10).then_some(()) }
    })
    .await;

    proxy.set(false);
    let readyz = |http: reqwest::Client| {
        let url = format!("{base}/readyz");
        async move {
            let r = http.get(url).send().await.ok()?;
            Some((r.status().as_u16(), r.json::<Value>().await.ok()?))
        }
    };
    let down = eventually("/readyz says the database is unavailable", LIMIT, EVERY, || {
        let r = readyz(http.clone());
        async move { r.await.filter(|(s, _)| *s == 503) }
    })
    .await;
    assert_eq!(down.1, json!({"status": "database unavailable"}));
    let before = answers.lock().unwrap().len();
    eventually("a start refused while the database is down", LIMIT * 2, EVERY, || {
        let refused = answers.lock().unwrap()[before..].iter().any(|a| a.1 != 201);
        async move { refused.then_some(()) }
    })
    .await;

    proxy.set(true);
    eventually("/readyz recovers", LIMIT, EVERY, || {
        let r = readyz(http.clone());
        async move { r.await.filter(|(s, _)| *s == 200) }
    })
    .await;
    let after = accepted(&answers);
    eventually("10 more starts accepted", LIMIT, EVERY, || {
        let n = accepted(&answers);
        async move { (n >= after + 10).then_some(()) }
    })
    .await;
    stop.send_replace(true);
    load.await.unwrap();

    let answers = answers.lock().unwrap().clone();
    let refused: Vec<_> = answers.iter().filter(|a| a.1 != 201).collect();
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|a| a.1 == 503),
        "a start the node could not store is a 503: {refused:?}"
    );
    let accepted: Vec<_> = answers.iter().filter(|a| a.1 == 201).collect();
    for (to, _, id) in &accepted {
        let msgs = eventually(&format!("the SMS of {to}"), LIMIT * 3, EVERY, || {
            let http = http.clone();
            let url = format!("{base}/sandbox/api/messages?to={}", to.replace('+', "%2B"));
            async move {
                let r = http.get(url).send().await.ok()?;
                let msgs: Vec<Value> = r.json().await.ok()?;
                (!msgs.is_empty()).then_some(msgs)
            }
        })
        .await;
        assert_eq!(msgs.len(), 1, "{to}: {msgs:?}");
        assert_eq!(msgs[0]["verification_id"].as_str(), id.as_deref(), "{to}");
    }
    println!(
        "outage: {} starts, {} accepted (each SMS once), {} refused with 503",
        answers.len(),
        accepted.len(),
        refused.len()
    );
}
