//! The HTTP client for one API key: Basic auth, the per-key connection limit, retries, paging.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::endpoint::{self, Request, Verb, seg};
use super::error::{MailchimpError, Problem, is_throttling_403};
use super::retry::{self, Decision, Outcome, RetryPolicy};
use super::types::*;
use crate::domain::ApiKey;

/// Mailchimp's largest page size for collection reads.
pub const MAX_PAGE: u64 = 1000;
/// Pages of one collection asked for at once (the key's connections bound what is on the wire).
const PAGES_AT_ONCE: usize = 10;

/// Talks to Mailchimp on behalf of one account. Cheap to clone; clones share the key's
/// connection limit.
#[derive(Clone)]
pub struct AccountClient {
    pub(super) http: reqwest::Client,
    pub(super) base: Url,
    pub(super) key: ApiKey,
    pub(super) permits: Arc<super::connections::Connections>,
    pub(super) priority: super::Priority,
    pub(super) policy: RetryPolicy,
    pub(super) health: super::health::Tracker,
    pub(super) metrics: Arc<crate::metrics::Metrics>,
}

impl AccountClient {
    /// Where this client's requests are counted.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The same client for work that gives way to the shop's records (see
    /// [`Priority::Background`](super::Priority)).
    pub fn background(mut self) -> Self {
        self.priority = super::Priority::Background;
        self
    }

    /// `GET /ping`: is the key accepted and the API up?
    pub async fn ping(&self) -> Result<(), MailchimpError> {
        let _: serde_json::Value = self.get("/ping", &[]).await?;
        Ok(())
    }

    /// `GET /`: the account the key belongs to.
    pub async fn account(&self) -> Result<AccountWire, MailchimpError> {
        self.get("/", &[]).await
    }

    /// `GET /lists`: every audience of the account, all pages.
    pub async fn lists(&self) -> Result<Vec<ListWire>, MailchimpError> {
        self.get_all("/lists", "lists").await
    }

    /// An audience's interest categories, all pages.
    pub async fn interest_categories(
        &self,
        list_id: &str,
    ) -> Result<Vec<InterestCategoryWire>, MailchimpError> {
        self.get_all(
            &format!("/lists/{}/interest-categories", seg(list_id)),
            "categories",
        )
        .await
    }

    /// A category's interests, all pages.
    pub async fn interests(
        &self,
        list_id: &str,
        category_id: &str,
    ) -> Result<Vec<InterestWire>, MailchimpError> {
        let path = format!(
            "/lists/{}/interest-categories/{}/interests",
            seg(list_id),
            seg(category_id)
        );
        self.get_all(&path, "interests").await
    }

    /// An audience's merge fields, all pages.
    pub async fn merge_fields(&self, list_id: &str) -> Result<Vec<MergeFieldWire>, MailchimpError> {
        self.get_all(
            &format!("/lists/{}/merge-fields", seg(list_id)),
            "merge_fields",
        )
        .await
    }

    /// An audience's segments and tags, all pages.
    pub async fn segments(&self, list_id: &str) -> Result<Vec<SegmentWire>, MailchimpError> {
        self.get_all(&format!("/lists/{}/segments", seg(list_id)), "segments")
            .await
    }

