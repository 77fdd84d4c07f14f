//! Fault benchmark: what a Mailchimp that fails costs, and that it never costs a repeated create.
//! A shop of 2,000 products, 1,000 customers and 2,000 orders is uploaded by a real
//! `mcsync serve` process, in direct and in batch mode, twice each:
//! - clean: the simulator answers every request;
//! - faults: 10 % of requests and batch operations get 429, 500 or 503, half of the 500s and
//!   503s on writes after the write happened, and the process is SIGKILLed three times
//!   mid-upload (at 20 %, 45 % and 70 % of the shop in Mailchimp) and restarted.
//!
//! Run it with:
//!
//!     cargo bench --bench faults
//!     FAULTS_SCALE=0.2 cargo bench --bench faults     # a fifth of the shop
//!
//! Prints, per run: time, requests, batch operations, creates sent, repeated creates (creates
//! Mailchimp refused as "already exists"), faults injected and writes failed after the fact.

mod common;

use std::time::{Duration, Instant};

use common::{Shop, prepare, serve_binary, with_token};
use mcsync::proto::v1::{self as pb, sync_service_client::SyncServiceClient};
use mcsync::sim::{self, SimConfig, SimHandle, SimStats};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const LATENCY: Duration = Duration::from_millis(5);

fn scale() -> f64 {
    std::env::var("FAULTS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0)
}

struct Run {
    seconds: f64,
    stats: SimStats,
    kills: usize,
}

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn in_mailchimp(sim: &SimHandle) -> u64 {
    sim.stats()
        .stores
        .values()
        .map(|c| c["products"] + c["customers"] + c["orders"])
        .sum()
}

async fn run(shop: &Shop, mode: pb::UploadMode, faults: bool) -> Run {
    let sim = sim::start(
        SimConfig {
            latency: LATENCY,
            fault_after_write: 0.5,
            ..SimConfig::default()
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = serve_binary(dir.path(), Some(&sim.base_url()));
    prepare(&channel(&addr).await, shop.records()).await;
    let before = sim.stats();
    if faults {
        sim.set_fail_rate(0.1);
    }
    let start = Instant::now();
    let mut stream = SyncServiceClient::new(channel(&addr).await)
        .upload_store_data(with_token(tonic::Request::new(pb::UploadRequest {
            mode: mode as i32,
            ..Default::default()
        })))
        .await
        .unwrap()
        .into_inner();
    let job_id = stream.next().await.unwrap().unwrap().job_id;
    let mut addr = addr;
    let mut kills = 0;
    if faults {
        for share in [0.20, 0.45, 0.70] {
            let target = (shop.total() as f64 * share) as u64;
            while in_mailchimp(&sim) < target {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            server.kill().unwrap(); // SIGKILL
            server.wait().unwrap();
            kills += 1;
            (server, addr) = serve_binary(dir.path(), Some(&sim.base_url()));
        }
    }
    drop(stream);
    let mut watcher = SyncServiceClient::new(channel(&addr).await)
        .watch_job(with_token(tonic::Request::new(pb::WatchJobRequest {
            job_id,
        })))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(m) = watcher.next().await {
        last = Some(m.unwrap());
    }
    let seconds = start.elapsed().as_secs_f64();
    let job = last.unwrap();
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(
        in_mailchimp(&sim),
        shop.total(),
        "every record in Mailchimp"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let mut stats = sim.stats();
    for (route, n) in &before.requests {
        *stats.requests.get_mut(route).unwrap() -= n;
    }
    sim.shutdown().await;
    Run {
        seconds,
        stats,
        kills,
    }
}

fn report(name: &str, r: &Run) {
    let s = &r.stats;
    let requests: u64 = s.requests.values().sum();
    let operations: u64 = s.batch_operations.values().sum();
    let creates: u64 = s
        .requests
        .iter()
        .chain(&s.batch_operations)
        .filter(|(route, _)| route.starts_with("POST /3.0/ecommerce"))
        .map(|(_, n)| n)
        .sum();
    let faults: u64 = [429, 500, 503]
        .iter()
        .filter_map(|c| s.rejected.get(c))
        .sum();
    println!(
        "{name:<16} {:>6.1} s  {:>2} kills  {requests:>6} requests  {operations:>6} batch ops  {creates:>6} creates  {:>3} repeated  {faults:>5} faults ({} after the write)",
        r.seconds, r.kills, s.duplicate_creates, s.faults_after_write,
    );
}

#[tokio::main]
async fn main() {
    let k = scale();
    let shop = Shop {
        products: (2_000.0 * k) as u64,
        customers: (1_000.0 * k) as u64,
        orders: (2_000.0 * k) as u64,
    };
    println!("{}", shop.banner(LATENCY));
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let name = if mode == pb::UploadMode::Direct {
            "direct"
        } else {
            "batch"
        };
        report(&format!("{name}, clean"), &run(&shop, mode, false).await);
        report(&format!("{name}, faults"), &run(&shop, mode, true).await);
    }
}
