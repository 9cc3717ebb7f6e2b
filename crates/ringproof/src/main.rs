//! The `ringproof` command: a thin shell over `ringproof-server` and the core engine.
//! Every command takes the same `--data-dir` and `--config` as `serve` and acts on the
//! same store, also while a server is running.

mod bench;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ringproof_core::audit::{Actor, AuditQuery};
use ringproof_core::client::{Client, Product};
use ringproof_core::engine::{ClientChange, StartOutcome, StartRequest};
use ringproof_core::i18n::Locale;
use ringproof_core::ids::{ClientId, VerificationId};
use ringproof_core::phone::PhoneNumber;
use ringproof_core::policy::{Policy, PolicyOverrides};
use ringproof_core::simswap::SimSwapMode;
use ringproof_core::time::Timestamp;
use ringproof_core::webhook::WebhookFormat;
use ringproof_core::workflow::Channel;
use ringproof_server::config::{Config, Overrides};
use ringproof_server::routes::v1::VerificationResponse;
use ringproof_server::startup::{self, Application, Hooks, StartupError};
use ringproof_server::telemetry;

#[derive(Parser)]
#[command(name = "ringproof", version, about = "Self-hosted phone number verification")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// Data directory (SQLite database, sandbox outbox, server secret). Default ./data
    #[arg(long, global = true, env = "RINGPROOF_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file. Default ./ringproof.toml when it exists
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

