//! The upload job: a Store per selected list (created, or adopted when Mailchimp already has
//! one for that list and our domain), then the phases, coupons, products, customers, orders,
//! then `is_syncing=false`, then carts. Direct phases that follow each other run at once (see
//! [`wave`]); a batched phase runs alone, a window of batches at a time. Each phase keeps its
//! durable cursor and deletes what the shop deleted. Whatever ends the job, the stores get
//! `is_syncing=false`.

use std::time::Instant;

use tokio::sync::watch;
use tracing::Instrument;

use super::context::{UploadContext, target};
use super::fan_out::{FAN_OUT, FanOut};
use super::outcome::{Refusal, outcome};
use super::phases::phase_kinds;
use super::push::{PushError, Pushed, push};
use super::reconcile::reconcile;
use super::stop::{During, Signals, Stop};
use super::store_setup::{ensure_store, set_syncing};
use crate::domain::record::{self, RecordKind, kind_to_pb};
use crate::proto::v1 as pb;
use crate::store::Store;
use crate::store::jobs::PHASE_DONE;

mod wave;

/// Records pushed concurrently, and between two durable cursor updates.
const CHUNK: usize = 50;
/// Records a direct phase may have started past its watermark.
const WINDOW_OPEN: usize = 2 * FAN_OUT;
/// Records past a saved cursor that may have ended before a crash: those passed by the
/// watermark since the last save (fewer than `CHUNK`, plus one jump of at most `WINDOW_OPEN`
/// when a slow record ends) and those still open (`WINDOW_OPEN`).
const RESUME_MAY_EXIST: usize = CHUNK + 2 * WINDOW_OPEN;
/// In mode AUTO, a phase with at least this many records to look at goes through batches: one
/// request per record would take 25 s or more at Mailchimp's 200 requests/s, while a batch
/// costs a few requests plus the time Mailchimp queues it.
pub const AUTO_BATCH_MIN: i64 = 5_000;
/// Refused records kept in the job's progress.
const MAX_ERRORS: usize = 100;

fn now() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: crate::domain::now(),
        nanos: 0,
    }
}

