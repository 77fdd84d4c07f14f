//! `mcsync sim`: a stateful in-memory Mailchimp Marketing API under `/3.0`, with Mailchimp's
//! authentication, validation, problem documents, connection limit, latency and faults, plus a
//! read-only `GET /__sim/stats` for tests and benchmarks.

mod batches;
mod ecommerce;
mod faults;
mod fields;
mod gdpr;
mod latency;
mod merge_fields;
mod model;
pub mod oauth;
mod problem;
mod routes;
mod schema;
mod segments;
mod sites;
mod webhooks;
mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use world::subscriber_hash;

/// Field errors of a request body against Mailchimp's spec (empty when valid): what the
/// simulator answers 400 for, usable by tests of what mcsync sends.
pub fn check_request(
    method: &str,
    template: &str,
    body: &serde_json::Value,
) -> Vec<(String, String)> {
    schema::check(method, template, body)
}
/// Fields of a request body that the operation's schema does not define (see
/// [`SimStats::unknown_fields`]).
pub fn unknown_fields(method: &str, template: &str, body: &serde_json::Value) -> Vec<String> {
    schema::unknown_fields(method, template, body)
}
use world::{Account, World};

#[derive(Debug, Clone)]
/// How the simulator behaves: its accounts, its latency, its limits and its faults.
pub struct SimConfig {
    /// One account per key; the first is the "main" account.
    pub api_keys: Vec<String>,
    /// Keys that exist but belong to a disabled account (403).
    pub disabled_keys: Vec<String>,
    /// Audiences seeded in each account.
    pub lists: usize,
    /// How many of those (the first ones) have GDPR fields, each with one contact to read
    /// the permission ids from.
    pub gdpr_lists: usize,
    /// How long each answer takes, the simulator's own work included (see `latency.rs`).
    pub latency: Duration,
    /// Requests in flight per key beyond which it answers 429.
    pub max_connections: usize,
    /// Share of requests and batch operations answered with a random 429, 500 or 503, in [0, 1].
    pub fail_rate: f64,
    /// Share of those 500s and 503s on writes that come after the write happened, in [0, 1].
    pub fault_after_write: f64,
    /// Share of rate limits (injected, or over `max_connections`) answered as Mailchimp's bare
    /// 403 with no JSON body instead of a 429, in [0, 1]; batch operations never get it.
    pub bare_403: f64,
    /// How long a batch waits in "pending" before it runs (Mailchimp queues batches).
    pub batch_delay: Duration,
    /// How long each operation of a running batch takes: a batch of 1,000 at 5 ms runs 5 s.
    pub batch_op_cost: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_keys: vec![DEMO_KEY.to_owned()],
            disabled_keys: Vec::new(),
            lists: 3,
            gdpr_lists: 0,
            latency: Duration::ZERO,
            max_connections: 10,
            fail_rate: 0.0,
            fault_after_write: 0.0,
            bare_403: 0.0,
            batch_delay: Duration::from_millis(50),
            batch_op_cost: Duration::ZERO,
        }
    }
}

/// The key `mcsync demo` and `mcsync sim` use when none is given.
pub const DEMO_KEY: &str = "0123456789abcdef0123456789abcdef-us6";

/// What `GET /__sim/stats` reports.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct SimStats {
    /// Requests per `METHOD /route/{template}`, rejected ones included.
    pub requests: BTreeMap<String, u64>,
    /// Error answers per HTTP status.
    pub rejected: BTreeMap<u16, u64>,
    /// The most requests ever in flight at once.
    pub max_in_flight: usize,
    /// Requests refused (429) because the key had more than its connections in flight; injected
    /// faults (`--fail-rate`, 429s among them) are not counted here.
    #[serde(default)]
    pub over_connection_limit: u64,
    /// Resources per store and kind, e.g. `{"s1": {"products": 10, ...}}` (all accounts).
    #[serde(default)]
    pub stores: BTreeMap<String, BTreeMap<String, u64>>,
    /// E-commerce creates refused because the id already existed.
    #[serde(default)]
    pub duplicate_creates: u64,
    /// The same, per kind (`product`, `order`, `store`, ...).
    #[serde(default)]
    pub duplicate_creates_by_kind: BTreeMap<String, u64>,
    /// Opt-in confirmation mails sent (members set to `pending`), all audiences.
    #[serde(default)]
    pub confirmation_mails: u64,
    /// Operations run inside batches, per `METHOD /route/{template}` (not in `requests`).
    #[serde(default)]
    pub batch_operations: BTreeMap<String, u64>,
    /// The most batches ever unfinished at once in one account (Mailchimp allows 500).
    #[serde(default)]
    pub max_unfinished_batches: usize,
    /// Body fields the operation's schema does not define, per `METHOD /route/{template}`
    /// (dotted paths, array indexes as `[]`), from requests and batch operations alike.
    #[serde(default)]
    pub unknown_fields: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Requests and batch operations refused because their body broke the schema, per
    /// `METHOD /route/{template}`.
    #[serde(default)]
    pub invalid_bodies: BTreeMap<String, u64>,
    /// Writes that ran and were then answered with an injected 500 or 503
    /// ([`SimConfig::fault_after_write`]), requests and batch operations alike.
    #[serde(default)]
    pub faults_after_write: u64,
    /// The time from a request's arrival to its answer, summed over every request in
    /// `requests` (µs): over their count, the mean answer time to hold against the latency.
    #[serde(default)]
    pub answer_micros: u64,
}

