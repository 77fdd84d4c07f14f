//! The Mailchimp simulator (`mcsync sim`) and the demo (simulator and server together on
//! embedded defaults). Built with the `sim` feature, which is on by default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use reqwest::Url;
use tokio::net::TcpListener;

use super::{ops, progress, shutdown_signal};
use crate::mailchimp::MailchimpConfig;
use crate::server::{self, ServerConfig};
use crate::sim::{self, SimConfig};

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
    /// How many of them (the first ones) have GDPR fields (marketing permissions).
    #[arg(long, default_value_t = 0)]
    pub gdpr_lists: usize,
    /// How long each answer takes, the simulator's own work included (on average: its timer
    /// is corrected for running late).
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
    /// Milliseconds each batch operation takes once its batch runs (Mailchimp works through a
    /// large batch for minutes); fractions allowed.
    #[arg(long, default_value_t = 0.0)]
    pub batch_op_ms: f64,
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
        if !(0.0..=10_000.0).contains(&self.batch_op_ms) {
            return Err(format!(
                "--batch-op-ms must be between 0 and 10000, not {}",
                self.batch_op_ms
            ));
        }
        Ok(SimConfig {
            api_keys: self.api_keys.clone(),
            disabled_keys: self.disabled_keys.clone(),
            lists: self.lists,
            gdpr_lists: self.gdpr_lists,
            latency: Duration::from_millis(self.latency_ms),
            max_connections: self.max_connections,
            fail_rate: self.fail_rate,
            fault_after_write: self.fault_after_write,
            bare_403: self.bare_403,
            batch_delay: Duration::from_millis(self.batch_delay_ms),
            batch_op_cost: Duration::from_secs_f64(self.batch_op_ms / 1000.0),
        })
    }
}

pub(super) async fn run_sim(args: SimArgs) -> Result<(), String> {
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

pub(super) async fn demo(args: DemoArgs) -> Result<(), String> {
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
        health_listen: None,
        listen: args.listen,
        data_dir: data_dir.clone(),
        token: Some(token.clone()),
        mailchimp: MailchimpConfig {
            base_url: Some(Url::parse(&sim.base_url()).map_err(|e| e.to_string())?),
            // "Connect with Mailchimp" works against the simulator's login.mailchimp.com.
            oauth: Some(crate::mailchimp::oauth::OAuthConfig {
                client_id: sim::oauth::CLIENT_ID.into(),
                client_secret: sim::oauth::CLIENT_SECRET.into(),
                login_url: Url::parse(&format!("http://{}", sim.addr))
                    .map_err(|e| e.to_string())?,
            }),
            ..MailchimpConfig::default()
        },
        time_scale: 1,
        limits: server::Limits::default(),
        tls: None,
        insecure_plaintext: false,
        webhook_base_url: String::new(),
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
         \n\nThe settings page of the X-Cart addon, and a storefront checkout, in your browser\
         \n(PHP 8 with curl and the protobuf runtime: see clients/php/README.md):\
         \n  MCSYNC_URL=http://{addr} MCSYNC_TOKEN={token} MCSYNC_ADMIN_PASSWORD={password} PHP_CLI_SERVER_WORKERS=4 php -S 127.0.0.1:8080 -t {admin}\
         \n  then open http://127.0.0.1:8080/admin.php (settings; its password: {password})\
         \n  and http://127.0.0.1:8080/ (storefront)\
         \n\nPress Ctrl-C to stop.",
        admin = admin_page_dir(),
        // The settings page changes the account: never without a password, even in a demo.
        password = crate::store::random_bytes::<12>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
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

/// Where the reference admin page is: in this checkout when the binary was built from one,
/// else where it is in the repository.
fn admin_page_dir() -> String {
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/php/examples/admin");
    if std::path::Path::new(here).is_dir() {
        here.to_owned()
    } else {
        "clients/php/examples/admin".to_owned()
    }
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
