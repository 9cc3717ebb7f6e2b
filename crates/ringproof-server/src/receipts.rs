//! The receipts service: applies providers' delivery receipts, from the callback route
//! (`routes/callbacks.rs`) and from providers' own connections (SMPP `deliver_sm`), and
//! counts them. Not a route: the state holds it, and the route only parses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ringproof_core::delivery::ReceiptOutcome;
use ringproof_core::engine::Engine;
use ringproof_core::ports::DeliveryReceipt;

/// Applies receipts, from callbacks and from providers' own connections (SMPP). A receipt
/// can overtake the recording of its send (the worker records sends in batches, and an
/// SMSC may answer within milliseconds), so one that matches no send is tried again a few
/// times, a few seconds apart, before it is counted as ignored. Bounded: past `MAX_WAITING`
/// receipts waiting to be retried, new ones are ignored at once.
pub struct Receipts {
    engine: Engine,
    waiting: Arc<AtomicUsize>,
}

/// Waits before the retries of a receipt that matched no send.
const RETRY_AFTER: [Duration; 3] = [Duration::from_secs(2), Duration::from_secs(10), Duration::from_secs(30)];
const MAX_WAITING: usize = 10_000;

impl Receipts {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Applies one receipt now; if it matched no send, retries it later in the background.
    pub async fn apply(&self, r: DeliveryReceipt) -> Result<(), ringproof_core::CoreError> {
        let outcome = self.engine.delivery_receipt(&r).await?;
        if outcome != ReceiptOutcome::Ignored {
            record(&outcome);
            return Ok(());
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            record(&outcome);
            return Ok(());
        }
        let (engine, waiting) = (self.engine.clone(), self.waiting.clone());
        tokio::spawn(async move {
            let mut last = ReceiptOutcome::Ignored;
            for wait in RETRY_AFTER {
                tokio::time::sleep(wait).await;
                match engine.delivery_receipt(&r).await {
                    Ok(ReceiptOutcome::Ignored) => continue,
                    Ok(o) => {
                        last = o;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(provider = %r.provider, error = %e, "delivery receipt not recorded");
                        break;
                    }
                }
            }
            record(&last);
            waiting.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }
}

/// Metrics for one receipt: counts by provider, status and destination country, and the
/// time from the send to the handset for delivered ones.
pub fn record(outcome: &ReceiptOutcome) {
    match outcome {
        ReceiptOutcome::Ignored => {
            metrics::counter!("ringproof_delivery_receipts_total", "status" => "ignored").increment(1);
        }
        ReceiptOutcome::Recorded {
            provider,
            status,
            channel,
            region,
            latency_ms,
        } => {
            let country = region.clone().unwrap_or_else(|| "unknown".into());
            metrics::counter!("ringproof_delivery_receipts_total", "provider" => provider.clone(),
                "status" => status.as_str(), "channel" => channel.as_str(), "country" => country.clone())
            .increment(1);
            if *status == ringproof_core::ports::DeliveryStatus::Delivered {
                metrics::histogram!("ringproof_delivery_to_handset_seconds", "provider" => provider.clone(),
                    "channel" => channel.as_str(), "country" => country)
                .record(*latency_ms as f64 / 1000.0);
            }
        }
    }
}
