//! Twilio's official SDKs against the real server, on both stores: the PyPI `twilio`
//! package (a virtualenv, `$HOME/.cache/ringproof-sdk-venv` or `RINGPROOF_SDK_VENV`) and
//! the npm `twilio` package (`npm ci` in `tests/sdk`), both pinned there and installed by
//! `.ci/run`. Each runs the Verify flow of `tests/sdk/twilio_flow.{py,mjs}` with its base
//! URL switched to the test server and its codes read from the sandbox phone: services,
//! start, wrong code → pending, right → approved, again → 20404 as the SDK's exception,
//! cancel, fetch, the error codes, API key authentication, and Service Rate Limits (a
//! rate limit and a bucket created through the SDK, starts refused past it with 60203).
//!
//! Where an SDK is missing this says so loudly ("NOT RUN") and does nothing; under `CI`
//! it fails instead.

use std::path::PathBuf;

use ringproof_core::ids::ClientId;

use crate::helpers::{Opts, TestApp, on_both_stores};

/// The SDK project folder.
fn sdk_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Says that an SDK test cannot run here: a failure under CI, a loud line elsewhere.
fn not_run(what: &str) {
    let msg = format!("Twilio SDK test NOT RUN: missing {what}");
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("{msg}");
}

/// The Python of the SDK virtualenv, if it has the `twilio` package.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("RINGPROOF_SDK_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ringproof-sdk-venv")))?;
    let python = venv.join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import twilio"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        not_run(&format!(
            "the twilio package in {} (python3 -m venv …; pip install -r crates/ringproof-server/tests/sdk/requirements.txt)",
            venv.display()
        ));
        None
    }
}

/// Whether node and the npm `twilio` package are installed.
fn node_ready() -> bool {
    let ok = sdk_dir().join("node_modules/twilio").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        not_run("node or the npm twilio package (npm ci in crates/ringproof-server/tests/sdk)");
    }
    ok
}

/// Runs one SDK script against `app` with fresh credentials and a number of its own;
/// asserts it succeeded.
async fn run(app: &TestApp, program: &std::path::Path, script: &str, to: &str) {
    let client = ClientId::parse(&app.client_id).unwrap();
    let account = app.engine.issue_account_key(&client).await.unwrap();
    let (key, _) = app.engine.issue_api_key(&client).await.unwrap();
    let out = tokio::process::Command::new(program)
        .current_dir(sdk_dir())
        .arg(script)
        .env("RP_BASE", &app.base)
        .env("RP_ACCOUNT_SID", &account.key.id)
        .env("RP_AUTH_TOKEN", &account.secret)
        .env("RP_API_KEY_SID", &key.key.id)
        .env("RP_API_KEY_SECRET", &key.secret)
        .env("RP_TO", to)
        .output()
        .await
        .expect("the SDK script starts");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("SDK: OK"), "{script}: {stdout}");
}

fn with_worker() -> Opts {
    Opts {
        worker: true,
        ..Opts::default()
    }
}

on_both_stores!(python_sdk, python_sdk, with_worker());
async fn python_sdk(app: TestApp) {
    let Some(python) = python() else { return };
    run(&app, &python, "twilio_flow.py", "+14155550141").await;
}

on_both_stores!(node_sdk, node_sdk, with_worker());
async fn node_sdk(app: TestApp) {
    if !node_ready() {
        return;
    }
    run(&app, std::path::Path::new("node"), "twilio_flow.mjs", "+14155550142").await;
}
