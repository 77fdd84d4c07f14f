//! `spawn_app()`: a simulator and an mcsync server on port 0, with clients that carry the token.

#![allow(dead_code)]

pub mod browser;
pub mod shop;

use std::time::Duration;

use mcsync::mailchimp::{MailchimpConfig, RetryPolicy};
use mcsync::proto::v1::list_service_client::ListServiceClient;
use mcsync::proto::v1::settings_service_client::SettingsServiceClient;
use mcsync::proto::v1::store_data_service_client::StoreDataServiceClient;
use mcsync::proto::v1::sync_service_client::SyncServiceClient;
use mcsync::server::{self, ServerConfig, ServerHandle};
use mcsync::sim::{self, SimConfig, SimHandle};
use tokio::net::TcpListener;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The simulator's first account.
/// How long the test servers let Mailchimp be out of reach before they say they are degraded.
pub const UNREACHABLE_AFTER: Duration = Duration::from_millis(300);

pub const KEY_A: &str = "0123456789abcdef0123456789abcdef-us6";
/// A second account in the same simulator.
pub const KEY_B: &str = "fedcba9876543210fedcba9876543210-us6";
/// Well-formed, but no account has it.
pub const KEY_UNKNOWN: &str = "00000000000000000000000000000000-us6";
/// Belongs to a disabled account (403).
pub const KEY_DISABLED: &str = "dddddddddddddddddddddddddddddddd-us6";

pub const TOKEN: &str = "test-token-7f3a";

#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(t) = &self.0 {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        Ok(req)
    }
}

pub type Settings = SettingsServiceClient<InterceptedService<Channel, Bearer>>;
pub type Lists = ListServiceClient<InterceptedService<Channel, Bearer>>;
pub type Records = StoreDataServiceClient<InterceptedService<Channel, Bearer>>;
pub type Sync = SyncServiceClient<InterceptedService<Channel, Bearer>>;
pub type Subscriptions = mcsync::proto::v1::subscription_service_client::SubscriptionServiceClient<
    InterceptedService<Channel, Bearer>,
>;

pub struct TestApp {
    pub sim: SimHandle,
    pub server: Option<ServerHandle>,
    pub data_dir: tempfile::TempDir,
    pub config: ServerConfig,
    pub channel: Channel,
}

pub fn sim_config(lists: usize) -> SimConfig {
    SimConfig {
        api_keys: vec![KEY_A.into(), KEY_B.into()],
        disabled_keys: vec![KEY_DISABLED.into()],
        lists,
        ..SimConfig::default()
    }
}

/// Quick retries, so that tests of failures do not wait for production backoff.
/// A simulator on a free loopback port.
pub async fn start_sim(config: SimConfig) -> SimHandle {
    mcsync::sim::start(
        config,
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap()
}

pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(sim_config(3), 1).await
}

pub async fn spawn_app_with(sim_config: SimConfig, time_scale: u32) -> TestApp {
    spawn_app_limited(sim_config, time_scale, Default::default()).await
}

/// [`spawn_app_with`], with the server's input limits.
pub async fn spawn_app_limited(
    sim_config: SimConfig,
    time_scale: u32,
    limits: mcsync::server::Limits,
) -> TestApp {
    let sim = sim::start(sim_config, TcpListener::bind("127.0.0.1:0").await.unwrap()).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        health_listen: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().join("data"),
        token: Some(TOKEN.into()),
        mailchimp: MailchimpConfig {
            base_url: Some(sim.base_url().parse().unwrap()),
            retry: fast_retries(),
            unreachable_after: UNREACHABLE_AFTER,
            ..MailchimpConfig::default()
        },
        time_scale,
        limits,
        tls: None,
        insecure_plaintext: false,
        webhook_base_url: String::new(),
    };
    let server = server::start(config.clone()).await.unwrap();
    let channel = channel(server.addr).await;
    TestApp {
        sim,
        server: Some(server),
        data_dir,
        config,
        channel,
    }
}

pub async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

