//! Reconciliation. Mailchimp is the truth about what a store holds; mcsync's memory of what it
//! accepted (`synced`) is only a cache of it. Before a job sends anything to a store, it reads
//! the ids the store holds (ids only, 1,000 per read) and corrects the memory, so that the
//! phases that follow repair any desync with the requests they already know how to send:
//! - remembered but not held (deleted in Mailchimp): forgotten, so the phase creates it again;
//! - held but not remembered, and in the shop: remembered as "maybe there", so the phase
//!   updates it (a create would be refused as "already exists");
//! - held but not in the shop (an orphan): remembered as "maybe there", so the phase deletes it
//!   as it deletes what the shop deleted. Customers an order or cart of the shop names, and
//!   products made from order lines, are not orphans;
//! - a product's variants: one the shop has and Mailchimp lacks makes the product "maybe
//!   there", so the phase sends it again (a PATCH upserts the variants it names); one Mailchimp
//!   has that neither the shop nor an order line has is deleted here.
//!
//! An unchanged shop against an intact store changes nothing: only the reads are added.

use std::collections::{HashMap, HashSet};

use crate::domain::record::RecordKind;
use crate::mailchimp::Collection;
use crate::mailchimp::ids::Held;
use crate::mailchimp::{AccountClient, MailchimpError, ecommerce};
use crate::proto::v1 as pb;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::synced::MAYBE;

