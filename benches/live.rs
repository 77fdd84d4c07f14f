//! Live sync latency: from an acknowledged `Upsert` of an order to the simulator accepting it,
//! at 100 and at 1,000 new orders per second (simulator at 0 ms latency).
//!
//!     cargo bench --bench live
//!     LIVE_SECONDS=3 cargo bench --bench live     # shorter runs
//!
//! Reports p50, p99 and max latency per rate, and the outbox backlog (changes not yet sent)
//! sampled every second, to show whether it grows.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Bench, with_token};
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;

const PRODUCTS: u64 = 200;

fn seconds() -> u64 {
    std::env::var("LIVE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn backlog(bench: &Bench) -> usize {
    bench.server.app.store().outbox_len().unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// An order of the shop's products, id `<run><n>`.
fn order(run: u64, n: u64) -> pb::Record {
    let mut o = testdata::order(n);
    o.id = format!("{}", run * 1_000_000 + n);
    o.cart_id.clear();
    for (k, line) in o.lines.iter_mut().enumerate() {
        let p = (n + k as u64) % PRODUCTS;
        line.product_id = format!("p{p}");
        line.variant_id = format!("p{p}-42");
    }
    testdata::record(R::Order(o))
}

async fn run_at(bench: &Bench, run: u64, rate: u64, secs: u64) {
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut writes = bench.sim.watch_writes();
    let sink = arrivals.clone();
    let watcher = tokio::spawn(async move {
        while let Some(w) = writes.recv().await {
            if w.method == "POST" && w.template.ends_with("/orders") {
                sink.lock().unwrap().entry(w.id).or_insert(w.at);
            }
        }
    });

    let total = rate * secs;
    // Per order: when the Upsert call started, and when its acknowledgement came back.
    let acks: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::default();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate as u32);
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut next_sample = started + Duration::from_secs(1);
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..total {
        ticker.tick().await;
        let mut client = bench.records();
        let acks = acks.clone();
        sends.spawn(async move {
            let record = order(run, n);
            let id = match &record.record {
                Some(R::Order(o)) => o.id.clone(),
                _ => unreachable!(),
            };
            let called = Instant::now();
            client
                .upsert(with_token(tonic::Request::new(record)))
                .await
                .expect("upsert");
            acks.lock().unwrap().insert(id, (called, Instant::now()));
        });
        if Instant::now() >= next_sample {
            samples.push(backlog(bench));
            next_sample += Duration::from_secs(1);
        }
    }
    while sends.join_next().await.is_some() {}
    let sent_in = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.lock().unwrap().len() < total as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained_in = started.elapsed();
    watcher.abort();

    let acks = acks.lock().unwrap();
    let arrivals = arrivals.lock().unwrap();
    // After the acknowledgement (0 when Mailchimp had it before the shop heard back), and
    // from the start of the call (the durable write included).
    let mut after_ack = Vec::new();
    let mut after_call = Vec::new();
    let mut before_ack = 0;
    for (id, (called, acked)) in acks.iter() {
        if let Some(at) = arrivals.get(id) {
            after_ack.push(at.saturating_duration_since(*acked));
            after_call.push(at.saturating_duration_since(*called));
            before_ack += usize::from(at < acked);
        }
    }
    after_ack.sort();
    after_call.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{rate:>5}/s for {secs} s: {total} orders sent in {:.1} s, {} arrived (all by {:.1} s), {before_ack} of them before their acknowledgement",
        sent_in.as_secs_f64(),
        after_ack.len(),
        drained_in.as_secs_f64(),
    );
    println!(
        "        acknowledged -> in Mailchimp: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&after_ack, 0.50)),
        ms(percentile(&after_ack, 0.99)),
        ms(after_ack.last().copied().unwrap_or_default()),
    );
    println!(
        "        Upsert called -> in Mailchimp: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&after_call, 0.50)),
        ms(percentile(&after_call, 0.99)),
        ms(after_call.last().copied().unwrap_or_default()),
    );
    println!("        outbox backlog, sampled each second: {samples:?}");
}

#[tokio::main]
async fn main() {
    let products: Vec<pb::Record> = (0..PRODUCTS)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    let bench = Bench::start(Duration::ZERO, products).await;
    bench.upload(pb::UploadMode::Direct).await;
    let secs = seconds();
    println!("simulator at 0 ms latency; {PRODUCTS} products uploaded; one store live");
    run_at(&bench, 1, 100, secs).await;
    run_at(&bench, 2, 1_000, secs).await;
    bench.stop().await;
}
