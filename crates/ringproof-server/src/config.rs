//! Configuration: defaults → `ringproof.toml` → `RINGPROOF_*` environment → command-line
//! flags, later sources winning. The doc comments on these fields are the reference; the
//! commented sample is `ringproof.example.toml` at the repository root.
//!
//! Environment variables map to keys by lower-casing and splitting nested tables on `__`:
//! `RINGPROOF_LISTEN`, `RINGPROOF_DATA_DIR`, `RINGPROOF_POLICY__CODE_LENGTH`.
//! `RINGPROOF_SERVER_SECRET_FILE` (like every `*_file` key) names a file holding the secret.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ringproof_core::policy::Policy;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The sandbox provider is allowed and a demo client is created on first start.
    Development,
    /// Refuses to start with the sandbox provider; creates no demo client.
    Production,
}

/// What a `serve` process does. Nodes sharing a PostgreSQL database can be split so that
/// the HTTP side and the senders scale apart (docs/deploy.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every route and the job worker (the default).
    #[default]
    All,
    /// Every route, no job worker: jobs it creates wait for a worker node.
    Api,
    /// The job worker, and only the operations routes (`/healthz`, `/readyz`, `/metrics`).
    Worker,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Role::All),
            "api" => Ok(Role::Api),
            "worker" => Ok(Role::Worker),
            _ => Err(format!("{s:?} is not a role: all, api or worker")),
        }
    }
}

