//! What the benchmarks share: a simulator and an mcsync server in this process, a shop
//! connected, one list selected, records fed, and an upload run to its end.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use mcsync::mailchimp::MailchimpConfig;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::server::{self, ServerConfig};
use mcsync::sim::{self, SimConfig};
use mcsync::testdata;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const TOKEN: &str = "bench-token";

pub fn with_token<T>(mut req: tonic::Request<T>) -> tonic::Request<T> {
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req
}

pub struct Bench {
    pub sim: sim::SimHandle,
    pub server: server::ServerHandle,
    pub channel: Channel,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// A simulator with `latency` per request and 10 connections per key, and a server whose
    /// shop has `records` and one selected list.
    pub async fn start(latency: Duration, records: Vec<pb::Record>) -> Self {
        let sim = sim::start(
            SimConfig {
                latency,
                max_connections: 10,
                ..SimConfig::default()
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = server::start(ServerConfig {
            health_listen: None,
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            token: Some(TOKEN.into()),
            mailchimp: MailchimpConfig {
                base_url: Some(sim.base_url().parse().unwrap()),
                ..MailchimpConfig::default()
            },
            time_scale: 1,
            limits: Default::default(),
            tls: None,
            insecure_plaintext: false,
            webhook_base_url: String::new(),
        })
        .await
        .unwrap();
        let channel = Channel::from_shared(format!("http://{}", server.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let b = Bench {
            sim,
            server,
            channel,
            _dir: dir,
        };
        prepare(&b.channel, records).await;
        b
    }

    pub fn records(&self) -> pb::store_data_service_client::StoreDataServiceClient<Channel> {
        records_client(&self.channel)
    }

    /// Waits until the simulator has seen no request for 300 ms: the newsletter requests an
    /// upload queued (double opt-in) are applied in the background and would land in the next
    /// measurement.
    pub async fn quiet(&self) {
        let total = || self.sim.stats().requests.values().sum::<u64>();
        let mut last = total();
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = total();
            if now == last {
                return;
            }
            last = now;
        }
    }

    /// Runs an upload to its end: its last message and how long it took.
    pub async fn upload(&self, mode: pb::UploadMode) -> (pb::JobProgress, f64) {
        upload_on(&self.channel, mode).await
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.sim.shutdown().await;
    }
}

fn records_client(
    channel: &Channel,
) -> pb::store_data_service_client::StoreDataServiceClient<Channel> {
    pb::store_data_service_client::StoreDataServiceClient::new(channel.clone())
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// Connects the shop on the server behind `channel` to `sim`'s demo account, sets its identity,
/// selects the first list and feeds `records`.
pub async fn prepare(channel: &Channel, records: Vec<pb::Record>) {
    connect_shop(channel, false).await;
    let n = records.len() as i64;
    let summary = records_client(channel)
        .push_records(with_token(tonic::Request::new(tokio_stream::iter(records))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.accepted, n, "{summary:?}");
}

/// Connects the shop on the server behind `channel` to `sim`'s demo account, sets its identity
/// (and abandoned carts), and selects the first list.
pub async fn connect_shop(channel: &Channel, carts: bool) {
    use pb::list_service_client::ListServiceClient;
    use pb::settings_service_client::SettingsServiceClient;
    let mut settings = SettingsServiceClient::new(channel.clone());
    settings
        .connect(with_token(tonic::Request::new(pb::ConnectRequest {
            api_key: sim::DEMO_KEY.into(),
        })))
        .await
        .unwrap();
    settings
        .update_settings(with_token(tonic::Request::new(pb::UpdateSettingsRequest {
            abandoned_carts: Some(carts),
            shop: Some(pb::ShopIdentityUpdate {
                shop_url: Some("https://bench-shop.example.com".into()),
                company_name: Some("Bench".into()),
                currency_code: Some("USD".into()),
                ..Default::default()
            }),
            ..Default::default()
        })))
        .await
        .unwrap();
    let mut lists = ListServiceClient::new(channel.clone());
    let audiences = lists
        .refresh_lists(with_token(tonic::Request::new(pb::RefreshListsRequest {})))
        .await
        .unwrap()
        .into_inner();
    let first = audiences.lists[0].id.clone();
    lists
        .select_lists(with_token(tonic::Request::new(pb::SelectListsRequest {
            list_ids: vec![first],
        })))
        .await
        .unwrap();
}

/// Runs an upload on the server behind `channel` to its end: its last message and how long
/// it took.
pub async fn upload_on(channel: &Channel, mode: pb::UploadMode) -> (pb::JobProgress, f64) {
    use pb::sync_service_client::SyncServiceClient;
    let start = Instant::now();
    let mut stream = SyncServiceClient::new(channel.clone())
        .upload_store_data(with_token(tonic::Request::new(pb::UploadRequest {
            mode: mode as i32,
            ..Default::default()
        })))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(m) = stream.next().await {
        last = Some(m.unwrap());
    }
    let job = last.unwrap();
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    (job, start.elapsed().as_secs_f64())
}

/// A shop of products, customers and orders.
pub struct Shop {
    pub products: u64,
    pub customers: u64,
    pub orders: u64,
}

impl Shop {
    /// What the bench uploads, and to what.
    pub fn banner(&self, latency: Duration) -> String {
        format!(
            "{} products, {} customers, {} orders; simulator at {} ms latency, 10 connections",
            self.products,
            self.customers,
            self.orders,
            latency.as_millis()
        )
    }

    pub fn total(&self) -> u64 {
        self.products + self.customers + self.orders
    }

    /// Orders reference the shop's products and customers, as a real shop's do.
    pub fn records(&self) -> Vec<pb::Record> {
        let mut out = Vec::with_capacity(self.total() as usize);
        out.extend((0..self.products).map(|i| testdata::record(R::Product(testdata::product(i)))));
        out.extend(
            (0..self.customers).map(|i| testdata::record(R::Customer(testdata::customer(i)))),
        );
        out.extend((0..self.orders).map(|i| {
            let mut o = testdata::order(i);
            for (n, line) in o.lines.iter_mut().enumerate() {
                let p = (i + n as u64) % self.products;
                line.product_id = format!("p{p}");
                line.variant_id = format!("p{p}-42");
            }
            let c = i % self.customers;
            if let Some(customer) = o.customer.as_mut() {
                customer.id = format!("c{c}");
                customer.email = format!("customer{c}@example.com");
            }
            testdata::record(R::Order(o))
        }));
        out
    }
}

/// `mcsync serve` in a child process (JSON logs, info level) on a free port, talking to
/// Mailchimp at `mailchimp_url` if given: the child and its address, once it listens.
pub fn serve_binary(
    data_dir: &std::path::Path,
    mailchimp_url: Option<&str>,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--log-level", "info", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = mailchimp_url {
        cmd.args(["--mailchimp-url", url]);
    }
    let mut server = cmd
        .env("MCSYNC_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcsync serve");
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server output").unwrap();
        if line.contains("mcsync listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (server, addr)
}

/// `mcsync sim` in a child process on a free port, with `args`: the child, its API base URL
/// and its address (for `/__sim/stats`), once it listens.
pub fn sim_binary(args: &[String]) -> (std::process::Child, String, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut sim = Command::new(env!("CARGO_BIN_EXE_mcsync"))
        .args(["sim", "--listen", "127.0.0.1:0", "--log-level", "warn"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start mcsync sim");
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let (url, addr) = loop {
        let line = lines.next().expect("simulator output").unwrap();
        // "Mailchimp simulator: <url>  (stats: http://<addr>/__sim/stats)"
        if let Some(rest) = line.strip_prefix("Mailchimp simulator: ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            let addr = rest.split("http://").nth(1).unwrap();
            break (url, addr.split('/').next().unwrap().to_owned());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (sim, url, addr)
}

/// A child process killed when dropped, so that a bench that panics leaves none behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a simulator in another process has seen.
pub async fn sim_stats(addr: &str) -> sim::SimStats {
    mcsync::mailchimp::install_crypto_provider();
    reqwest::get(format!("http://{addr}/__sim/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts `VmHWM` again from the current RSS (Linux's `clear_refs` 5), so a later phase's peak
/// is its own and not the earlier phases'.
pub fn reset_peak_rss(pid: u32) -> std::io::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
}

/// A field of a process's `/proc/<pid>/status` in MiB: `VmRSS:` now, `VmHWM:` its peak.
pub fn rss_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}