impl SimStats {
    /// Requests served on a route, such as `POST /ecommerce/stores/{store_id}/orders`.
    pub fn count(&self, route: &str) -> u64 {
        self.requests.get(route).copied().unwrap_or(0)
    }

    /// Requests served in all.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// One e-commerce write the simulator accepted, as a watcher sees it.
#[derive(Debug, Clone)]
pub struct Write {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The spec's template, e.g. `/ecommerce/stores/{store_id}/orders`.
    pub template: String,
    /// The resource's id (empty for a delete).
    pub id: String,
    /// The store it belongs to (empty for a store itself).
    pub store_id: String,
    /// When the simulator accepted it.
    pub at: std::time::Instant,
}

pub(crate) struct Shared {
    config: SimConfig,
    /// Where accepted writes are told, when someone watches (benchmarks).
    writes: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Write>>>,
    /// Injected faults: `config.fail_rate` and its kinds, and poisoned resources.
    faults: faults::Faults,
    /// `http://<addr>`, for the links the simulator hands out.
    base_url: String,
    world: Mutex<World>,
    stats: Mutex<SimStats>,
    in_flight: AtomicUsize,
    /// When requests are answered.
    latency: latency::Latency,
    /// Posts webhook deliveries and checks hook URLs.
    http: reqwest::Client,
    /// Every webhook delivery made, in order of completion.
    deliveries: Mutex<Vec<webhooks::Delivery>>,
    /// OAuth codes handed out and not yet exchanged.
    oauth_codes: oauth::Codes,
}

impl Shared {
    /// The request statistics, with the e-commerce counts read from the world now.
    fn snapshot(&self) -> SimStats {
        let mut stats = self.stats.lock().expect("stats lock").clone();
        let world = self.world.lock().expect("world lock");
        for account in &world.accounts {
            for (kind, n) in &account.duplicate_creates {
                stats.duplicate_creates += n;
                *stats
                    .duplicate_creates_by_kind
                    .entry(kind.clone())
                    .or_default() += n;
            }
            stats.confirmation_mails += account
                .lists
                .iter()
                .map(|l| l.confirmation_mails)
                .sum::<u64>();
            for (id, store) in &account.stores {
                stats.stores.insert(id.clone(), store.counts());
            }
        }
        stats
    }

    fn enter(&self) -> usize {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mut stats = self.stats.lock().expect("stats lock");
        stats.max_in_flight = stats.max_in_flight.max(now);
        now
    }

    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn tell_write(&self, method: &str, template: &str, store_id: &str, id: &str) {
        if let Some(tx) = self.writes.lock().expect("writes lock").as_ref() {
            let _ = tx.send(Write {
                method: method.to_owned(),
                template: template.to_owned(),
                id: id.to_owned(),
                store_id: store_id.to_owned(),
                at: std::time::Instant::now(),
            });
        }
    }

    /// Notes what a body carries beyond its schema, and whether the schema refused it.
    fn judge_body(&self, method: &str, template: &str, body: &serde_json::Value) {
        let unknown = schema::unknown_fields(method, template, body);
        let invalid = !schema::check(method, template, body).is_empty();
        if unknown.is_empty() && !invalid {
            return;
        }
        let route = format!("{method} /3.0{template}");
        let mut stats = self.stats.lock().expect("stats lock");
        if invalid {
            *stats.invalid_bodies.entry(route.clone()).or_default() += 1;
        }
        if !unknown.is_empty() {
            let fields = stats.unknown_fields.entry(route).or_default();
            fields.extend(unknown.iter().map(|f| schema::strip_indexes(f)));
        }
    }