impl Role {
    /// Whether this role runs the job worker.
    pub fn runs_worker(self) -> bool {
        self != Role::Api
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Where the SQLite database, the sandbox outbox, the generated server secret and the
    /// demo credentials live. Default `./data`.
    pub data_dir: PathBuf,
    /// `development` (default) or `production`.
    pub mode: Mode,
    /// `all` (default: routes and worker), `api` (routes, no worker) or `worker` (the
    /// worker and the operations routes). `serve --role` overrides it.
    pub role: Role,
    /// `sqlite:PATH` or `postgres://…`. Default: `sqlite:<data_dir>/ringproof.db`.
    pub database_url: Option<String>,
    /// The secret every key is derived from (code hashes, sealing). At least 32 characters.
    /// When neither this nor `server_secret_file` is set, one is generated on first start
    /// and kept in `<data_dir>/server-secret`. Changing it invalidates pending codes.
    pub server_secret: Option<String>,
    pub server_secret_file: Option<PathBuf>,
    /// The provider every message goes to when no `routes` are configured: `sandbox` (the
    /// default, development only) or the name of a `[providers.NAME]` table.
    pub provider: String,
    /// Named delivery providers, each a table with a `kind` (`sandbox`, `twilio`, `vonage`,
    /// `smpp`, `http`) and that kind's keys (docs/providers.md). Secrets may be given as
    /// `KEY_file` paths instead. Never serialised back out (they hold secrets).
    #[serde(default, skip_serializing)]
    pub providers: std::collections::BTreeMap<String, ringproof_providers::registry::ProviderConfig>,
    /// Routes by channel and destination prefix, each with providers in priority order
    /// (longest matching prefix wins; retryable failures fail over to the next provider).
    /// Empty (default): everything goes to `provider`.
    pub routes: Vec<ringproof_providers::router::RouteConfig>,
    /// The circuit breaker per provider: `failures` (default 5) consecutive retryable
    /// failures open it for `cooldown_s` (default 30).
    pub breaker: ringproof_providers::router::BreakerConfig,
    /// `text` (default) or `json` log lines. Filter with `RUST_LOG`.
    pub log_format: LogFormat,
    /// Default verification policy; clients may override it.
    pub policy: Policy,
    /// The limits across verifications (docs/security.md): per number, guesses
    /// (`guesses_per_hour` 10, `guesses_per_day` 20) and sends (`number_sends_per_10_min` 5,
    /// `number_sends_per_day` 10); sends per end-user IP (`ip_sends_per_hour` 10); the
    /// client's sends (`client_sends_per_minute`, `client_sends_per_day`, default 0: no
    /// cap); `allowed_number_kinds` (default none of `premium_rate`, `shared_cost`,
    /// `satellite`, `international_service`). 0 switches a count off. Clients may override
    /// each (`ringproof client update --limit NAME=VALUE`).
    ///
    /// Geo permissions: `allowed_countries_sms` and `allowed_countries_voice` (ISO region
    /// codes, `*` for all; default `["*"]`). The SMS-pumping guard (`pump_*`, docs/config.md
    /// and docs/security.md): prefix blocks of `pump_block_hours` (12) when unconverted
    /// sends to one prefix reach `pump_prefix_unconverted_10m`/`_1h`/`_24h` (15/20/30) with
    /// under `pump_max_conversion_pct` (30) % approved; a country's unproven ranges
    /// suspended for `pump_country_block_hours` (1) at `pump_country_unconverted_1h`/`_24h`
    /// (20/40); `pump_new_country_pct` (75) of each threshold in a country with no
    /// approval in `pump_familiar_days` (30).
    pub limits: ringproof_core::guard::Limits,
    pub worker: WorkerConfig,
    /// How long finished verifications (and their events) are kept, in seconds. At least
    /// one day. Default 7 days.
    pub retention_s: i64,
    /// The longest any personal data (phone numbers, IP addresses, user agents, message
    /// texts) is kept, in seconds: the worker's hourly job deletes every row holding any
    /// that is older, whatever else would keep it (a `retention_s` longer than this is
    /// capped by it), and the sandbox outbox's messages. At least one day. Default 30 days.
    /// What is stored where: docs/privacy.md.
    pub personal_data_retention_s: i64,
    /// How long audit log entries (administrative actions) are kept, in seconds; purged by
    /// the same job. At least one day. Default 365 days.
    pub audit_retention_s: i64,
    /// The Signzy-compatible face (`/api/v3`).
    pub signzy: SignzyConfig,
    /// The iDenfy-compatible face (`/fraud`): the fallback timeline of `send-sms`, in
    /// seconds. `first_call_after_s` (default 120): the call repeating code A;
    /// `second_call_after_s` (default 300, greater than the first): the call with code B,
    /// and the end of code A's validity (the SMS says "Valid for 5 minutes");
    /// `second_code_valid_s` (default 300): code B's validity. Each 1 to 86400.
    pub idenfy: ringproof_core::engine::fallback::Timeline,
    /// The address phones reach this server at: one-time links in SMS are
    /// `<public_base_url>/l/<token>`. An absolute `http(s)://` URL without query or
    /// fragment (a path prefix is allowed; a trailing slash is dropped). Default
    /// `http://<the bound listen address>`, which only suits local development.
    pub public_base_url: Option<String>,
    /// How long a one-time link is valid, in seconds. 60 to 3600. Default 300.
    pub link_ttl_s: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed for a request's source address:
    /// the click IP of a link page, and the address the login and API-secret throttle
    /// counts (`auth_throttle`). Exact IP addresses (no ranges). Default none: the socket
    /// address is the source address. With the peer listed, it is the right-most address
    /// in `X-Forwarded-For` that is not itself a trusted proxy. Behind a proxy, list it:
    /// otherwise every request counts against the proxy's one address.
    pub trusted_proxies: Vec<IpAddr>,
    /// With the sandbox provider: a file of test numbers for the number lookup (tab-separated
    /// `number, line_type, carrier, state`, like the built-in
    /// `crates/ringproof-providers/data/sandbox-numbers.tsv`). Default: the built-in table.
    pub sandbox_numbers_file: Option<PathBuf>,
    /// Delivery of signed webhooks to clients' endpoints (docs/webhooks.md).
    pub webhooks: WebhooksConfig,
    /// Throttling of failed logins (`POST /api/v3/patrons/login`) and API-secret checks
    /// (`/v1`, `/fraud`), per source address and per account name (docs/security.md).
    pub auth_throttle: AuthThrottleConfig,
    /// Network authentication of link clicks and silent checks (docs/network-auth.md).
    pub netauth: NetAuthConfig,
    /// How long, after SIGTERM or Ctrl-C, the server keeps serving with `/readyz` answering
    /// 503 `draining` before it stops accepting (then it finishes in-flight requests and
    /// jobs). Give it the load balancer's health-check interval times its failure
    /// threshold. 0 to 600000. Default 0 (stop accepting at once). A second signal cuts it
    /// short.
    pub shutdown_grace_ms: u64,
}

/// Which network authenticator decides `phoneMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetAuthKind {
    /// Always "indeterminate".
    None,
    /// CAMARA Number Verification through the operators below.
    Camara,
    /// A trusted header from an operator's enrichment proxy.
    Header,
}

