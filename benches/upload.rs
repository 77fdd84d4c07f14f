//! Upload benchmark: 10,000 products, 10,000 customers and 20,000 orders to the simulator at
//! 50 ms latency with 10 connections, in direct mode and in batch mode (each on a fresh
//! server and simulator), then a second, unchanged upload.
//!
//!     cargo bench --bench upload
//!     UPLOAD_SCALE=0.1 cargo bench --bench upload    # a tenth of the records, a quick look
//!     UPLOAD_SCALE=0.015 UPLOAD_LATENCY_MS=200 UPLOAD_MODES=direct cargo bench --bench upload
//!                                                    # a small shop's first upload
//!
//! Direct mode's ceiling is 10 connections / latency (200 requests/s at 50 ms).

mod common;

use std::time::Duration;

use common::{Bench, Shop};
use mcsync::proto::v1 as pb;
use mcsync::sim::SimStats;

/// The simulator's latency per request (`UPLOAD_LATENCY_MS`, 50 by default).
fn latency() -> Duration {
    Duration::from_millis(
        std::env::var("UPLOAD_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    )
}

/// Whether batch mode runs too (`UPLOAD_MODES=direct` leaves it out).
fn with_batch() -> bool {
    std::env::var("UPLOAD_MODES").map_or(true, |m| m.contains("batch"))
}

fn scale() -> f64 {
    std::env::var("UPLOAD_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
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
    /// Every request the simulator saw during the upload (reads, audience members too).
    all_requests: u64,
    entity_requests: u64,
    batch_operations: u64,
    batches: u64,
    /// The simulator's mean answer time over the upload's requests (ms).
    mean_answer_ms: f64,
    job: pb::JobProgress,
}

/// An upload on `bench`, with what the simulator saw of it.
async fn upload(bench: &Bench, mode: pb::UploadMode) -> Run {
    bench.quiet().await;
    let before = bench.sim.stats();
    let (job, seconds) = bench.upload(mode).await;
    let after = bench.sim.stats();
    let (d0, b0) = entity_requests(&before);
    let (d1, b1) = entity_requests(&after);
    let all = |s: &SimStats| s.requests.values().sum::<u64>();
    let all_requests = all(&after) - all(&before);
    Run {
        seconds,
        all_requests,
        mean_answer_ms: (after.answer_micros - before.answer_micros) as f64
            / all_requests.max(1) as f64
            / 1000.0,
        entity_requests: d1 - d0,
        batch_operations: b1 - b0,
        batches: after.count("POST /3.0/batches") - before.count("POST /3.0/batches"),
        job,
    }
}

fn report(name: &str, shop: &Shop, run: &Run) {
    let rate = shop.total() as f64 / run.seconds;
    let failed: i64 = run.job.phases.iter().map(|p| p.failed).sum();
    println!(
        "{name:<22} {:>8.1} s  {rate:>7.0} records/s  {:>6} entity requests ({:.0}/s)  {:>6} requests in all ({:.0}/s)  {:>6} batch operations in {} batches  {failed} refused",
        run.seconds,
        run.entity_requests,
        run.entity_requests as f64 / run.seconds,
        run.all_requests,
        run.all_requests as f64 / run.seconds,
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
    let latency = latency();
    println!("{}", shop.banner(latency));

    let direct = Bench::start(latency, shop.records()).await;
    let first = upload(&direct, pb::UploadMode::Direct).await;
    report("direct", &shop, &first);
    let limit = 10.0 / latency.as_secs_f64();
    let efficiency = first.entity_requests as f64 / first.seconds / limit;
    let unchanged_direct = upload(&direct, pb::UploadMode::Direct).await;
    report("direct, unchanged", &shop, &unchanged_direct);
    direct.stop().await;
    println!(
        "direct efficiency:  {:.0} % of the {limit:.0} requests/s limit in entity requests, {:.0} % in all requests (double opt-in asks consenting customers through the same 10 connections)",
        100.0 * efficiency,
        100.0 * first.all_requests as f64 / first.seconds / limit
    );
    println!(
        "simulator:          answered in {:.2} ms on average at {} ms latency",
        first.mean_answer_ms,
        latency.as_millis()
    );
    if !with_batch() {
        return;
    }

    let batch = Bench::start(latency, shop.records()).await;
    let batched = upload(&batch, pb::UploadMode::Batch).await;
    report("batch", &shop, &batched);
    let unchanged_batch = upload(&batch, pb::UploadMode::Batch).await;
    report("batch, unchanged", &shop, &unchanged_batch);
    batch.stop().await;

    println!();
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
    let reads: i64 = unchanged_direct
        .job
        .reconciliations
        .iter()
        .map(|r| r.reads)
        .sum();
    println!(
        "reconciliation:     {reads} id reads for {} records ({:.1} per 10,000)",
        shop.total(),
        reads as f64 * 10_000.0 / shop.total() as f64
    );
}