    fn record_unfinished_batches(&self, n: usize) {
        let mut stats = self.stats.lock().expect("stats lock");
        stats.max_unfinished_batches = stats.max_unfinished_batches.max(n);
    }

    fn record_batch_operation(&self, method: &str, path: &str, status: u16) {
        let template = batches::match_path(path).map_or("(unknown route)", |(t, _)| t);
        let mut stats = self.stats.lock().expect("stats lock");
        *stats
            .batch_operations
            .entry(format!("{method} /3.0{template}"))
            .or_default() += 1;
        if status >= 400 {
            *stats.rejected.entry(status).or_default() += 1;
        }
    }

    fn record(&self, route: String, status: u16, took: std::time::Duration) {
        let mut stats = self.stats.lock().expect("stats lock");
        *stats.requests.entry(route).or_default() += 1;
        stats.answer_micros += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if status >= 400 {
            *stats.rejected.entry(status).or_default() += 1;
        }
    }
}

/// A running simulator. Dropping it leaves the server running; call [`SimHandle::shutdown`].
pub struct SimHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl SimHandle {
    /// The API base URL to give mcsync's `--mailchimp-url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/3.0", self.addr)
    }

    /// Counters of what it served, refused and faulted.
    pub fn stats(&self) -> SimStats {
        self.shared.snapshot()
    }

    /// The id of the account that `api_key` belongs to.
    pub fn account_id(&self, api_key: &str) -> Option<String> {
        let world = self.shared.world.lock().expect("world lock");
        world
            .account_by_key(api_key)
            .map(|i| world.accounts[i].id.clone())
    }

    /// The ids of the account's audiences, oldest first.
    pub fn list_ids(&self, api_key: &str) -> Vec<String> {
        self.with_account(api_key, |a| a.lists.iter().map(|l| l.id.clone()).collect())
    }

    /// Creates an audience, as a merchant would in Mailchimp's UI; returns its id.
    pub fn add_list(&self, api_key: &str, name: &str) -> String {
        self.with_account(api_key, |a| a.add_list(name))
    }

    /// An audience's members counted by status (`subscribed`, `pending`, `transactional`, …).
    pub fn member_statuses(
        &self,
        api_key: &str,
        list_id: &str,
    ) -> std::collections::BTreeMap<String, u64> {
        self.with_account(api_key, |a| {
            let mut out = std::collections::BTreeMap::new();
            for m in a
                .list(list_id)
                .map(|l| l.members.values())
                .into_iter()
                .flatten()
            {
                *out.entry(m.status.clone()).or_default() += 1;
            }
            out
        })
    }

    /// Adds `n` transactional contacts to an audience (`contact<i>@example.net`), as a large
    /// audience's history would have them.
    pub fn add_contacts(&self, api_key: &str, list_id: &str, n: usize) {
        self.with_account(api_key, |a| {
            if let Ok(list) = a.list_mut(list_id) {
                for i in 0..n {
                    list.join_as_customer(&format!("contact{i}@example.net"), false);
                }
            }
        });
    }

    /// Turns on an audience's GDPR fields with Mailchimp's three default permissions, as a
    /// merchant would in Mailchimp's UI; returns their (id, text).
    pub fn enable_marketing_permissions(
        &self,
        api_key: &str,
        list_id: &str,
    ) -> Vec<(String, String)> {
        self.with_account(api_key, |a| {
            a.list_mut(list_id)
                .map(|l| l.enable_marketing_permissions())
                .unwrap_or_default()
        })
    }

    /// A member's GDPR choices (permission id → enabled), read without a request.
    pub fn member_permissions(
        &self,
        api_key: &str,
        list_id: &str,
        email: &str,
    ) -> Option<std::collections::HashMap<String, bool>> {
        self.with_account(api_key, |a| {
            let list = a.list(list_id).ok()?;
            let m = list.members.get(&subscriber_hash(email))?;
            Some(m.marketing_permissions.clone())
        })
    }