/// `[netauth]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetAuthConfig {
    /// `none` (default), `camara` or `header`.
    pub authenticator: NetAuthKind,
    /// How long a round trip through the operator may take, in seconds (1 to 60, default
    /// 10); after it the verdict is "indeterminate" and the user goes on.
    pub deadline_s: u32,
    /// ringproof's P-256 private key (PKCS#8 PEM) for `private_key_jwt`; its public half is
    /// served at `/.well-known/jwks.json`. Default `<data_dir>/netauth-key.pem`, created
    /// (owner-only) on first start.
    pub key_file: Option<PathBuf>,
    /// The operators (or an aggregator), one table each (`[[netauth.operators]]`).
    pub operators: Vec<ringproof_providers::camara::OperatorConfig>,
    /// The `header` authenticator.
    pub header: HeaderAuthConfig,
}

impl Default for NetAuthConfig {
    fn default() -> Self {
        Self {
            authenticator: NetAuthKind::None,
            deadline_s: ringproof_core::netauth::DEFAULT_DEADLINE_S,
            key_file: None,
            operators: Vec::new(),
            header: HeaderAuthConfig::default(),
        }
    }
}

/// `[netauth.header]`: where the MSISDN header comes from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderAuthConfig {
    /// The header's name (default `x-msisdn`).
    pub name: String,
    /// The enrichment proxies' addresses, as CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or
    /// single addresses. The header of any other peer is ignored (and counted).
    pub trusted_cidrs: Vec<String>,
}

impl Default for HeaderAuthConfig {
    fn default() -> Self {
        Self {
            name: "x-msisdn".into(),
            trusted_cidrs: Vec::new(),
        }
    }
}

/// The limits of `ringproof_core::throttle` (whose module doc has the whole rule). The
/// per-(address, name) schedule is fixed: 5 failures free, then waits of 1, 2, 4, 8 and
/// 16 s, then 15 minutes locked at 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthThrottleConfig {
    /// Password checks (argon2id, ~30 ms of CPU each; right, wrong or for an unknown
    /// username) one source address may have per minute; past it, logins from the address
    /// get 429 without a check. Default 20.
    pub password_checks_per_min: u32,
    /// Failed logins, or failed API-secret checks, from one source address (over all
    /// names) per `window_s` before the address is refused for the rest of the window.
    /// Default 30.
    pub ip_failures: u32,
    /// Failures for one username or API key (from all addresses) per `window_s` that put
    /// it under guard: then an address that failed for it within the window is refused,
    /// while an address that did not is still checked. Default 20.
    pub name_guard_failures: u32,
    /// The window of `ip_failures` and `name_guard_failures`, in seconds. 60 to 86400.
    /// Default 900.
    pub window_s: i64,
}

impl Default for AuthThrottleConfig {
    fn default() -> Self {
        let l = ringproof_core::throttle::Limits::default();
        Self {
            password_checks_per_min: l.password_checks_per_min,
            ip_failures: l.ip_failures,
            name_guard_failures: l.name_guard_failures,
            window_s: l.window_s,
        }
    }
}

