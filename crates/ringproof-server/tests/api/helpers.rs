//! `spawn_app()`: a real server on a free port with a fresh data directory, an injected
//! clock and (by default) no background worker, so tests drain the job queue themselves.

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::Response;
use ringproof_core::client::Client;
use ringproof_core::code::CodeSource;
use ringproof_core::engine::ClientChange;
use ringproof_core::engine::Engine;
use ringproof_core::ids::ClientId;
use ringproof_core::job::JobStats;
use ringproof_core::ports::{OutboundMessage, SendError, SendReceipt, Sender};
use ringproof_core::time::{ManualClock, Timestamp};
use ringproof_server::config::Config;
use ringproof_server::startup::{Application, Hooks};
use serde_json::{Value, json};
use tempfile::TempDir;

pub use crate::eventually::eventually;
pub use crate::pg::PgDatabase;

/// 2026-01-01T00:00:00Z
pub const T0: Timestamp = Timestamp(1_767_225_600_000);

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub engine: Engine,
    pub sender: Arc<dyn Sender>,
    /// Wakes this server's worker (when `Opts::worker` is on).
    pub wake: Arc<ringproof_server::worker::Wake>,
    pub data_dir: PathBuf,
    /// The PostgreSQL database this server runs on (`None`: SQLite in `data_dir`).
    pub database_url: Option<String>,
    pub key: String,
    pub secret: String,
    /// The demo client's id, username and password (for faces that log in).
    pub client_id: String,
    pub username: String,
    pub password: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The data directory and database this app made for itself, removed with it.
    _own_data_dir: Option<TempDir>,
    _postgres: Option<PgDatabase>,
}

/// A change to a test server's config.
pub type ConfigChange = Box<dyn FnOnce(&mut Config) + Send>;

#[derive(Default)]
pub struct Opts {
    pub database_url: Option<String>,
    /// A PostgreSQL database to run on (instead of `database_url`), dropped with the app.
    pub postgres: Option<PgDatabase>,
    pub worker: bool,
    pub codes: Option<Arc<dyn CodeSource>>,
    pub sender: Option<Arc<dyn Sender>>,
    pub data_dir: Option<PathBuf>,
    /// `trusted_proxies` of the config (link pages believe their `X-Forwarded-For`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `sandbox_numbers_file` of the config.
    pub sandbox_numbers_file: Option<PathBuf>,
    /// `signzy.request_timeout_ms` of the config (default: the config's default).
    pub signzy_request_timeout_ms: Option<u64>,
    /// `webhooks.timeout_ms` of the config (default: the config's default).
    pub webhook_timeout_ms: Option<u64>,
    /// The clock (default: a new one at [`T0`]). Servers given the same clock share time.
    pub clock: Option<Arc<ManualClock>>,
    /// `worker.poll_interval_ms` of the config (default: the config's default).
    pub worker_poll_interval_ms: Option<u64>,
    /// `worker.concurrency` of the config (default: the config's default).
    pub worker_concurrency: Option<u32>,
    /// `[idenfy]` of the config: the fallback timeline (default: the config's default).
    pub idenfy: Option<ringproof_core::engine::fallback::Timeline>,
    /// The operator's SIM-swap check (default: none configured, every check `unknown`).
    pub sim_swap: Option<Arc<dyn ringproof_core::simswap::SimSwapCheck>>,
    /// Any other change to the config (providers, routes, …), applied last.
    pub configure: Option<ConfigChange>,
}

impl Opts {
    /// These options on the data directory `dir` (a restart spawns a second app on the same).
    pub fn in_dir(self, dir: &std::path::Path) -> Self {
        Self {
            data_dir: Some(dir.to_path_buf()),
            ..self
        }
    }
}

/// A provider that reports itself unavailable (say, every circuit open) and fails any
/// send handed to it anyway.
pub struct DownSender;

#[async_trait::async_trait]
impl Sender for DownSender {
    fn name(&self) -> &str {
        "down"
    }
    async fn send(&self, _msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        Err(SendError::Retryable("every route is down".into()))
    }
    fn available(&self) -> bool {
        false
    }
}

/// An `Authorization` value for HTTP Basic with this user and password.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A fresh directory `rp-<tag>-<random>` in the system temp directory, removed with its
/// guard (keep the guard alive as long as a server uses the directory).
pub fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("rp-{tag}-"))
        .tempdir()
        .unwrap()
}