    /// Makes a merge field of an audience required, as a merchant would in Mailchimp's UI.
    pub fn require_merge_field(&self, api_key: &str, list_id: &str, tag: &str) {
        self.with_account(api_key, |a| {
            if let Ok(list) = a.list_mut(list_id)
                && let Some(f) = list.merge_fields.iter_mut().find(|f| f.tag == tag)
            {
                f.required = true;
            }
        });
    }

    /// Adds a merge field to an audience, as a merchant would in Mailchimp's UI: `kind` is
    /// Mailchimp's type (text, number, date, birthday, dropdown, …), `choices` those of a
    /// dropdown or radio field.
    pub fn add_merge_field(
        &self,
        api_key: &str,
        list_id: &str,
        tag: &str,
        kind: &str,
        choices: &[&str],
    ) {
        self.with_account(api_key, |a| {
            if let Ok(list) = a.list_mut(list_id) {
                let id = list.merge_fields.len() as i64 + 1;
                let mut field = merge_fields::MergeField::new(id, tag, tag, kind);
                field.choices = choices.iter().map(|c| (*c).to_owned()).collect();
                list.merge_fields.push(field);
            }
        });
    }

    /// The names of a member's tags, read without a request.
    pub fn member_tags(&self, api_key: &str, list_id: &str, email: &str) -> Vec<String> {
        self.with_account(api_key, |a| {
            a.list(list_id)
                .map(|l| l.member_tags(email))
                .unwrap_or_default()
        })
    }

    /// Deletes an audience, as a merchant would in Mailchimp's UI.
    pub fn remove_list(&self, api_key: &str, list_id: &str) -> bool {
        self.with_account(api_key, |a| a.remove_list(list_id))
    }

    /// Every e-commerce write accepted from now on (direct requests; not batch operations), as
    /// it happens: for measuring how soon a change reaches Mailchimp.
    pub fn watch_writes(&self) -> tokio::sync::mpsc::UnboundedReceiver<Write> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *self.shared.writes.lock().expect("writes lock") = Some(tx);
        rx
    }

    /// Changes the share of injected faults from now on (1.0: Mailchimp is down for us).
    pub fn set_fail_rate(&self, rate: f64) {
        self.shared.faults.set_rate(rate.clamp(0.0, 1.0));
    }

    /// Makes every write that names `id` (in its path, or as the id it creates) fail with 500
    /// from now on, direct or in a batch: a record Mailchimp keeps failing on.
    pub fn poison(&self, id: &str) {
        self.shared.faults.poison(id, true);
    }

    /// Ends [`SimHandle::poison`] for `id`.
    pub fn cure(&self, id: &str) {
        self.shared.faults.poison(id, false);
    }

    /// Disables the key's account, as Mailchimp does to a suspended account: from now on it gets
    /// 403 "User Disabled".
    pub fn disable_key(&self, api_key: &str) {
        self.with_account(api_key, |a| a.disabled = true);
    }

    /// Revokes a key, as a merchant would in Mailchimp's UI: from now on it gets 401.
    pub fn revoke_key(&self, api_key: &str) {
        self.with_account(api_key, |a| a.api_key = format!("revoked:{}", a.api_key));
    }

    /// A store as `GET /ecommerce/stores/{id}` shows it, read without a request (so that no
    /// injected fault or connection limit gets in the way of a test's check).
    pub fn store_json(&self, store_id: &str) -> Option<serde_json::Value> {
        let world = self.shared.world.lock().expect("world lock");
        world.accounts.iter().find_map(|a| {
            a.stores
                .get(store_id)
                .map(|s| serde_json::Value::Object(s.body.clone()))
        })
    }

    /// A resource of a store (`collection`: products, customers, orders, carts, promo_rules) as
    /// the simulator holds it, read without a request.
    pub fn resource(
        &self,
        store_id: &str,
        collection: &str,
        id: &str,
    ) -> Option<serde_json::Value> {
        let world = self.shared.world.lock().expect("world lock");
        world.accounts.iter().find_map(|a| {
            let s = a.stores.get(store_id)?;
            let map = match collection {
                "products" | "customers" | "orders" | "carts" | "promo_rules" => {
                    s.collection(collection)
                }
                _ => return None,
            };
            map.get(id).map(model::Doc::value)
        })
    }

    /// Sets a member's status as Mailchimp's own processes would (a confirmation clicked, an
    /// unsubscribe link, a bounce); creates the member if needed.
    /// Fires the audience's webhooks as Mailchimp would (a member's own doing; a clean is
    /// Mailchimp's).
    pub fn set_member_status(&self, api_key: &str, list_id: &str, email: &str, status: &str) {
        let shared = self.shared.clone();
        self.with_account(api_key, |a| {
            member_status(&shared, a, list_id, email, status)
        })
    }

    /// Every webhook delivery made so far (each after its last attempt).
    pub fn deliveries(&self) -> Vec<webhooks::Delivery> {
        self.shared
            .deliveries
            .lock()
            .expect("deliveries lock")
            .clone()
    }

    /// The URLs of an audience's webhooks.
    pub fn webhook_urls(&self, api_key: &str, list_id: &str) -> Vec<String> {
        self.with_account(api_key, |a| {
            a.list(list_id)
                .map(|l| l.webhooks.iter().map(|h| h.url.clone()).collect())
                .unwrap_or_default()
        })
    }

    /// A member as `GET /lists/{id}/members/{hash}` shows it, read without a request.
    pub fn member(&self, api_key: &str, list_id: &str, email: &str) -> Option<serde_json::Value> {
        self.with_account(api_key, |a| {
            let list = a.list(list_id).ok()?;
            let hash = subscriber_hash(email);
            list.members.get(&hash).map(|m| list.member_json(&hash, m))
        })
    }

    /// A member's status, if the member exists.
    pub fn member_status(&self, api_key: &str, list_id: &str, email: &str) -> Option<String> {
        self.with_account(api_key, |a| {
            a.list(list_id)
                .ok()?
                .members
                .get(&subscriber_hash(email))
                .map(|m| m.status.clone())
        })
    }

    fn with_account<T>(&self, api_key: &str, f: impl FnOnce(&mut Account) -> T) -> T {
        let mut world = self.shared.world.lock().expect("world lock");
        let i = world
            .account_by_key(api_key)
            .expect("the simulator has an account for this key");
        f(&mut world.accounts[i])
    }

    /// Stops the simulator and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Sets a member's status (creating the member if needed) and fires what that change fires.
