//! Logs and metrics.
//!
//! Logs never carry a phone number, code, token or secret: numbers are logged only through
//! `PhoneNumber`'s masked `Display`, request spans record the route template (never the raw
//! URI, whose query may hold a number), and codes have no printable form at all.
//! Metric labels are low-cardinality (channel, provider, outcome, route) — never a number
//! or an id.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
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

fn describe() {
    metrics::describe_counter!(
        "ringproof_verifications_started_total",
        "Verifications started, by first channel."
    );
    metrics::describe_counter!(
        "ringproof_verifications_approved_total",
        "Verifications approved, by first channel."
    );
    metrics::describe_counter!(
        "ringproof_verifications_failed_total",
        "Deliveries given up on, by channel."
    );
    metrics::describe_counter!("ringproof_checks_total", "Code checks, by outcome.");
    metrics::describe_counter!(
        "ringproof_deliveries_total",
        "Delivery attempts, by channel, provider and outcome."
    );
    metrics::describe_gauge!("ringproof_jobs", "Durable jobs by state: due, scheduled, dead.");
    metrics::describe_histogram!(
        "ringproof_delivery_latency_seconds",
        "From a message being due to the provider accepting it."
    );
    metrics::describe_histogram!(
        "ringproof_http_request_duration_seconds",
        "HTTP request duration by route."
    );
}
