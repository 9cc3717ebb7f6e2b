//! Building and running the server: open the store, load or create the server secret,
//! choose the provider, create the demo client on first start, bind, serve, and run the
//! job worker beside the HTTP server until a shutdown signal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ringproof_core::client::NewClient;
use ringproof_core::code::{CodeSource, OsCodeSource};
use ringproof_core::crypto::{Keys, hex, random_bytes};
use ringproof_core::engine::{Engine, JobTuning};
use ringproof_core::lookup::{MetadataLookup, NumberLookup};
use ringproof_core::ports::{Sender, Store};
use ringproof_core::simswap::{NoSimSwapCheck, SimSwapCheck};
use ringproof_core::time::{Clock, SystemClock};
use ringproof_providers::registry::{self, BuildContext};
use ringproof_providers::sandbox::SandboxSender;
use ringproof_providers::sandbox::audio::VoiceAudio;
use ringproof_providers::sandbox::lookup::SandboxLookup;
use ringproof_providers::webhook::{HttpWebhookPoster, WebhookHttpConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::receipts::Receipts;
use crate::worker::Wake;
use ringproof_core::ports::{DeliveryReceipt, ReceiptSink};

use crate::config::{Config, Mode, Role};
use crate::state::AppState;
use crate::telemetry;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error("database: {0}")]
    Store(#[from] ringproof_core::StoreError),
    #[error("sandbox outbox: {0}")]
    Sandbox(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Core(#[from] ringproof_core::CoreError),
}

/// Things tests (and only tests) replace.
#[derive(Clone, Default)]
pub struct Hooks {
    pub clock: Option<Arc<dyn Clock>>,
    pub codes: Option<Arc<dyn CodeSource>>,
    /// Run the background worker (default true). Tests that move time by hand turn it
    /// off and drain the queue with [`crate::worker::run_due_now`].
    pub no_worker: bool,
    /// Deliver through this instead of the configured provider (a failing provider, say).
    pub sender: Option<Arc<dyn Sender>>,
    /// Ask this about SIM swaps instead of the configured check (a fake operator).
    pub sim_swap: Option<Arc<dyn SimSwapCheck>>,
}

/// The pieces every command needs: the engine over the configured store.
pub struct Core {
    pub engine: Engine,
    pub wake: Arc<Wake>,
    pub clock: Arc<dyn Clock>,
    /// The CAMARA operators of `[[netauth.operators]]`, when any are configured.
    pub operators: Option<Arc<ringproof_providers::camara::Operators>>,
    /// The sandbox's test numbers and what each triggers (empty without the sandbox).
    pub test_numbers: Vec<(String, String)>,
}

/// Opens the store (applying migrations) and builds the engine. Used by `serve` and by
/// every CLI command, so they all act on the same data.
/// What a start does with the fingerprint of the server keys kept in the database.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fingerprint {
    /// `serve`: records it on a database that has none, refuses another.
    Record,
    /// Every other command: refuses another, records nothing (a command run from some
    /// other data directory must not decide which secret the nodes share).
    Check,
}

/// The engine on the configured store, for a command (`migrate`, `client`, …): see
/// [`Fingerprint::Check`].
pub async fn open_core(config: &Config, hooks: &Hooks) -> Result<Core, StartupError> {
    open(config, hooks, Fingerprint::Check).await
}

async fn open(config: &Config, hooks: &Hooks, fingerprint: Fingerprint) -> Result<Core, StartupError> {
    private_dir(&config.data_dir)?;
    if config.database_url.is_none() {
        // The default database lives in the data directory; SQLite gives its -wal and -shm
        // files the database file's mode.
        private_file(&config.data_dir.join("ringproof.db"))?;
    }
    let store: Arc<dyn Store> = ringproof_store::open(&config.database_url()).await?;
    let (secret, generated) = server_secret(config)?;
    let keys = Keys::derive(&secret);
    if let Err(e) = same_secret_as_the_database(store.as_ref(), &keys, fingerprint, generated.as_deref()).await {
        if let Some(path) = &generated {
            // Not left behind to be taken for the right one by the next start.
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    let clock = hooks.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
    let codes = hooks.codes.clone().unwrap_or_else(|| Arc::new(OsCodeSource));
    let wake = Arc::new(Wake::default());
    let w = wake.clone();
    let poster = HttpWebhookPoster::new(WebhookHttpConfig {
        timeout: std::time::Duration::from_millis(config.webhooks.timeout_ms),
    })
    .map_err(|e| StartupError::Config(e.to_string()))?;
    let operators = crate::netauth::operators(config)?;
    // The sandbox's table answers the number lookup and is listed on the front page.
    let table = sandbox_table(config)?;
    let test_numbers = table.as_ref().map(SandboxLookup::listing).unwrap_or_default();
    let lookup: Arc<dyn NumberLookup> = match table {
        Some(t) => Arc::new(t),
        None => Arc::new(MetadataLookup),
    };
    let engine = Engine::new(store, clock.clone(), codes, keys, config.policy)
        .with_tuning(JobTuning {
            lease_ms: i64::from(config.worker.lease_s) * 1000,
            ..JobTuning::default()
        })
        .with_token_ttl(config.signzy.token_ttl_s)
        .with_throttle(config.auth_throttle.limits())
        .with_link_ttl(config.link_ttl_s)
        .with_public_base_url(&config.public_base_url_or(config.listen))
        .with_lookup(lookup)
        .with_sim_swap(hooks.sim_swap.clone().unwrap_or_else(|| match &operators {
            // The operators of [netauth] answer SIM-swap checks too.
            Some(ops) => Arc::new(ringproof_providers::camara::CamaraSimSwap::new(ops.clone())),
            None => Arc::new(NoSimSwapCheck),
        }))
        .with_webhooks(Arc::new(poster))
        .with_metrics(Arc::new(crate::telemetry::EngineMetrics))
        .with_limits(config.limits.clone())
        .with_wake(Arc::new(move || w.notify()));
    Ok(Core {
        engine,
        wake,
        clock,
        operators,
        test_numbers,
    })
}

/// The sandbox's table of test numbers (`sandbox_numbers_file`, else the built-in one)
/// when the sandbox provider is in use.
fn sandbox_table(config: &Config) -> Result<Option<SandboxLookup>, StartupError> {
    if config.provider != "sandbox" {
        return Ok(None);
    }
    Ok(Some(match &config.sandbox_numbers_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                StartupError::Config(format!("cannot read sandbox_numbers_file {}: {e}", path.display()))
            })?;
            SandboxLookup::parse(&text)
                .map_err(|e| StartupError::Config(format!("sandbox_numbers_file {}: {e}", path.display())))?
        }
        None => SandboxLookup::builtin().map_err(|e| StartupError::Config(e.to_string()))?,
    }))
}