/// Runs (or resumes) a job to its end and returns its final state. Stopped by a shutdown, it
/// returns as it stands: still running in the store, with its cursors and its stores syncing.
pub async fn run(
    store: Store,
    ctx: UploadContext,
    mut job: pb::JobProgress,
    progress: watch::Sender<pb::JobProgress>,
    signals: Signals,
) -> pb::JobProgress {
    let started = Instant::now();
    let mut stores = Vec::new();
    let work = async {
        if ctx.mode != pb::UploadMode::Direct {
            // A batch from before a restart may still run: its creates must land before this
            // job plans its own, or they would be sent twice.
            super::batch::quiesce(&ctx)
                .await
                .map_err(Stop::mailchimp(During::BatchWait))?;
        }
        let mut created = Vec::new();
        for (list_id, list_name) in &ctx.lists {
            let (id, new) = ensure_store(&store, &ctx, list_id, list_name).await?;
            stores.push((id, list_id.clone()));
            created.push(new);
        }
        let stores = &stores;
        // The storefront's site script goes alongside the records: nothing waits for it.
        let sites = async {
            for (id, list_id) in stores {
                super::sites::ensure_site(&store, &ctx, id, list_id).await?;
            }
            Ok::<(), Stop>(())
        };
        let records = async {
            // A resumed job may have had requests in flight when the process died: the first
            // records its running phase sends again may already be in Mailchimp.
            let resumed = !job.phases.is_empty();
            if !resumed {
                job.reconciliations.clear();
                for ((id, list_id), new) in stores.iter().zip(created) {
                    let carts = ctx.abandoned_carts;
                    let mut r = reconcile(&store, &ctx.client, (id, list_id), carts, new)
                        .await
                        .map_err(Stop::reconcile(id))?;
                    r.store_recreated = new && r.missing_in_mailchimp > 0;
                    tracing::info!(job = %job.job_id, store = %id, missing = r.missing_in_mailchimp,
                    orphans = r.orphans, adopted = r.adopted, reads = r.reads, "store reconciled");
                    job.reconciliations.push(r);
                    progress.send_replace(job.clone());
                    store.set_store_lost(id, None)?;
                    if job.resync {
                        store.forget_bodies(id)?;
                    }
                }
                job.phases = plan(&store, &ctx, stores)?;
            }
            let before = processed(&job);
            let mut may_exist = resumed;
            let is_cart = |p: &pb::PhaseProgress| p.kind == pb::RecordKind::Cart as i32;
            let phase = Phase {
                store: &store,
                ctx: &ctx,
                progress: &progress,
                signals: &signals,
                started,
                before,
            };
            let mut i = 0;
            while i < job.phases.len() {
                if is_cart(&job.phases[i]) && i > 0 && !is_cart(&job.phases[i - 1]) {
                    // Carts sent while a store is syncing never trigger abandoned-cart mails.
                    set_syncing(&store, &ctx.client, stores, false).await;
                }
                if job.phases[i].batched {
                    let span = tracing::info_span!(
                        "phase",
                        store = %job.phases[i].store_id,
                        kind = progress_kind(job.phases[i].kind),
                    );
                    may_exist = phase
                        .run_batched(&mut job, i, may_exist)
                        .instrument(span)
                        .await?;
                    i += 1;
                    continue;
                }
                // The direct phases that follow each other run at once, carts apart.
                let cart = is_cart(&job.phases[i]);
                let end = (i..job.phases.len())
                    .find(|&j| job.phases[j].batched || is_cart(&job.phases[j]) != cart)
                    .unwrap_or(job.phases.len());
                may_exist = phase.run_wave(&mut job, i..end, may_exist).await?;
                i = end;
            }
            Ok::<(), Stop>(())
        };
        let (sites, records) = tokio::join!(sites, records);
        sites.and(records)
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        () = signals.shutdown_grace_over() => Err(Stop::Shutdown),
    };
    if let Err(Stop::Shutdown) = outcome {
        tracing::info!(job = %job.job_id, "upload job stopped for shutdown; it resumes at the next start");
        return job;
    }
    set_syncing(&store, &ctx.client, &stores, false).await;
    if outcome.is_ok() {
        if let Err(e) = went_live(&store, &job.job_id, &stores).await {
            tracing::error!(error = %e, "could not hand the stores to live sync");
        }
    }
    let (state, message) = match outcome {
        Ok(()) => (pb::JobState::Succeeded, String::new()),
        Err(Stop::Cancelled) => (pb::JobState::Cancelled, "cancelled".to_string()),
        Err(stop) => (pb::JobState::Failed, stop.to_string()),
    };
    job.state = state as i32;
    job.message = message;
    job.finished_at = Some(now());
    job.eta_seconds = 0.0;
    if let Err(e) = store.save_job(&job).await {
        tracing::error!(error = %e, "saving the finished job failed");
    }
    progress.send_replace(job.clone());
    tracing::info!(job = %job.job_id, state = ?state, "upload job ended");
    job
}

/// After a successful upload its stores are fed by live sync, which skips the changes the job
/// already covered (everything queued before it started).
async fn went_live(
    store: &Store,
    job_id: &str,
    stores: &[(String, String)],
) -> Result<(), crate::store::StoreError> {
    for (id, _) in stores {
        store.mark_uploaded(id).await?;
    }
    if let Some(start) = store.job_start(job_id)? {
        store.consume_outbox(start.saturating_sub(1)).await?;
    }
    Ok(())
}

fn processed(job: &pb::JobProgress) -> i64 {
    job.phases
        .iter()
        .map(|p| p.done + p.skipped + p.failed)
        .sum()
}

