//! A shop ready to upload: settings, audiences, a small record set, and what the simulator saw.

use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tokio_stream::StreamExt;

use super::*;

/// Connected, shop identity set, the first two audiences selected.
pub async fn ready(app: &TestApp, abandoned_carts: bool) -> Vec<String> {
    ready_at(app, &app.sim, abandoned_carts).await
}

/// [`ready`] for any server, against `sim`.
pub async fn ready_at(app: &impl Clients, sim: &SimHandle, abandoned_carts: bool) -> Vec<String> {
    app.connect(KEY_A).await;
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let lists = sim.list_ids(KEY_A)[..2].to_vec();
    app.lists()
        .select_lists(pb::SelectListsRequest {
            list_ids: lists.clone(),
        })
        .await
        .unwrap();
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            abandoned_carts: Some(abandoned_carts),
            shop: Some(pb::ShopIdentityUpdate {
                shop_url: Some("https://shop.example.com".into()),
                company_name: Some("Acme".into()),
                currency_code: Some("USD".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    lists
}

/// 30 products, 10 customers, 10 orders (one with products missing from the mirror), 5 carts,
/// 3 coupons.
pub async fn small_shop(app: &impl Clients) {
    let mut records: Vec<pb::Record> = (0..30)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    records.extend((0..10).map(|i| testdata::record(R::Customer(testdata::customer(i)))));
    records.extend((0..9).map(|i| testdata::record(R::Order(testdata::order(i)))));
    records.push(testdata::record(R::Order(testdata::order(500))));
    records.extend((0..5).map(|i| testdata::record(R::Cart(testdata::cart(i)))));
    records.extend((0..3).map(|i| testdata::record(R::Coupon(testdata::coupon(i)))));
    push_all(app, records).await;
}

/// Feeds `records` through PushRecords; every one must be taken.
pub async fn push_all(app: &impl Clients, records: Vec<pb::Record>) {
    let s = app
        .records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.rejected, 0, "{s:?}");
}

/// An audience as ListLists shows it.
pub async fn audience(app: &impl Clients, id: &str) -> pb::Audience {
    app.lists()
        .list_lists(pb::ListListsRequest {})
        .await
        .unwrap()
        .into_inner()
        .lists
        .into_iter()
        .find(|a| a.id == id)
        .unwrap()
}

/// A dry run's answer (UploadRequest.dry_run) in `mode`.
pub async fn dry_run(app: &impl Clients, mode: pb::UploadMode) -> pb::JobProgress {
    app.sync()
        .upload_store_data(pb::UploadRequest {
            mode: mode as i32,
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .expect("the plan")
}

/// Runs an upload in mode AUTO to its end: (the final message, messages received).
pub async fn upload(app: &impl Clients) -> (pb::JobProgress, usize) {
    upload_with(app, pb::UploadMode::Auto).await
}

pub async fn upload_with(app: &impl Clients, mode: pb::UploadMode) -> (pb::JobProgress, usize) {
    let mut stream = app
        .sync()
        .upload_store_data(pb::UploadRequest {
            mode: mode as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut messages = Vec::new();
    while let Some(m) = stream.next().await {
        messages.push(m.unwrap());
    }
    let n = messages.len();
    (messages.pop().unwrap(), n)
}

/// Requests that create, change or delete shop entities (not stores).
pub fn entity_requests(stats: &mcsync::sim::SimStats) -> u64 {
    stats
        .requests
        .iter()
        .filter(|(route, _)| {
            !route.starts_with("GET")
                && ["products", "customers", "orders", "carts", "promo-"]
                    .iter()
                    .any(|k| route.contains(k))
        })
        .map(|(_, n)| n)
        .sum()
}

pub async fn sim_store(app: &TestApp, store_id: &str) -> serde_json::Value {
    sim_store_at(&app.sim, store_id).await
}

/// A store as the simulator has it.
pub async fn sim_store_at(sim: &SimHandle, store_id: &str) -> serde_json::Value {
    sim.store_json(store_id).unwrap_or_default()
}

impl TestApp {
    /// A request to the simulator as the merchant's other tools would make it (account A);
    /// returns the HTTP status.
    pub async fn sim_call(&self, method: &str, path: &str, body: serde_json::Value) -> u16 {
        mcsync::mailchimp::install_crypto_provider();
        reqwest::Client::new()
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.sim.base_url()),
            )
            .basic_auth("x", Some(KEY_A))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Products p<from>..p<to> into the mirror.
pub async fn push_products(app: &impl Clients, ids: std::ops::Range<u64>) {
    let records: Vec<_> = ids
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    let n = records.len() as i64;
    let s = app
        .records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.accepted + s.unchanged, n, "{s:?}");
}

/// Starts an upload and hands back its progress stream, without waiting.
pub async fn start_upload(
    app: &impl Clients,
    mode: pb::UploadMode,
) -> tonic::Streaming<pb::JobProgress> {
    app.sync()
        .upload_store_data(pb::UploadRequest {
            mode: mode as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// Follows a progress stream to its end: the last message.
pub async fn last_message(mut stream: tonic::Streaming<pb::JobProgress>) -> pb::JobProgress {
    let mut last = None;
    while let Some(m) = stream.next().await {
        last = Some(m.unwrap());
    }
    last.expect("a job stream ends with the job's outcome")
}

/// Renames customer `i` in the shop ("Changed") and waits until live sync has it in every store.
pub async fn rename_customer_live(app: &TestApp, i: u64) -> bool {
    let mut changed = testdata::customer(i);
    changed.first_name = "Changed".into();
    app.records()
        .upsert(testdata::record(R::Customer(changed)))
        .await
        .unwrap();
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    let id = format!("c{i}");
    eventually(Duration::from_secs(20), || async {
        stores.iter().all(|s| {
            app.sim
                .resource(s, "customers", &id)
                .is_some_and(|c| c["first_name"] == "Changed")
        })
    })
    .await
}

/// Follows job `job_id` on `app` to its end: the last message.
pub async fn watch_to_end(app: &impl Clients, job_id: &str) -> pb::JobProgress {
    let watcher = app
        .sync()
        .watch_job(pb::WatchJobRequest {
            job_id: job_id.into(),
        })
        .await
        .unwrap()
        .into_inner();
    last_message(watcher).await
}

/// Waits (30 s at most) until the simulator holds at least `n` products over all stores.
pub async fn products_arrived(sim: &SimHandle, n: u64) -> bool {
    eventually(Duration::from_secs(30), || async {
        sim.stats()
            .stores
            .values()
            .map(|c| c["products"])
            .sum::<u64>()
            >= n
    })
    .await
}

/// RetryFailed, expected to be answered.
pub async fn retry_failed(app: &impl Clients) -> pb::RetryFailedResponse {
    app.sync()
        .retry_failed(pb::RetryFailedRequest {})
        .await
        .unwrap()
        .into_inner()
}