/// The server secret: from config, from `server_secret_file`, or generated once and kept
/// in `<data_dir>/server-secret` (readable by the owner only).
/// The server secret, and the file it was just generated into, if it was.
fn server_secret(config: &Config) -> Result<(Vec<u8>, Option<PathBuf>), StartupError> {
    let from_file = |p: &Path| -> Result<Vec<u8>, StartupError> {
        let s = std::fs::read_to_string(p)
            .map_err(|e| StartupError::Config(format!("cannot read server secret file {}: {e}", p.display())))?;
        Ok(s.trim().as_bytes().to_vec())
    };
    let mut generated = None;
    let secret = match (&config.server_secret, &config.server_secret_file) {
        (Some(s), _) => s.trim().as_bytes().to_vec(),
        (None, Some(p)) => from_file(p)?,
        (None, None) => {
            let path = config.data_dir.join("server-secret");
            if !path.exists() {
                write_private(&path, &hex(&random_bytes::<32>()))?;
                tracing::info!(path = %path.display(), "generated a new server secret");
                generated = Some(path.clone());
            }
            from_file(&path)?
        }
    };
    if secret.len() < 32 {
        return Err(StartupError::Config(
            "server_secret must be at least 32 characters".into(),
        ));
    }
    Ok((secret, generated))
}

/// The setting that keeps the server keys' fingerprint ([`Keys::fingerprint`]).
const KEY_FINGERPRINT: &str = "server_key_fingerprint";