impl AuthThrottleConfig {
    pub fn limits(&self) -> ringproof_core::throttle::Limits {
        ringproof_core::throttle::Limits {
            password_checks_per_min: self.password_checks_per_min,
            ip_failures: self.ip_failures,
            name_guard_failures: self.name_guard_failures,
            window_s: self.window_s,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhooksConfig {
    /// The deadline of one webhook attempt (connect, TLS, request, response head), in
    /// milliseconds. An endpoint that has not answered by then counts as failed and is
    /// retried later. 100 to 60000. Keep it below `worker.lease_s`: an attempt still
    /// running when its lease lapses may be made again by another worker (a duplicate,
    /// which receivers drop by id). Default 10000.
    pub timeout_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self { timeout_ms: 10_000 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignzyConfig {
    /// How long an access token from `POST /api/v3/patrons/login` is valid, in seconds
    /// (the `ttl` of the login response). 60 to 2592000 (30 days). Default 86400.
    pub token_ttl_s: u32,
    /// The deadline of a request to the Signzy face (`/api/v3`), in milliseconds, from when
    /// routing picks the endpoint (reading the body included) to the response. A request
    /// past it gets 408 "Request timeout". 1 to 600000. Default 30000.
    pub request_timeout_ms: u64,
}

impl Default for SignzyConfig {
    fn default() -> Self {
        Self {
            token_ttl_s: ringproof_core::sessions::DEFAULT_TOKEN_TTL_S,
            request_timeout_ms: 30_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerConfig {
    /// Run the job worker inside `serve`. Default true.
    pub enabled: bool,
    /// SMS, calls and workflow steps run at once. Default 16.
    pub concurrency: u32,
    /// Webhook POSTs run at once, in slots of their own (a slow client endpoint never holds
    /// up messages). Default 4.
    pub webhook_concurrency: u32,
    /// Longest idle sleep between looks at the queue, in milliseconds. New jobs created by
    /// this process wake the worker at once; this bounds the delay for jobs created by
    /// another process (the CLI, another node). Default 500.
    pub poll_interval_ms: u64,
    /// How long a claimed job is reserved before another worker may take it, in seconds.
    pub lease_s: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 16,
            webhook_concurrency: 4,
            poll_interval_ms: 500,
            lease_s: 60,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            mode: Mode::Development,
            role: Role::All,
            database_url: None,
            server_secret: None,
            server_secret_file: None,
            provider: "sandbox".into(),
            providers: Default::default(),
            routes: Vec::new(),
            breaker: Default::default(),
            log_format: LogFormat::Text,
            policy: Policy::default(),
            limits: ringproof_core::guard::Limits::default(),
            worker: WorkerConfig::default(),
            retention_s: 7 * 86_400,
            personal_data_retention_s: 30 * 86_400,
            audit_retention_s: ringproof_core::audit::DEFAULT_AUDIT_RETENTION_S,
            signzy: SignzyConfig::default(),
            idenfy: ringproof_core::engine::fallback::Timeline::default(),
            public_base_url: None,
            link_ttl_s: ringproof_core::engine::link::DEFAULT_LINK_TTL_S,
            trusted_proxies: Vec::new(),
            sandbox_numbers_file: None,
            webhooks: WebhooksConfig::default(),
            auth_throttle: AuthThrottleConfig::default(),
            netauth: NetAuthConfig::default(),
            shutdown_grace_ms: 0,
        }
    }
}

fn check_netauth(n: &NetAuthConfig) -> Result<(), String> {
    if !(1..=60).contains(&n.deadline_s) {
        return Err("deadline_s must be 1 to 60".into());
    }
    for c in &n.header.trusted_cidrs {
        crate::client_ip::Cidr::parse(c)
            .ok_or_else(|| format!("header.trusted_cidrs: {c:?} is not an address or CIDR"))?;
    }
    match n.authenticator {
        NetAuthKind::Camara if n.operators.is_empty() => {
            Err("authenticator = \"camara\" needs at least one [[netauth.operators]] table".into())
        }
        NetAuthKind::Header if n.header.trusted_cidrs.is_empty() => Err(
            "authenticator = \"header\" needs header.trusted_cidrs (the enrichment proxies); any other peer could forge the header"
                .into(),
        ),
        NetAuthKind::Header if axum::http::HeaderName::from_bytes(n.header.name.as_bytes()).is_err() => {
            Err("header.name is not a valid header name".into())
        }
        _ => Ok(()),
    }
}

/// Flags from the command line, applied last.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    Missing(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

const KNOWN_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "mode",
    "role",
    "database_url",
    "server_secret",
    "server_secret_file",
    "provider",
    "providers",
    "routes",
    "breaker",
    "log_format",
    "policy",
    "limits",
    "worker",
    "retention_s",
    "personal_data_retention_s",
    "audit_retention_s",
    "signzy",
    "idenfy",
    "public_base_url",
    "link_ttl_s",
    "trusted_proxies",
    "sandbox_numbers_file",
    "webhooks",
    "auth_throttle",
    "netauth",
    "shutdown_grace_ms",
];

impl Config {
    /// Loads the layered configuration. `file` must exist if given; otherwise
    /// `./ringproof.toml` is read when present. Returns the config and warnings about
    /// unknown keys in the file (a typo should not pass silently).
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<(Config, Vec<String>), ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let mut warnings = Vec::new();
        let path = match file {
            Some(p) if !p.exists() => return Err(ConfigError::Missing(p.to_owned())),
            Some(p) => Some(p.to_owned()),
            None => Some(PathBuf::from("ringproof.toml")).filter(|p| p.exists()),
        };
        if let Some(p) = &path {
            let raw: figment::value::Dict = Figment::from(Toml::file(p))
                .extract()
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", p.display())))?;
            for k in raw.keys().filter(|k| !KNOWN_KEYS.contains(&k.as_str())) {
                warnings.push(format!("{}: unknown key `{k}` ignored", p.display()));
            }
            fig = fig.merge(Toml::file(p));
        }
        fig = fig
            .merge(Env::prefixed("RINGPROOF_").split("__").ignore(&["test_database_url"]))
            .merge(Serialized::defaults(overrides));
        let config: Config = fig.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config
            .policy
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("policy.{e}")))?;
        for (key, value) in [
            ("retention_s", config.retention_s),
            ("personal_data_retention_s", config.personal_data_retention_s),
            ("audit_retention_s", config.audit_retention_s),
        ] {
            if value < 86_400 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 86400 (one day)")));
            }
        }
        if config.retention_s > config.personal_data_retention_s {
            warnings.push(format!(
                "retention_s ({}) is longer than personal_data_retention_s ({}): verifications hold \
                 phone numbers, so they are deleted after personal_data_retention_s",
                config.retention_s, config.personal_data_retention_s
            ));
        }
        if !(60..=30 * 86_400).contains(&config.signzy.token_ttl_s) {
            return Err(ConfigError::Invalid(
                "signzy.token_ttl_s must be 60 to 2592000 (30 days)".into(),
            ));
        }
        if !(1..=600_000).contains(&config.signzy.request_timeout_ms) {
            return Err(ConfigError::Invalid(
                "signzy.request_timeout_ms must be 1 to 600000 (10 minutes)".into(),
            ));
        }
        config
            .idenfy
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("idenfy.{e}")))?;
        if config.shutdown_grace_ms > 600_000 {
            return Err(ConfigError::Invalid(
                "shutdown_grace_ms must be 0 to 600000 (10 minutes)".into(),
            ));
        }
        if !(60..=3600).contains(&config.link_ttl_s) {
            return Err(ConfigError::Invalid("link_ttl_s must be 60 to 3600".into()));
        }
        if let Some(u) = &config.public_base_url {
            check_public_base_url(u).map_err(ConfigError::Invalid)?;
        }
        config
            .limits
            .check()
            .map_err(|e| ConfigError::Invalid(format!("limits.{e}")))?;
        config
            .auth_throttle
            .limits()
            .validate()
            .map_err(|e| ConfigError::Invalid(format!("auth_throttle.{e}")))?;
        if !(100..=60_000).contains(&config.webhooks.timeout_ms) {
            return Err(ConfigError::Invalid("webhooks.timeout_ms must be 100 to 60000".into()));
        }
        if config.role == Role::Worker && !config.worker.enabled {
            return Err(ConfigError::Invalid(
                "role = \"worker\" with worker.enabled = false would run nothing: enable the worker or choose another role".into(),
            ));
        }
        if config.worker.concurrency == 0 || config.worker.webhook_concurrency == 0 {
            return Err(ConfigError::Invalid(
                "worker.concurrency and worker.webhook_concurrency must be at least 1".into(),
            ));
        }
        if !(1..=3600).contains(&config.worker.lease_s) {
            return Err(ConfigError::Invalid("worker.lease_s must be 1 to 3600".into()));
        }
        // An attempt still running when its lease lapses may be claimed and sent again by
        // another worker: the webhook deadline must end inside the lease.
        if config.webhooks.timeout_ms >= u64::from(config.worker.lease_s) * 1000 {
            return Err(ConfigError::Invalid(format!(
                "webhooks.timeout_ms ({}) must be shorter than worker.lease_s ({} s)",
                config.webhooks.timeout_ms, config.worker.lease_s
            )));
        }
        check_netauth(&config.netauth).map_err(|e| ConfigError::Invalid(format!("netauth.{e}")))?;
        Ok((config, warnings))
    }

    /// Where links point: `public_base_url`, else `http://<bound>` (the address actually
    /// bound, so a `listen` port of 0 gives the real port).
    pub fn public_base_url_or(&self, bound: SocketAddr) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("ringproof.db").display()))
    }
}