/// A fresh PostgreSQL database `rp_api_<random>`, dropped with its guard. Tests using it
/// carry `#[cfg_attr(not(ringproof_pg), ignore = …)]` (see `crates/ringproof-store/tests/support/pg.rs`).
pub async fn pg_database() -> PgDatabase {
    PgDatabase::create("api").await
}

/// The tests `$name::sqlite` and `$name::postgres`: `$run` (an async fn taking the
/// [`TestApp`]) against a server on SQLite and on a fresh PostgreSQL database, each built
/// from `$opts` (default `Opts::default()`; names in it resolve in the calling module).
/// Without `RINGPROOF_TEST_DATABASE_URL` the PostgreSQL one is reported as ignored.
macro_rules! on_both_stores {
    ($name:ident, $run:ident) => {
        $crate::helpers::on_both_stores!($name, $run, $crate::helpers::Opts::default());
    };
    ($name:ident, $run:ident, $opts:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                $run($crate::helpers::TestApp::spawn_with($opts).await).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(ringproof_pg),
                ignore = "PostgreSQL half: set RINGPROOF_TEST_DATABASE_URL"
            )]
            async fn postgres() {
                let opts = $crate::helpers::Opts {
                    postgres: Some($crate::helpers::pg_database().await),
                    ..$opts
                };
                $run($crate::helpers::TestApp::spawn_with(opts).await).await;
            }
        }
    };
}
pub(crate) use on_both_stores;

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Opts::default()).await
    }

    pub async fn spawn_with(opts: Opts) -> Self {
        let own_data_dir = opts.data_dir.is_none().then(|| temp_dir("api"));
        let data_dir = (opts.data_dir.clone())
            .or_else(|| own_data_dir.as_ref().map(|d| d.path().to_path_buf()))
            .unwrap();
        let database_url = match &opts.postgres {
            Some(db) => Some(db.url.clone()),
            None => opts.database_url.clone(),
        };
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.clone(),
            database_url: database_url.clone(),
            trusted_proxies: opts.trusted_proxies.clone(),
            sandbox_numbers_file: opts.sandbox_numbers_file.clone(),
            ..Config::default()
        };
        if let Some(ms) = opts.signzy_request_timeout_ms {
            config.signzy.request_timeout_ms = ms;
        }
        if let Some(ms) = opts.webhook_timeout_ms {
            config.webhooks.timeout_ms = ms;
        }
        if let Some(ms) = opts.worker_poll_interval_ms {
            config.worker.poll_interval_ms = ms;
        }
        if let Some(n) = opts.worker_concurrency {
            config.worker.concurrency = n;
        }
        let clock = opts.clock.clone().unwrap_or_else(|| Arc::new(ManualClock::new(T0)));
        if let Some(t) = opts.idenfy {
            config.idenfy = t;
        }
        if let Some(f) = opts.configure {
            f(&mut config);
        }
        let hooks = Hooks {
            clock: Some(clock.clone()),
            codes: opts.codes.clone(),
            no_worker: !opts.worker,
            sender: opts.sender.clone(),
            sim_swap: opts.sim_swap.clone(),
        };
        let app = Application::build(config, hooks).await.expect("server builds");
        let creds: Value =
            serde_json::from_str(&std::fs::read_to_string(data_dir.join("demo-credentials.json")).unwrap()).unwrap();
        let base = format!("http://{}", app.addr());
        let engine = app.engine().clone();
        let sender = app.sender();
        let wake = app.waker();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            base,
            http: reqwest::Client::new(),
            clock,
            engine,
            sender,
            wake,
            data_dir,
            database_url,
            key: creds["api_key"].as_str().unwrap().to_owned(),
            secret: creds["api_secret"].as_str().unwrap().to_owned(),
            client_id: creds["client_id"].as_str().unwrap().to_owned(),
            username: creds["username"].as_str().unwrap().to_owned(),
            password: creds["password"].as_str().unwrap().to_owned(),
            stop: Some(tx),
            server: Some(server),
            _own_data_dir: own_data_dir,
            _postgres: opts.postgres,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap();
        }
    }

    /// The demo client's credentials as HTTP Basic (the iDenfy face; /v1 takes it too).
    pub fn basic_auth(&self) -> String {
        basic(&self.key, &self.secret)
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}:{}", self.key, self.secret)
    }

    /// Creates another client and returns its `Authorization` header value.
    pub async fn other_client_auth(&self) -> String {
        let c = self.engine.create_client("other", vec![]).await.unwrap();
        format!("Bearer {}:{}", c.client.api_key, c.api_secret)
    }

    pub async fn post_as(&self, auth: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("authorization", auth)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_as(&self.auth(), path, body).await
    }

    /// POSTs `body` to `path` without credentials.
    pub async fn post_anonymous(&self, path: &str, body: &Value) -> Response {
        let r = self.http.post(format!("{}{path}", self.base)).json(body);
        r.send().await.unwrap()
    }

    pub async fn get_as(&self, auth: &str, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.auth(), path).await
    }

    /// GETs `path` without credentials and returns the body as text.
    pub async fn get_text(&self, path: &str) -> String {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        r.text().await.unwrap()
    }

    /// GETs `path` without credentials and returns the body as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        r.json().await.unwrap()
    }

    /// Starts a verification and returns its JSON (asserting 201).
    pub async fn start(&self, body: Value) -> Value {
        let r = self.post("/v1/verifications", &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Starts a verification and returns its id (asserting 201).
    pub async fn start_id(&self, body: Value) -> String {
        self.start(body).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn start_sms(&self, to: &str) -> String {
        self.start_id(json!({"to": to})).await
    }

    /// Checks `code` against verification `id` on the native API.
    pub async fn check(&self, id: &str, code: &str) -> Response {
        self.post(&format!("/v1/verifications/{id}/check"), &json!({"code": code}))
            .await
    }

    /// The events of verification `id` as the native API lists them (asserting 200).
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/verifications/{id}/events")).await;
        assert_eq!(r.status(), 200);
        let mut body: Value = r.json().await.unwrap();
        match body["events"].take() {
            Value::Array(events) => events,
            other => panic!("events is not a list: {other}"),
        }
    }

    /// The kinds of verification `id`'s events, oldest first.
    pub async fn event_kinds(&self, id: &str) -> Vec<String> {
        let events = self.events(id).await;
        events.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    }

    /// The kind and detail (empty when there is none) of verification `id`'s events.
    pub async fn event_details(&self, id: &str) -> Vec<(String, String)> {
        let events = self.events(id).await;
        events
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// The demo client's id.
    pub fn demo_id(&self) -> ClientId {
        ClientId::parse(&self.client_id).unwrap()
    }

    /// The demo client as stored.
    pub async fn demo(&self) -> Client {
        let store = self.engine.store();
        store.client_by_id(&self.demo_id()).await.unwrap().unwrap()
    }

    /// Changes the demo client's controls (as `ringproof client update` does).
    pub async fn update_client(&self, change: ClientChange) {
        self.engine.update_client(&self.demo_id(), change).await.unwrap();
    }

    /// Switches the SMS-pumping guard's rules off for the demo client, for tests of other
    /// things that send many codes nobody checks to one range or country (a flood of one
    /// number, a spend cap, fairness): that traffic is what the guard stops.
    pub async fn without_pumping_guard(&self) {
        self.update_client(ClientChange {
            limits: vec![
                ("pump_block_hours".into(), "0".into()),
                ("pump_country_block_hours".into(), "0".into()),
            ],
            ..Default::default()
        })
        .await;
    }

    /// The job queue's counts at the clock's time.
    pub async fn job_stats(&self) -> JobStats {
        self.engine.store().job_stats(self.engine.now()).await.unwrap()
    }

    /// The job queue's (due, scheduled, dead) counts at the clock's time.
    pub async fn job_counts(&self) -> (u64, u64, u64) {
        let stats = self.job_stats().await;
        (stats.due, stats.scheduled, stats.dead)
    }

    /// Runs every job due at the clock's current time.
    pub async fn drain(&self) -> usize {
        ringproof_server::worker::run_due_now(&self.engine, self.sender.as_ref())
            .await
            .unwrap()
    }

    /// The sandbox outbox this server records into, opened as the server opens it: the
    /// data directory's `sandbox.db`, or the PostgreSQL database's schema.
    pub async fn sandbox_outbox(&self) -> ringproof_providers::sandbox::SandboxSender {
        let clock = self.clock.clone();
        match &self.database_url {
            Some(url) => ringproof_providers::sandbox::SandboxSender::open_postgres(url, clock).await,
            None => ringproof_providers::sandbox::SandboxSender::open(&self.data_dir.join("sandbox.db"), clock).await,
        }
        .unwrap()
    }

    pub async fn messages(&self, to: &str) -> Vec<Value> {
        let r = self
            .http
            .get(format!(
                "{}/sandbox/api/messages?to={}",
                self.base,
                to.replace('+', "%2B")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// The code in the newest message to `to` (digits, with a voice call's commas removed).
    pub async fn last_code(&self, to: &str) -> String {
        let msgs = self.messages(to).await;
        let text = msgs.first().expect("a message was sent")["text"]
            .as_str()
            .unwrap()
            .to_owned();
        code_in(&text)
    }
}

/// Extracts the code from a message text: the first run of digits, or for a voice text
/// the spaced digits before the first period.
pub fn code_in(text: &str) -> String {
    if text.contains("Again:") {
        let spoken = text.split(" is ").nth(1).unwrap().split('.').next().unwrap();
        return spoken.chars().filter(char::is_ascii_digit).collect();
    }
    text.split(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() >= 4)
        .unwrap()
        .to_owned()
}

/// Asserts the native error envelope and returns its code.
pub async fn error_code(r: Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    let header_id = r
        .headers()
        .get("x-request-id")
        .expect("request id header")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = r.json().await.unwrap();
    let err = &body["error"];
    assert_eq!(err["request_id"].as_str(), Some(header_id.as_str()), "{body}");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    err["code"].as_str().unwrap().to_owned()
}

/// A Signzy-face response body, after checking the HTTP status and that an envelope's
/// `status` equals it (the face's contract: HTTP status == `error.status`).
pub async fn signzy_body(r: Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    if let Some(e) = v.get("error") {
        assert_eq!(e["status"], status, "{v}");
    }
    v
}

/// Logs in on the Signzy face and returns the access token (asserting 200).
pub async fn signzy_token(app: &TestApp, username: &str, password: &str) -> String {
    let login = json!({"username": username, "password": password});
    let r = app.post_anonymous("/api/v3/patrons/login", &login).await;
    signzy_body(r, 200).await["id"].as_str().unwrap().to_owned()
}

/// The demo client's Signzy access token.
pub async fn signzy_login(app: &TestApp) -> String {
    signzy_token(app, &app.username, &app.password).await
}

/// A click on a link page with no operator round trip (no network authentication is
/// configured): the target with `vfp`.
pub async fn click(
    engine: &ringproof_core::engine::Engine,
    token: &str,
    ip: std::net::IpAddr,
    user_agent: &str,
) -> Result<String, ringproof_core::engine::link::LinkError> {
    use ringproof_core::engine::link::{AuthFlow, ConfirmStep};
    let click = ringproof_core::netauth::ClickContext {
        ip: Some(ip),
        user_agent: user_agent.into(),
        network_msisdn: None,
    };
    match engine.confirm_link(token, &click, AuthFlow::Navigate).await? {
        ConfirmStep::Target(url) => Ok(url),
        ConfirmStep::Operator { .. } => panic!("no operator is configured in this test"),
    }
}

/// Starts a link to `to` for the demo client (with `target` and, when given, the
/// integrator's `source_ip`), delivers its SMS and returns it with the link from the SMS.
pub async fn send_link(
    app: &TestApp,
    to: &str,
    target: &str,
    source_ip: Option<&str>,
) -> (ringproof_core::engine::link::LinkStarted, String) {
    let c = app.demo().await;
    let started = app
        .engine
        .start_link(
            &c,
            ringproof_core::engine::link::NewLinkRequest {
                to: ringproof_core::phone::PhoneNumber::parse_e164(to).unwrap(),
                target_url: target.into(),
                source_ip: source_ip.map(|ip| ip.parse().unwrap()),
                custom_sms: None,
                locale: None,
            },
        )
        .await
        .unwrap();
    app.drain().await;
    let text = app.messages(to).await.first().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    (started, text.rsplit(' ').next().unwrap().to_owned())
}
