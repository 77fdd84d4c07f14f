//! The large shop end to end: 1,000,000 orders (1 to 4 lines), 300,000 customers, 100,000
//! products with variants and 50,000 carts, fed through the fastest path (the NDJSON feed, as
//! `mcsync push` and the PHP client's `pushRecordsJson` send it; `MILLION_FEED=grpc` for
//! PushRecords) and uploaded in AUTO mode (batches), then uploaded again unchanged. mcsync (`mcsync serve`) and the simulator
//! (`mcsync sim`, 50 ms latency) run as processes of their own, so each one's memory is its own.
//!
//!     cargo bench --bench million                       # the whole shop (long)
//!     MILLION_SCALE=0.14 cargo bench --bench million    # about 200,000 records
//!     MILLION_BATCH_OP_MS=5 cargo bench --bench million # each batch operation takes 5 ms
//!     MILLION_FEED=grpc cargo bench --bench million     # fed through PushRecords
//!
//! Prints the feed and the upload's wall time, the time from the first record fed to the store
//! uploaded, batch operations per second, the most batches
//! unfinished at once, mcsync's and the simulator's peak RSS (`VmHWM`), the unchanged
//! re-upload with mcsync's peak in it alone (the peak is reset before it), and then a tag rule
//! that holds for every customer ("ordered at least once"): the requests and the time its first
//! pass takes to tag them all, with mcsync's peak in it.

mod common;

use std::time::{Duration, Instant};

use common::{
    KillOnDrop, connect_shop, reset_peak_rss, rss_mib, serve_binary, sim_binary, sim_stats,
    upload_on, with_token,
};
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::SimStats;
use mcsync::testdata;
use tonic::transport::Channel;

const LATENCY: Duration = Duration::from_millis(50);

fn scale() -> f64 {
    std::env::var("MILLION_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

#[derive(Clone, Copy)]
struct Sizes {
    products: u64,
    customers: u64,
    orders: u64,
    carts: u64,
}

impl Sizes {
    fn total(&self) -> u64 {
        self.products + self.customers + self.orders + self.carts
    }
}

/// The shop, made as it is fed (never all in memory): orders and carts name the shop's own
/// products and customers.
fn shop(s: &Sizes) -> impl Iterator<Item = pb::Record> + use<> {
    let (products, customers, orders, carts) = (s.products, s.customers, s.orders, s.carts);
    let line_to = move |line: &mut pb::LineItem, seed: u64| {
        let p = seed % products;
        line.product_id = format!("p{p}");
        line.variant_id = format!("p{p}-42");
    };
    let products_it = (0..products).map(|i| testdata::record(R::Product(testdata::product(i))));
    let customers_it = (0..customers).map(|i| testdata::record(R::Customer(testdata::customer(i))));
    let orders_it = (0..orders).map(move |i| {
        let mut o = testdata::order(i);
        // 1 to 4 lines.
        let n = 1 + (i % 4) as usize;
        let first = o.lines[0].clone();
        o.lines = (0..n)
            .map(|k| {
                let mut l = first.clone();
                l.id = format!("l{k}");
                line_to(&mut l, i * 7 + k as u64);
                l
            })
            .collect();
        let c = i % customers;
        if let Some(customer) = o.customer.as_mut() {
            customer.id = format!("c{c}");
            customer.email = format!("customer{c}@example.com");
        }
        o.cart_id = String::new();
        testdata::record(R::Order(o))
    });
    let carts_it = (0..carts).map(move |i| {
        let mut c = testdata::cart(i);
        for (k, l) in c.lines.iter_mut().enumerate() {
            line_to(l, i * 3 + k as u64);
        }
        let who = i % customers;
        if let Some(customer) = c.customer.as_mut() {
            customer.id = format!("c{who}");
            customer.email = format!("customer{who}@example.com");
        }
        testdata::record(R::Cart(c))
    });
    products_it
        .chain(customers_it)
        .chain(orders_it)
        .chain(carts_it)
}

/// Feeds the shop as NDJSON, as `mcsync push` sends a file: a thread writes the lines while
/// the request streams them. Returns the records accepted.
async fn feed_ndjson(addr: &str, sizes: &Sizes) -> u64 {
    const CHUNK: usize = 256 * 1024;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    let sizes = *sizes;
    std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK + 4096);
        for record in shop(&sizes) {
            serde_json::to_writer(&mut chunk, &record).unwrap();
            chunk.push(b'\n');
            if chunk.len() >= CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK + 4096));
                if tx.blocking_send(Ok(full.into())).is_err() {
                    return;
                }
            }
        }
        let _ = tx.blocking_send(Ok(chunk.into()));
    });
    mcsync::mailchimp::install_crypto_provider();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "http://{addr}{}",
            mcsync::server::json_feed::PUSH_PATH
        ))
        .bearer_auth(common::TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["rejected"], 0, "{answer}");
    answer["accepted"].as_u64().unwrap()
}

