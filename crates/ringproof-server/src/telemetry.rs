//! Logs and metrics.
//!
//! Logs never carry a phone number, code, token or secret: numbers are logged only through
//! `PhoneNumber`'s masked `Display`, request spans record the route template (never the raw
//! URI, whose query may hold a number), and codes have no printable form at all.
//! Metric labels are low-cardinality (channel, provider, outcome, route) — never a number
//! or an id.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use ringproof_core::workflow::Channel;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber once; later calls do nothing.
pub fn init_tracing(format: LogFormat) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_writer(std::io::stderr);
        let _ = match format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.try_init(),
        };
    });
}

/// The process-wide Prometheus recorder (metrics are global by nature; several servers in
/// one test process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("ringproof_delivery_latency_seconds".into()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ringproof_http_request_duration_seconds".into()),
                        &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then our handle still renders
            // (empty), which is the honest answer.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// The engine's counts ([`ringproof_core::ports::Metrics`]) in the process-wide registry:
/// every face and the CLI start and check through the engine, so all are counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineMetrics;

impl ringproof_core::ports::Metrics for EngineMetrics {
    fn verification_started(&self, first_channel: Channel) {
        metrics::counter!("ringproof_verifications_started_total", "channel" => first_channel.as_str()).increment(1);
    }

    fn verification_approved(&self, first_channel: Channel) {
        metrics::counter!("ringproof_verifications_approved_total", "channel" => first_channel.as_str()).increment(1);
    }

    fn code_checked(&self, outcome: &'static str) {
        metrics::counter!("ringproof_checks_total", "outcome" => outcome).increment(1);
    }

    fn client_cap_near(&self, client: &ringproof_core::ids::ClientId, w: ringproof_core::guard::CapWarning) {
        let window = if w.window == "s1m" { "minute" } else { "day" };
        metrics::counter!("ringproof_client_cap_warnings_total", "window" => window).increment(1);
        tracing::warn!(client = %client, window, used = w.used, limit = w.limit, "client send cap at 80%");
    }

    fn guard_refused(&self, rule: &'static str, country: &str) {
        metrics::counter!("ringproof_guard_blocks_total", "rule" => rule, "country" => country.to_owned()).increment(1);
    }

    fn guard_block_created(&self, rule: &'static str, country: &str) {
        metrics::counter!("ringproof_guard_ranges_blocked_total", "rule" => rule, "country" => country.to_owned())
            .increment(1);
        // The range itself is in `ringproof guard list` (and no number is logged).
        tracing::warn!(rule, country, "a number range was blocked (SMS-pumping guard)");
    }

    fn netauth_verdict(&self, authenticator: &str, v: &ringproof_core::netauth::Verdict) {
        metrics::counter!(
            "ringproof_netauth_verdicts_total",
            "authenticator" => authenticator.to_owned(),
            "phone_match" => v.phone_match.as_str(),
            "reason" => v.reason.clone()
        )
        .increment(1);
    }

    fn sim_swap_checked(&self, result: &'static str, refused: bool) {
        let outcome = if refused { "refused" } else { "proceeded" };
        metrics::counter!("ringproof_sim_swap_checks_total", "result" => result, "outcome" => outcome).increment(1);
    }
}

/// Counts an authentication attempt refused by the throttle, by face (`native`, `signzy`,
/// `idenfy`) and rule (`ringproof_core::throttle::Rule::as_str`).
pub fn auth_throttled(face: &'static str, throttled: &ringproof_core::throttle::Throttled) {
    metrics::counter!("ringproof_auth_throttled_total", "face" => face, "rule" => throttled.rule.as_str()).increment(1);
}