// Parsed once per process: the size of `Client(Update)` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server and the job worker
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// all (routes and job worker, the default), api (routes only) or worker (the job
        /// worker and /healthz, /readyz, /metrics); overrides the configuration's `role`
        #[arg(long)]
        role: Option<ringproof_server::config::Role>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Manage clients (tenants)
    #[command(subcommand)]
    Client(ClientCmd),
    /// Try the API from a shell, acting directly on the store
    #[command(subcommand)]
    Verify(VerifyCmd),
    /// Manage a client's OTP message templates (Signzy `customTextId`)
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Read the audit log of administrative actions
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The SMS-pumping guard's blocks of number ranges: list, block, unblock
    #[command(subcommand)]
    Guard(GuardCmd),
    /// Print the OpenAPI document
    Openapi,
    /// Write a consistent copy of the SQLite database to DEST (a new, owner-only file),
    /// also while servers run; restore: docs/deploy.md
    Backup {
        /// The copy to create (refused if it exists)
        dest: PathBuf,
    },
    /// Measure a running server (`bench run`) or fill a store for it (`bench seed`);
    /// BENCHMARKS.md
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Run a local CAMARA mobile operator (OpenID network authentication, Number Verification,
    /// SIM Swap) for development and tests; --config names its file, e.g.
    /// examples/operator-sim.toml
    OperatorSim {
        /// Address to listen on (overrides the file's `listen`)
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Send one real message through one configured provider, to try its settings
    SendTest {
        /// The provider's name (a `[providers.NAME]` table, or `sandbox`)
        #[arg(long)]
        provider: String,
        /// The destination, E.164 (+14155550123)
        #[arg(long)]
        to: String,
        /// sms (default) or voice
        #[arg(long, default_value = "sms")]
        channel: String,
        /// The text (an SMS) or the words (a call)
        #[arg(long, default_value = "This is a test message from ringproof.")]
        text: String,
        /// The sender id to show, where the provider allows one
        #[arg(long)]
        sender: Option<String>,
    },
}

// Parsed once per process: the size of `Update` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum ClientCmd {
    /// Create a client; its credentials are printed once
    Create {
        #[arg(long)]
        name: String,
        /// Origin a redirect may lead to (repeatable), e.g. https://app.example.com
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
        /// Print the credentials as JSON
        #[arg(long)]
        json: bool,
    },
    /// List clients (no secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Replace a client's API secret; the new one is printed once
    RotateSecret { id: String },
    /// Revoke every access token of a client (Signzy-face logins); prints how many
    RevokeTokens { id: String },
    /// Issue Twilio-style credentials for the Twilio Verify face (/v2): the client's
    /// Account SID (AC…, kept) with a new Auth Token (the old one stops working), or with
    /// --api-key a new API Key SID (SK…) and secret. Secrets are printed once. --list
    /// shows the keys (no secrets); --revoke SK… deletes an API key (audited)
    TwilioCredentials {
        id: String,
        /// Issue a new API key (SK…) instead of a new Auth Token
        #[arg(long, conflicts_with_all = ["list", "revoke"])]
        api_key: bool,
        /// List the client's keys: id, kind, creation time (never a secret)
        #[arg(long, conflicts_with = "revoke")]
        list: bool,
        /// Delete this API key (SK…): it stops working at once. An Account SID is not
        /// revoked; issue a new Auth Token instead
        #[arg(long, value_name = "SK…")]
        revoke: Option<String>,
        /// Print the credentials as JSON
        #[arg(long)]
        json: bool,
    },
    /// Issue a Vonage API key (8 hex) and secret for HTTP Basic on the Vonage Verify face
    /// (/v2/verify). The secret is printed once
    VonageCredentials {
        id: String,
        /// Delete this Vonage API key instead: it stops working at once (audited)
        #[arg(long, value_name = "KEY")]
        revoke: Option<String>,
        /// Print the credentials as JSON
        #[arg(long)]
        json: bool,
    },
    /// Register a Vonage application for the Vonage Verify face (/v2/verify): its JWTs
    /// (RS256, what Vonage's SDKs send) are checked with this public key. Give the
    /// application id your code already uses to keep it, else one is drawn; registering
    /// an id again replaces its key
    VonageApplication {
        id: String,
        /// The application's public key, a PEM file (SPKI or PKCS#1, RSA 2048 to 8192 bits)
        #[arg(long)]
        public_key: std::path::PathBuf,
        /// The application id (a UUID) to register
        #[arg(long)]
        application_id: Option<String>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a client's settings (no secrets) as JSON
    Show { id: String },
    /// Change a client's brand (name and link-page colour), allowed origins, policy
    /// overrides or controls (products, test mode and its number allowlist, number
    /// blocklist, SIM-swap check)
    Update {
        id: String,
        /// Name shown in messages
        #[arg(long)]
        brand: Option<String>,
        /// Accent colour of this client's link pages (button, top bar), `#rrggbb`; refused
        /// when white text on it fails WCAG AA (contrast under 4.5:1)
        #[arg(long)]
        brand_color: Option<String>,
        /// Go back to ringproof's own accent on this client's link pages
        #[arg(long, conflicts_with = "brand_color")]
        clear_brand_color: bool,
        /// Replace the allowed origins (repeatable)
        #[arg(long = "allowed-origin")]
        allowed_origins: Vec<String>,
        /// Remove every allowed origin
        #[arg(long, conflicts_with = "allowed_origins")]
        clear_origins: bool,
        /// Digits per code, 4..=10
        #[arg(long)]
        code_length: Option<u8>,
        /// Seconds a code stays valid
        #[arg(long)]
        validity_s: Option<u32>,
        /// Wrong checks allowed per verification
        #[arg(long)]
        max_checks: Option<u32>,
        /// Messages and calls per verification
        #[arg(long)]
        max_sends: Option<u32>,
        /// First resend wait in seconds (doubles each time)
        #[arg(long)]
        resend_cooldown_s: Option<u32>,
        /// Enable a product (repeatable): signzy-link, signzy-otp, idenfy-sms
        #[arg(long = "enable-product", value_parser = parse_product)]
        enable_products: Vec<Product>,
        /// Disable a product (repeatable): signzy-link, signzy-otp, idenfy-sms
        #[arg(long = "disable-product", value_parser = parse_product)]
        disable_products: Vec<Product>,
        /// Test mode: only the allowlisted numbers may receive links or OTPs
        #[arg(long, value_parser = ["on", "off"])]
        test_mode: Option<String>,
        /// Replace the test-mode number allowlist (repeatable), E.164
        #[arg(long = "allow-number")]
        allowed_numbers: Vec<String>,
        /// Empty the test-mode number allowlist
        #[arg(long, conflicts_with = "allowed_numbers")]
        clear_allowed_numbers: bool,
        /// Replace the number blocklist (repeatable), E.164
        #[arg(long = "block-number")]
        blocked_numbers: Vec<String>,
        /// Empty the number blocklist
        #[arg(long, conflicts_with = "blocked_numbers")]
        clear_blocked_numbers: bool,
        /// Replace the SMS-pumping guard's safe list (repeatable), E.164: numbers it never
        /// counts or blocks
        #[arg(long = "safe-number")]
        safe_numbers: Vec<String>,
        /// Empty the safe list
        #[arg(long, conflicts_with = "safe_numbers")]
        clear_safe_numbers: bool,
        /// Geo permissions of a channel (repeatable): sms:GB,US or voice:GB; `*` allows
        /// every country, `default` gives the server's list back
        #[arg(long = "allow-country", value_parser = parse_allow_country)]
        allow_countries: Vec<(String, String)>,
        /// Override a limit (repeatable), NAME=VALUE as in [limits] (docs/config.md);
        /// VALUE `default` gives the server's back
        #[arg(long = "limit", value_parser = parse_limit)]
        limits: Vec<(String, String)>,
        /// POST signed events of this client's verifications to this http(s) URL (see
        /// docs/webhooks.md). The first time, a signing secret is generated and printed once
        /// (`webhook_secret` in the output); changing the URL keeps the secret
        #[arg(long)]
        webhook_url: Option<String>,
        /// Stop sending webhooks (the secret is forgotten)
        #[arg(long, conflicts_with = "webhook_url")]
        clear_webhook: bool,
        /// The shape of the webhooks (docs/webhooks.md#formats): `ringproof` (default),
        /// `twilio` (Event Streams CloudEvents, for verifications started on the Twilio face)
        /// or `vonage` (Verify v2 callbacks, for the Vonage face); verifications started from
        /// now on take it
        #[arg(long, value_parser = ["ringproof", "twilio", "vonage"], conflicts_with = "clear_webhook")]
        webhook_format: Option<String>,
        /// SIM-swap risk (docs/security.md): `check` asks the operator before every OTP or
        /// link start and records the answer; `block` also refuses a number whose SIM was
        /// swapped within the window (an unknown answer never refuses); `off` stops asking
        #[arg(long, value_parser = ["off", "check", "block"])]
        sim_swap: Option<String>,
        /// The SIM-swap window in hours, 1 to 2400 (default 240); needs the check on
        #[arg(long)]
        sim_swap_max_age_h: Option<u32>,
    },
    /// Replace a client's webhook signing secret; the new one is printed once
    RotateWebhookSecret { id: String },
}

#[derive(Subcommand)]
enum TemplateCmd {
    /// Set (or replace) a client's OTP template, e.g. `template set ID 41 "Acme: Your OTP is ####"`;
    /// the run of `#` (4 to 10) is where the code goes and sets its length
    Set {
        client_id: String,
        /// 1 to 16 letters or digits; 4 to 8 are the built-in templates
        template_id: String,
        text: String,
    },
    /// Set a client's own instant-link SMS text (used when a request has no `customSms`);
    /// `{link}` marks where the link goes, else it is appended. `--clear` removes it.
    SetLink {
        client_id: String,
        #[arg(required_unless_present = "clear")]
        text: Option<String>,
        #[arg(long, conflicts_with = "text")]
        clear: bool,
        /// For this language only (en, es, fr, de, pt, it, hi, ar, zh, ja, ru, id); without,
        /// for every language that has no text of its own
        #[arg(long)]
        locale: Option<String>,
    },
    /// Set a client's verification SMS text, e.g. `template set-sms ID "{brand}: {code}"`;
    /// `{brand}` and `{code}` are filled in (the code is appended without `{code}`).
    /// `--clear` removes it and the built-in text of each language applies again.
    SetSms {
        client_id: String,
        #[arg(required_unless_present = "clear")]
        text: Option<String>,
        #[arg(long, conflicts_with = "text")]
        clear: bool,
        /// For this language only (en, es, fr, de, pt, it, hi, ar, zh, ja, ru, id); without,
        /// for every language that has no text of its own (docs/locales.md)
        #[arg(long)]
        locale: Option<String>,
    },
}

#[derive(Subcommand)]
enum GuardCmd {
    /// List the blocks in force: client, range, country, rule, why, since, until, by
    List {
        /// Only this client's blocks
        #[arg(long)]
        client: Option<String>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Block a number range of a client by hand (numbers on its safe list still pass)
    Block {
        #[arg(long)]
        client: String,
        /// The range: '+' and a number's digits but its last four, e.g. +44740012
        #[arg(long)]
        prefix: String,
        /// For this many hours (1 to 8760)
        #[arg(long, default_value_t = 12)]
        hours: u32,
        /// Why (recorded in the block and the audit log; no phone numbers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a block: a prefix, or a country's region code (its unproven ranges)
    Unblock {
        #[arg(long)]
        client: String,
        #[arg(long)]
        prefix: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// List entries, newest first
    List {
        /// Only this client's entries
        #[arg(long)]
        client: Option<String>,
        /// Only entries since then: an age (30d, 12h, 45m) or a UTC date or instant
        /// (2026-12-01, 2026-12-01T08:00:00Z)
        #[arg(long)]
        since: Option<String>,
        /// At most this many entries (1 to 10000)
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum VerifyCmd {
    /// Start a verification; a running `ringproof serve` delivers it
    Start {
        #[arg(long)]
        client: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "sms")]
        channel: String,
        /// The language of the messages (`es`, `pt-BR`); default: the number's country's
        #[arg(long)]
        locale: Option<String>,
    },
    /// Check a code
    Check {
        #[arg(long)]
        client: String,
        id: String,
        code: String,
    },
    /// Show a verification
    Status {
        #[arg(long)]
        client: String,
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    // The simulator has a configuration of its own, not ringproof's.
    if let Command::OperatorSim { listen } = cli.command {
        return operator_sim(cli.common.config.as_deref(), listen).await;
    }
    // The benchmark's client talks HTTP only: it needs no configuration of its own.
    if let Command::Bench(cmd @ bench::BenchCmd::Run(_)) = cli.command {
        return bench::run(cmd, None).await;
    }
    let (listen, role) = match &cli.command {
        Command::Serve { listen, role } => (*listen, *role),
        _ => (None, None),
    };
    let overrides = Overrides {
        listen,
        role,
        data_dir: cli.common.data_dir.clone(),
    };
    let (config, warnings) = Config::load(cli.common.config.as_deref(), &overrides).map_err(|e| e.to_string())?;
    telemetry::init_tracing(config.log_format);
    for w in warnings {
        tracing::warn!("{w}");
    }
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::OperatorSim { .. } => Err("unreachable: operator-sim is handled above".into()),
        Command::Bench(cmd) => bench::run(cmd, Some(config)).await,
        Command::Backup { dest } => {
            let bytes = ringproof_store::backup(&config.database_url(), &dest)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "wrote a consistent copy of the database to {} ({bytes} bytes)",
                dest.display()
            );
            Ok(())
        }
        Command::Openapi => {
            println!("{}", ringproof_server::routes::openapi_json());
            Ok(())
        }
        Command::Migrate => {
            startup::open_core(&config, &Hooks::default())
                .await
                .map_err(|e| e.to_string())?;
            println!("database is up to date: {}", redact_url(&config.database_url()));
            Ok(())
        }
        Command::Client(cmd) => client(config, cmd).await,
        Command::Verify(cmd) => verify(config, cmd).await,
        Command::Template(cmd) => template(config, cmd).await,
        Command::Audit(cmd) => audit(config, cmd).await,
        Command::Guard(cmd) => guard(config, cmd).await,
        Command::SendTest {
            provider,
            to,
            channel,
            text,
            sender,
        } => send_test(config, &provider, &to, &channel, text, sender).await,
    }
}

/// `ringproof send-test`: one message through one provider, outside any verification (no
/// store, no job). Prints the provider's receipt as JSON; fails with its classified error.
async fn send_test(
    config: Config,
    provider: &str,
    to: &str,
    channel: &str,
    text: String,
    sender: Option<String>,
) -> Result<(), String> {
    let to = PhoneNumber::parse_e164(to).map_err(|e| format!("--to: {e}"))?;
    let channel = Channel::parse(channel).ok_or("--channel must be sms or voice")?;
    if text.trim().is_empty() {
        return Err("--text must not be empty".into());
    }
    let p = startup::build_provider(&config, provider)
        .await
        .map_err(|e| e.to_string())?;
    p.healthcheck()
        .await
        .map_err(|e| format!("healthcheck of `{provider}` failed: {e}"))?;
    let key = format!(
        "send-test-{}",
        ringproof_core::crypto::hex(&ringproof_core::crypto::random_bytes::<8>())
    );
    let msg = ringproof_core::ports::OutboundMessage {
        idempotency_key: key.clone(),
        to,
        channel,
        text,
        locale: "en".into(),
        sender,
        verification: None,
    };
    let receipt = p
        .send(&msg)
        .await
        .map_err(|e| format!("`{provider}` did not take the message: {e}"))?;
    let out = serde_json::json!({
        "provider": receipt.provider,
        "provider_message_id": receipt.provider_message_id,
        "idempotency_key": key,
        "channel": channel.as_str(),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

/// `ringproof operator-sim --config FILE [--listen ADDR]`: serves the simulator until Ctrl-C.
async fn operator_sim(config: Option<&std::path::Path>, listen: Option<std::net::SocketAddr>) -> Result<(), String> {
    let path = config.ok_or("operator-sim needs --config FILE (see examples/operator-sim.toml)")?;
    let mut sim = ringproof_operator_sim::load_config(path).map_err(|e| e.to_string())?;
    telemetry::init_tracing(ringproof_server::config::LogFormat::Text);
    // An issuer that is absent, or that named the file's listen address while --listen moves
    // it, is the address actually bound (so `--listen 127.0.0.1:0` works).
    let follows = sim.issuer.is_none()
        || listen.is_some()
            && sim.issuer.as_deref().map(|i| i.trim_end_matches('/'))
                == Some(format!("http://{}", sim.listen).as_str());
    if let Some(l) = listen {
        sim.listen = l;
    }
    let listener = tokio::net::TcpListener::bind(sim.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", sim.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    if follows {
        sim.issuer = Some(format!("http://{bound}"));
    }
    let issuer = sim.issuer_or_listen();
    // One write, whose failure (a reader that went away) must not stop the simulator.
    let _ = writeln!(
        std::io::stdout().lock(),
        "operator-sim listening on {bound}; issuer {issuer}; {} client(s), {} phone(s)\n\
         discovery: {issuer}/.well-known/openid-configuration",
        sim.clients.len(),
        sim.phones.len()
    );
    tokio::select! {
        served = ringproof_operator_sim::serve(sim, listener) => served.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let app = Application::build(config, Hooks::default())
        .await
        .map_err(|e| match e {
            // Only binding the listener fails this way at startup.
            StartupError::Io(e) if e.kind() == std::io::ErrorKind::AddrInUse => format!(
                "cannot listen on {listen}: {e}. Another process holds that address: stop it, \
                 or give this server another one with --listen (e.g. --listen 127.0.0.1:8081)"
            ),
            e => e.to_string(),
        })?;
    if app.demo.is_some() {
        // The secret and password stay out of the terminal and any log that captures it:
        // they are in the owner-only file.
        println!(
            "Created the demo client; its credentials are in {} (readable by you only)",
            app.data_dir().join("demo-credentials.json").display()
        );
    }
    println!(
        "ringproof is listening on http://{addr}  (start at http://{addr}/ : what runs here and where everything is)",
        addr = app.addr()
    );
    // The second `shutdown_signal` listens only once the first has fired (a future does
    // nothing until polled): a second Ctrl-C or SIGTERM cuts `shutdown_grace_ms` short.
    app.run(startup::shutdown_signal(), startup::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// Who the audit log records a command's changes as: `cli:<OS user>` (or `cli`).
fn cli_actor() -> Actor {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok();
    Actor::cli(user.as_deref())
}

async fn client(config: Config, cmd: ClientCmd) -> Result<(), String> {
    let core = startup::open_core(&config, &Hooks::default())
        .await
        .map_err(|e| e.to_string())?;
    let engine = core.engine.acting_as(cli_actor());
    match cmd {
        ClientCmd::Create {
            name,
            allowed_origins,
            json,
        } => {
            let created = engine
                .create_client(&name, allowed_origins)
                .await
                .map_err(|e| e.to_string())?;
            let creds = startup::credentials_json(&created);
            if json {
                println!("{creds}");
            } else {
                println!(
                    "Created client {} ({}). These credentials are shown once:",
                    created.client.id, created.client.name
                );
                println!(
                    "  api_key:    {}\n  api_secret: {}",
                    created.client.api_key, created.api_secret
                );
                println!(
                    "  username:   {}\n  password:   {}",
                    created.client.username, created.password
                );
            }
        }
        ClientCmd::List { json } => {
            let clients = engine.store().list_clients().await.map_err(|e| e.to_string())?;
            if json {
                let list: Vec<_> = clients.iter().map(|c| client_json(c, engine.defaults())).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("{:<24}  {:<27}  {:<20}  name", "client_id", "api_key", "username");
                for c in clients {
                    println!("{:<24}  {:<27}  {:<20}  {}", c.id, c.api_key, c.username, c.name);
                }
            }
        }
        ClientCmd::Show { id } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let c = engine
                .store()
                .client_by_id(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no such client")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&client_json(&c, engine.defaults())).unwrap_or_default()
            );
        }
        ClientCmd::Update {
            id,
            brand,
            brand_color,
            clear_brand_color,
            allowed_origins,
            clear_origins,
            code_length,
            validity_s,
            max_checks,
            max_sends,
            resend_cooldown_s,
            enable_products,
            disable_products,
            test_mode,
            allowed_numbers,
            clear_allowed_numbers,
            blocked_numbers,
            clear_blocked_numbers,
            safe_numbers,
            clear_safe_numbers,
            allow_countries,
            mut limits,
            webhook_url,
            clear_webhook,
            webhook_format,
            sim_swap,
            sim_swap_max_age_h,
        } => {
            for (channel, list) in allow_countries {
                limits.push((format!("allowed_countries_{channel}"), list));
            }
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            // Checked before anything is stored, so a bad URL changes nothing.
            if let Some(u) = &webhook_url {
                ringproof_core::webhook::validate_url(u).map_err(|e| e.to_string())?;
            }
            if webhook_format.is_some()
                && webhook_url.is_none()
                && engine
                    .store()
                    .client_by_id(&id)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some_and(|c| c.webhook.is_none())
            {
                return Err("--webhook-format needs a webhook: give --webhook-url too".into());
            }
            let change = ClientChange {
                brand,
                brand_color: if clear_brand_color {
                    Some(None)
                } else {
                    brand_color.map(Some)
                },
                allowed_origins: if clear_origins {
                    Some(vec![])
                } else {
                    Some(allowed_origins).filter(|o| !o.is_empty())
                },
                policy: PolicyOverrides {
                    code_length,
                    validity_s,
                    max_checks,
                    max_sends,
                    resend_cooldown_s,
                },
                enable_products,
                disable_products,
                test_mode: test_mode.map(|m| m == "on"),
                allowed_numbers: list_change(allowed_numbers, clear_allowed_numbers),
                blocked_numbers: list_change(blocked_numbers, clear_blocked_numbers),
                safe_numbers: list_change(safe_numbers, clear_safe_numbers),
                limits,
                sim_swap: sim_swap.as_deref().and_then(SimSwapMode::parse),
                sim_swap_max_age_h,
            };
            let mut c = engine.update_client(&id, change).await.map_err(|e| e.to_string())?;
            let mut new_secret = None;
            if webhook_url.is_some() || clear_webhook || webhook_format.is_some() {
                if webhook_url.is_some() || clear_webhook {
                    new_secret = engine
                        .set_webhook(&id, webhook_url.as_deref())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                if let Some(f) = webhook_format.as_deref().and_then(WebhookFormat::parse) {
                    engine.set_webhook_format(&id, f).await.map_err(|e| e.to_string())?;
                }
                c = engine
                    .store()
                    .client_by_id(&id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no such client")?;
            }
            let mut shown = client_json(&c, engine.defaults());
            if let Some(secret) = &new_secret {
                shown["webhook_secret"] = secret.as_str().into();
                eprintln!("A webhook signing secret was generated: `webhook_secret` above, shown once. Keep it.");
            }
            println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
        }
        ClientCmd::RotateWebhookSecret { id } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let secret = engine.rotate_webhook_secret(&id).await.map_err(|e| e.to_string())?;
            println!(
                "New webhook secret for {id} (shown once; webhooks are signed with it from now on, retries included):\n{secret}"
            );
        }
        ClientCmd::RotateSecret { id } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let secret = engine.rotate_secret(&id).await.map_err(|e| e.to_string())?;
            println!("New API secret for {id} (shown once; the old one no longer works):\n{secret}");
        }
        ClientCmd::RevokeTokens { id } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let n = engine.revoke_tokens(&id).await.map_err(|e| e.to_string())?;
            println!("Revoked {n} access token(s) of client {id}.");
        }
        ClientCmd::TwilioCredentials {
            id, list: true, json, ..
        } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let keys = engine.list_access_keys(&id).await.map_err(|e| e.to_string())?;
            for k in keys {
                let created = k.created_at.to_rfc3339();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "id": k.id, "kind": k.kind.as_str(), "created_at": created })
                    );
                } else {
                    println!("{}  {:<8}  {created}", k.id, k.kind.as_str());
                }
            }
        }
        ClientCmd::TwilioCredentials {
            id, revoke: Some(key), ..
        } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            engine.revoke_api_key(&id, &key).await.map_err(|e| e.to_string())?;
            println!("Revoked API key {key} of client {id}.");
        }
        ClientCmd::TwilioCredentials { id, api_key, json, .. } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let (account_sid, key_sid, secret) = if api_key {
                let (key, account) = engine.issue_api_key(&id).await.map_err(|e| e.to_string())?;
                let account_sid = match account {
                    Some(a) => a.key.id,
                    None => engine
                        .account_id(&id)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or("the client has no Account SID")?,
                };
                (account_sid, Some(key.key.id), key.secret)
            } else {
                let a = engine.issue_account_key(&id).await.map_err(|e| e.to_string())?;
                (a.key.id, None, a.secret)
            };
            match (json, key_sid) {
                (true, None) => println!(
                    "{}",
                    serde_json::json!({ "account_sid": account_sid, "auth_token": secret })
                ),
                (true, Some(k)) => println!(
                    "{}",
                    serde_json::json!({ "account_sid": account_sid, "api_key_sid": k, "api_key_secret": secret })
                ),
                (false, None) => println!(
                    "Twilio Verify credentials of client {id} (the token is shown once; an earlier one no longer works):\n  account_sid: {account_sid}\n  auth_token:  {secret}"
                ),
                (false, Some(k)) => println!(
                    "New Twilio API key of client {id} (the secret is shown once):\n  account_sid:    {account_sid}\n  api_key_sid:    {k}\n  api_key_secret: {secret}"
                ),
            }
        }
        ClientCmd::VonageCredentials {
            id, revoke: Some(key), ..
        } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            engine.revoke_api_key(&id, &key).await.map_err(|e| e.to_string())?;
            println!("Revoked Vonage API key {key} of client {id}.");
        }
        ClientCmd::VonageCredentials { id, json, .. } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let k = engine.issue_vonage_key(&id).await.map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::json!({ "api_key": k.key.id, "api_secret": k.secret }));
            } else {
                println!(
                    "New Vonage API key of client {id} (the secret is shown once):\n  api_key:    {}\n  api_secret: {}",
                    k.key.id, k.secret
                );
            }
        }
        ClientCmd::VonageApplication {
            id,
            public_key,
            application_id,
            json,
        } => {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            let pem = std::fs::read_to_string(&public_key)
                .map_err(|e| format!("cannot read {}: {e}", public_key.display()))?;
            let app = engine
                .register_vonage_application(&id, application_id.as_deref(), &pem)
                .await
                .map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::json!({ "application_id": app.id }));
            } else {
                println!(
                    "Vonage application of client {id} registered:\n  application_id: {}\nSign its JWTs with the matching private key (Vonage's SDKs do, given this id).",
                    app.id
                );
            }
        }
    }
    Ok(())
}