/// The phases in upload order, with their totals.
fn plan(
    store: &Store,
    ctx: &UploadContext,
    stores: &[(String, String)],
) -> Result<Vec<pb::PhaseProgress>, Stop> {
    let mut phases = Vec::new();
    for kind in phase_kinds(ctx.abandoned_carts) {
        for (store_id, list_id) in stores {
            let deleted = store.synced_but_deleted(store_id, kind)?.len();
            let total = (store.count_records(kind) + deleted) as i64;
            let batched = kind != RecordKind::Coupon
                && match ctx.mode {
                    pb::UploadMode::Direct => false,
                    pb::UploadMode::Batch => true,
                    pb::UploadMode::Auto | pb::UploadMode::Unspecified => total >= AUTO_BATCH_MIN,
                };
            phases.push(pb::PhaseProgress {
                store_id: store_id.clone(),
                list_id: list_id.clone(),
                kind: kind_to_pb(kind) as i32,
                total,
                batched,
                ..Default::default()
            });
        }
    }
    Ok(phases)
}

/// What every phase of a job shares.
struct Phase<'a> {
    store: &'a Store,
    ctx: &'a UploadContext,
    progress: &'a watch::Sender<pb::JobProgress>,
    signals: &'a Signals,
    started: Instant,
    before: i64,
}

/// Phase `i`'s kind, as the job was stored: a job read back from disk whose phase names no
/// kind is a damaged record, an error that stops the job, not a panic.
pub(super) fn phase_kind(
    job: &pb::JobProgress,
    i: usize,
) -> Result<RecordKind, crate::store::StoreError> {
    let kind = job.phases[i].kind;
    record::kind_from_pb(kind).ok_or_else(|| crate::store::StoreError::Corrupt {
        key: format!("jobs/{}", job.job_id),
        reason: format!("phase {i} names no record kind ({kind})"),
    })
}

impl Phase<'_> {
    /// Runs batched phase `i` from its cursor. `may_exist`: the first records it sends may
    /// already be in Mailchimp (see [`push_as`]); returns whether that still holds for the
    /// next phase (only while this one had nothing left to send).
    async fn run_batched(
        &self,
        job: &mut pb::JobProgress,
        i: usize,
        may_exist: bool,
    ) -> Result<bool, Stop> {
        let store = self.store;
        let store_id = job.phases[i].store_id.clone();
        let kind = phase_kind(job, i)?;
        let mut cursor = store.cursor(&job.job_id, &store_id, kind)?;
        if cursor.as_deref() == Some(PHASE_DONE) {
            return Ok(may_exist);
        }
        let mut may_exist = may_exist;
        loop {
            self.signals.check()?;
            let window = super::batch::push_window(
                store,
                self.ctx,
                &store_id,
                kind,
                cursor.as_deref(),
                may_exist,
                self.signals,
            )
            .await?;
            let Some((last, results)) = window else {
                break;
            };
            for (id, result) in results {
                count(store, job, i, kind, id, result)?;
            }
            may_exist = false;
            store
                .set_cursor(&job.job_id, &store_id, kind, &last)
                .await?;
            cursor = Some(last);
            report(store, job, self.progress, self.started, self.before).await;
        }
        self.finish(job, i, kind, &store_id).await?;
        Ok(may_exist)
    }

    /// A phase whose records have all ended: what the shop deleted leaves Mailchimp too, and
    /// the phase is done.
    async fn finish(
        &self,
        job: &mut pb::JobProgress,
        i: usize,
        kind: RecordKind,
        store_id: &str,
    ) -> Result<(), Stop> {
        let store = self.store;
        let deleted = store.synced_but_deleted(store_id, kind)?;
        for ids in deleted.chunks(CHUNK) {
            let mut tasks = FanOut::new(FAN_OUT);
            for id in ids {
                let (store, ctx, store_id, key) = (
                    store.clone(),
                    self.ctx.clone(),
                    store_id.to_owned(),
                    id.clone(),
                );
                let id = id.clone();
                tasks
                    .spawn(key, async move {
                        push(&store, &target(&ctx, &store_id), kind, &id, None).await
                    })
                    .await;
            }
            tally(store, job, i, kind, tasks).await?;
        }
        store
            .set_cursor(&job.job_id, store_id, kind, PHASE_DONE)
            .await?;
        report(store, job, self.progress, self.started, self.before).await;
        Ok(())
    }

    /// Saves the window's watermark as the phase's cursor, when it moved, and reports.
    async fn save_watermark(
        &self,
        job: &mut pb::JobProgress,
        store_id: &str,
        kind: RecordKind,
        window: &super::window::Window,
        saved: &mut Option<Vec<u8>>,
    ) -> Result<(), Stop> {
        let Some(mark) = window.watermark() else {
            return Ok(());
        };
        if saved.as_deref() != Some(mark) {
            self.store
                .set_cursor(&job.job_id, store_id, kind, mark)
                .await?;
            *saved = Some(mark.to_vec());
        }
        report(self.store, job, self.progress, self.started, self.before).await;
        Ok(())
    }
}

