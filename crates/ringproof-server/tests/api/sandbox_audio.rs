//! The sandbox inbox page and the calls as sound (rendered only where `espeak-ng` is
//! installed; the test that needs it says so and passes without it).

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, eventually};

const TO: &str = "+14155550123";

fn espeak_ng_installed() -> bool {
    // TMPDIR as the renderer gives it (libpulse leaves a runtime directory in it).
    std::process::Command::new("espeak-ng")
        .env("TMPDIR", "/tmp")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn get_status(app: &TestApp, path: &str) -> u16 {
    app.http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn inbox_page_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;
    app.start(json!({"to": TO, "channel": "voice"})).await;
    app.drain().await;
    let r = app.http.get(format!("{}/sandbox", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(csp.contains("media-src 'self'"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Your demo verification code is"), "{page}");
    // Its one script is inline (the live updates, from this server only: connect-src 'self').
    assert!(
        csp.contains("script-src 'unsafe-inline'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(!page.contains("<script src") && !page.contains("src=\"http") && !page.contains("href=\"http"));
}

#[tokio::test]
async fn audio_is_served_only_for_a_rendered_call() {
    let app = TestApp::spawn().await;
    app.start_sms(TO).await;
    app.drain().await;
    let sms = app.messages(TO).await[0]["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/sandbox/audio/{sms}.wav"),
        format!("/sandbox/audio/{sms}"),
        "/sandbox/audio/SB0123456789abcdef0123456789abcdef.wav".to_owned(),
        "/sandbox/audio/..%2Fserver-secret.wav".to_owned(),
        "/sandbox/audio/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/sandbox/audio/.wav".to_owned(),
    ] {
        assert_eq!(get_status(&app, &path).await, 404, "{path}");
    }
}

/// With `espeak-ng` installed, a call is rendered to a real WAV file (off the delivery
/// path, so the test waits for it, bounded), served as `audio/wav` and playable on the
/// inbox page; an SMS never is. Without `espeak-ng` there is nothing to test.
#[tokio::test]
async fn calls_are_rendered_to_wav_when_espeak_ng_is_installed() {
    if !espeak_ng_installed() {
        eprintln!("espeak-ng is not installed: call audio not tested");
        return;
    }
    let app = TestApp::spawn().await;
    app.start_sms(TO).await;
    app.drain().await;
    app.start(json!({"to": TO, "channel": "voice", "code_length": 4})).await;
    app.drain().await;
    let msgs = app.messages(TO).await;
    let (call, sms) = (msgs[0]["id"].as_str().unwrap(), msgs[1]["id"].as_str().unwrap());
    assert_eq!(
        (msgs[0]["channel"].as_str(), msgs[1]["channel"].as_str()),
        (Some("voice"), Some("sms"))
    );

    let url = format!("{}/sandbox/audio/{call}.wav", app.base);
    let r = eventually(
        "the call rendered",
        Duration::from_secs(30),
        Duration::from_millis(20),
        async || {
            let r = app.http.get(&url).send().await.unwrap();
            if r.status() == 200 {
                return Some(r);
            }
            assert_eq!(r.status(), 404);
            None
        },
    )
    .await;
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let wav = r.bytes().await.unwrap();
    assert!(wav.len() > 44, "more than a header: {} bytes", wav.len());
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(
        u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize,
        wav.len() - 8,
        "the RIFF size covers the file"
    );
    assert_eq!(&wav[8..12], b"WAVE");
    assert_eq!(&wav[12..16], b"fmt ");

    // Renders run in order, so the SMS before the call would be rendered by now.
    assert_eq!(get_status(&app, &format!("/sandbox/audio/{sms}.wav")).await, 404);
    let page = app.get_text("/sandbox").await;
    assert!(
        page.contains(&format!(
            "<audio controls preload=none src=\"/sandbox/audio/{call}.wav\"></audio>"
        )),
        "{page}"
    );
    assert_eq!(page.matches("<audio").count(), 1, "{page}");
}
