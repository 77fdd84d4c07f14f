//! The crash-torture harness (issue 29), shared by `cargo bench --bench torture` and the short
//! round in the test suite: `mcsync serve` and `mcsync sim` (with faults) as processes of their
//! own; each round a writer feeds PushRecords and Upsert while live sync runs (and, every few
//! rounds, an upload in direct or batch mode), mcsync is SIGKILLed at a random moment and
//! started again, and what was acknowledged is checked. At the end: live sync drains, every
//! acknowledged change is in the simulator, then a final upload, and the simulator holds the
//! shop with no create sent twice.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tonic::transport::Channel;

const TOKEN: &str = "torture-token";

/// What a run does.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `mcsync` binary.
    pub bin: PathBuf,
    pub rounds: usize,
    /// Records in the mirror before the first round (a shop-like mix).
    pub records: u64,
    /// Products and customers the writer changes (the first of each).
    pub hot: u64,
    /// The simulator's share of failed requests (429, 500, 503; half of the 5xx after the write).
    pub fail_rate: f64,
    /// An upload is in flight at the kill every this many rounds (direct and batch in turn).
    pub upload_every: usize,
    /// Changes pushed at once before one extra kill, to measure a restart with that outbox.
    pub backlog: u64,
    pub seed: u64,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub rounds: usize,
    /// Writes mcsync acknowledged (records in PushRecords summaries, Upserts answered).
    pub acknowledged: u64,
    /// Acknowledged writes missing or changed after a restart: must be 0.
    pub lost: Vec<String>,
    /// Creates the simulator refused as already there.
    pub repeated_creates: u64,
    /// The same, by kind.
    pub repeated_by_kind: std::collections::BTreeMap<String, u64>,
    /// From spawning mcsync to health SERVING, after each SIGKILL.
    pub restarts: Vec<Duration>,
    /// The restart after the backlog, and the outbox it found.
    pub backlog_restart: Option<(Duration, i64)>,
    /// Uploads in flight at a kill that ended (resumed) as succeeded.
    pub uploads_resumed: usize,
}

impl Report {
    pub fn restart_percentile(&self, q: f64) -> Duration {
        let mut sorted = self.restarts.clone();
        sorted.sort();
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    }
}