pub(crate) fn member_status(
    shared: &Arc<Shared>,
    a: &mut Account,
    list_id: &str,
    email: &str,
    status: &str,
) {
    let Ok(list) = a.list_mut(list_id) else {
        return;
    };
    let hash = subscriber_hash(email);
    let old = list.members.get(&hash).map(|m| m.status.clone());
    list.join_as_customer(email, false);
    let Some(m) = list.members.get_mut(&hash) else {
        return;
    };
    m.status = status.to_owned();
    let merges = m.merge_fields.clone();
    // A member's own doing (a link they clicked), but a clean is Mailchimp's.
    let source = (status != "cleaned").then_some("user");
    let change = (old.as_deref(), status);
    webhooks::status_changed(shared, a, list_id, email, change, &merges, source);
}

/// Starts the simulator on `listener` and returns at once.
pub fn start(config: SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let mut accounts: Vec<Account> = config
        .api_keys
        .iter()
        .enumerate()
        .map(|(i, k)| Account::new(k, i, config.lists, false))
        .collect();
    for list in accounts
        .iter_mut()
        .flat_map(|a| a.lists.iter_mut().take(config.gdpr_lists))
    {
        list.enable_marketing_permissions();
        list.join_as_customer("gdpr.sample@example.net", false);
    }
    let n = accounts.len();
    accounts.extend(
        config
            .disabled_keys
            .iter()
            .enumerate()
            .map(|(i, k)| Account::new(k, n + i, 0, true)),
    );
    let shared = Arc::new(Shared {
        world: Mutex::new(World {
            accounts,
            results: Default::default(),
        }),
        base_url: format!("http://{addr}"),
        writes: Mutex::new(None),
        faults: faults::Faults::new(config.fail_rate, config.fault_after_write, config.bare_403),
        stats: Mutex::new(SimStats::default()),
        in_flight: AtomicUsize::new(0),
        latency: latency::Latency::new(config.latency),
        http: {
            crate::mailchimp::install_crypto_provider();
            reqwest::Client::new()
        },
        deliveries: Mutex::new(Vec::new()),
        oauth_codes: Default::default(),
        config,
    });
    let app = routes::router(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });
    Ok(SimHandle {
        addr,
        shared,
        stop: Some(stop),
        task,
    })
}