/// Refuses a server secret other than the one the database was first used with: nodes
/// sharing a database must share the secret, or every code one issued, every secret it
/// sealed and every counter key would fail on the others — silently, one request at a
/// time. The first start records the fingerprint (never the secret or a key).
///
/// A secret generated by this very start is refused on a database that already has
/// clients: it cannot be the one they were made with (the data directory is new, or its
/// secret was lost), whether or not the database holds a fingerprint yet.
async fn same_secret_as_the_database(
    store: &dyn Store,
    keys: &Keys,
    fingerprint: Fingerprint,
    generated: Option<&Path>,
) -> Result<(), StartupError> {
    if let Some(path) = generated
        && !store.list_clients().await?.is_empty()
    {
        return Err(StartupError::Config(format!(
            "{} did not exist, so a new server secret was about to be made, but this database is already in use \
             and was set up with another one. Copy the server secret of the nodes that use it (their data \
             directory's server-secret file, or their server_secret / server_secret_file). See docs/deploy.md",
            path.display()
        )));
    }
    let mine = keys.fingerprint();
    let stored = match fingerprint {
        Fingerprint::Record => Some(store.keep_setting(KEY_FINGERPRINT, &mine).await?),
        Fingerprint::Check => store.setting(KEY_FINGERPRINT).await?,
    };
    let Some(stored) = stored.filter(|s| *s != mine) else {
        return Ok(());
    };
    Err(StartupError::Config(format!(
        "this database was set up with another server secret (key fingerprint {stored}; this node's is {mine}). \
         Every node on one database needs the same server_secret / server_secret_file (or the data directory's \
         server-secret file): copy it from the node that created the database. See docs/deploy.md"
    )))
}

/// Creates `dir` (and missing parents) readable by its owner only, and makes an existing
/// one so: the data directory holds phone numbers, secrets and the sandbox's codes.
pub fn private_dir(dir: &Path) -> Result<(), std::io::Error> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        b.mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(dir)
}

/// Creates `path` empty if it is missing (an empty file is what SQLite opens as a new
/// database), readable by its owner only, and makes an existing one so.
pub fn private_file(path: &Path) -> Result<(), std::io::Error> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600).open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    opts.open(path).map(drop)
}

/// Writes a file only its owner can read (credentials, secrets).
pub fn write_private(path: &Path, contents: &str) -> Result<(), std::io::Error> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

/// The demo client's allowed origins: every address the server announces (the bound
/// address, `localhost` on its port, `public_base_url`), so a link's target on the demo
/// lands back on this server, and `http://localhost:8080` (the examples' default).
fn demo_origins(config: &Config, bound: std::net::SocketAddr) -> Vec<String> {
    let mut o = vec!["http://localhost:8080".to_owned()];
    if bound.port() != 0 {
        o.push(format!("http://{bound}"));
        o.push(format!("http://localhost:{}", bound.port()));
    }
    if let Some(origin) = config
        .public_base_url
        .as_deref()
        .and_then(ringproof_core::link_session::origin_of)
    {
        o.push(origin);
    }
    let mut seen = std::collections::HashSet::new();
    o.retain(|x| seen.insert(x.clone()));
    o
}

/// The JSON that `client create --json` prints and `demo-credentials.json` holds.
pub fn credentials_json(n: &NewClient) -> serde_json::Value {
    serde_json::json!({
        "client_id": n.client.id.as_str(),
        "name": n.client.name,
        "api_key": n.client.api_key,
        "api_secret": n.api_secret,
        "username": n.client.username,
        "password": n.password,
    })
}

pub struct Application {
    addr: SocketAddr,
    listener: TcpListener,
    state: AppState,
    sender: Arc<dyn Sender>,
    wake: Arc<Wake>,
    run_worker: bool,
    /// Set when shutdown begins: endless responses (the sandbox phone's events) end then,
    /// so the graceful shutdown does not wait for them for ever.
    closing: watch::Sender<bool>,
    /// Credentials of the demo client if this start created it.
    pub demo: Option<serde_json::Value>,
}

