//! How a provider's answer classifies (one rule for every HTTP provider):
//!
//! | answer | class |
//! |---|---|
//! | 2xx with no error in the body | success |
//! | 2xx with an error in the body ("HTTP 200 with an error") | by the vendor's error code: its own table, else permanent |
//! | 408, 425, 429, 5xx | retryable (timeout, throttling, outage) |
//! | 401, 403 | retryable: *our account* is refused (credentials, suspension), not the message; another provider of the route can carry it, and the circuit breaker takes the failing one out |
//! | other 4xx | permanent (bad number, refused content) |
//! | timeout, connection refused or reset, TLS failure | retryable |
//!
//! Retryable sends go to the next provider of the route, then back to the job's backoff;
//! permanent ones fail the step with the provider's reason (no phone number in it).

use std::time::Duration;

use ringproof_core::ports::SendError;

use crate::error::BuildError;

/// The class of an HTTP status that is not a success.
pub fn http_status(provider: &str, status: u16, reason: &str) -> SendError {
    let msg = if reason.is_empty() {
        format!("{provider}: HTTP {status}")
    } else {
        format!("{provider}: HTTP {status}: {reason}")
    };
    if matches!(status, 401 | 403 | 408 | 425 | 429) || status >= 500 {
        SendError::Retryable(msg)
    } else {
        SendError::Permanent(msg)
    }
}

/// The class of a request that got no answer. Every such failure is retryable: the
/// message may or may not have left (see the provider's idempotency notes).
pub fn transport(provider: &str, e: &reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    };
    // reqwest's message may include the URL (with credentials in query strings for some
    // gateways); say only what kind of failure it was.
    SendError::Retryable(format!("{provider}: {what}"))
}

/// Sends `request` and reads its whole answer: the status and the body. A request that
/// gets no (complete) answer classifies as [`transport`].
pub async fn exchange(provider: &str, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), SendError> {
    let resp = request.send().await.map_err(|e| transport(provider, &e))?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| transport(provider, &e))?;
    Ok((status, body.to_vec()))
}

/// The outcome of a provider's `healthcheck()` request: healthy on any 2xx; otherwise the
/// class of its status ([`http_status`]) with `what` (the endpoint) as the reason, never
/// the body. A request without an answer classifies as [`transport`].
pub async fn healthcheck(provider: &str, request: reqwest::RequestBuilder, what: &str) -> Result<(), SendError> {
    let resp = request.send().await.map_err(|e| transport(provider, &e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(http_status(provider, status, what))
    }
}

/// The HTTP client every HTTP provider uses: rustls, no redirects (a provider that
/// redirects is misconfigured), a deadline per request, and our user agent.
pub fn http_client(provider: &str, timeout: Duration) -> Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .user_agent(concat!("ringproof/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| BuildError::config(provider, format!("cannot build its HTTP client: {e}")))
}

/// At most `max` characters of a vendor's error text, on one line, for error messages.
pub fn snippet(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    one_line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(matches!(http_status("p", s, ""), SendError::Retryable(_)), "{s}");
        }
        for s in [400, 404, 410, 422] {
            assert!(matches!(http_status("p", s, "x"), SendError::Permanent(_)), "{s}");
        }
        assert_eq!(
            http_status("twilio", 400, "Invalid 'To' Phone Number"),
            SendError::Permanent("twilio: HTTP 400: Invalid 'To' Phone Number".into())
        );
        assert_eq!(snippet("a\nb\tc  ", 100), "a b c");
        assert_eq!(snippet("abcdef", 3), "abc");
    }
}
