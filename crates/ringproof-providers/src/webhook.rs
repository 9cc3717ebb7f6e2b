//! Webhook delivery over HTTP: the [`WebhookPoster`] the worker hands signed webhook
//! requests to (see `ringproof_core::webhook` for the body and the signature, and
//! docs/webhooks.md for the receiver's side).
//!
//! One POST per attempt, with the body exactly as stored. The engine decides what an
//! answer means (2xx delivered, anything else retried with backoff, given up after the
//! job's last attempt); this client only reports the status, or why there was none.
//!
//! - Redirects are not followed: a 3xx is reported as is, so it counts as a failure. A
//!   receiver that moved must be reconfigured, not chased (the signed body would
//!   otherwise go wherever a compromised endpoint points it).
//! - The response body is never read: only the status matters, and a hostile endpoint
//!   cannot make the worker buffer anything.
//! - Every attempt has a deadline ([`WebhookHttpConfig::timeout`]) covering connect,
//!   TLS, sending and the response head. A slow endpoint never blocks the API (webhooks
//!   run in the worker), and the deadline bounds how long it holds a worker slot.
//! - Errors carry no URL (it may hold a receiver's token) and no body.

use std::time::Duration;

use async_trait::async_trait;
use ringproof_core::ports::{WebhookError, WebhookPoster};
use ringproof_core::webhook::{SIGNATURE_HEADER, WebhookRequest};

/// The header that carries the webhook's id (also the body's `id`), for deduplication.
pub const WEBHOOK_ID_HEADER: &str = "Ringproof-Webhook-Id";

/// How webhook requests are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookHttpConfig {
    /// The deadline of one attempt, from connecting to the response head.
    pub timeout: Duration,
}

impl Default for WebhookHttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the HTTP client could not be built (the TLS setup failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook HTTP client: {0}")]
pub struct WebhookClientError(String);

/// POSTs webhooks with reqwest (rustls for `https://`, the system's trust roots).
#[derive(Clone, Debug)]
pub struct HttpWebhookPoster {
    http: reqwest::Client,
    timeout: Duration,
}

impl HttpWebhookPoster {
    pub fn new(config: WebhookHttpConfig) -> Result<Self, WebhookClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ringproof/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Endpoints are few and hit in bursts; idle connections are not worth keeping long.
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| WebhookClientError(describe(&e)))?;
        Ok(Self {
            http,
            timeout: config.timeout,
        })
    }
}

#[async_trait]
impl WebhookPoster for HttpWebhookPoster {
    async fn post(&self, req: &WebhookRequest) -> Result<u16, WebhookError> {
        let mut request = self
            .http
            .post(&req.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &req.signature)
            .header(WEBHOOK_ID_HEADER, &req.id);
        for (name, value) in &req.headers {
            request = request.header(*name, value);
        }
        let sent = request.body(req.body.clone()).send().await;
        match sent {
            // The body is dropped unread (the connection is then closed, not reused).
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => Err(WebhookError(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
            Err(e) => Err(WebhookError(describe(&e.without_url()))),
        }
    }
}

/// An error and its causes on one line (the caller strips the URL first).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    //! Against a raw loopback HTTP server, so the exact request on the wire is seen.
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves one connection: captures the request, answers `response` (or nothing).
    async fn one_shot(response: Option<&'static str>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks?token=receiver-secret", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = sock.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(str::to_owned)
                        })
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if buf.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            match response {
                Some(r) => sock.write_all(r.as_bytes()).await.unwrap(),
                // Hang: hold the connection open past the client's deadline.
                None => tokio::time::sleep(Duration::from_secs(30)).await,
            }
            String::from_utf8_lossy(&buf).to_string()
        });
        (url, task)
    }

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest {
            url: url.to_owned(),
            signature: "t=1,v1=ab".into(),
            headers: vec![("X-Twilio-Signature", "c2ln".into())],
            id: "JBtest".into(),
            body: br#"{"id":"JBtest","type":"verification.approved"}"#.to_vec(),
        }
    }

    fn poster(timeout_ms: u64) -> HttpWebhookPoster {
        HttpWebhookPoster::new(WebhookHttpConfig {
            timeout: Duration::from_millis(timeout_ms),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn posts_the_body_as_is_with_the_headers() {
        let (url, seen) = one_shot(Some("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")).await;
        assert_eq!(poster(5000).post(&request(&url)).await, Ok(204));
        let raw = seen.await.unwrap();
        let lower = raw.to_ascii_lowercase();
        assert!(
            raw.starts_with("POST /hooks?token=receiver-secret HTTP/1.1\r\n"),
            "{raw}"
        );
        assert!(lower.contains("\r\ncontent-type: application/json\r\n"), "{raw}");
        assert!(lower.contains("\r\nringproof-signature: t=1,v1=ab\r\n"), "{raw}");
        assert!(lower.contains("\r\nringproof-webhook-id: jbtest\r\n"), "{raw}");
        assert!(lower.contains("\r\nx-twilio-signature: c2ln\r\n"), "{raw}");
        assert!(
            lower.contains(&format!("\r\nuser-agent: ringproof/{}\r\n", env!("CARGO_PKG_VERSION"))),
            "{raw}"
        );
        assert!(raw.ends_with("\r\n\r\n{\"id\":\"JBtest\",\"type\":\"verification.approved\"}"));
    }

    #[tokio::test]
    async fn any_status_is_reported_and_a_redirect_is_not_followed() {
        let (url, _) = one_shot(Some(
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\noops!",
        ))
        .await;
        assert_eq!(poster(5000).post(&request(&url)).await, Ok(500));
        let moved =
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\n\r\n";
        let (url, _) = one_shot(Some(moved)).await;
        assert_eq!(poster(5000).post(&request(&url)).await, Ok(307));
    }

    #[tokio::test]
    async fn a_hanging_endpoint_times_out_and_a_closed_port_fails_without_the_url() {
        let (url, _) = one_shot(None).await;
        let err = poster(200).post(&request(&url)).await.unwrap_err();
        assert_eq!(err.0, "no answer within 200 ms");

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks?token=receiver-secret", closed.local_addr().unwrap());
        drop(closed);
        let err = poster(5000).post(&request(&url)).await.unwrap_err();
        assert!(
            !err.0.contains("receiver-secret") && !err.0.contains("127.0.0.1"),
            "{}",
            err.0
        );
        assert!(err.0.to_ascii_lowercase().contains("connect"), "{}", err.0);
    }
}