#[derive(Debug, thiserror::Error)]
/// Why a store could not be reconciled.
pub enum ReconcileError {
    #[error(transparent)]
    /// Mailchimp failed or refused.
    Mailchimp(#[from] MailchimpError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] StoreError),
}

/// What a store holds against what mcsync remembers of it: the corrections, not yet made.
#[derive(Debug, Default)]
pub struct Diff {
    /// Remembered, not held: to forget.
    pub forget: HashSet<(RecordKind, String)>,
    /// Held, not remembered (adopted or orphans), or a product missing variants: to remember
    /// as "maybe there".
    pub maybe: HashSet<(RecordKind, String)>,
    /// Variants held that neither the shop nor an order line has: (product, variant).
    pub variant_deletes: Vec<(String, String)>,
    /// Variants made from lines that Mailchimp no longer holds: made again when next named.
    pub lost_line_variants: Vec<(String, String)>,
    /// What the job reports of it.
    pub report: pb::Reconciliation,
}

/// Reconciles one store (reads, then corrections); `carts` says whether carts are uploaded.
/// A store `new` (just made: Mailchimp answered 404 for it, then took its create) holds
/// nothing, so it is compared without reading it.
pub async fn reconcile(
    store: &Store,
    client: &AccountClient,
    (store_id, list_id): (&str, &str),
    carts: bool,
    new: bool,
) -> Result<pb::Reconciliation, ReconcileError> {
    let diff = if new {
        let held = super::upload::phase_kinds(carts)
            .into_iter()
            .map(|k| (k, Vec::new()))
            .collect();
        compare(store, report(store_id, list_id), held, false)?
    } else {
        read(store, client, (store_id, list_id), carts).await?
    };
    apply(store, client, store_id, diff).await
}

fn report(store_id: &str, list_id: &str) -> pb::Reconciliation {
    pb::Reconciliation {
        store_id: store_id.to_owned(),
        list_id: list_id.to_owned(),
        at: Some(prost_types::Timestamp {
            seconds: crate::domain::now(),
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// Reads what the store holds and compares: nothing is written, here or in Mailchimp.
pub async fn read(
    store: &Store,
    client: &AccountClient,
    (store_id, list_id): (&str, &str),
    carts: bool,
) -> Result<Diff, ReconcileError> {
    // The reads run together; the client keeps them within the key's connections.
    let (coupons, products, customers, orders, cart_ids) = tokio::join!(
        client.held(store_id, Collection::PromoRules),
        client.held(store_id, Collection::Products),
        client.held(store_id, Collection::Customers),
        client.held(store_id, Collection::Orders),
        async {
            match carts {
                true => client.held(store_id, Collection::Carts).await,
                false => Ok(Vec::new()),
            }
        },
    );
    let mut held = vec![
        (RecordKind::Coupon, coupons?),
        (RecordKind::Product, products?),
        (RecordKind::Customer, customers?),
        (RecordKind::Order, orders?),
    ];
    if carts {
        held.push((RecordKind::Cart, cart_ids?));
    }
    compare(store, report(store_id, list_id), held, true)
}

/// The diff between what a store holds (`held`, per kind) and what mcsync remembers;
/// `read`: whether `held` was read from Mailchimp (counted in the report).
fn compare(
    store: &Store,
    report: pb::Reconciliation,
    held: Vec<(RecordKind, Vec<Held>)>,
    read: bool,
) -> Result<Diff, ReconcileError> {
    let store_id = report.store_id.clone();
    let mut diff = Diff {
        report,
        ..Default::default()
    };
    for (kind, held) in held {
        if read {
            diff.report.reads += AccountClient::reads_for(held.len()) as i64;
        }
        kind_ids(store, &store_id, kind, &held, &mut diff)?;
        if kind == RecordKind::Product {
            variants(store, &store_id, &held, &mut diff)?;
        }
    }
    Ok(diff)
}

/// Makes the corrections a [`read`] found, and keeps its report for GetSyncStatus.
pub async fn apply(
    store: &Store,
    client: &AccountClient,
    store_id: &str,
    diff: Diff,
) -> Result<pb::Reconciliation, ReconcileError> {
    for (kind, id) in &diff.forget {
        store.clear_synced(store_id, *kind, id)?;
    }
    for (kind, id) in &diff.maybe {
        store.set_synced(store_id, *kind, id, MAYBE)?;
    }
    for (product, variant) in &diff.lost_line_variants {
        store.unmark_line_variant(store_id, product, variant)?;
    }
    for (product, variant) in &diff.variant_deletes {
        client.delete_variant(store_id, product, variant).await?;
    }
    store.save_reconciliation(&diff.report)?;
    Ok(diff.report)
}

fn kind_ids(
    store: &Store,
    store_id: &str,
    kind: RecordKind,
    held: &[Held],
    diff: &mut Diff,
) -> Result<(), StoreError> {
    let r = &mut diff.report;
    let held_ids: HashSet<&str> = held.iter().map(|h| h.id.as_str()).collect();
    let remembered = store.synced_ids(store_id, kind)?;
    for id in &remembered {
        if !held_ids.contains(id.as_str()) {
            diff.forget.insert((kind, id.clone()));
            r.missing_in_mailchimp += 1;
        }
    }
    let remembered: HashSet<String> = remembered.into_iter().collect();
    let mut named: Option<HashSet<String>> = None;
    for id in held_ids {
        if remembered.contains(id) {
            continue;
        }
        let in_shop = store.record(kind, id)?.is_some();
        if !in_shop {
            let kept = match kind {
                RecordKind::Product => store.is_line_product(store_id, id)?,
                RecordKind::Customer => {
                    if named.is_none() {
                        named = Some(customers_named(store)?);
                    }
                    named.as_ref().is_some_and(|n| n.contains(id))
                }
                _ => false,
            };
            if kept {
                continue;
            }
            r.orphans += 1;
        } else {
            r.adopted += 1;
        }
        diff.maybe.insert((kind, id.to_owned()));
    }
    Ok(())
}

/// Customer ids the shop's orders and carts name: Mailchimp made them from those, and
/// deleting them would take their orders' customer away.
fn customers_named(store: &Store) -> Result<HashSet<String>, StoreError> {
    let mut named = HashSet::new();
    for kind in [RecordKind::Order, RecordKind::Cart] {
        store.each_record(kind, |_, record| {
            let customer = match record {
                pb::record::Record::Order(o) => o.customer,
                pb::record::Record::Cart(c) => c.customer,
                _ => None,
            };
            named.extend(customer.map(|c| c.id));
            Ok(())
        })?;
    }
    Ok(named)
}

/// Variants of the products both the shop and Mailchimp have.
fn variants(
    store: &Store,
    store_id: &str,
    held: &[Held],
    diff: &mut Diff,
) -> Result<(), StoreError> {
    let mut from_lines: HashMap<String, HashSet<String>> = HashMap::new();
    for (product, variant) in store.line_variants(store_id)? {
        from_lines.entry(product).or_default().insert(variant);
    }
    for h in held {
        let held_variants: HashSet<&str> = h.variants.iter().map(|v| v.id.as_str()).collect();
        // A line's variant Mailchimp lost is made again from the next order naming it.
        for v in from_lines.get(&h.id).into_iter().flatten() {
            if !held_variants.contains(v.as_str()) {
                diff.lost_line_variants.push((h.id.clone(), v.clone()));
            }
        }
        let Some(pb::record::Record::Product(p)) =
            store.decoded_record(RecordKind::Product, &h.id)?
        else {
            continue;
        };
        let shop: HashSet<String> = if p.variants.is_empty() {
            HashSet::from([ecommerce::default_variant_id(&p.id)])
        } else {
            p.variants.iter().map(|v| v.id.clone()).collect()
        };
        let missing = shop
            .iter()
            .filter(|v| !held_variants.contains(v.as_str()))
            .count();
        if missing > 0 {
            diff.report.variants_missing += missing as i64;
            diff.maybe.insert((RecordKind::Product, h.id.clone()));
        }
        let lines = from_lines.get(&h.id);
        for v in held_variants {
            if !shop.contains(v) && !lines.is_some_and(|l| l.contains(v)) {
                diff.variant_deletes.push((h.id.clone(), v.to_owned()));
                diff.report.variants_deleted += 1;
            }
        }
    }
    Ok(())
}
