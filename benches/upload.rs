//! Upload benchmark: 10,000 products, 10,000 customers and 20,000 orders to the simulator at
//! 50 ms latency with 10 connections, in direct mode and in batch mode (each on a fresh
//! server and simulator), then a second, unchanged upload.
//!
//!     cargo bench --bench upload
//!     UPLOAD_SCALE=0.1 cargo bench --bench upload    # a tenth of the records, a quick look
//!
//! Direct mode's ceiling is 10 connections / 50 ms = 200 requests/s.

use std::time::{Duration, Instant};

use mcsync::mailchimp::MailchimpConfig;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::server::{self, ServerConfig};
use mcsync::sim::{self, SimConfig, SimStats};
use mcsync::testdata;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const TOKEN: &str = "bench-token";
const LATENCY: Duration = Duration::from_millis(50);

fn scale() -> f64 {
    std::env::var("UPLOAD_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

struct Shop {
    products: u64,
    customers: u64,
    orders: u64,
}

impl Shop {
    fn total(&self) -> u64 {
        self.products + self.customers + self.orders
    }

    /// Orders reference the shop's products and customers, as a real shop's do.
    fn records(&self) -> Vec<pb::Record> {
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

fn with_token<T>(mut req: tonic::Request<T>) -> tonic::Request<T> {
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req
}

/// Requests that create, change or delete shop entities, and batch operations.
fn entity_requests(stats: &SimStats) -> (u64, u64) {
    let direct = stats
        .requests
        .iter()
        .filter(|(route, _)| !route.starts_with("GET") && route.contains("/ecommerce/stores/{"))
        .filter(|(route, _)| !route.ends_with("/ecommerce/stores/{store_id}"))
        .map(|(_, n)| n)
        .sum();
    (direct, stats.batch_operations.values().sum())
}

struct Run {
    seconds: f64,
    entity_requests: u64,
    batch_operations: u64,
    batches: u64,
    job: pb::JobProgress,
}

struct Bench {
    sim: sim::SimHandle,
    server: server::ServerHandle,
    channel: Channel,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn start(shop: &Shop) -> Self {
        let sim = sim::start(
            SimConfig {
                latency: LATENCY,
                max_connections: 10,
                ..SimConfig::default()
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            token: Some(TOKEN.into()),
            mailchimp: MailchimpConfig {
                base_url: Some(sim.base_url().parse().unwrap()),
                ..MailchimpConfig::default()
            },
            time_scale: 1,
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
        b.prepare(shop).await;
        b
    }

    async fn prepare(&self, shop: &Shop) {
        use pb::list_service_client::ListServiceClient;
        use pb::settings_service_client::SettingsServiceClient;
        use pb::store_data_service_client::StoreDataServiceClient;
        let mut settings = SettingsServiceClient::new(self.channel.clone());
        settings
            .connect(with_token(tonic::Request::new(pb::ConnectRequest {
                api_key: sim::DEMO_KEY.into(),
            })))
            .await
            .unwrap();
        settings
            .update_settings(with_token(tonic::Request::new(pb::UpdateSettingsRequest {
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
        let mut lists = ListServiceClient::new(self.channel.clone());
        lists
            .refresh_lists(with_token(tonic::Request::new(pb::RefreshListsRequest {})))
            .await
            .unwrap();
        let first = self.sim.list_ids(sim::DEMO_KEY)[0].clone();
        lists
            .select_lists(with_token(tonic::Request::new(pb::SelectListsRequest {
                list_ids: vec![first],
            })))
            .await
            .unwrap();
        let summary = StoreDataServiceClient::new(self.channel.clone())
            .push_records(with_token(tonic::Request::new(tokio_stream::iter(
                shop.records(),
            ))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.accepted as u64, shop.total(), "{summary:?}");
    }

    async fn upload(&self, mode: pb::UploadMode) -> Run {
        use pb::sync_service_client::SyncServiceClient;
        let before = self.sim.stats();
        let start = Instant::now();
        let mut stream = SyncServiceClient::new(self.channel.clone())
            .upload_store_data(with_token(tonic::Request::new(pb::UploadRequest {
                mode: mode as i32,
            })))
            .await
            .unwrap()
            .into_inner();
        let mut last = None;
        while let Some(m) = stream.next().await {
            last = Some(m.unwrap());
        }
        let seconds = start.elapsed().as_secs_f64();
        let after = self.sim.stats();
        let (d0, b0) = entity_requests(&before);
        let (d1, b1) = entity_requests(&after);
        let job = last.unwrap();
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        Run {
            seconds,
            entity_requests: d1 - d0,
            batch_operations: b1 - b0,
            batches: after.count("POST /3.0/batches") - before.count("POST /3.0/batches"),
            job,
        }
    }

    async fn stop(self) {
        self.server.shutdown().await;
        self.sim.shutdown().await;
    }
}

fn report(name: &str, shop: &Shop, run: &Run) {
    let rate = shop.total() as f64 / run.seconds;
    let failed: i64 = run.job.phases.iter().map(|p| p.failed).sum();
    println!(
        "{name:<22} {:>8.1} s  {rate:>7.0} records/s  {:>6} entity requests ({:.0}/s)  {:>6} batch operations in {} batches  {failed} refused",
        run.seconds,
        run.entity_requests,
        run.entity_requests as f64 / run.seconds,
        run.batch_operations,
        run.batches,
    );
}

#[tokio::main]
async fn main() {
    let s = scale();
    let shop = Shop {
        products: (10_000.0 * s) as u64,
        customers: (10_000.0 * s) as u64,
        orders: (20_000.0 * s) as u64,
    };
    println!(
        "{} products, {} customers, {} orders; simulator at {} ms latency, 10 connections",
        shop.products,
        shop.customers,
        shop.orders,
        LATENCY.as_millis()
    );

    let direct = Bench::start(&shop).await;
    let first = direct.upload(pb::UploadMode::Direct).await;
    report("direct", &shop, &first);
    let limit = 10.0 / LATENCY.as_secs_f64();
    let efficiency = first.entity_requests as f64 / first.seconds / limit;
    let unchanged_direct = direct.upload(pb::UploadMode::Direct).await;
    report("direct, unchanged", &shop, &unchanged_direct);
    direct.stop().await;

    let batch = Bench::start(&shop).await;
    let batched = batch.upload(pb::UploadMode::Batch).await;
    report("batch", &shop, &batched);
    let unchanged_batch = batch.upload(pb::UploadMode::Batch).await;
    report("batch, unchanged", &shop, &unchanged_batch);
    batch.stop().await;

    println!();
    println!(
        "direct efficiency:  {:.0} % of the {limit:.0} requests/s limit",
        100.0 * efficiency
    );
    println!(
        "batch speed-up:     {:.1}x ({:.1} s vs {:.1} s)",
        first.seconds / batched.seconds,
        batched.seconds,
        first.seconds
    );
    println!(
        "unchanged uploads:  {} entity requests, {} batch operations (direct {:.1} s, batch {:.1} s)",
        unchanged_direct.entity_requests + unchanged_batch.entity_requests,
        unchanged_direct.batch_operations + unchanged_batch.batch_operations,
        unchanged_direct.seconds,
        unchanged_batch.seconds
    );
}