/// Every metric the workspace records, with its `# HELP` text. A test reads the sources
/// and fails on a `counter!`, `gauge!` or `histogram!` whose name is not here.
const DESCRIBED: &[(Kind, &str, &str)] = &[
    (
        Kind::Counter,
        "ringproof_sim_swap_checks_total",
        "SIM-swap checks made before OTP and link starts, by result (swapped, not_swapped, unknown) and outcome (proceeded, refused).",
    ),
    (
        Kind::Counter,
        "ringproof_guard_blocks_total",
        "Sends and checks refused by a limit across verifications, by rule and the number's country.",
    ),
    (
        Kind::Counter,
        "ringproof_guard_ranges_blocked_total",
        "Number ranges blocked by the SMS-pumping guard (pumping_prefix, pumping_country, renewals) or by hand (manual_block), by rule and country.",
    ),
    (
        Kind::Counter,
        "ringproof_client_cap_warnings_total",
        "A client's send cap (per minute or per day) reached 80 %, by window.",
    ),
    (
        Kind::Counter,
        "ringproof_verifications_started_total",
        "Verifications started, by first channel.",
    ),
    (
        Kind::Counter,
        "ringproof_verifications_approved_total",
        "Verifications approved, by first channel.",
    ),
    (
        Kind::Counter,
        "ringproof_verifications_failed_total",
        "Deliveries given up on, by channel.",
    ),
    (Kind::Counter, "ringproof_checks_total", "Code checks, by outcome."),
    (
        Kind::Counter,
        "ringproof_deliveries_total",
        "Delivery attempts, by channel, provider and outcome.",
    ),
    (
        Kind::Gauge,
        "ringproof_jobs",
        "Durable jobs by state: due, scheduled, dead.",
    ),
    (
        Kind::Histogram,
        "ringproof_delivery_latency_seconds",
        "From a message being due to the provider accepting it.",
    ),
    (
        Kind::Histogram,
        "ringproof_http_request_duration_seconds",
        "HTTP request duration by route.",
    ),
    (
        Kind::Counter,
        "ringproof_webhooks_total",
        "Webhook attempts, by outcome: delivered, retry, failed, dropped.",
    ),
    (
        Kind::Counter,
        "ringproof_link_confirms_total",
        "Instant-link page steps (confirm, callback, done), by outcome.",
    ),
    (
        Kind::Counter,
        "ringproof_netauth_verdicts_total",
        "Network authentication verdicts (link clicks, silent steps), by authenticator, phone_match and reason.",
    ),
    (
        Kind::Counter,
        "ringproof_netauth_untrusted_headers_total",
        "MSISDN enrichment headers ignored because they came from an untrusted address.",
    ),
    (
        Kind::Counter,
        "ringproof_delivery_receipts_total",
        "Providers' delivery receipts, by provider, status, channel and country.",
    ),
    (
        Kind::Histogram,
        "ringproof_delivery_to_handset_seconds",
        "From a send to its delivered receipt, by provider, channel and country.",
    ),
    (
        Kind::Counter,
        "ringproof_provider_sends_total",
        "Sends handed to each provider, by provider, channel and outcome.",
    ),
    (
        Kind::Counter,
        "ringproof_auth_throttled_total",
        "Logins and API-secret checks refused unchecked by the throttle, by face and rule.",
    ),
    (
        Kind::Gauge,
        "ringproof_provider_circuit_open",
        "1 while a provider's circuit breaker is open, else 0.",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn describe() {
    for &(kind, name, help) in DESCRIBED {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DESCRIBED;

    /// Every `counter!`, `gauge!` and `histogram!` in the workspace's sources names a
    /// described metric, so `/metrics` has a `# HELP` line for each.
    #[test]
    fn every_recorded_metric_is_described() {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![crates];
        let mut found = Vec::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "target" || n == "tests") {
                    continue;
                }
                for e in std::fs::read_dir(&p).unwrap() {
                    files.push(e.unwrap().path());
                }
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for mac in ["counter!(\"", "gauge!(\"", "histogram!(\""] {
                    for (i, _) in text.match_indices(mac) {
                        let rest = &text[i + mac.len()..];
                        let name = &rest[..rest.find('"').unwrap()];
                        found.push((name.to_owned(), p.display().to_string()));
                    }
                }
            }
        }
        assert!(found.len() > 10, "the scan found the metrics: {found:?}");
        for (name, file) in found {
            assert!(
                DESCRIBED.iter().any(|(_, n, _)| *n == name),
                "{name} (in {file}) has no describe_* in telemetry.rs"
            );
        }
    }
}