    /// An audience's GDPR marketing permissions. API-NOTES: they are not on the list, so read
    /// them from one member (`fields=members.marketing_permissions&count=1`), as Mailchimp's
    /// own integrations do; empty while the audience has no member.
    pub async fn marketing_permissions(
        &self,
        list_id: &str,
    ) -> Result<Vec<MarketingPermissionWire>, MailchimpError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Member {
            marketing_permissions: Vec<MarketingPermissionWire>,
        }
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            members: Vec<Member>,
        }
        let path = format!("/lists/{}/members", seg(list_id));
        let query = [
            ("fields", "members.marketing_permissions".to_owned()),
            ("count", "1".to_owned()),
        ];
        let page: Page = self.get(&path, &query).await?;
        Ok(page
            .members
            .into_iter()
            .next()
            .map(|m| m.marketing_permissions)
            .unwrap_or_default())
    }

    /// `GET /lists/{id}/members/{md5(lower-case email)}`; `None` when not a member.
    pub async fn member(
        &self,
        list_id: &str,
        email: &str,
    ) -> Result<Option<MemberWire>, MailchimpError> {
        match self.get(&member_path(list_id, email), &[]).await {
            Ok(m) => Ok(Some(m)),
            Err(MailchimpError::Api(p)) if p.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The lower-cased emails of an audience's members of any status (`fields=`, one read per
    /// 1,000), when it has at most `max` of them; `None` when it has more (its first page says
    /// so, and nothing more is read). The reads taken come with the answer.
    pub async fn member_emails(
        &self,
        list_id: &str,
        max: u64,
    ) -> Result<(Option<std::collections::HashSet<String>>, u64), MailchimpError> {
        #[derive(serde::Deserialize)]
        struct Email {
            email_address: String,
        }
        let path = format!("/lists/{}/members", seg(list_id));
        let mut emails = std::collections::HashSet::new();
        let mut reads = 0;
        let whole = self
            .each_page_within(
                &path,
                "members",
                Some("members.email_address"),
                max,
                |_, page: Vec<Email>| {
                    reads += 1;
                    emails.extend(page.into_iter().map(|e| e.email_address.to_lowercase()));
                    Ok::<_, MailchimpError>(())
                },
            )
            .await?;
        Ok((whole.then_some(emails), reads))
    }

    /// `PUT /lists/{id}/members/{hash}`: Mailchimp's upsert of a member. With
    /// `skip_merge_validation=true`: an audience's required merge fields never block a
    /// subscription or a consent request; only the merchant's own form decides what is
    /// required (issue 27).
    pub async fn put_member(
        &self,
        list_id: &str,
        email: &str,
        body: &serde_json::Value,
    ) -> Result<MemberWire, MailchimpError> {
        let path = member_path(list_id, email);
        let query = [("skip_merge_validation", "true".to_owned())];
        let bytes = self.send(Method::PUT, &path, &query, Some(body)).await?;
        serde_json::from_slice(&bytes).map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))
    }

    /// `PATCH /lists/{id}/members/{hash}`: changes what `body` names of an existing member
    /// (404 when the email is not a member: a PATCH never makes one). With
    /// `skip_merge_validation=true`, like every member write of mcsync's.
    pub async fn patch_member(
        &self,
        list_id: &str,
        email: &str,
        body: &serde_json::Value,
    ) -> Result<(), MailchimpError> {
        let path = member_path(list_id, email);
        let query = [("skip_merge_validation", "true".to_owned())];
        self.send(Method::PATCH, &path, &query, Some(body)).await?;
        Ok(())
    }

    /// `PUT` of a product's variant: Mailchimp's upsert of one variant (`body` names its id).
    pub async fn put_line_variant(
        &self,
        store_id: &str,
        product_id: &str,
        body: &serde_json::Value,
    ) -> Result<(), MailchimpError> {
        let variant = body["id"].as_str().unwrap_or_default();
        let request = endpoint::variant(store_id, product_id, variant, Verb::Upsert);
        self.execute(&request, Some(body)).await?;
        Ok(())
    }

    /// Sends one request on a store's records. A create is never repeated after an ambiguous
    /// answer (as `create` does); the rest are retried as the policy says.
    pub async fn execute(
        &self,
        request: &Request,
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, MailchimpError> {
        let repeat = match request.verb {
            Verb::Create => Repeat::UnlessAmbiguous,
            _ => Repeat::Always,
        };
        self.send_as(request.verb.method(), &request.path, &[], body, repeat)
            .await
    }

    /// Reads every page of a collection with count/offset, until `total_items` are read.
    pub(super) async fn get_all<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        field: &str,
    ) -> Result<Vec<T>, MailchimpError> {
        self.get_all_fields(path, field, None).await
    }

    /// [`Self::get_all`], trimmed by Mailchimp to `fields` (`fields=`, with `total_items`).
    pub(super) async fn get_all_fields<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        field: &str,
        fields: Option<&str>,
    ) -> Result<Vec<T>, MailchimpError> {
        let mut read = Vec::new();
        self.each_page(path, field, fields, |k, page| {
            read.push((k, page));
            Ok::<_, MailchimpError>(())
        })
        .await?;
        read.sort_by_key(|(k, _)| *k);
        Ok(read.into_iter().flat_map(|(_, page)| page).collect())
    }

    /// Reads every page of a collection and hands each to `on_page` with its number, as it
    /// arrives (not in order), so that a caller can fold a store of millions page by page.
    /// The first page tells how many there are; the others are read at once (within the key's
    /// connections), since a large store's ids take hundreds of pages.
    pub(super) async fn each_page<T, E>(
        &self,
        path: &str,
        field: &str,
        fields: Option<&str>,
        on_page: impl FnMut(usize, Vec<T>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        T: DeserializeOwned + Send + 'static,
        E: From<MailchimpError>,
    {
        self.each_page_within(path, field, fields, u64::MAX, on_page)
            .await
            .map(|_| ())
    }

    /// [`Self::each_page`] for a collection of at most `max` items: when the first page says
    /// there are more, no other page is read, and the answer is `false` (only the first page
    /// was handed over); `true` once every page was.
    pub(super) async fn each_page_within<T, E>(
        &self,
        path: &str,
        field: &str,
        fields: Option<&str>,
        max: u64,
        mut on_page: impl FnMut(usize, Vec<T>) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        T: DeserializeOwned + Send + 'static,
        E: From<MailchimpError>,
    {
        let (first, total) = self.page(path, field, fields, 0).await?;
        let n = first.len() as u64;
        on_page(0, first)?;
        if total > max {
            return Ok(false);
        }
        // An empty page ends the walk even if total_items promised more (a list deleted
        // while paging shrinks the collection under us).
        if n == 0 || n >= total {
            return Ok(true);
        }
        // `total_items` is Mailchimp's word, not a bound: pages are asked ten at a time, and
        // none past a short one (the end of the collection, whatever the total said).
        let mut offsets = (n..total).step_by(MAX_PAGE as usize).enumerate();
        let mut pages = tokio::task::JoinSet::new();
        let mut ended = false;
        loop {
            while !ended && pages.len() < PAGES_AT_ONCE {
                let Some((k, offset)) = offsets.next() else {
                    break;
                };
                let (client, path, field) = (self.clone(), path.to_owned(), field.to_owned());
                let fields = fields.map(str::to_owned);
                pages.spawn(async move {
                    let page = client.page(&path, &field, fields.as_deref(), offset).await;
                    (k + 1, page.map(|(items, _)| items))
                });
            }
            let Some(joined) = pages.join_next().await else {
                break;
            };
            let (k, page) = joined.map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))?;
            let page: Vec<T> = page?;
            ended |= (page.len() as u64) < MAX_PAGE;
            on_page(k, page)?;
        }
        Ok(true)
    }

    /// One page of a collection from `offset`: its items and the collection's `total_items`.
    async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        field: &str,
        fields: Option<&str>,
        offset: u64,
    ) -> Result<(Vec<T>, u64), MailchimpError> {
        let mut query = vec![
            ("count", MAX_PAGE.to_string()),
            ("offset", offset.to_string()),
        ];
        if let Some(f) = fields {
            query.push(("fields", format!("{f},total_items")));
        }
        let page: serde_json::Value = self.get(path, &query).await?;
        let total = page
            .get("total_items")
            .and_then(|t| t.as_u64())
            .unwrap_or(0);
        let Some(serde_json::Value::Array(batch)) = page.get(field) else {
            return Err(MailchimpError::Decode(format!(
                "{path}: no '{field}' array"
            )));
        };
        let items = batch
            .iter()
            .map(|item| {
                T::deserialize(item).map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok((items, total))
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, MailchimpError> {
        let body = self.send(Method::GET, path, query, None).await?;
        serde_json::from_slice(&body).map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))
    }

    /// One logical request: attempts it, holding a connection permit only while on the wire, and
    /// retries as [`retry::decide`] says.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<bytes::Bytes, MailchimpError> {
        self.send_as(method, path, query, body, Repeat::Always)
            .await
    }

    /// A create (`POST`): retried only while Mailchimp surely did not carry it out (429, a
    /// throttling 403, no connection). After an ambiguous outcome (5xx, no answer, a broken
    /// connection) it returns the error, so that the caller goes on with an update and never
    /// sends the same create twice.
    pub(super) async fn create(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<bytes::Bytes, MailchimpError> {
        self.send_as(Method::POST, path, &[], Some(body), Repeat::UnlessAmbiguous)
            .await
    }

    /// Waits before the next try of a step that failed ambiguously `attempt` times (counted
    /// from 1), as the retry policy spaces a 5xx; `false` when the policy's attempts are spent.
    pub async fn back_off(&self, attempt: u32) -> bool {
        match retry::decide(Outcome::Status(500), attempt, &self.policy, fastrand::f64()) {
            Decision::GiveUp => false,
            Decision::RetryAfter(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
        }
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<bytes::Bytes, MailchimpError> {
        // Serialised once, whatever the attempts.
        let body = body.map(|b| bytes::Bytes::from(b.to_string()));
        self.send_raw(method, path, query, body, repeat).await
    }

    /// [`send_as`](Self::send_as) with a body that is JSON already.
    pub(super) async fn send_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        repeat: Repeat,
    ) -> Result<bytes::Bytes, MailchimpError> {
        let url = self.url(path, query);
        self.retrying(repeat, || {
            let body = body.clone().map(Payload::Bytes);
            self.attempt(method.clone(), url.clone(), body)
        })
        .await
    }

    /// `POST` of a body spooled on disk (a batch), read from its file for each attempt.
    pub(super) async fn send_spooled(
        &self,
        path: &str,
        batch: &super::batch_body::SpooledBatch,
        repeat: Repeat,
    ) -> Result<bytes::Bytes, MailchimpError> {
        let url = self.url(path, &[]);
        self.retrying(repeat, || async {
            match batch.body() {
                Ok((body, len)) => {
                    let body = Some(Payload::Stream(body, len));
                    self.attempt(Method::POST, url.clone(), body).await
                }
                // The file is ours: nothing was sent, and trying again cannot help.
                Err(e) => (Outcome::Status(400), Err(e)),
            }
        })
        .await
    }

    /// The one retry loop: tries until an attempt succeeds, the policy gives up, or a request
    /// that must not run twice had an ambiguous outcome.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        repeat: Repeat,
        mut attempt: F,
    ) -> Result<T, MailchimpError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (Outcome, Result<T, MailchimpError>)>,
    {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (outcome, result) = attempt().await;
            super::health::observe(&self.health, &result);
            let err = match result {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            if repeat == Repeat::UnlessAmbiguous && outcome.ambiguous() {
                return Err(err);
            }
            match retry::decide(outcome, attempts, &self.policy, fastrand::f64()) {
                Decision::GiveUp => return Err(err),
                Decision::RetryAfter(delay) => {
                    self.metrics.mailchimp_retries.inc();
                    tracing::debug!(attempt = attempts, ?delay, error = %err, "retrying Mailchimp request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: Url,
        body: Option<Payload>,
    ) -> (Outcome, Result<bytes::Bytes, MailchimpError>) {
        let _connection = self.permits.acquire(self.priority).await;
        let _on_the_wire = self.metrics.connection();
        let operation = crate::metrics::operation_label(method.as_str(), self.api_path(&url));
        let (outcome, result) = self.attempt_on_wire(method, url, body).await;
        self.count(&operation, outcome);
        (outcome, result)
    }

    /// Counts one attempt in the metrics: by operation and status, and as throttled.
    pub(super) fn count(&self, operation: &str, outcome: Outcome) {
        let status = match outcome {
            Outcome::Status(code) => code.to_string(),
            Outcome::Throttled => "403".to_owned(),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::ConnectError => "connect_error".to_owned(),
            Outcome::Interrupted => "interrupted".to_owned(),
        };
        if matches!(outcome, Outcome::Throttled | Outcome::Status(429)) {
            self.metrics.mailchimp_throttled.inc();
        }
        self.metrics
            .mailchimp_requests
            .with_label_values(&[operation, status.as_str()])
            .inc();
    }

    /// The path below the API root (`/ecommerce/...`), for labels.
    fn api_path<'u>(&self, url: &'u Url) -> &'u str {
        let root = self.base.path().trim_end_matches('/');
        url.path().strip_prefix(root).unwrap_or(url.path())
    }

    async fn attempt_on_wire(
        &self,
        method: Method,
        url: Url,
        body: Option<Payload>,
    ) -> (Outcome, Result<bytes::Bytes, MailchimpError>) {
        let mut req = self.http.request(method, url);
        req = if self.key.is_oauth() {
            req.bearer_auth(self.key.secret())
        } else {
            req.basic_auth("mcsync", Some(self.key.secret()))
        };
        if let Some(body) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
            req = match body {
                Payload::Bytes(bytes) => req.body(bytes),
                // Its length is known: sent with it rather than chunked.
                Payload::Stream(body, len) => {
                    req.header(reqwest::header::CONTENT_LENGTH, len).body(body)
                }
            };
        }
        let response = match req.send().await {
            Ok(r) => r,
            Err(e) => return transport_error(e),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(bytes) if (200..300).contains(&status) => (Outcome::Status(status), Ok(bytes)),
            Ok(bytes) => {
                let outcome = if is_throttling_403(status, &bytes) {
                    Outcome::Throttled
                } else {
                    Outcome::Status(status)
                };
                let problem = Problem::from_response(status, &bytes);
                (outcome, Err(MailchimpError::Api(Box::new(problem))))
            }
            Err(e) => transport_error(e),
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }
}

/// A request body: in memory, or read from a file as it is sent.
enum Payload {
    Bytes(bytes::Bytes),
    Stream(reqwest::Body, u64),
}

fn transport_error(e: reqwest::Error) -> (Outcome, Result<bytes::Bytes, MailchimpError>) {
    if e.is_timeout() {
        return (Outcome::Timeout, Err(MailchimpError::Timeout));
    }
    let connect = e.is_connect();
    // Without the URL: it is ours, and the error's Display would repeat it.
    let text = error_chain(&e.without_url());
    if connect {
        (Outcome::ConnectError, Err(MailchimpError::Connect(text)))
    } else {
        (Outcome::Interrupted, Err(MailchimpError::Interrupted(text)))
    }
}

/// Whether a request may be sent again after any failure Mailchimp may have acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Reads, updates, upserts and deletes: doing them twice is doing them once.
    Always,
    /// Creates.
    UnlessAmbiguous,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

fn member_path(list_id: &str, email: &str) -> String {
    let hash = md5::compute(email.trim().to_lowercase().as_bytes());
    format!("/lists/{}/members/{hash:x}", seg(list_id))
}

pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
