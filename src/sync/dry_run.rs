//! A dry run: what an upload would do, before it does it. Each store is reconciled with reads
//! only, and each record of the mirror is planned against mcsync's memory as the
//! reconciliation would correct it: create, update, delete or unchanged. Nothing is written,
//! to Mailchimp or to the memory.

use std::collections::{HashMap, HashSet};

use super::context::{UploadContext, target};
use super::phases::phase_kinds;
use super::push::body_hash;
use super::reconcile::{self, Diff, ReconcileError};
use super::store_setup::store_gone;
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
    let emails = shop_emails(store, ctx.abandoned_carts)?;
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
        job.new_contacts
            .push(new_contacts(store, ctx, list_id, &store_id, &emails).await?);
    }
    let rules = store.settings()?.choices().tag_rules;
    job.tag_rules = super::tags::plan(store, ctx, &rules)?;
    job.finished_at = Some(prost_types::Timestamp {
        seconds: crate::domain::now(),
        nanos: 0,
    });
    Ok(job)
}

/// Audiences larger than this are not read for a preview (100 reads); the figure is then an
/// upper bound.
const EXACT_UP_TO: u64 = 100_000;

/// Every email an upload makes a contact of (customers, and the customers of orders and, when
/// sent, carts), lower-cased, with whether a customer record of it gave marketing consent.
fn shop_emails(
    store: &Store,
    carts: bool,
) -> Result<HashMap<String, bool>, crate::store::StoreError> {
    let mut emails: HashMap<String, bool> = HashMap::new();
    let mut kinds = vec![RecordKind::Customer, RecordKind::Order];
    if carts {
        kinds.push(RecordKind::Cart);
    }
    for kind in kinds {
        store.each_record(kind, |_, record| {
            let (email, consents) = match record {
                pb::record::Record::Customer(c) => (c.email, c.accepts_marketing),
                pb::record::Record::Order(o) => {
                    (o.customer.map(|c| c.email).unwrap_or_default(), false)
                }
                pb::record::Record::Cart(c) if !c.lines.is_empty() => {
                    (c.customer.map(|c| c.email).unwrap_or_default(), false)
                }
                _ => return Ok(()),
            };
            if !email.is_empty() {
                *emails.entry(email.to_lowercase()).or_default() |= consents;
            }
            Ok(())
        })?;
    }
    Ok(emails)
}

/// The contacts an upload would add to `list_id`: exact against its members when it has at
/// most [`EXACT_UP_TO`], else an upper bound (every email not already sent to the store as a
/// customer). A consenting customer becomes subscribed under single opt-in, pending under
/// double; everyone else a transactional contact.
async fn new_contacts(
    store: &Store,
    ctx: &UploadContext,
    list_id: &str,
    store_id: &str,
    emails: &HashMap<String, bool>,
) -> Result<pb::NewContacts, ReconcileError> {
    let (members, reads) = ctx.client.member_emails(list_id, EXACT_UP_TO).await?;
    let mut out = pb::NewContacts {
        list_id: list_id.to_owned(),
        exact: members.is_some(),
        reads: reads as i64,
        ..Default::default()
    };
    let known: HashSet<String> = match &members {
        Some(_) => HashSet::new(),
        None => {
            let mut sent = HashSet::new();
            store.each_record(RecordKind::Customer, |id, record| {
                if let pb::record::Record::Customer(c) = record {
                    if store
                        .synced_hash(store_id, RecordKind::Customer, id)?
                        .is_some()
                    {
                        sent.insert(c.email.to_lowercase());
                    }
                }
                Ok(())
            })?;
            sent
        }
    };
    for (email, consents) in emails {
        let held = members
            .as_ref()
            .map_or(known.contains(email), |m| m.contains(email));
        if held {
            continue;
        }
        match (consents, ctx.single_opt_in) {
            (true, true) => out.subscribed += 1,
            (true, false) => out.pending += 1,
            (false, _) => out.transactional += 1,
        }
    }
    Ok(out)
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
