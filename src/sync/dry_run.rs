//! A dry run: what an upload would do, before it does it. Each store is reconciled with reads
//! only, and each record of the mirror is planned against mcsync's memory as the
//! reconciliation would correct it: create, update, delete or unchanged. Nothing is written,
//! to Mailchimp or to the memory.

use super::context::{UploadContext, target};
use super::push::body_hash;
use super::reconcile::{self, Diff, ReconcileError};
use super::store_setup::store_gone;
use super::upload::phase_kinds;
use crate::domain::record::{RecordKind, kind_to_pb};
use crate::mailchimp::ecommerce;
use crate::proto::v1 as pb;
use crate::store::Store;
use crate::store::records::HASH_LEN;
use crate::store::synced::MAYBE;

/// The plan of an upload with `ctx`, as one (not recorded) JobProgress.
pub async fn dry_run(
    store: &Store,
    ctx: &UploadContext,
) -> Result<pb::JobProgress, ReconcileError> {
    let started = crate::domain::now();
    let mut job = pb::JobProgress {
        state: pb::JobState::Succeeded as i32,
        mode: ctx.mode as i32,
        dry_run: true,
        percent: 100.0,
        started_at: Some(prost_types::Timestamp {
            seconds: started,
            nanos: 0,
        }),
        ..Default::default()
    };
    for (list_id, _) in &ctx.lists {
        let known = store.mc_store(&ctx.account_id, list_id)?;
        let (store_id, memory) = match known {
            None => (
                ecommerce::store_id(&ctx.account_id, list_id, &ctx.shop.shop_url),
                Memory::Empty,
            ),
            Some(id) if store_gone(&ctx.client, &id).await => {
                let mut r = pb::Reconciliation {
                    store_id: id.clone(),
                    list_id: list_id.clone(),
                    store_recreated: true,
                    ..Default::default()
                };
                for kind in RecordKind::ALL {
                    r.missing_in_mailchimp += store.count_synced(&id, kind) as i64;
                }
                job.reconciliations.push(r);
                (id, Memory::Empty)
            }
            Some(id) => {
                let diff = reconcile::read(store, &ctx.client, (&id, list_id), ctx.abandoned_carts)
                    .await?;
                job.reconciliations.push(diff.report.clone());
                (id, Memory::Corrected(Box::new(diff)))
            }
        };
        for kind in phase_kinds(ctx.abandoned_carts) {
            job.plan
                .push(plan_kind(store, ctx, (&store_id, list_id), &memory, kind)?);
        }
    }
    job.finished_at = Some(prost_types::Timestamp {
        seconds: crate::domain::now(),
        nanos: 0,
    });
    Ok(job)
}

/// mcsync's memory of a store, as the upload would see it after reconciling.
enum Memory {
    /// A store to create: nothing is there.
    Empty,
    Corrected(Box<Diff>),
}

impl Memory {
    fn synced(
        &self,
        store: &Store,
        store_id: &str,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<[u8; HASH_LEN]>, crate::store::StoreError> {
        let Memory::Corrected(diff) = self else {
            return Ok(None);
        };
        let key = (kind, id.to_owned());
        if diff.forget.contains(&key) {
            return Ok(None);
        }
        if diff.maybe.contains(&key) {
            return Ok(Some(MAYBE));
        }
        store.synced_hash(store_id, kind, id)
    }

    /// Ids the upload would delete: what the shop deleted and Mailchimp still holds (as the
    /// phases find them), and the orphans reconciling found.
    fn deletes(
        &self,
        store: &Store,
        store_id: &str,
        kind: RecordKind,
    ) -> Result<i64, crate::store::StoreError> {
        let Memory::Corrected(diff) = self else {
            return Ok(0);
        };
        let mut n = 0;
        for id in store.synced_but_deleted(store_id, kind)? {
            if !diff.forget.contains(&(kind, id)) {
                n += 1;
            }
        }
        // Held, never remembered, not in the shop: an orphan (adopted records are in the shop).
        for (_, id) in diff.maybe.iter().filter(|(k, _)| *k == kind) {
            if store.synced_hash(store_id, kind, id)?.is_none() && store.record(kind, id)?.is_none()
            {
                n += 1;
            }
        }
        Ok(n)
    }
}

fn plan_kind(
    store: &Store,
    ctx: &UploadContext,
    (store_id, list_id): (&str, &str),
    memory: &Memory,
    kind: RecordKind,
) -> Result<pb::PlannedPhase, crate::store::StoreError> {
    let t = target(ctx, store_id);
    let mut p = pb::PlannedPhase {
        store_id: store_id.to_owned(),
        list_id: list_id.to_owned(),
        kind: kind_to_pb(kind) as i32,
        deletes: memory.deletes(store, store_id, kind)?,
        ..Default::default()
    };
    store.each_record(kind, |id, record| {
        let synced = memory.synced(store, store_id, kind, id)?;
        match (synced, body_hash(&t, &record)) {
            (None, None) => p.unchanged += 1,
            (None, Some(_)) => p.creates += 1,
            (Some(_), None) => p.deletes += 1,
            (Some(h), Some(b)) if h == b => p.unchanged += 1,
            (Some(_), Some(_)) => p.updates += 1,
        }
        Ok(())
    })?;
    Ok(p)
}
