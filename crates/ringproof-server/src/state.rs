//! What every handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use ringproof_core::engine::Engine;
use ringproof_core::ports::CallbackParser;
use ringproof_providers::sandbox::SandboxSender;

use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// Present when the sandbox provider is in use (never in production mode).
    pub sandbox: Option<SandboxSender>,
    pub metrics: PrometheusHandle,
    pub config: Arc<Config>,
    /// Applies delivery receipts (with retries for ones that overtake their send).
    pub receipts: Arc<crate::receipts::Receipts>,
    /// Providers that take delivery receipts at `/callbacks/{name}`, by name.
    pub callbacks: Arc<BTreeMap<String, Arc<dyn CallbackParser>>>,
    /// Network authentication's HTTP side (JWKS, the trusted header, operator origins).
    pub netauth: Arc<crate::netauth::NetAuth>,
    /// The demo's backend (development mode with the demo client's credentials only).
    pub demo: Option<Arc<crate::demo::api::DemoApi>>,
    /// The front page (`/`), rendered at start.
    pub home: Arc<str>,
    /// Becomes `true` when the server starts shutting down (endless responses end then).
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// `true` from the shutdown signal on: `/readyz` answers 503 `draining` while the
    /// server still serves for `shutdown_grace_ms`, so load balancers stop sending to it
    /// before it stops accepting.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}
