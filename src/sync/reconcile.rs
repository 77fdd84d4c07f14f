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
//! - a coupon's promo code: for each rule mcsync made and Mailchimp holds, its codes are read
//!   too (`fields=`); a rule whose code is gone makes the coupon "maybe there", so the phase
//!   updates the rule and, on the code's 404, creates the code again.
//!
//! An unchanged shop against an intact store changes nothing: only the reads are added.

use std::collections::{HashMap, HashSet};

use crate::domain::record::RecordKind;
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
        let mut diff = Diff {
            report: report(store_id, list_id),
            ..Default::default()
        };
        for kind in super::phases::phase_kinds(carts) {
            forget_unheld(store, store_id, kind, Vec::new(), &mut diff)?;
        }
        diff
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
/// Each page is compared as it arrives and only a 16-byte digest of each id read is kept,
/// so a store of a million orders is compared in tens of megabytes, not in its ids.
pub async fn read(
    store: &Store,
    client: &AccountClient,
    (store_id, list_id): (&str, &str),
    carts: bool,
) -> Result<Diff, ReconcileError> {
    let mut from_lines: HashMap<String, HashSet<String>> = HashMap::new();
    for (product, variant) in store.line_variants(store_id)? {
        from_lines.entry(product).or_default().insert(variant);
    }
    let scan = |kind| scan(store, client, store_id, kind, &from_lines);
    // The reads run together; the client keeps them within the key's connections.
    let (coupons, products, customers, orders, cart_diff) = tokio::join!(
        scan(RecordKind::Coupon),
        scan(RecordKind::Product),
        scan(RecordKind::Customer),
        scan(RecordKind::Order),
        async {
            match carts {
                true => scan(RecordKind::Cart).await,
                false => Ok(Diff::default()),
            }
        },
    );
    let mut diff = Diff {
        report: report(store_id, list_id),
        ..Default::default()
    };
    for part in [coupons?, products?, customers?, orders?, cart_diff?] {
        diff.merge(part);
    }
    Ok(diff)
}

/// One kind of a store, read page by page and compared with mcsync's memory.
async fn scan(
    store: &Store,
    client: &AccountClient,
    store_id: &str,
    kind: RecordKind,
    from_lines: &HashMap<String, HashSet<String>>,
) -> Result<Diff, ReconcileError> {
    let mut diff = Diff::default();
    let mut seen = Vec::new();
    let mut named = None;
    // Promo rules mcsync made and Mailchimp holds: their codes are read next.
    let mut rules = Vec::new();
    client
        .each_held(store_id, super::push::collection(kind), |page| {
            diff.report.reads += 1;
            for h in &page {
                seen.push(digest(&h.id));
                held_one(store, store_id, kind, &h.id, &mut named, &mut diff)?;
                if kind == RecordKind::Coupon
                    && store
                        .synced_hash(store_id, kind, &h.id)?
                        .is_some_and(|s| s != MAYBE)
                {
                    rules.push(h.id.clone());
                }
            }
            if kind == RecordKind::Product {
                variants(store, &page, from_lines, &mut diff)?;
            }
            Ok::<_, ReconcileError>(())
        })
        .await?;
    forget_unheld(store, store_id, kind, seen, &mut diff)?;
    promo_codes(client, store_id, rules, &mut diff).await?;
    Ok(diff)
}

/// Each rule's code (a coupon's rule and code share its id): a rule Mailchimp holds without
/// it makes the coupon "maybe there", so the phase sends the code again.
async fn promo_codes(
    client: &AccountClient,
    store_id: &str,
    rules: Vec<String>,
    diff: &mut Diff,
) -> Result<(), ReconcileError> {
    let mut reads: super::fan_out::FanOut<String, Result<Vec<String>, MailchimpError>> =
        super::fan_out::FanOut::new(super::fan_out::FAN_OUT);
    for rule in rules {
        let (client, store_id, id) = (client.clone(), store_id.to_owned(), rule.clone());
        reads
            .spawn(
                rule,
                async move { client.promo_code_ids(&store_id, &id).await },
            )
            .await;
    }
    for (rule, read) in reads.join_all().await {
        let codes = match read {
            Ok(codes) => codes?,
            Err(panicked) => {
                tracing::error!(%rule, %panicked, "reading a promo rule's codes");
                continue;
            }
        };
        diff.report.reads += 1;
        if !codes.contains(&rule) {
            diff.report.promo_codes_missing += 1;
            diff.maybe.insert((RecordKind::Coupon, rule));
        }
    }
    Ok(())
}

/// An id as a 128-bit digest: two ids of a store share one with odds of about 10^-27.
fn digest(id: &str) -> u128 {
    u128::from_le_bytes(md5::compute(id).0)
}

impl Diff {
    /// Adds what one kind's scan found.
    fn merge(&mut self, part: Diff) {
        self.forget.extend(part.forget);
        self.maybe.extend(part.maybe);
        self.variant_deletes.extend(part.variant_deletes);
        self.lost_line_variants.extend(part.lost_line_variants);
        let (r, p) = (&mut self.report, part.report);
        r.reads += p.reads;
        r.missing_in_mailchimp += p.missing_in_mailchimp;
        r.orphans += p.orphans;
        r.adopted += p.adopted;
        r.variants_missing += p.variants_missing;
        r.variants_deleted += p.variants_deleted;
        r.promo_codes_missing += p.promo_codes_missing;
    }
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

/// Remembered, not held (`seen`: the digest of every id held): to forget.
fn forget_unheld(
    store: &Store,
    store_id: &str,
    kind: RecordKind,
    mut seen: Vec<u128>,
    diff: &mut Diff,
) -> Result<(), StoreError> {
    seen.sort_unstable();
    seen.dedup();
    store.each_synced_id(store_id, kind, |id| {
        if seen.binary_search(&digest(id)).is_err() {
            diff.forget.insert((kind, id.to_owned()));
            diff.report.missing_in_mailchimp += 1;
        }
        Ok(())
    })
}

/// One id held: if mcsync does not remember it, it is adopted (in the shop) or an orphan,
/// both remembered as "maybe there". `named` is read the first time a customer needs it.
fn held_one(
    store: &Store,
    store_id: &str,
    kind: RecordKind,
    id: &str,
    named: &mut Option<HashSet<String>>,
    diff: &mut Diff,
) -> Result<(), StoreError> {
    let key = (kind, id.to_owned());
    // A page read twice (the collection shifted under the offsets) is counted once.
    if store.synced_hash(store_id, kind, id)?.is_some() || diff.maybe.contains(&key) {
        return Ok(());
    }
    let in_shop = store.record(kind, id)?.is_some();
    if !in_shop {
        let kept = match kind {
            RecordKind::Product => store.is_line_product(store_id, id)?,
            RecordKind::Customer => {
                if named.is_none() {
                    *named = Some(customers_named(store)?);
                }
                named.as_ref().is_some_and(|n| n.contains(id))
            }
            _ => false,
        };
        if kept {
            return Ok(());
        }
        diff.report.orphans += 1;
    } else {
        diff.report.adopted += 1;
    }
    diff.maybe.insert(key);
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
    held: &[Held],
    from_lines: &HashMap<String, HashSet<String>>,
    diff: &mut Diff,
) -> Result<(), StoreError> {
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