fn batch_op_ms() -> f64 {
    std::env::var("MILLION_BATCH_OP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn batch_operations(stats: &SimStats) -> u64 {
    stats.batch_operations.values().sum()
}

#[tokio::main]
async fn main() {
    let s = scale();
    let sizes = Sizes {
        products: (100_000.0 * s) as u64,
        customers: (300_000.0 * s) as u64,
        orders: (1_000_000.0 * s) as u64,
        carts: (50_000.0 * s) as u64,
    };
    let op_ms = batch_op_ms();
    println!(
        "{} products, {} customers, {} orders (1 to 4 lines), {} carts = {} records; simulator (its own process) at {} ms, {op_ms} ms per batch operation, 10 connections",
        sizes.products,
        sizes.customers,
        sizes.orders,
        sizes.carts,
        sizes.total(),
        LATENCY.as_millis()
    );
    let (sim, sim_url, sim_addr) = sim_binary(&[
        "--latency-ms".into(),
        LATENCY.as_millis().to_string(),
        "--batch-op-ms".into(),
        op_ms.to_string(),
    ]);
    let sim = KillOnDrop(sim);
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = serve_binary(&dir.path().join("data"), Some(&sim_url));
    let pid = server.id();
    let _server = KillOnDrop(server);
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    connect_shop(&channel, true).await;

    let json = std::env::var("MILLION_FEED").map_or(true, |v| v != "grpc");
    let start = Instant::now();
    let accepted = if json {
        feed_ndjson(&addr, &sizes).await
    } else {
        pb::store_data_service_client::StoreDataServiceClient::new(channel.clone())
            .push_records(with_token(tonic::Request::new(tokio_stream::iter(shop(
                &sizes,
            )))))
            .await
            .unwrap()
            .into_inner()
            .accepted as u64
    };
    let feed = start.elapsed().as_secs_f64();
    assert_eq!(accepted, sizes.total());
    println!(
        "feed:      {feed:>8.1} s  {:>8.0} records/s   through {}   mcsync peak RSS {} MiB",
        sizes.total() as f64 / feed,
        if json {
            "the NDJSON feed"
        } else {
            "PushRecords"
        },
        rss_mib(pid, "VmHWM:")
    );

    let before = sim_stats(&sim_addr).await;
    let (job, secs) = upload_on(&channel, pb::UploadMode::Auto).await;
    let after = sim_stats(&sim_addr).await;
    let ops = batch_operations(&after) - batch_operations(&before);
    let batches = after.count("POST /3.0/batches") - before.count("POST /3.0/batches");
    println!(
        "upload:    {secs:>8.1} s  {:>8.0} records/s   {ops} batch operations in {batches} batches ({:.0} operations/s), at most {} batches unfinished   mcsync peak RSS {} MiB   simulator peak RSS {} MiB",
        sizes.total() as f64 / secs,
        ops as f64 / secs,
        after.max_unfinished_batches,
        rss_mib(pid, "VmHWM:"),
        rss_mib(sim.0.id(), "VmHWM:"),
    );
    let failed: i64 = job.phases.iter().map(|p| p.failed).sum();
    assert_eq!(failed, 0, "{:?}", job.errors);
    println!(
        "end to end:{:>8.1} s  from the first record fed to the store uploaded",
        start.elapsed().as_secs_f64()
    );

    // Where the peak cannot be reset, the figure says it is the whole run's.
    let peak = match reset_peak_rss(pid) {
        Ok(()) => "in it",
        Err(_) => "since the start (could not be reset)",
    };
    let (_, again) = upload_on(&channel, pb::UploadMode::Auto).await;
    println!(
        "unchanged: {again:>8.1} s (a second upload)   mcsync peak RSS {peak} {} MiB",
        rss_mib(pid, "VmHWM:")
    );
    tag_everyone(&channel, &sim_addr, pid, sizes.customers).await;
}

/// Sets a rule that holds for every customer and waits until the simulator has them all
/// tagged: the requests and the time it took.
async fn tag_everyone(channel: &Channel, sim_addr: &str, pid: u32, customers: u64) {
    const BULK: &str = "POST /3.0/lists/{list_id}/segments/{segment_id}";
    let _ = reset_peak_rss(pid);
    let before = sim_stats(sim_addr).await;
    let rule = pb::TagRule {
        tag: "Customers".into(),
        condition: Some(pb::TagCondition {
            kind: Some(pb::tag_condition::Kind::OrdersAtLeast(1)),
        }),
    };
    let start = Instant::now();
    pb::settings_service_client::SettingsServiceClient::new(channel.clone())
        .update_settings(with_token(tonic::Request::new(pb::UpdateSettingsRequest {
            tag_rules: Some(pb::TagRules { rules: vec![rule] }),
            ..Default::default()
        })))
        .await
        .unwrap();
    // 500 emails a request: done when that many bulk requests have come.
    let needed = customers.div_ceil(500);
    let after = loop {
        let now = sim_stats(sim_addr).await;
        if now.count(BULK) - before.count(BULK) >= needed {
            break now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "the tag pass did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = start.elapsed().as_secs_f64();
    for (route, n) in &after.requests {
        let more = n - before.requests.get(route).copied().unwrap_or(0);
        if more > 0 && route != BULK {
            println!("           {more} × {route}");
        }
    }
    println!(
        "tag rule:  {secs:>8.1} s  {customers} customers tagged in {} bulk requests ({} requests in all)   mcsync peak RSS in it {} MiB",
        after.count(BULK) - before.count(BULK),
        after.total() - before.total(),
        rss_mib(pid, "VmHWM:")
    );
}
