//! Ingest benchmark: N mixed records through PushRecords from this process to a separate
//! `mcsync serve` process, against a raw-sled baseline with the same durability.
//!
//!     cargo bench --bench ingest                 # 1,000,000 records
//!     INGEST_RECORDS=100000 cargo bench --bench ingest
//!
//! Prints records/s for both paths, their ratio, and the server's peak RSS (VmHWM).

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

#[tokio::main]
async fn main() {
    let n = records();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = common::serve_binary(dir.path(), None);

    println!("generating {n} mixed records ...");
    let batch: Vec<_> = (0..n).map(testdata::mixed).collect();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token: tonic::metadata::MetadataValue<_> = format!("Bearer {TOKEN}").parse().unwrap();
    let mut client =
        StoreDataServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            req.metadata_mut().insert("authorization", token.clone());
            Ok(req)
        });

    let start = Instant::now();
    let summary = client
        .push_records(tokio_stream::iter(batch))
        .await
        .expect("push")
        .into_inner();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(
        summary.accepted as u64, n,
        "every record accepted: {summary:?}"
    );
    let grpc_rate = n as f64 / elapsed;
    let rss = common::rss_mib(server.id(), "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();

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
        "breakdown: validation alone {validate_rate:.0} records/s; store write alone {store_rate:.0} records/s"
    );
}
