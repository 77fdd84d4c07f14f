//! Live sync: the outbox worker. After a store's first upload, every change the shop sends
//! reaches it without anyone pressing a button. The worker reads the outbox from its durable
//! place, coalesces a window of changes per record, pushes what the mirror holds now to every
//! live store (dependencies first, records concurrently within the key's 10 connections), parks
//! a record Mailchimp refuses in the error list, and only then moves its place. If Mailchimp
//! cannot be reached, or refuses the key, it keeps its place and tries again with backoff, so
//! nothing is lost. It pauses while an upload job runs and while e-commerce analytics is off.
//! It also clears `is_syncing` flags an upload could not clear (see `set_syncing_owed`), and
//! applies queued newsletter subscriptions (`subscriptions`), whatever the e-commerce settings.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::record::RecordKind;
use crate::mailchimp::ErrorKind;
use crate::proto::v1 as pb;
use tokio::sync::Notify;

use super::Stop;
use super::context::UploadContext;
use super::context::upload_context;
use super::dependencies::push_with_dependencies;
use super::fan_out::{FAN_OUT, FanOut};
use super::jobs::Jobs;
use super::live::coalesce;
use super::outcome::outcome;
use super::push::{PushError, Pushed};
use super::store_setup::{clear_syncing, store_gone};
use crate::mailchimp::Mailchimp;
use crate::store::Store;

/// Outbox entries read per step.
const WINDOW: usize = 512;
/// How long the worker sleeps when nothing wakes it.
const IDLE: Duration = Duration::from_secs(1);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A live push's store, kind, id and result.
/// Live pushes in flight, each keyed by (store id, kind, record id).
type Pushes = FanOut<(String, RecordKind, String), Result<Pushed, PushError>>;

enum Step {
    Idle,
    Worked,
    /// Stores found gone from Mailchimp: a repair job rebuilds them.
    Lost,
}

/// What the worker works with: the store, Mailchimp, the job runner (it pauses while a job
/// runs, and starts the repair job), and the bell the writer thread rings.
pub struct LiveSync {
    /// The mirror, the outbox and its place.
    pub store: Store,
    /// Mailchimp, for the connected account's key.
    pub mailchimp: Arc<Mailchimp>,
    /// The job runner: live sync pauses while a job runs.
    pub jobs: Arc<Jobs>,
    /// Rung when the writer stored changes or a subscription was queued.
    pub wake: Arc<Notify>,
    /// When tag rules are next applied.
    pub tags: super::tags::Timer,
}

