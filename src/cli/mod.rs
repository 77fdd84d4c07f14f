//! Command-line arguments (flags with environment fallbacks) and the subcommands they run:
//! the server, the simulator and the demo here, the operator commands in [`ops`].

pub mod ops;
mod progress;
mod subscriptions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reqwest::Url;
use tokio::net::TcpListener;

use crate::mailchimp::MailchimpConfig;
use crate::server::{self, ServerConfig};
use crate::sim::{self, SimConfig};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "mcsync",
    version,
    about = "Mailchimp e-commerce sync for X-Cart shops"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
pub enum Command {
    /// Run the mcsync gRPC server.
    Serve(ServeArgs),
    /// Run the Mailchimp simulator.
    Sim(SimArgs),
    /// Run simulator and server together on embedded defaults, connected, until Ctrl-C.
    Demo(DemoArgs),
    /// Operator: connection, settings, audiences and records of a running server, in short.
    Status {
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
pub struct ServeArgs {
    /// Address to listen on (gRPC and gRPC-Web).
    #[arg(long, env = "MCSYNC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Where sled keeps mcsync's state (created 0700: it holds the API key).
    #[arg(long, env = "MCSYNC_DATA_DIR", default_value = "mcsync-data")]
    pub data_dir: PathBuf,
    /// Bearer token every RPC must carry; required on a non-loopback address.
    #[arg(long, env = "MCSYNC_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Mailchimp API base URL with its path; default `https://<dc>.api.mailchimp.com/3.0`.
    #[arg(long, env = "MCSYNC_MAILCHIMP_URL")]
    pub mailchimp_url: Option<Url>,
    /// Seconds before a Mailchimp request is abandoned (Mailchimp's own limit is 120).
    #[arg(long, env = "MCSYNC_MAILCHIMP_TIMEOUT", default_value_t = 120)]
    pub mailchimp_timeout_secs: u64,
    /// Largest message decoded (one record, one request), in bytes; bigger is refused.
    #[arg(long, env = "MCSYNC_MAX_MESSAGE_BYTES", default_value_t = 1024 * 1024)]
    pub max_message_bytes: usize,
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
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, env = "MCSYNC_SIM_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// An API key the simulator accepts; each key is its own account. Repeatable.
    #[arg(long = "api-key", default_value = sim::DEMO_KEY)]
    pub api_keys: Vec<String>,
    /// A key whose account is disabled (answers 403). Repeatable.
    #[arg(long = "disabled-key")]
    pub disabled_keys: Vec<String>,
    /// Audiences seeded in each account.
    #[arg(long, default_value_t = 3)]
    pub lists: usize,
    /// Added to every answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests in flight beyond this get 429.
    #[arg(long, default_value_t = 10)]
    pub max_connections: usize,
    /// Share of requests (and of batch operations) answered with a random 429, 500 or 503 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Share of those 500s and 503s on writes answered after the write happened (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub fault_after_write: f64,
    /// Share of rate limits answered as a bare 403 with no JSON body instead of 429 (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub bare_403: f64,
    /// Milliseconds a batch waits in "pending" before it runs.
    #[arg(long, default_value_t = 50)]
    pub batch_delay_ms: u64,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address for the mcsync server.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Data dir; default a new directory under the system temp dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Audiences in the simulated account.
    #[arg(long, default_value_t = 3)]
    pub lists: usize,
    /// Sample shop records loaded and uploaded at start (0: none).
    #[arg(long, default_value_t = 3000)]
    pub records: u64,
    /// How the sample shop is uploaded: auto (batches for large phases), direct or batch.
    #[arg(long, value_enum, default_value_t = ops::Mode::Auto)]
    pub mode: ops::Mode,
}

impl SimArgs {
    fn config(&self) -> Result<SimConfig, String> {
        for (flag, share) in [
            ("--fail-rate", self.fail_rate),
            ("--fault-after-write", self.fault_after_write),
            ("--bare-403", self.bare_403),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{flag} must be between 0 and 1, not {share}"));
            }
        }
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        Ok(SimConfig {
            api_keys: self.api_keys.clone(),
            disabled_keys: self.disabled_keys.clone(),
            lists: self.lists,
            latency: Duration::from_millis(self.latency_ms),
            max_connections: self.max_connections,
            fail_rate: self.fail_rate,
            fault_after_write: self.fault_after_write,
            bare_403: self.bare_403,
            batch_delay: Duration::from_millis(self.batch_delay_ms),
        })
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Sim(args) => run_sim(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Status { remote } => ops::status(&remote).await,
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
        Command::RemoveStore { store_id, remote } => ops::remove_store(&remote, store_id).await,
        Command::Subscriptions { email, remote } => subscriptions::get(&remote, email).await,
        Command::Subscribe {
            email,
            list_ids,
            first_name,
            last_name,
            interest_ids,
            remote,
        } => {
            let request = crate::proto::v1::SubscribeRequest {
                email,
                list_ids,
                first_name,
                last_name,
                interest_ids,
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
        token: args.token.filter(|t| !t.is_empty()),
        mailchimp: MailchimpConfig {
            base_url: args.mailchimp_url,
            timeout: Duration::from_secs(args.mailchimp_timeout_secs.max(1)),
            ..MailchimpConfig::default()
        },
        time_scale: 1,
        limits: server::Limits {
            max_message_bytes: args.max_message_bytes.max(1024),
            max_streams_per_connection: args.max_streams_per_connection.max(1),
            concurrency_per_connection: args.concurrency_per_connection.max(1),
            keepalive: Duration::from_secs(args.keepalive_secs.max(1)),
            stream_idle: Duration::from_secs(args.stream_idle_secs.max(1)),
        },
    };
    let handle = server::start(config).await.map_err(|e| e.to_string())?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

async fn run_sim(args: SimArgs) -> Result<(), String> {
    let config = args.config()?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let handle = sim::start(config, listener).map_err(|e| e.to_string())?;
    tracing::info!(url = %handle.base_url(), "Mailchimp simulator listening");
    println!(
        "Mailchimp simulator: {}  (stats: http://{}/__sim/stats)",
        handle.base_url(),
        handle.addr
    );
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let sim_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let sim = sim::start(
        SimConfig {
            lists: args.lists,
            ..SimConfig::default()
        },
        sim_listener,
    )
    .map_err(|e| e.to_string())?;
    let data_dir = args.data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("mcsync-demo-{}", std::process::id()))
    });
    let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let config = ServerConfig {
        listen: args.listen,
        data_dir: data_dir.clone(),
        token: Some(token.clone()),
        mailchimp: MailchimpConfig {
            base_url: Some(Url::parse(&sim.base_url()).map_err(|e| e.to_string())?),
            ..MailchimpConfig::default()
        },
        time_scale: 1,
        limits: server::Limits::default(),
    };
    let handle = server::start(config).await.map_err(|e| e.to_string())?;
    handle
        .app
        .connect(sim::DEMO_KEY)
        .await
        .map_err(|e| format!("demo connect failed: {e}"))?;
    let lists = handle
        .app
        .refresh_lists()
        .await
        .map_err(|e| format!("demo refresh failed: {e}"))?;
    if args.records > 0 {
        upload_sample_shop(&handle.app, &lists, args.records, args.mode).await?;
    }
    let addr = handle.addr;
    println!(
        "mcsync demo is running.\n\
         \n  gRPC + gRPC-Web: {addr}\n  token:           {token}\n  Mailchimp sim:   {sim_url}\n  data dir:        {dir}\n\
         \nConnected to the simulated account {account} with {n} audiences. Try:\n\
         \n  grpcurl -plaintext {addr} list\
         \n  grpcurl -plaintext -H 'authorization: Bearer {token}' {addr} mcsync.v1.SettingsService/GetSettings\
         \n  grpcurl -plaintext -H 'authorization: Bearer {token}' {addr} mcsync.v1.ListService/ListLists\
         \n\nOr with mcsync's own operator commands:\n\
         \n  export MCSYNC_SERVER=http://{addr} MCSYNC_TOKEN={token}\
         \n  mcsync status; mcsync lists; mcsync settings get\
         \n\nOnce a store is uploaded it is live: an Upsert reaches it by itself. Newsletters:\
         \n  mcsync subscribe reader@example.com {first}; mcsync subscriptions reader@example.com\
         \n\nPress Ctrl-C to stop.",
        first = lists
            .lists
            .first()
            .map(|(a, _)| a.id.as_str())
            .unwrap_or("<list id>"),
        sim_url = sim.base_url(),
        dir = data_dir.display(),
        account = lists.account_id,
        n = lists.lists.len(),
    );
    shutdown_signal().await;
    handle.shutdown().await;
    sim.shutdown().await;
    Ok(())
}

/// The demo's shop: identity, the first audience selected, `n` generated records of every kind,
/// then "Upload store data" with its live progress.
async fn upload_sample_shop(
    app: &std::sync::Arc<crate::app::App>,
    lists: &crate::app::AudienceView,
    n: u64,
    mode: ops::Mode,
) -> Result<(), String> {
    let fail = |e: crate::app::AppError| format!("demo shop: {e}");
    let update = crate::domain::SettingsUpdate {
        abandoned_carts: Some(true),
        shop: crate::domain::ShopIdentityUpdate {
            shop_url: Some("https://demo-shop.example.com".into()),
            company_name: Some("Demo Shop".into()),
            currency_code: Some("USD".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    app.update_settings(update).await.map_err(fail)?;
    let first = lists
        .lists
        .first()
        .map(|(a, _)| a.id.clone())
        .ok_or("the simulated account has no audience")?;
    app.select_lists(vec![first]).await.map_err(fail)?;
    let mut push = app.push();
    for i in 0..n {
        push.offer(crate::testdata::mixed(i)).await.map_err(fail)?;
    }
    let summary = push.finish().await.map_err(fail)?;
    println!(
        "Loaded a sample shop of {} records; uploading it to the simulated Mailchimp:",
        summary.accepted
    );
    let mut rx = app
        .upload_store_data(mode.into(), false)
        .await
        .map_err(fail)?;
    let mut view = progress::ProgressView::new();
    loop {
        let current = rx.borrow_and_update().clone();
        view.show(&current);
        if current.state != crate::proto::v1::JobState::Running as i32 {
            break;
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { view.show(&rx.borrow().clone()); break; },
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
    println!();
    Ok(())
}

/// Ctrl-C or SIGTERM.
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
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
