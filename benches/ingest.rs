//! Ingest benchmark: N mixed records through PushRecords from this process to a separate
//! `mcsync serve` process, against a raw-sled baseline with the same durability.
//!
//!     cargo bench --bench ingest                 # 1,000,000 records
//!     INGEST_RECORDS=100000 cargo bench --bench ingest
//!     INGEST_PREFILL=1000000 cargo bench --bench ingest   # at scale, see below
//!
//! Prints records/s for both paths, their ratio, and the server's peak RSS (VmHWM).
//!
//! At scale (`INGEST_PREFILL=M`): N orders into an empty mirror, then, on a second server, the
//! same N orders into a mirror that first got M mixed records (other ids): records/s and peak
//! RSS of each, and how much the larger mirror costs.

mod common;

use std::time::Instant;

use common::TOKEN;
use mcsync::proto::v1::store_data_service_client::StoreDataServiceClient;
use mcsync::testdata;

fn records() -> u64 {
    std::env::var("INGEST_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The same records, normalised and encoded as the server stores them, inserted straight into
/// sled in batches of 1,024 with a flush after each batch (what the server's group commit does
/// at the least).
fn raw_sled(n: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(32 * 1024 * 1024)
        .open()
        .unwrap();
    let tree = db.open_tree("records").unwrap();
    let encoded: Vec<(String, Vec<u8>)> = (0..n)
        .map(
            |i| match mcsync::domain::record::parse(testdata::mixed(i)).unwrap() {
                mcsync::domain::record::Change::Upsert(v) => {
                    (format!("{}/{}", v.kind().name(), v.id()), v.encode())
                }
                _ => unreachable!(),
            },
        )
        .collect();
    let start = Instant::now();
    for chunk in encoded.chunks(1024) {
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            batch.insert(k.as_bytes(), v.as_slice());
        }
        tree.apply_batch(batch).unwrap();
        db.flush().unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Where the server's time goes: validation alone, and the store's transactional write
/// (records + outbox, group of 1,024, one flush per group) alone.
fn breakdown(n: u64) -> (f64, f64) {
    let records: Vec<_> = (0..n).map(testdata::mixed).collect();
    let start = Instant::now();
    let changes: Vec<_> = records
        .into_iter()
        .map(|r| mcsync::domain::record::parse(r).unwrap())
        .collect();
    let validate_rate = n as f64 / start.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().unwrap();
    let store = mcsync::store::Store::open(dir.path()).unwrap();
    let start = Instant::now();
    for chunk in changes.chunks(1024) {
        store.apply_changes(chunk).unwrap();
        store.flush_blocking().unwrap();
    }
    (validate_rate, n as f64 / start.elapsed().as_secs_f64())
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn prefill() -> Option<u64> {
    std::env::var("INGEST_PREFILL")
        .ok()
        .and_then(|v| v.parse().ok())
}

type Auth = Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;
type Client = StoreDataServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Auth>,
>;

async fn client(addr: &str) -> Client {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token: tonic::metadata::MetadataValue<_> = format!("Bearer {TOKEN}").parse().unwrap();
    let auth: Auth = Box::new(move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", token.clone());
        Ok(req)
    });
    StoreDataServiceClient::with_interceptor(channel, auth)
}

/// Pushes `records` in one stream; records/s and seconds.
async fn push(client: &mut Client, records: Vec<mcsync::proto::v1::Record>) -> (f64, f64) {
    let n = records.len() as u64;
    let start = Instant::now();
    let summary = client
        .push_records(tokio_stream::iter(records))
        .await
        .expect("push")
        .into_inner();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(
        summary.accepted as u64, n,
        "every record accepted: {summary:?}"
    );
    (n as f64 / elapsed, elapsed)
}

/// Order `i` as a record.
fn order(i: u64) -> mcsync::proto::v1::Record {
    testdata::record(mcsync::proto::v1::record::Record::Order(testdata::order(i)))
}

/// N orders into an empty mirror and into one already holding `m` records.
async fn at_scale(n: u64, m: u64) {
    println!("{n} orders into an empty mirror ...");
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = common::serve_binary(dir.path(), None);
    let server = common::KillOnDrop(server);
    let (empty_rate, empty_secs) =
        push(&mut client(&addr).await, (0..n).map(order).collect()).await;
    let empty_rss = common::rss_mib(server.0.id(), "VmHWM:");
    drop(server);

    println!("{m} mixed records first, then the same {n} orders ...");
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = common::serve_binary(dir.path(), None);
    let server = common::KillOnDrop(server);
    let mut c = client(&addr).await;
    // Other ids than the orders': mixed records from index 10^9 on.
    for part in (0..m).collect::<Vec<_>>().chunks(250_000) {
        let records = part
            .iter()
            .map(|i| testdata::mixed(1_000_000_000 + i))
            .collect();
        push(&mut c, records).await;
    }
    let after_prefill = common::rss_mib(server.0.id(), "VmHWM:");
    let (full_rate, full_secs) = push(&mut c, (0..n).map(order).collect()).await;
    let full_rss = common::rss_mib(server.0.id(), "VmHWM:");

    println!(
        "\norders into an empty mirror:      {empty_rate:>8.0} records/s ({empty_secs:.1} s), peak RSS {empty_rss} MiB"
    );
    println!(
        "orders into a mirror of {m}: {full_rate:>8.0} records/s ({full_secs:.1} s), peak RSS {full_rss} MiB (after the prefill: {after_prefill} MiB)"
    );
    println!(
        "larger mirror: throughput {:+.0} %, peak RSS {:+.0} %",
        100.0 * (full_rate / empty_rate - 1.0),
        100.0 * (full_rss as f64 / empty_rss as f64 - 1.0)
    );
}

#[tokio::main]
async fn main() {
    let n = records();
    if let Some(m) = prefill() {
        at_scale(n, m).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = common::serve_binary(dir.path(), None);

    println!("generating {n} mixed records ...");
    let batch: Vec<_> = (0..n).map(testdata::mixed).collect();
    let (grpc_rate, elapsed) = push(&mut client(&addr).await, batch).await;
    let rss = common::rss_mib(server.id(), "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();
    // What a shop's mirror takes on disk (docs/operators.md sizes volumes by it).
    let disk = dir_bytes(dir.path()) as f64 / (1024.0 * 1024.0);

    println!("raw sled baseline ...");
    let sled_rate = raw_sled(n);

    let (validate_rate, store_rate) = breakdown(n);

    println!("\nrecords:            {n}");
    println!("gRPC PushRecords:   {grpc_rate:>10.0} records/s  ({elapsed:.2} s)");
    println!("raw sled baseline:  {sled_rate:>10.0} records/s");
    println!(
        "gRPC / raw sled:    {:>10.0} %",
        100.0 * grpc_rate / sled_rate
    );
    println!("server peak RSS:    {rss:>10} MiB");
    println!(
        "data dir on disk:   {disk:>10.0} MiB  ({:.0} bytes a record)",
        disk * 1024.0 * 1024.0 / n as f64
    );
    println!(
        "breakdown: validation alone {validate_rate:.0} records/s; store write alone {store_rate:.0} records/s"
    );
}