/// Counts a chunk's outcomes. A refused record is counted and listed and never blocks the
/// rest; a refused key or an unreachable Mailchimp ends the job (an upload started again
/// resumes it).
async fn tally(
    store: &Store,
    job: &mut pb::JobProgress,
    i: usize,
    kind: RecordKind,
    mut tasks: FanOut<String, Result<Pushed, PushError>>,
) -> Result<(), Stop> {
    while let Some((id, result)) = tasks.next().await {
        count(
            store,
            job,
            i,
            kind,
            id,
            result.unwrap_or_else(|p| Err(p.into())),
        )?;
    }
    Ok(())
}

/// Counts one record's outcome in phase `i`.
fn count(
    store: &Store,
    job: &mut pb::JobProgress,
    i: usize,
    kind: RecordKind,
    id: String,
    result: Result<Pushed, PushError>,
) -> Result<(), Stop> {
    let store_id = job.phases[i].store_id.clone();
    match outcome(store, &store_id, kind, &id, result)? {
        Ok(Pushed::Unchanged | Pushed::Skipped) => job.phases[i].skipped += 1,
        Ok(_) => job.phases[i].done += 1,
        Err(Refusal(p)) => {
            job.phases[i].failed += 1;
            if job.errors.len() < MAX_ERRORS {
                job.errors.push(pb::SyncError {
                    store_id,
                    kind: kind_to_pb(kind) as i32,
                    id,
                    status: i32::from(p.status),
                    title: p.title.clone(),
                    detail: p.detail.clone(),
                    field_errors: p.field_errors(),
                    attempts: 1,
                    at: Some(now()),
                });
            }
        }
    }
    Ok(())
}

async fn report(
    store: &Store,
    job: &mut pb::JobProgress,
    progress: &watch::Sender<pb::JobProgress>,
    started: Instant,
    before: i64,
) {
    let total: i64 = job.phases.iter().map(|p| p.total).sum();
    let done = processed(job);
    job.percent = if total == 0 {
        100.0
    } else {
        100.0 * done as f64 / total as f64
    };
    let secs = started.elapsed().as_secs_f64().max(0.001);
    job.rate = (done - before) as f64 / secs;
    job.eta_seconds = if job.rate > 0.0 {
        (total - done).max(0) as f64 / job.rate
    } else {
        0.0
    };
    if let Err(e) = store.save_job(job).await {
        tracing::warn!(error = %e, "saving job progress failed");
    }
    progress.send_replace(job.clone());
}

/// A phase's kind, by name, for its span.
fn progress_kind(kind: i32) -> &'static str {
    record::kind_from_pb(kind).map_or("unknown", RecordKind::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_phase_without_a_kind_is_a_damaged_job_not_a_panic() {
        let mut job = pb::JobProgress {
            job_id: "job-1".into(),
            ..Default::default()
        };
        job.phases.push(pb::PhaseProgress {
            kind: kind_to_pb(RecordKind::Order) as i32,
            ..Default::default()
        });
        job.phases.push(pb::PhaseProgress {
            kind: 99,
            ..Default::default()
        });
        assert_eq!(phase_kind(&job, 0).unwrap(), RecordKind::Order);
        let damaged = phase_kind(&job, 1).unwrap_err().to_string();
        assert!(
            damaged.contains("jobs/job-1") && damaged.contains("99"),
            "{damaged}"
        );
    }
}