impl Application {
    pub async fn build(config: Config, hooks: Hooks) -> Result<Self, StartupError> {
        let Core {
            engine,
            wake,
            clock,
            operators,
            test_numbers,
        } = open(&config, &hooks, Fingerprint::Record).await?;
        let uses_sandbox = registry::uses_sandbox(&config.provider, &config.providers, &config.routes);
        let sandbox = if uses_sandbox {
            if config.mode == Mode::Production {
                return Err(StartupError::Config(
                    "mode = \"production\" refuses the sandbox provider: it delivers nothing. Configure a real provider (docs/providers.md)".into(),
                ));
            }
            let outbox = open_sandbox(&config, clock.clone()).await?;
            if ringproof_store::is_postgres(&config.database_url()) {
                tracing::warn!(
                    "SANDBOX PROVIDER: no message leaves this machine. Messages are kept in the database's schema ringproof_sandbox (shared by every node) and shown at /sandbox. Never use this in production."
                );
            } else {
                tracing::warn!(
                    "SANDBOX PROVIDER: no message leaves this machine. Messages are kept in {}/sandbox.db and shown at /sandbox. Never use this in production.",
                    config.data_dir.display()
                );
            }
            let audio_dir = config.data_dir.join("sandbox-audio");
            private_dir(&audio_dir)?;
            Some(match VoiceAudio::detect(audio_dir.clone()).await {
                Some(audio) => {
                    tracing::info!(dir = %audio_dir.display(), "espeak-ng found: the sandbox renders calls to WAV");
                    outbox.with_audio(audio)
                }
                None => outbox,
            })
        } else {
            None
        };
        let receipts = Arc::new(Receipts::new(engine.clone()));
        let ctx = BuildContext {
            sandbox: sandbox.clone().map(|s| Arc::new(s) as Arc<dyn Sender>),
            clock: clock.clone(),
            receipts: Some(receipt_sink(receipts.clone())),
        };
        let built = registry::build_sender(
            &config.provider,
            &config.providers,
            &config.routes,
            config.breaker,
            &ctx,
        )
        .map_err(|e| StartupError::Config(e.to_string()))?;
        let sender: Arc<dyn Sender> = hooks.sender.clone().unwrap_or(built);
        let callbacks =
            registry::callback_parsers(&config.providers).map_err(|e| StartupError::Config(e.to_string()))?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        // A worker node serves no demo: the API node that shows it creates the client.
        let demo = if config.mode == Mode::Development
            && config.role != Role::Worker
            && engine.store().list_clients().await?.is_empty()
        {
            let created = engine.create_client("demo", demo_origins(&config, addr)).await?;
            let json = credentials_json(&created);
            let path = config.data_dir.join("demo-credentials.json");
            write_private(&path, &serde_json::to_string_pretty(&json).unwrap_or_default())?;
            Some(json)
        } else {
            None
        };
        // Links point at the address actually bound when no public URL is configured.
        let public_base_url = config.public_base_url_or(addr);
        let (authenticator, netauth) =
            crate::netauth::build(&config, public_base_url.trim_end_matches('/'), operators)?;
        let engine = engine
            .with_public_base_url(&public_base_url)
            .with_sender(sender.clone())
            .with_netauth(authenticator, config.netauth.deadline_s);
        // Twilio signs its status callbacks over the URL it was given; we check them
        // against our public URL, so the two must agree or every callback is refused.
        for (name, p) in &config.providers {
            if let registry::ProviderConfig::Twilio(t) = p
                && let Some(url) = &t.status_callback_url
                && *url != format!("{}/callbacks/{name}", engine.public_base_url())
            {
                tracing::warn!(
                    provider = %name,
                    "status_callback_url is not <public_base_url>/callbacks/{name}: Twilio's signed callbacks will be refused (403)"
                );
            }
        }
        if config.mode == Mode::Production && config.public_base_url.is_none() {
            tracing::warn!(
                "public_base_url is not set: one-time links will point at http://{addr}, which phones cannot reach"
            );
        }
        let demo_api = crate::demo::build(&config, sandbox.is_some(), addr, engine.public_base_url()).map(Arc::new);
        let home = crate::pages::home::render(&config, sandbox.is_some(), demo_api.is_some(), &test_numbers);
        let (closing, closing_rx) = watch::channel(false);
        let state = AppState {
            demo: demo_api,
            engine,
            sandbox,
            metrics: telemetry::metrics_handle(),
            callbacks: Arc::new(callbacks),
            receipts,
            netauth: Arc::new(netauth),
            home: home.into(),
            closing: closing_rx,
            draining: Arc::default(),
            config: Arc::new(config),
        };
        let run_worker = state.config.worker.enabled && state.config.role.runs_worker() && !hooks.no_worker;
        Ok(Self {
            addr,
            listener,
            state,
            sender,
            wake,
            run_worker,
            closing,
            demo,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn data_dir(&self) -> PathBuf {
        self.state.config.data_dir.clone()
    }
    pub fn engine(&self) -> &Engine {
        &self.state.engine
    }
    pub fn sender(&self) -> Arc<dyn Sender> {
        self.sender.clone()
    }
    /// What wakes this server's worker (as a job created here does). Tests that move an
    /// injected clock wake every node's worker with it, so they claim at the same moment.
    pub fn waker(&self) -> Arc<Wake> {
        self.wake.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, finishes in-flight requests
    /// and jobs, and returns (with no `shutdown_grace_ms`; [`run`](Self::run) honours it).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), std::io::Error> {
        self.run(shutdown, std::future::ready(())).await
    }

    /// Serves until `shutdown` resolves; then, for `shutdown_grace_ms` or until `hurry`
    /// resolves (it is first polled then: a second signal), keeps serving with `/readyz`
    /// answering 503 `draining`, so load balancers take the node out before it stops
    /// accepting; then stops accepting, finishes in-flight requests and jobs, and returns.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        hurry: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), std::io::Error> {
        let grace = std::time::Duration::from_millis(self.state.config.shutdown_grace_ms);
        let draining = self.state.draining.clone();
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            if !grace.is_zero() {
                tracing::info!(
                    grace_ms = grace.as_millis() as u64,
                    "draining: /readyz answers 503 while requests are still served (a second signal stops now)"
                );
                tokio::select! {
                    _ = tokio::time::sleep(grace) => {},
                    _ = hurry => tracing::info!("second signal: stopping now"),
                }
            }
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = self.run_worker.then(|| {
            tokio::spawn(crate::worker::run(
                self.state.engine.clone(),
                self.sender.clone(),
                self.wake.clone(),
                self.state.config.worker,
                crate::worker::Retention::new(&self.state.config, self.state.sandbox.clone()),
                stop_rx,
            ))
        });
        let role = self.state.config.role;
        let app = match role {
            Role::Worker => crate::routes::ops_app(self.state),
            Role::All | Role::Api => crate::routes::app(self.state),
        };
        tracing::info!(addr = %self.addr, role = ?role, worker = self.run_worker, "ringproof listening");
        // The connect info gives link pages the peer address (the click IP).
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = self.closing.send(true);
            })
            .await;
        let _ = stop_tx.send(true);
        if let Some(w) = worker {
            let _ = w.await;
        }
        tracing::info!("ringproof stopped");
        served
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// The sandbox outbox: `<data_dir>/sandbox.db` (owner-only) on SQLite; on PostgreSQL, the
/// database's schema `ringproof_sandbox`, shared by every node on it.
async fn open_sandbox(
    config: &Config,
    clock: Arc<dyn ringproof_core::time::Clock>,
) -> Result<SandboxSender, StartupError> {
    let url = config.database_url();
    let outbox = if ringproof_store::is_postgres(&url) {
        SandboxSender::open_postgres(&url, clock).await
    } else {
        let path = config.data_dir.join("sandbox.db");
        private_file(&path)?;
        SandboxSender::open(&path, clock).await
    };
    outbox.map_err(|e| StartupError::Sandbox(e.to_string()))
}

/// One configured provider by name, built the way `serve` builds it (the sandbox opens
/// its outbox as [`open_sandbox`] does, and only in development mode). For
/// `ringproof send-test`.
pub async fn build_provider(config: &Config, name: &str) -> Result<Arc<dyn Sender>, StartupError> {
    let clock: Arc<dyn ringproof_core::time::Clock> = Arc::new(ringproof_core::time::SystemClock);
    let wants_sandbox = registry::uses_sandbox(name, &config.providers, &[]);
    let sandbox: Option<Arc<dyn Sender>> = if wants_sandbox && config.mode == Mode::Development {
        private_dir(&config.data_dir)?;
        Some(Arc::new(open_sandbox(config, clock.clone()).await?))
    } else {
        None
    };
    let ctx = BuildContext {
        sandbox,
        clock,
        receipts: None,
    };
    match config.providers.get(name) {
        Some(cfg) => registry::build(name, cfg, &ctx),
        None if name == "sandbox" => registry::build(name, &registry::ProviderConfig::Sandbox, &ctx),
        None => Err(ringproof_providers::error::BuildError::config(
            name,
            "is not configured under [providers]",
        )),
    }
    .map_err(|e| StartupError::Config(e.to_string()))
}

/// Receipts that providers read on their own connections (SMPP `deliver_sm`), applied by
/// one task in arrival order. Bounded: should the database fall far behind, receipts past
/// the bound are dropped with a warning (they are facts about messages already sent; the
/// verification does not depend on them).
fn receipt_sink(receipts: Arc<Receipts>) -> Arc<dyn ReceiptSink> {
    const QUEUE: usize = 10_000;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<DeliveryReceipt>(QUEUE);
    tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            let provider = r.provider.clone();
            if let Err(e) = receipts.apply(r).await {
                tracing::warn!(provider = %provider, error = %e, "delivery receipt not recorded");
            }
        }
    });
    struct Sink(tokio::sync::mpsc::Sender<DeliveryReceipt>);
    impl ReceiptSink for Sink {
        fn receipt(&self, r: DeliveryReceipt) {
            if self.0.try_send(r).is_err() {
                tracing::warn!("delivery receipt queue full; receipt dropped");
            }
        }
    }
    Arc::new(Sink(tx))
}
