//! Vonage's official Node SDK (`@vonage/server-sdk`, pinned in `tests/sdk`'s lock file and
//! installed by `.ci/run`'s `npm ci`) against the real server, on both stores: the Verify
//! v2 flow of `tests/sdk/vonage_flow.mjs` with its API host switched to the test server,
//! JWT authentication with a registered application's key, and its codes read from the
//! sandbox phone: new request, 409 for a second one, wrong → 400, next workflow, right →
//! completed, again → 410, cancel, 422, 404, 401 for another key; then templates and
//! fragments (create, list page by page, a request naming the template whose SMS is the
//! fragment's text, update, 422, 409 deleting a template with a fragment, delete, 404).
//!
//! Where node or the SDK is missing this says so loudly ("NOT RUN") and does nothing;
//! under `CI` it fails instead.

use std::path::PathBuf;

use ringproof_core::time::Timestamp;

use crate::helpers::{Opts, TestApp, on_both_stores};
use crate::vonage::{APP_ID, PRIVATE_KEY, register};

fn sdk_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Whether node and the npm `@vonage/server-sdk` package are installed (loudly not, else).
fn node_ready() -> bool {
    let ok = sdk_dir().join("node_modules/@vonage/server-sdk").exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "Vonage SDK test NOT RUN: missing node or the npm @vonage/server-sdk package (npm ci in crates/ringproof-server/tests/sdk)";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("{msg}");
    }
    ok
}

fn with_worker() -> Opts {
    Opts {
        worker: true,
        ..Opts::default()
    }
}

on_both_stores!(node_sdk, node_sdk, with_worker());
async fn node_sdk(app: TestApp) {
    if !node_ready() {
        return;
    }
    // The SDK signs its tokens with the real time: the server's clock must agree.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    app.clock.set(Timestamp(i64::try_from(now).unwrap()));
    register(&app).await;
    let out = tokio::process::Command::new("node")
        .current_dir(sdk_dir())
        .arg("vonage_flow.mjs")
        .env("RP_BASE", &app.base)
        .env("RP_APPLICATION_ID", APP_ID)
        .env("RP_PRIVATE_KEY", PRIVATE_KEY)
        .env("RP_TO", "14155550163")
        .output()
        .await
        .expect("the SDK script starts");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "vonage_flow.mjs failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("SDK: OK"), "{stdout}");
}
