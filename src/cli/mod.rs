//! Command-line arguments (flags with environment fallbacks) and the subcommands they run:
//! the server, the simulator and the demo here, the operator commands in `ops`.

mod audit;
mod backup;
mod cart;
#[cfg(feature = "sim")]
mod demo;
mod feed;
mod ops;
mod progress;
mod space;
mod subscriptions;
mod tag_rule;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reqwest::Url;

use crate::mailchimp::MailchimpConfig;
use crate::server::{self, ServerConfig};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "mcsync",
    version,
    about = "Mailchimp e-commerce sync for X-Cart shops"
)]
/// The `mcsync` command line: a subcommand and the logging options every subcommand shares.
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "MCSYNC_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `mcsync=debug` (RUST_LOG wins when set).
    #[arg(long, global = true, env = "MCSYNC_LOG", default_value = "info")]
    pub log_level: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the mcsync gRPC server.
    Serve(Box<ServeArgs>),
    /// Copy a stopped mcsync's data dir to one file (without the API key), to move hosts.
    Backup(backup::BackupArgs),
    /// Make a new data dir from a backup file.
    Restore(backup::RestoreArgs),
    /// Run the Mailchimp simulator.
    #[cfg(feature = "sim")]
    Sim(demo::SimArgs),
    /// Run simulator and server together on embedded defaults, connected, until Ctrl-C.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Operator: connection, settings, audiences and records of a running server, in short.
    Status {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: the server's gRPC health; exits 0 only when it is SERVING (health checks).
    Health {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: connect a Mailchimp account (the key as argument, or one line on stdin).
    Connect {
        api_key: Option<String>,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: "Reset Mailchimp connection".
    Reset {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: read or change settings.
    Settings {
        #[command(subcommand)]
        command: ops::SettingsCommand,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: the account's audiences ([x] = gets a Store).
    Lists {
        /// Read them from Mailchimp first.
        #[arg(long)]
        refresh: bool,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: choose the audiences that get a Store (replaces the selection).
    Select {
        list_ids: Vec<String>,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: "Upload store data to Mailchimp", with live progress to the end.
    Upload {
        /// How records are sent: auto (batches for large phases), direct or batch.
        #[arg(long, value_enum, default_value_t = ops::Mode::Auto)]
        mode: ops::Mode,
        /// Start over: send every record again, update first (never a second create).
        #[arg(long, conflicts_with = "dry_run")]
        resync: bool,
        /// Only show what the upload would do (reads Mailchimp, writes nothing).
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: follow an upload job to its end.
    Watch {
        job_id: String,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: records Mailchimp refused, with its reasons.
    Errors {
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        #[arg(long, default_value_t = 0)]
        offset: i32,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: feed NDJSON records (a file, or stdin) to the server, as PushRecords does;
    /// prints the summary.
    Push {
        #[command(flatten)]
        args: feed::PushArgs,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: write the server's mirror of shop records as NDJSON that `push` takes back.
    Export {
        #[command(flatten)]
        args: feed::ExportArgs,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: delete a detached store (its list is no longer selected) from Mailchimp.
    RemoveStore {
        store_id: String,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: send every refused record again.
    Retry {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: upload jobs, newest first.
    Jobs {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: stop a running upload job.
    Cancel {
        job_id: String,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: what Mailchimp's webhooks said (unsubscribes, cleans, profile and email
    /// changes), after a sequence number; `--follow` waits for new ones.
    Events {
        /// Show the events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Keep waiting for new events (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: audit every live store against Mailchimp now, as the schedule does (drift
    /// starts the repair job).
    Audit {
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: the cart an abandoned-cart email's recovery link names (its `mcsync_cart`
    /// token, or the whole link), as the shop's recovery page gets it.
    Cart {
        /// The link, or its `mcsync_cart` token alone.
        #[arg(value_name = "LINK_OR_TOKEN")]
        link: String,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: where an email stands on every selected list.
    Subscriptions {
        email: String,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: subscribe an email to lists, with the merchant's opt-in rules.
    Subscribe {
        email: String,
        #[arg(required = false)]
        list_ids: Vec<String>,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        /// An interest (group) id; repeat for several.
        #[arg(long = "interest")]
        interest_ids: Vec<String>,
        /// A GDPR answer, `<marketing permission id>=yes` or `=no`; repeat for several.
        #[arg(long = "permission", value_parser = subscriptions::permission_answer)]
        permissions: Vec<crate::proto::v1::MarketingPermissionChoice>,
        #[command(flatten)]
        remote: ops::Remote,
    },
    /// Operator: unsubscribe an email from lists (every selected list when none is given).
    Unsubscribe {
        email: String,
        list_ids: Vec<String>,
        #[command(flatten)]
        remote: ops::Remote,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (gRPC and gRPC-Web).
    #[arg(long, env = "MCSYNC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Where sled keeps mcsync's state (created 0700: it holds the API key).
    #[arg(long, env = "MCSYNC_DATA_DIR", default_value = "mcsync-data")]
    pub data_dir: PathBuf,
    /// Bearer token every RPC must carry; required on a non-loopback address.
    #[arg(long, env = "MCSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the token (its trailing newline ignored), so that it is not in the
    /// process list.
    #[arg(long, env = "MCSYNC_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The server's certificate chain (PEM): serve gRPC and gRPC-Web over TLS.
    #[arg(long, env = "MCSYNC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "MCSYNC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve a non-loopback address without TLS (the token then crosses the network in the
    /// clear): only behind a TLS-terminating proxy on a trusted network.
    #[arg(long)]
    pub insecure_plaintext: bool,
    /// Also serve `grpc.health.v1` and `GET /metrics` alone on this address, in plaintext and
    /// without the token, for what inside a cluster speaks neither (Kubernetes' native gRPC
    /// probes, Prometheus); everything else stays on --listen.
    #[arg(long, env = "MCSYNC_HEALTH_LISTEN")]
    pub health_listen: Option<SocketAddr>,
    /// Mailchimp API base URL with its path; default `https://<dc>.api.mailchimp.com/3.0`.
    #[arg(long, env = "MCSYNC_MAILCHIMP_URL")]
    pub mailchimp_url: Option<Url>,
    /// Seconds before a Mailchimp request is abandoned (Mailchimp's own limit is 120).
    #[arg(long, env = "MCSYNC_MAILCHIMP_TIMEOUT", default_value_t = 120)]
    pub mailchimp_timeout_secs: u64,
    /// Seconds Mailchimp may be out of reach before GetSyncStatus reports mcsync degraded.
    #[arg(long, default_value_t = 120)]
    pub mailchimp_unreachable_secs: u64,
    /// Largest message decoded (one record, one request), in bytes; bigger is refused.
    #[arg(long, env = "MCSYNC_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Connections open at once; the next waits until one closes.
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    /// Calls open at once on one HTTP/2 connection.
    #[arg(long, default_value_t = 64)]
    pub max_streams_per_connection: u32,
    /// Requests handled at once per connection; the rest wait.
    #[arg(long, default_value_t = 64)]
    pub concurrency_per_connection: usize,
    /// HTTP/2 keepalive ping interval (and how long an unanswered ping keeps a connection).
    #[arg(long, default_value_t = 30)]
    pub keepalive_secs: u64,
    /// Seconds a PushRecords stream may send nothing before it is ended.
    #[arg(long, default_value_t = 60)]
    pub stream_idle_secs: u64,
    /// Seconds a shutdown waits for open calls to finish, before and again after stopping
    /// background work (a running job also gets up to 3 s to reach a safe point).
    #[arg(long, default_value_t = 5)]
    pub shutdown_grace_secs: u64,
    /// The public base URL Mailchimp's webhooks reach this server at (e.g.
    /// https://shop.example.com/mcsync); the setting of the same name wins when set.
    #[arg(long, env = "MCSYNC_WEBHOOK_BASE_URL")]
    pub webhook_base_url: Option<String>,
    /// mcsync's Mailchimp app, for "Connect with Mailchimp" (OAuth 2); with the secret.
    #[arg(long, env = "MCSYNC_OAUTH_CLIENT_ID")]
    pub oauth_client_id: Option<String>,
    /// The app's client secret. Only from the environment or a file, never an argument (the
    /// process list would show it).
    #[arg(
        long = "oauth-client-secret-file",
        env = "MCSYNC_OAUTH_CLIENT_SECRET_FILE"
    )]
    pub oauth_client_secret_file: Option<PathBuf>,
    /// Mailchimp's OAuth server (the simulator's address to try it locally).
    #[arg(
        long,
        env = "MCSYNC_OAUTH_LOGIN_URL",
        default_value = "https://login.mailchimp.com"
    )]
    pub oauth_login_url: Url,
}

/// The OAuth app from its flags: both the id and the secret (from
/// `MCSYNC_OAUTH_CLIENT_SECRET` or the file), or neither.
fn oauth_app(
    client_id: Option<&str>,
    secret_file: Option<&std::path::Path>,
    login_url: &Url,
) -> Result<Option<crate::mailchimp::oauth::OAuthConfig>, String> {
    let secret = match (
        std::env::var("MCSYNC_OAUTH_CLIENT_SECRET").ok(),
        secret_file,
    ) {
        (Some(s), _) => Some(s),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        ),
        (None, None) => None,
    };
    match (client_id, secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok(Some(crate::mailchimp::oauth::OAuthConfig {
                client_id: id.to_owned(),
                client_secret: secret,
                login_url: login_url.clone(),
            }))
        }
        (None, None) => Ok(None),
        _ => Err("--oauth-client-id and the client secret (MCSYNC_OAUTH_CLIENT_SECRET or --oauth-client-secret-file) go together".into()),
    }
}

/// Runs the subcommand; an error is the one line to print before exiting with failure.
pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        #[cfg(feature = "sim")]
        Command::Sim(args) => demo::run_sim(args).await,
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo::demo(args).await,
        Command::Status { remote } => ops::status(&remote).await,
        Command::Health { remote } => ops::health(&remote).await,
        Command::Connect { api_key, remote } => ops::connect(&remote, api_key).await,
        Command::Reset { remote } => ops::reset(&remote).await,
        Command::Settings { command, remote } => ops::settings(&remote, command).await,
        Command::Lists { refresh, remote } => ops::lists(&remote, refresh).await,
        Command::Select { list_ids, remote } => ops::select(&remote, list_ids).await,
        Command::Upload {
            mode,
            resync,
            dry_run,
            remote,
        } => {
            let how = ops::UploadHow {
                mode,
                resync,
                dry_run,
            };
            ops::upload(&remote, how).await
        }
        Command::Watch { job_id, remote } => ops::watch(&remote, job_id).await,
        Command::Jobs { remote } => ops::jobs(&remote).await,
        Command::Errors {
            page_size,
            offset,
            remote,
        } => ops::errors(&remote, page_size, offset).await,
        Command::Retry { remote } => ops::retry(&remote).await,
        Command::Push { args, remote } => feed::push(&remote, args).await,
        Command::Export { args, remote } => feed::export(&remote, args).await,
        Command::RemoveStore { store_id, remote } => ops::remove_store(&remote, store_id).await,
        Command::Subscriptions { email, remote } => subscriptions::get(&remote, email).await,
        Command::Cart { link, remote } => cart::recover(&remote, &link).await,
        Command::Audit { remote } => audit::audit(&remote).await,
        Command::Events {
            after,
            follow,
            remote,
        } => subscriptions::events(&remote, after, follow).await,
        Command::Subscribe {
            email,
            list_ids,
            first_name,
            last_name,
            interest_ids,
            permissions,
            remote,
        } => {
            let request = crate::proto::v1::SubscribeRequest {
                email,
                list_ids,
                first_name,
                last_name,
                interest_ids,
                marketing_permissions: permissions,
            };
            subscriptions::subscribe(&remote, request).await
        }
        Command::Unsubscribe {
            email,
            list_ids,
            remote,
        } => subscriptions::unsubscribe(&remote, email, list_ids).await,
        Command::Cancel { job_id, remote } => ops::cancel(&remote, job_id).await,
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        token: token::resolve(args.token, args.token_file.as_deref())?,
        mailchimp: MailchimpConfig {
            base_url: args.mailchimp_url,
            timeout: Duration::from_secs(args.mailchimp_timeout_secs.max(1)),
            unreachable_after: Duration::from_secs(args.mailchimp_unreachable_secs),
            oauth: oauth_app(
                args.oauth_client_id.as_deref(),
                args.oauth_client_secret_file.as_deref(),
                &args.oauth_login_url,
            )?,
            ..MailchimpConfig::default()
        },
        time_scale: 1,
        limits: server::Limits {
            max_message_bytes: args.max_message_bytes.max(1024),
            max_connections: args.max_connections.max(1),
            max_streams_per_connection: args.max_streams_per_connection.max(1),
            concurrency_per_connection: args.concurrency_per_connection.max(1),
            keepalive: Duration::from_secs(args.keepalive_secs.max(1)),
            stream_idle: Duration::from_secs(args.stream_idle_secs.max(1)),
            shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        },
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(server::TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        },
        insecure_plaintext: args.insecure_plaintext,
        health_listen: args.health_listen,
        webhook_base_url: match args.webhook_base_url.as_deref() {
            None => String::new(),
            Some(url) => crate::domain::validate::webhook_base_url(url)
                .map_err(|why| format!("--webhook-base-url {why}"))?,
        },
    };
    // Listened for before the server starts: a SIGTERM while it starts (a pod stopped at once)
    // is a clean shutdown too, not the signal's default death.
    let stop = shutdown_signal();
    let data_dir = config.data_dir.clone();
    let handle = server::start(config).await.map_err(|e| e.to_string())?;
    space::reopen_when_space_returns(handle.app.clone(), data_dir);
    stop.await;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

/// Ctrl-C or SIGTERM. The handlers are installed when this is called, not when it is first
/// awaited, so a signal that comes in between is not lost (nor fatal).
#[cfg(unix)]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {},
            () = wait(terminate) => {},
        }
    }
}

/// Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