async fn audit(config: Config, cmd: AuditCmd) -> Result<(), String> {
    let core = startup::open_core(&config, &Hooks::default())
        .await
        .map_err(|e| e.to_string())?;
    match cmd {
        AuditCmd::List {
            client,
            since,
            limit,
            json,
        } => {
            let client_id = client
                .map(|c| ClientId::parse(&c).ok_or("a client id is 24 lowercase hex characters"))
                .transpose()?;
            let now = core.engine.now();
            let since = since.map(|s| parse_since(&s, now)).transpose()?;
            let entries = core
                .engine
                .audit_log(&AuditQuery {
                    client_id,
                    since,
                    limit,
                })
                .await
                .map_err(|e| e.to_string())?;
            for e in entries {
                let client = e.client_id.as_ref().map_or("-".to_owned(), |c| c.to_string());
                if json {
                    let line = serde_json::json!({
                        "at": e.at.to_rfc3339(),
                        "actor": e.actor.as_str(),
                        "action": e.action.as_str(),
                        "client_id": e.client_id.as_ref().map(|c| c.as_str()),
                        "detail": e.detail,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{}  {:<24}  {:<30}  {:<24}  {}",
                        e.at.to_rfc3339(),
                        e.actor,
                        e.action.as_str(),
                        client,
                        e.detail
                    );
                }
            }
        }
    }
    Ok(())
}

/// `--since`: an age before `now` (`30d`, `12h`, `45m`) or a UTC date (`2026-12-01`) or
/// instant (`2026-12-01T08:00:00Z`).
fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "--since {s:?}: expected an age such as 30d, 12h or 45m, or a date such as 2026-12-01 or 2026-12-01T08:00:00Z"
        )
    };
    if let Some((n, unit)) = s.len().checked_sub(1).map(|i| s.split_at(i)) {
        let secs = match unit {
            "d" => Some(86_400),
            "h" => Some(3_600),
            "m" => Some(60),
            _ => None,
        };
        if let (Some(secs), Ok(n)) = (secs, n.parse::<i64>()) {
            return (0..=100 * 365 * 86_400 / secs)
                .contains(&n)
                .then(|| now.plus_secs(-n * secs))
                .ok_or_else(bad);
        }
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, t.strip_suffix('Z').ok_or_else(bad)?),
        None => (s, "00:00:00"),
    };
    let num = |x: &str, len: usize| {
        (x.len() == len && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse::<i64>().ok())
            .flatten()
    };
    let d: Vec<_> = date.split('-').collect();
    let t: Vec<_> = time.split(':').collect();
    let (&[y, mo, da], &[h, mi, se]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    let (Some(y), Some(mo), Some(da), Some(h), Some(mi), Some(se)) =
        (num(y, 4), num(mo, 2), num(da, 2), num(h, 2), num(mi, 2), num(se, 2))
    else {
        return Err(bad());
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 59 {
        return Err(bad());
    }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(Timestamp::from_millis((days * 86_400 + h * 3600 + mi * 60 + se) * 1000))
}

async fn template(config: Config, cmd: TemplateCmd) -> Result<(), String> {
    let core = startup::open_core(&config, &Hooks::default())
        .await
        .map_err(|e| e.to_string())?;
    let engine = core.engine.acting_as(cli_actor());
    match cmd {
        TemplateCmd::Set {
            client_id,
            template_id,
            text,
        } => {
            let id = ClientId::parse(&client_id).ok_or("a client id is 24 lowercase hex characters")?;
            engine
                .set_otp_template(&id, &template_id, &text)
                .await
                .map_err(|e| e.to_string())?;
            let digits = text.chars().filter(|&c| c == '#').count();
            println!("Template {template_id} of client {id} set ({digits}-digit code).");
        }
        TemplateCmd::SetLink {
            client_id,
            text,
            clear,
            locale,
        } => {
            let id = ClientId::parse(&client_id).ok_or("a client id is 24 lowercase hex characters")?;
            let language = template_language(locale.as_deref())?;
            let text = if clear { None } else { text };
            engine
                .set_link_template(&id, language, text.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            let which = language.map_or(String::new(), |l| format!(" ({l})"));
            match text {
                Some(_) => println!("Link SMS text{which} of client {id} set."),
                None => println!("Link SMS text{which} of client {id} removed; the default text applies."),
            }
        }
        TemplateCmd::SetSms {
            client_id,
            text,
            clear,
            locale,
        } => {
            let id = ClientId::parse(&client_id).ok_or("a client id is 24 lowercase hex characters")?;
            let language = template_language(locale.as_deref())?;
            let text = if clear { None } else { text };
            engine
                .set_sms_template(&id, language, text.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            let which = language.map_or(String::new(), |l| format!(" ({l})"));
            match text {
                Some(_) => println!("Verification SMS text{which} of client {id} set."),
                None => println!("Verification SMS text{which} of client {id} removed; the default text applies."),
            }
        }
    }
    Ok(())
}

/// The language a template is for: one of the catalogue's (a bare language, `es`), or
/// every language when `None`.
fn template_language(locale: Option<&str>) -> Result<Option<Locale>, String> {
    let Some(tag) = locale else { return Ok(None) };
    match Locale::parse(tag) {
        Some(l) if l.tag().eq_ignore_ascii_case(tag.trim()) => Ok(Some(l)),
        _ => {
            let all: Vec<&str> = Locale::ALL.iter().map(|l| l.tag()).collect();
            Err(format!("--locale must be one of {}", all.join(", ")))
        }
    }
}

async fn verify(config: Config, cmd: VerifyCmd) -> Result<(), String> {
    let core = startup::open_core(&config, &Hooks::default())
        .await
        .map_err(|e| e.to_string())?;
    let engine = core.engine;
    let load_client = |id: String| {
        let engine = engine.clone();
        async move {
            let id = ClientId::parse(&id).ok_or("a client id is 24 lowercase hex characters")?;
            engine
                .store()
                .client_by_id(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "no such client".to_owned())
        }
    };
    let vid = |s: &str| VerificationId::parse(s).ok_or_else(|| "no such verification".to_owned());
    let print = |v: &ringproof_core::verification::Verification| {
        println!(
            "{}",
            serde_json::to_string_pretty(&VerificationResponse::from_verification(v)).unwrap_or_default()
        );
    };
    match cmd {
        VerifyCmd::Start {
            client,
            to,
            channel,
            locale,
        } => {
            let client = load_client(client).await?;
            let to = PhoneNumber::parse_e164(&to).map_err(|e| e.to_string())?;
            let channel = Channel::parse(&channel).ok_or("channel must be sms or voice")?;
            let req = StartRequest {
                to: Some(to),
                channel: Some(channel),
                locale,
                ..Default::default()
            };
            match engine.start(&client, req, None).await.map_err(|e| e.to_string())? {
                StartOutcome::Created(v) => print(&v),
                StartOutcome::Replayed { body, .. } => println!("{body}"),
            }
            eprintln!("queued: a running `ringproof serve` on this data delivers it");
        }
        VerifyCmd::Check { client, id, code } => {
            let client = load_client(client).await?;
            let (outcome, _) = engine
                .check(&client, &vid(&id)?, &code)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({"status": outcome.status.as_str(), "valid": outcome.valid, "remaining_attempts": outcome.remaining_attempts})
            );
        }
        VerifyCmd::Status { client, id } => {
            let client = load_client(client).await?;
            print(&engine.get(&client.id, &vid(&id)?).await.map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

fn parse_product(s: &str) -> Result<Product, String> {
    Product::parse(s).ok_or_else(|| {
        let names: Vec<_> = Product::ALL.iter().map(|p| p.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

/// A repeatable list flag: given values replace the list, `clear` empties it, neither
/// leaves it as it is.
/// `--allow-country sms:GB,US`.
fn parse_allow_country(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((ch @ ("sms" | "voice"), list)) => Ok((ch.to_owned(), list.to_owned())),
        _ => Err("expected CHANNEL:COUNTRIES, e.g. sms:GB,US or voice:GB (channel sms or voice)".into()),
    }
}

/// `--limit NAME=VALUE`.
fn parse_limit(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .ok_or_else(|| "expected NAME=VALUE, e.g. pump_block_hours=24".into())
}

/// `ringproof guard …`: the SMS-pumping guard's blocks (docs/security.md, "SMS pumping").
async fn guard(config: Config, cmd: GuardCmd) -> Result<(), String> {
    let core = startup::open_core(&config, &Hooks::default())
        .await
        .map_err(|e| e.to_string())?;
    let engine = core.engine.acting_as(cli_actor());
    let client_id = |c: &str| ClientId::parse(c).ok_or("a client id is 24 lowercase hex characters");
    match cmd {
        GuardCmd::List { client, json } => {
            let client = client.as_deref().map(client_id).transpose()?;
            let blocks = engine.guard_blocks(client.as_ref()).await.map_err(|e| e.to_string())?;
            if blocks.is_empty() && !json {
                println!("No blocks in force.");
            }
            for (id, b) in blocks {
                if json {
                    let line = serde_json::json!({
                        "client_id": id.as_str(),
                        "range": b.range,
                        "country": b.country,
                        "rule": b.kind.as_str(),
                        "why": b.why,
                        "since": b.since.to_rfc3339(),
                        "until": b.until.to_rfc3339(),
                        "by": b.by,
                    });
                    println!("{line}");
                } else {
                    println!(
                        "{id}  {:<14}  {:<3}  {:<15}  {} → {}  by {}  {}",
                        b.range,
                        b.country,
                        b.kind.as_str(),
                        b.since.to_rfc3339(),
                        b.until.to_rfc3339(),
                        b.by,
                        b.why
                    );
                }
            }
        }
        GuardCmd::Block {
            client,
            prefix,
            hours,
            reason,
        } => {
            let id = client_id(&client)?;
            let b = engine
                .guard_block(&id, &prefix, hours, reason.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Blocked {} ({}) for client {id} until {}.",
                b.range,
                b.country,
                b.until.to_rfc3339()
            );
        }
        GuardCmd::Unblock { client, prefix } => {
            let id = client_id(&client)?;
            match engine.guard_unblock(&id, &prefix).await.map_err(|e| e.to_string())? {
                Some(b) => println!("Unblocked {} ({}) for client {id}.", b.range, b.country),
                None => return Err(format!("no block of {prefix} is in force for client {id}")),
            }
        }
    }
    Ok(())
}

fn list_change(values: Vec<String>, clear: bool) -> Option<Vec<String>> {
    if clear {
        Some(vec![])
    } else {
        Some(values).filter(|v| !v.is_empty())
    }
}

/// A client as the CLI shows it: settings and the effective policy, never a secret.
fn client_json(c: &Client, defaults: Policy) -> serde_json::Value {
    let products: serde_json::Map<String, serde_json::Value> = Product::ALL
        .iter()
        .map(|p| {
            (
                p.as_str().to_owned(),
                (!c.controls.disabled_products.contains(p)).into(),
            )
        })
        .collect();
    serde_json::json!({
        "client_id": c.id.as_str(),
        "name": c.name,
        "brand": c.brand,
        "brand_color": c.brand_color,
        "api_key": c.api_key,
        "username": c.username,
        "allowed_origins": c.allowed_origins,
        "policy_overrides": c.policy,
        "effective_policy": defaults.with(&c.policy),
        "templates": c.templates,
        "webhook_url": c.webhook.as_ref().map(|w| w.url.as_str()),
        "webhook_format": c.webhook.as_ref().map(|w| w.format.as_str()),
        "controls": {
            "products": products,
            "test_mode": c.controls.test_mode,
            "allowed_numbers": c.controls.allowed_numbers,
            "blocked_numbers": c.controls.blocked_numbers,
            "safe_numbers": c.controls.safe_numbers,
            "limits": c.controls.limits,
            "sim_swap": c.controls.sim_swap,
        },
        "created_at": c.created_at.to_rfc3339(),
    })
}

/// A database URL without its password, for printing.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