impl LiveSync {
    /// Runs until `shutdown` is set, between two steps: a step in flight (one window, its
    /// pushes bounded by the retry policy) finishes first, so that its place is saved.
    /// `time_scale` divides its sleeps (tests).
    pub async fn run(self, time_scale: u32, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let scale = time_scale.max(1);
        self.tags
            .scale
            .store(scale, std::sync::atomic::Ordering::Relaxed);
        let mut backoff: Option<Duration> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let step = self.live_step().await;
            let pause = match step {
                Ok(Step::Worked) => {
                    backoff = None;
                    continue;
                }
                Ok(Step::Lost) => {
                    backoff = None;
                    self.repair().await;
                    continue;
                }
                Ok(Step::Idle) => {
                    backoff = None;
                    IDLE
                }
                Err(stop) => {
                    let next = backoff.map_or(BACKOFF_FIRST, |b| (b * 2).min(BACKOFF_MAX));
                    tracing::warn!(error = %stop, retry_in = ?next, "live sync paused");
                    backoff = Some(next);
                    next
                }
            };
            tokio::select! {
                _ = self.wake.notified(), if backoff.is_none() => {}
                _ = tokio::time::sleep(pause / scale) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn live_step(&self) -> Result<Step, Stop> {
        let subscribed = super::subscriptions::apply_queued(&self.store, &self.mailchimp).await?;
        let fields = super::member_fields::apply_queued(&self.store, &self.mailchimp).await?;
        let idle = if subscribed || fields {
            Step::Worked
        } else {
            Step::Idle
        };
        self.pay_owed_syncing().await;
        match self.sync_outbox().await? {
            Step::Idle => Ok(if self.tag_pass().await? {
                Step::Worked
            } else {
                idle
            }),
            other => Ok(other),
        }
    }

    /// Tag rules, when a pass is due, between live sync's windows; not while a job runs. It
    /// sends no records, so it does not hold the gate: an upload asked for meanwhile starts at
    /// once (emails not yet members are noted and tried again after it).
    async fn tag_pass(&self) -> Result<bool, Stop> {
        if self.jobs.is_running().await {
            return Ok(false);
        }
        let Ok(ctx) = upload_context(&self.store, &self.mailchimp, pb::UploadMode::Direct) else {
            return Ok(false);
        };
        // Only audiences with a live store: tags wait for the first upload.
        let mut ctx = ctx;
        ctx.lists.retain(|(l, _)| {
            self.store
                .mc_store(&ctx.account_id, l)
                .is_ok_and(|s| s.is_some())
        });
        if ctx.lists.is_empty() {
            return Ok(false);
        }
        super::tags::pass_if_due(&self.store, &ctx, &self.tags).await
    }

    async fn sync_outbox(&self) -> Result<Step, Stop> {
        let Some(_gate) = self.jobs.live_window().await else {
            return Ok(Step::Idle);
        };
        // Analytics off, no connection, no selected list: nothing to sync to (yet).
        let Ok(ctx) = upload_context(&self.store, &self.mailchimp, pb::UploadMode::Direct) else {
            return Ok(Step::Idle);
        };
        let mut stores = Vec::new();
        for (list_id, _) in &ctx.lists {
            if let Some(id) = self.store.mc_store(&ctx.account_id, list_id)? {
                let lost = self.store.store_lost(&id)?.is_some();
                if self.store.is_uploaded(&id)? && !lost {
                    stores.push(id);
                }
            }
        }
        if stores.is_empty() {
            return Ok(Step::Idle);
        }
        if !ctx.abandoned_carts && self.drop_carts(&ctx, &stores).await? {
            return Ok(Step::Worked);
        }
        let place = self.store.live_cursor()?;
        let entries = self.store.outbox_after(place, WINDOW)?;
        let Some(last) = entries.last().map(|e| e.sequence) else {
            return Ok(Step::Idle);
        };
        let records = coalesce(&entries);
        let mut lost = Vec::new();
        // One rank after the other, so that an order's products are in before the order.
        let mut at = 0;
        while at < records.len() {
            let kind = records[at].0;
            let end = records[at..]
                .iter()
                .position(|(k, _)| *k != kind)
                .map_or(records.len(), |n| at + n);
            self.push_all(&ctx, &stores, &records[at..end], &mut lost)
                .await?;
            at = end;
        }
        self.store.consume_outbox(last).await?;
        let now = crate::store::records::unix_ms();
        let latency = &self.mailchimp.metrics().live_sync_latency;
        for written in entries.iter().filter_map(|e| e.written_at_ms) {
            latency.observe(now.saturating_sub(written) as f64 / 1000.0);
        }
        if !lost.is_empty() {
            self.mark_lost(&lost).await?;
            return Ok(Step::Lost);
        }
        Ok(Step::Worked)
    }

    /// Pushes records of one kind to every live store; a refused record is parked, anything
    /// else that stops a push stops the step.
    async fn push_all(
        &self,
        ctx: &UploadContext,
        stores: &[String],
        records: &[(RecordKind, String)],
        lost: &mut Vec<String>,
    ) -> Result<(), Stop> {
        let mut tasks: Pushes = FanOut::new(FAN_OUT);
        for (kind, id) in records {
            if *kind == RecordKind::Cart && !ctx.abandoned_carts {
                continue;
            }
            let decoded = self.store.decoded_record(*kind, id)?;
            for store_id in stores {
                if lost.contains(store_id) {
                    continue;
                }
                let (store, ctx, decoded, key) = (
                    self.store.clone(),
                    ctx.clone(),
                    decoded.clone(),
                    (store_id.clone(), *kind, id.clone()),
                );
                let (store_id, kind, id) = key.clone();
                tasks
                    .spawn(key, async move {
                        push_with_dependencies(
                            &store,
                            &ctx,
                            &store_id,
                            kind,
                            &id,
                            decoded.as_ref(),
                            false,
                        )
                        .await
                    })
                    .await;
            }
        }
        self.settle(ctx, tasks, lost).await
    }

    /// Sorts the results of live pushes: refusals parked, a store found gone noted in `lost`;
    /// anything else stops the step.
    async fn settle(
        &self,
        ctx: &UploadContext,
        tasks: Pushes,
        lost: &mut Vec<String>,
    ) -> Result<(), Stop> {
        let mut stop = None;
        for ((store_id, kind, id), result) in tasks.join_all().await {
            let result = result.unwrap_or_else(|p| Err(p.into()));
            match outcome(&self.store, &store_id, kind, &id, result) {
                Ok(Ok(_)) => {}
                // A 404 on a record's collection: the record, or the whole store, is gone.
                Ok(Err(refusal))
                    if refusal.0.kind() == ErrorKind::NotFound && !lost.contains(&store_id) =>
                {
                    if store_gone(&ctx.client, &store_id).await {
                        tracing::warn!(store = %store_id, "the store is gone from Mailchimp");
                        lost.push(store_id);
                    }
                }
                Ok(Err(refusal)) => tracing::info!(
                    store = %store_id, kind = kind.name(), id = %id,
                    detail = %refusal.0.detail, "Mailchimp refused a record; listed in ListSyncErrors"
                ),
                Err(s) => stop = Some(s),
            }
        }
        stop.map_or(Ok(()), Err)
    }

    /// Abandoned carts turned off: the carts Mailchimp has from us leave every live store, so
    /// that it stops mailing about carts the merchant no longer wants tracked. Whether any
    /// were deleted.
    async fn drop_carts(&self, ctx: &UploadContext, stores: &[String]) -> Result<bool, Stop> {
        let remembered = |store_id: &str| self.store.synced_ids(store_id, RecordKind::Cart);
        let mut tasks: Pushes = FanOut::new(FAN_OUT);
        let mut before = 0;
        for store_id in stores {
            let ids = remembered(store_id)?;
            before += ids.len();
            for id in ids {
                let (store, ctx) = (self.store.clone(), ctx.clone());
                let key = (store_id.clone(), RecordKind::Cart, id.clone());
                let store_id = store_id.clone();
                tasks
                    .spawn(key, async move {
                        let kind = RecordKind::Cart;
                        push_with_dependencies(&store, &ctx, &store_id, kind, &id, None, false)
                            .await
                    })
                    .await;
            }
        }
        if tasks.is_empty() {
            return Ok(false);
        }
        let mut lost = Vec::new();
        self.settle(ctx, tasks, &mut lost).await?;
        let mut after = 0;
        for store_id in stores {
            after += remembered(store_id)?.len();
        }
        tracing::info!(
            deleted = before - after,
            "abandoned carts are off: carts left Mailchimp"
        );
        // A cart Mailchimp refuses to delete is parked; it must not spin the worker.
        Ok(after < before)
    }

    /// Stores live sync found gone: no longer fed, marked lost, and rebuilt by a repair job.
    async fn mark_lost(&self, lost: &[String]) -> Result<(), Stop> {
        for id in lost {
            let reason = "the store was deleted in Mailchimp (404 for the store during live sync)";
            self.store.set_store_lost(id, Some(reason))?;
        }
        Ok(self.store.flush().await?)
    }

    /// Starts the reconciled upload that rebuilds the lost stores (every selected store is
    /// reconciled; the intact ones only cost reads), in the mode of the last job.
    async fn repair(&self) {
        let mode = match self.store.jobs(1) {
            Ok(jobs) => jobs.first().map_or(pb::UploadMode::Auto, |j| j.mode()),
            Err(_) => pb::UploadMode::Auto,
        };
        let trigger = "repair: a store was deleted in Mailchimp; rebuilding it".to_owned();
        match self.jobs.start(mode, false, trigger).await {
            Ok(_) => tracing::info!("repair job started"),
            Err(e) => tracing::warn!(error = %e, "could not start the repair job"),
        }
    }

    /// `is_syncing=false` that an upload could not deliver, delivered now.
    async fn pay_owed_syncing(&self) {
        let Ok(owed) = self.store.syncing_owed() else {
            return;
        };
        if owed.is_empty() {
            return;
        }
        let Ok(settings) = self.store.settings() else {
            return;
        };
        let Some(conn) = settings.connection else {
            return;
        };
        let client = self.mailchimp.for_key(&conn.api_key);
        for id in owed {
            if clear_syncing(&client, &id, false).await {
                if let Err(e) = self.store.set_syncing_owed(&id, false).await {
                    tracing::warn!(error = %e, "could not note is_syncing");
                }
            }
        }
    }
}