struct Sim {
    child: Child,
    url: String,
    addr: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Server {
    child: Child,
    channel: Channel,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req
}

fn start_sim(s: &Settings) -> Sim {
    let mut child = Command::new(&s.bin)
        .args(["sim", "--listen", "127.0.0.1:0", "--log-level", "warn"])
        .args(["--latency-ms", "2", "--fault-after-write", "0.5"])
        .args(["--fail-rate", &s.fail_rate.to_string()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mcsync sim");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (url, addr) = loop {
        let line = lines.next().expect("simulator output").unwrap();
        if let Some(rest) = line.strip_prefix("Mailchimp simulator: ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            let addr = rest.split("http://").nth(1).unwrap();
            break (url, addr.split('/').next().unwrap().to_owned());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Sim { child, url, addr }
}

/// Starts mcsync on `data` and waits until its health says SERVING: the server, and how long
/// that took from the spawn.
async fn start_server(s: &Settings, data: &Path, sim: &Sim) -> (Server, Duration) {
    let started = Instant::now();
    let mut child = Command::new(&s.bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--mailchimp-url", &sim.url, "--data-dir"])
        .arg(data)
        .env("MCSYNC_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcsync serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::task::spawn_blocking(move || {
        let addr = loop {
            let line = lines.next().expect("server output").unwrap();
            if line.contains("mcsync listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                break v["addr"].as_str().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        addr
    })
    .await
    .unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(channel.clone());
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.is_ok_and(|s| s == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (Server { child, channel }, started.elapsed())
}

fn records(c: &Channel) -> pb::store_data_service_client::StoreDataServiceClient<Channel> {
    pb::store_data_service_client::StoreDataServiceClient::new(c.clone())
        .max_decoding_message_size(64 << 20)
}

fn sync(c: &Channel) -> pb::sync_service_client::SyncServiceClient<Channel> {
    pb::sync_service_client::SyncServiceClient::new(c.clone())
}

type Key = (i32, String);

fn key_of(r: &pb::Record) -> Key {
    match r.record.as_ref().unwrap() {
        R::Product(p) => (pb::RecordKind::Product as i32, p.id.clone()),
        R::Customer(c) => (pb::RecordKind::Customer as i32, c.id.clone()),
        other => panic!("the writer changes products and customers only: {other:?}"),
    }
}

/// The `n`-th change of a round: a hot product's title or a hot customer's first name.
fn change(s: &Settings, rng: &mut fastrand::Rng, round: usize, n: u64) -> pb::Record {
    let i = rng.u64(0..s.hot);
    let mark = format!("r{round}-{n}");
    if rng.bool() {
        let mut p = testdata::product(i);
        p.title = mark;
        testdata::record(R::Product(p))
    } else {
        let mut c = testdata::customer(i);
        c.first_name = mark;
        testdata::record(R::Customer(c))
    }
}

/// What the writer knows: each key's last acknowledged value, and the value of a write that
/// was in flight at the kill (stored or not: either is right).
#[derive(Default)]
struct Ledger {
    acked: HashMap<Key, pb::Record>,
    maybe: HashMap<Key, Vec<pb::Record>>,
    count: u64,
}

/// Writes until the server dies (or `until`): batches through PushRecords and single Upserts.
async fn write(s: &Settings, channel: Channel, round: usize, ledger: &mut Ledger, until: Instant) {
    let mut rng = fastrand::Rng::with_seed(s.seed ^ (round as u64).wrapping_mul(0x9e37));
    let mut n = 0;
    while Instant::now() < until {
        let batch: Vec<pb::Record> = if rng.u8(0..4) == 0 {
            vec![change(s, &mut rng, round, n)]
        } else {
            (0..rng.u64(1..200))
                .map(|k| change(s, &mut rng, round, n + k))
                .collect()
        };
        n += batch.len() as u64;
        for r in &batch {
            ledger.maybe.entry(key_of(r)).or_default().push(r.clone());
        }
        let acked = if batch.len() == 1 {
            let mut client = records(&channel);
            let call = client.upsert(authed(batch[0].clone()));
            tokio::time::timeout_at(until.into(), call)
                .await
                .map(|r| r.is_ok())
                .unwrap_or(false)
        } else {
            let mut client = records(&channel);
            let call = client.push_records(authed(tokio_stream::iter(batch.clone())));
            tokio::time::timeout_at(until.into(), call)
                .await
                .map(|r| r.is_ok_and(|s| s.into_inner().rejected == 0))
                .unwrap_or(false)
        };
        if !acked {
            return; // the server died (or the round ended) with this batch in flight
        }
        for r in batch {
            let key = key_of(&r);
            ledger.maybe.remove(&key);
            ledger.acked.insert(key, r);
            ledger.count += 1;
        }
    }
}

/// Every acknowledged key reads back as acknowledged (or as a write in flight at the kill,
/// which then counts as acknowledged); what does not is a loss.
async fn verify(channel: &Channel, ledger: &mut Ledger, round: usize, lost: &mut Vec<String>) {
    let keys: Vec<Key> = ledger
        .acked
        .keys()
        .chain(ledger.maybe.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for key in keys {
        let stored = records(channel)
            .get_record(authed(pb::RecordKey {
                kind: key.0,
                id: key.1.clone(),
            }))
            .await
            .map(|r| r.into_inner());
        let maybe = ledger.maybe.remove(&key).unwrap_or_default();
        match (&stored, ledger.acked.get(&key)) {
            (Ok(r), _) if maybe.contains(r) => {
                ledger.acked.insert(key, r.clone());
            }
            (Ok(r), Some(acked)) if r == acked => {}
            (Ok(_), None) => {} // never acknowledged, and the in-flight write did not land
            (stored, acked) => lost.push(format!(
                "round {round}: {key:?} acknowledged as {acked:?}, stored {stored:?}"
            )),
        }
    }
}

/// Waits until live sync has sent everything and no job runs.
async fn quiet(channel: &Channel) {
    loop {
        let outbox = records(channel)
            .count_records(authed(pb::CountRecordsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .outbox_pending;
        let running = sync(channel)
            .list_jobs(authed(pb::ListJobsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .jobs
            .iter()
            .any(|j| j.state() == pb::JobState::Running);
        if outbox == 0 && !running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn upload_to_end(channel: &Channel, mode: pb::UploadMode) -> pb::JobProgress {
    use tokio_stream::StreamExt;
    let mut stream = sync(channel)
        .upload_store_data(authed(pb::UploadRequest {
            mode: mode as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(m) = stream.next().await {
        last = Some(m.unwrap());
    }
    last.unwrap()
}

async fn connect(channel: &Channel) {
    use pb::list_service_client::ListServiceClient;
    use pb::settings_service_client::SettingsServiceClient;
    let mut settings = SettingsServiceClient::new(channel.clone());
    settings
        .connect(authed(pb::ConnectRequest {
            api_key: mcsync::sim::DEMO_KEY.into(),
        }))
        .await
        .unwrap();
    settings
        .update_settings(authed(pb::UpdateSettingsRequest {
            shop: Some(pb::ShopIdentityUpdate {
                shop_url: Some("https://torture.example.com".into()),
                company_name: Some("Torture".into()),
                currency_code: Some("USD".into()),
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .unwrap();
    let mut lists = ListServiceClient::new(channel.clone());
    let first = lists
        .refresh_lists(authed(pb::RefreshListsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .lists[0]
        .id
        .clone();
    lists
        .select_lists(authed(pb::SelectListsRequest {
            list_ids: vec![first],
        }))
        .await
        .unwrap();
}

/// A product's title as the simulator holds it (reads retried through its faults).
async fn title_in_mailchimp(sim: &Sim, store: &str, kind: &str, id: &str) -> Option<String> {
    let http = reqwest::Client::new();
    for _ in 0..50 {
        let answer = http
            .get(format!("{}/ecommerce/stores/{store}/{kind}/{id}", sim.url))
            .basic_auth("torture", Some(mcsync::sim::DEMO_KEY))
            .send()
            .await;
        let Ok(answer) = answer else { continue };
        if answer.status().is_server_error() || answer.status().as_u16() == 429 {
            continue;
        }
        let v: serde_json::Value = answer.json().await.ok()?;
        let field = if kind == "products" {
            "title"
        } else {
            "first_name"
        };
        return v[field].as_str().map(str::to_owned);
    }
    None
}

async fn sim_stats(sim: &Sim) -> mcsync::sim::SimStats {
    reqwest::get(format!("http://{}/__sim/stats", sim.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn run(s: Settings) -> Report {
    mcsync::mailchimp::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sim = start_sim(&s);
    let mut report = Report::default();
    let (mut server, _) = start_server(&s, &data, &sim).await;
    connect(&server.channel).await;
    let shop = (0..s.hot).flat_map(|i| {
        [
            testdata::record(R::Product(testdata::product(i))),
            testdata::record(R::Customer(testdata::customer(i))),
        ]
    });
    let rest = (2 * s.hot..s.records.max(2 * s.hot)).map(testdata::mixed);
    let summary = records(&server.channel)
        .push_records(authed(tokio_stream::iter(shop.chain(rest))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rejected, 0, "{summary:?}");
    let first = upload_to_end(&server.channel, pb::UploadMode::Auto).await;
    assert_eq!(first.state(), pb::JobState::Succeeded, "{}", first.message);

    let mut ledger = Ledger::default();
    let mut rng = fastrand::Rng::with_seed(s.seed);
    let mut jobs_in_flight: Vec<String> = Vec::new();
    for round in 1..=s.rounds {
        let upload = s.upload_every > 0 && round % s.upload_every == 0;
        if upload {
            let mode = if round / s.upload_every % 2 == 0 {
                pb::UploadMode::Direct
            } else {
                pb::UploadMode::Batch
            };
            let started = sync(&server.channel)
                .upload_store_data(authed(pb::UploadRequest {
                    mode: mode as i32,
                    ..Default::default()
                }))
                .await;
            if let Ok(stream) = started {
                let mut stream = stream.into_inner();
                if let Ok(Some(first)) = stream.message().await {
                    jobs_in_flight.push(first.job_id);
                }
            }
        }
        let kill_at = Instant::now() + Duration::from_millis(rng.u64(50..1500));
        write(&s, server.channel.clone(), round, &mut ledger, kill_at).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        let (restarted, took) = start_server(&s, &data, &sim).await;
        server = restarted;
        report.restarts.push(took);
        verify(&server.channel, &mut ledger, round, &mut report.lost).await;
        report.rounds = round;
    }

    if s.backlog > 0 {
        let backlog: Vec<pb::Record> = (0..s.backlog)
            .map(|i| {
                let mut p = testdata::product(i % s.hot);
                p.title = format!("backlog-{i}");
                testdata::record(R::Product(p))
            })
            .collect();
        for chunk in backlog.chunks(50_000) {
            records(&server.channel)
                .push_records(authed(tokio_stream::iter(chunk.to_vec())))
                .await
                .unwrap();
        }
        for r in backlog {
            ledger.acked.insert(key_of(&r), r);
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let (restarted, took) = start_server(&s, &data, &sim).await;
        server = restarted;
        let outbox = records(&server.channel)
            .count_records(authed(pb::CountRecordsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .outbox_pending;
        report.backlog_restart = Some((took, outbox));
        verify(&server.channel, &mut ledger, s.rounds + 1, &mut report.lost).await;
    }

    // Live sync delivers every acknowledged change by itself (no upload, which would hide an
    // outbox that lost one).
    quiet(&server.channel).await;
    let status = loop {
        // Asking Mailchimp whether a store syncs meets the simulator's faults too.
        match sync(&server.channel)
            .get_sync_status(authed(pb::GetSyncStatusRequest {}))
            .await
        {
            Ok(status) if status.get_ref().degraded.is_empty() => break status.into_inner(),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let store = status.stores[0].store_id.clone();
    assert!(status.stores.iter().all(|s| !s.is_syncing), "{status:?}");
    let jobs = sync(&server.channel)
        .list_jobs(authed(pb::ListJobsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .jobs;
    for id in &jobs_in_flight {
        let job = jobs.iter().find(|j| &j.job_id == id);
        match job {
            Some(j) if j.state() == pb::JobState::Succeeded => report.uploads_resumed += 1,
            other => report.lost.push(format!("upload {id} ended as {other:?}")),
        }
    }
    for (key, record) in &ledger.acked {
        let (kind, want) = match record.record.as_ref().unwrap() {
            R::Product(p) => ("products", p.title.clone()),
            R::Customer(c) => ("customers", c.first_name.clone()),
            _ => unreachable!(),
        };
        let held = title_in_mailchimp(&sim, &store, kind, &key.1).await;
        if held.as_deref() != Some(want.as_str()) {
            report.lost.push(format!(
                "{key:?}: acknowledged as {want:?}, Mailchimp holds {held:?}"
            ));
        }
    }
    let last = upload_to_end(&server.channel, pb::UploadMode::Auto).await;
    assert_eq!(last.state(), pb::JobState::Succeeded, "{}", last.message);
    let stats = sim_stats(&sim).await;
    report.repeated_creates = stats.duplicate_creates;
    report.repeated_by_kind = stats.duplicate_creates_by_kind;
    report.acknowledged = ledger.count + s.backlog;
    report
}