impl TestApp {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().addr
    }

    pub fn settings_with_token(&self, token: Option<&str>) -> Settings {
        SettingsServiceClient::with_interceptor(self.channel.clone(), Bearer(token.map(Into::into)))
    }

    /// Stops the server (flushing sled) and starts a new one on the same data dir.
    /// What `GET /metrics` would show now.
    pub async fn metrics(&self) -> String {
        let server = self.server.as_ref().expect("the server runs");
        server.app.metrics_text().await.unwrap()
    }

    pub async fn restart(&mut self) {
        self.server.take().unwrap().shutdown().await;
        // sled's flusher thread lets go of the data dir's lock a moment after the last handle
        // is dropped (InUse under a loaded CI run): a new process never meets it, a restart in
        // the same process may.
        let mut tries = 0;
        let server = loop {
            match server::start(self.config.clone()).await {
                Err(server::StartError::Store(mcsync::store::StoreError::InUse { .. }))
                    if tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                started => break started.unwrap(),
            }
        };
        self.channel = channel(server.addr).await;
        self.server = Some(server);
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.sim.shutdown().await;
    }
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The field names of a status's `google.rpc.BadRequest` violations.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The real `mcsync serve` binary in a child process, for tests that kill it or read its logs.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    /// Every line it wrote to stderr (JSON logs).
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub reader: std::thread::JoinHandle<()>,
}

/// Starts `mcsync serve` on a free port with JSON logs and waits for its "listening" line.
pub fn start_binary(
    data_dir: &std::path::Path,
    mailchimp_url: &str,
    rust_log: &str,
) -> ServerProcess {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.env("MCSYNC_TOKEN", TOKEN);
    start_command(cmd, &[], data_dir, mailchimp_url, rust_log)
}

/// [`start_binary`] with the caller's command (its environment; no token set) and `serve`
/// flags of its own.
pub fn start_command(
    mut cmd: std::process::Command,
    extra: &[&std::ffi::OsStr],
    data_dir: &std::path::Path,
    mailchimp_url: &str,
    rust_log: &str,
) -> ServerProcess {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--mailchimp-url",
            mailchimp_url,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", rust_log)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let collected = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("mcsync listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let _ = addr_tx.send(v["addr"].as_str().unwrap().to_owned());
            }
            collected.lock().unwrap().push(line);
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server logs its address");
    ServerProcess {
        child,
        addr: addr.parse().unwrap(),
        lines,
        reader,
    }
}

/// gRPC clients of a running server, with the token.
#[allow(async_fn_in_trait)]
pub trait Clients {
    fn channel(&self) -> Channel;

    fn settings(&self) -> Settings {
        SettingsServiceClient::with_interceptor(self.channel(), Bearer(Some(TOKEN.into())))
    }

    fn lists(&self) -> Lists {
        ListServiceClient::with_interceptor(self.channel(), Bearer(Some(TOKEN.into())))
    }

    fn records(&self) -> Records {
        StoreDataServiceClient::with_interceptor(self.channel(), Bearer(Some(TOKEN.into())))
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    fn sync(&self) -> Sync {
        SyncServiceClient::with_interceptor(self.channel(), Bearer(Some(TOKEN.into())))
    }

    async fn connect(&self, key: &str) -> mcsync::proto::v1::Settings {
        let req = mcsync::proto::v1::ConnectRequest {
            api_key: key.into(),
        };
        self.settings()
            .connect(req)
            .await
            .expect("connect")
            .into_inner()
    }
}

impl TestApp {
    pub fn subscriptions(&self) -> Subscriptions {
        mcsync::proto::v1::subscription_service_client::SubscriptionServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer(Some(TOKEN.into())),
        )
    }
}

impl Clients for TestApp {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

/// A server running elsewhere (another process).
pub struct Remote {
    pub channel: Channel,
}

impl Remote {
    pub async fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            channel: channel(addr).await,
        }
    }
}

impl Clients for Remote {
    fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

/// The grpcurl that scripts/test.sh installs (or `$GRPCURL`), for a plaintext server.
/// The value of one series (`name{labels}` exactly as exported) in a Prometheus text
/// exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub fn grpcurl() -> std::process::Command {
    let mut cmd = grpcurl_binary();
    cmd.arg("-plaintext");
    cmd
}

/// The grpcurl that scripts/test.sh installs (or `$GRPCURL`), without flags.
pub fn grpcurl_binary() -> std::process::Command {
    let path = std::env::var("GRPCURL").ok().unwrap_or_else(|| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/grpcurl");
        if std::path::Path::new(venv).exists() {
            venv.into()
        } else {
            "grpcurl".into()
        }
    });
    std::process::Command::new(path)
}

/// A finished command's stdout and stderr, as one text for assertions.
pub fn text_of(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every body mcsync sent so far validated against the spec, with no field its operation
/// lacks (the simulator lists both).
pub fn nothing_unknown_or_invalid(stats: &mcsync::sim::SimStats, when: &str) {
    assert!(
        stats.unknown_fields.is_empty(),
        "{when}: {:#?}",
        stats.unknown_fields
    );
    assert!(
        stats.invalid_bodies.is_empty(),
        "{when}: {:?}",
        stats.invalid_bodies
    );
}