/// `public_base_url` must be an absolute http(s) URL with a host and no query or fragment.
fn check_public_base_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("public_base_url must start with http:// or https:// (got `{u}`)"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || u.contains(['?', '#']) || u.chars().any(|c| c.is_whitespace()) {
        return Err(format!(
            "public_base_url must be an absolute URL with a host and no credentials, query or fragment (got `{u}`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_base_url_is_checked_and_defaults_to_the_bound_address() {
        for ok in [
            "http://127.0.0.1:8080",
            "https://verify.example.com/",
            "https://x.example/rp",
        ] {
            assert!(check_public_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "verify.example.com",
            "ftp://x",
            "https://",
            "https://a@b",
            "https://x/?q",
            "https://x/#f",
        ] {
            assert!(check_public_base_url(bad).is_err(), "{bad}");
        }
        let bound: SocketAddr = "127.0.0.1:41234".parse().unwrap();
        assert_eq!(Config::default().public_base_url_or(bound), "http://127.0.0.1:41234");
        let c = Config {
            public_base_url: Some("https://v.example/".into()),
            ..Config::default()
        };
        assert_eq!(c.public_base_url_or(bound), "https://v.example");
    }

    #[test]
    fn the_idenfy_timeline_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringproof.toml");
        let load = |toml: &str| {
            std::fs::write(&file, toml).unwrap();
            Config::load(Some(&file), &Overrides::default())
        };
        let (c, warnings) =
            load("[idenfy]\nfirst_call_after_s = 20\nsecond_call_after_s = 60\nsecond_code_valid_s = 30\n").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            (
                c.idenfy.first_call_after_s,
                c.idenfy.second_call_after_s,
                c.idenfy.second_code_valid_s
            ),
            (20, 60, 30)
        );
        for (toml, start) in [
            (
                "[idenfy]\nfirst_call_after_s = 300\n",
                "invalid configuration: idenfy.second_call_after_s",
            ),
            (
                "[idenfy]\nfirst_call_after_s = 0\n",
                "invalid configuration: idenfy.first_call_after_s",
            ),
            (
                "[idenfy]\nsecond_code_valid_s = 0\n",
                "invalid configuration: idenfy.second_code_valid_s",
            ),
            ("[idenfy]\nfirst_call = 10\n", "invalid configuration: unknown field"),
        ] {
            let e = load(toml).unwrap_err().to_string();
            assert!(e.starts_with(start), "{toml}: {e}");
        }
    }

    #[test]
    fn worker_limits_providers_and_routes_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ringproof.toml");
        let load = |toml: &str| {
            std::fs::write(&file, toml).unwrap();
            Config::load(Some(&file), &Overrides::default()).map(|(c, _)| c)
        };
        let err = |toml: &str| load(toml).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err("[worker]\nlease_s = 10\n").contains("shorter than worker.lease_s"));
        assert!(load("[worker]\nlease_s = 10\n[webhooks]\ntimeout_ms = 9999\n").is_ok());
        assert!(err("[worker]\nwebhook_concurrency = 0\n").contains("webhook_concurrency"));
        assert!(err("[worker]\nlease_s = 0\n").contains("lease_s"));
        let c = load(
            "provider = \"main\"\n[providers.main]\nkind = \"sandbox\"\n[breaker]\nfailures = 3\n\
             [[routes]]\nprefix = \"+1\"\nchannel = \"voice\"\nproviders = [\"main\"]\n",
        )
        .unwrap();
        assert_eq!(c.providers.len(), 1);
        assert_eq!(c.breaker.failures, 3);
        assert_eq!(c.routes[0].prefix.as_deref(), Some("+1"));
        assert_eq!(c.routes[0].channel, Some(ringproof_core::workflow::Channel::Voice));
        assert!(err("[providers.x]\nkind = \"carrier-pigeon\"\n").contains("unknown variant"));
        let c = load("[auth_throttle]\npassword_checks_per_min = 5\nwindow_s = 60\n").unwrap();
        assert_eq!(
            (
                c.auth_throttle.password_checks_per_min,
                c.auth_throttle.window_s,
                c.auth_throttle.ip_failures
            ),
            (5, 60, 30)
        );
        assert!(err("[auth_throttle]\nip_failures = 0\n").contains("auth_throttle."));
        assert!(err("[auth_throttle]\nwindow_s = 10\n").contains("auth_throttle.window_s"));
    }

    #[test]
    fn the_example_file_loads_without_warnings() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ringproof.example.toml");
        let (c, warnings) = Config::load(Some(&p), &Overrides::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!((c.link_ttl_s, c.trusted_proxies.len()), (300, 0));
        assert_eq!(c.idenfy, ringproof_core::engine::fallback::Timeline::default());
    }
}
