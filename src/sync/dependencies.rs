//! A record's dependencies, pushed before it: the products an order or a cart names (a minimal
//! product made from the line when the mirror lacks it) and a line's variant that Mailchimp
//! lacks.

use std::collections::HashMap;
use std::sync::Arc;

use super::context::{UploadContext, target};
use super::push::{PushError, Pushed, Target, push_as};
use crate::domain::record::RecordKind;
use crate::mailchimp::ecommerce;
use crate::proto::v1 as pb;
use crate::store::Store;

/// An order's products go first: a line whose product the mirror lacks gets a minimal product
/// made from the line, so that Mailchimp accepts the order.
pub async fn push_with_dependencies(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    kind: RecordKind,
    id: &str,
    record: Option<&pb::record::Record>,
    may_exist: bool,
) -> Result<Pushed, PushError> {
    ensure_line_products(store, ctx, store_id, record, may_exist).await?;
    push_as(store, &target(ctx, store_id), kind, id, record, may_exist).await
}

/// A lock per (store, product) made from lines: two lanes whose orders name the same product
/// the mirror lacks would both find it unsent and both create it, and Mailchimp refuses the
/// second ("A product with the provided ID already exists"). Held, the second finds it sent.
#[derive(Default)]
pub struct LineProducts(std::sync::Mutex<HashMap<(String, String), ProductLock>>);

type ProductLock = Arc<tokio::sync::Mutex<()>>;

impl LineProducts {
    fn lock(&self, store_id: &str, product_id: &str) -> ProductLock {
        self.0
            .lock()
            .expect("line product locks")
            .entry((store_id.to_owned(), product_id.to_owned()))
            .or_default()
            .clone()
    }
}

/// The minimal products of an order's or a cart's lines that the mirror lacks.
pub async fn ensure_line_products(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    record: Option<&pb::record::Record>,
    may_exist: bool,
) -> Result<(), PushError> {
    let t = target(ctx, store_id);
    let lines = match record {
        Some(pb::record::Record::Order(o)) => o.lines.as_slice(),
        Some(pb::record::Record::Cart(c)) => c.lines.as_slice(),
        _ => &[],
    };
    for line in lines {
        if let Some(product) = store.decoded_record(RecordKind::Product, &line.product_id)? {
            line_variant(store, &t, &product, line).await?;
            continue;
        }
        let title = |fallback: &str| {
            if line.title.is_empty() {
                fallback.to_owned()
            } else {
                line.title.clone()
            }
        };
        let product = pb::record::Record::Product(pb::Product {
            id: line.product_id.clone(),
            title: title(&line.product_id),
            variants: vec![pb::ProductVariant {
                id: line.variant_id.clone(),
                title: title(&line.variant_id),
                sku: line.sku.clone(),
                price: line.price.clone(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let id = &line.product_id;
        let lock = ctx.line_products.lock(store_id, id);
        let _made_once = lock.lock().await;
        // Marked before it is sent: a failed create remembers it as "maybe there" while it
        // backs off, and the product phase, finishing meanwhile, would take a remembered
        // product the mirror lacks for one the shop deleted and delete it under the order.
        store.mark_line_product(store_id, id)?;
        push_as(
            store,
            &t,
            RecordKind::Product,
            id,
            Some(&product),
            may_exist,
        )
        .await?;
    }
    Ok(())
}

/// A line naming a variant its product lacks (the shop sold a variant it does not list): the
/// variant is made from the line (`PUT …/variants/{id}`, an upsert) before the order or cart,
/// which Mailchimp would refuse otherwise. Only where Mailchimp has the product from us (a
/// product it lacks comes with its own phase or push), and once per store and variant.
async fn line_variant(
    store: &Store,
    t: &Target<'_>,
    product: &pb::record::Record,
    line: &pb::LineItem,
) -> Result<(), PushError> {
    let pb::record::Record::Product(p) = product else {
        return Ok(());
    };
    let listed = if p.variants.is_empty() {
        line.variant_id == ecommerce::default_variant_id(&p.id)
    } else {
        p.variants.iter().any(|v| v.id == line.variant_id)
    };
    if listed
        || line.variant_id.is_empty()
        || store
            .synced_hash(t.store_id, RecordKind::Product, &p.id)?
            .is_none()
        || store.is_line_variant(t.store_id, &p.id, &line.variant_id)?
    {
        return Ok(());
    }
    t.client
        .put_line_variant(t.store_id, &p.id, &ecommerce::line_variant_body(line))
        .await?;
    store.mark_line_variant(t.store_id, &p.id, &line.variant_id)?;
    Ok(())
}
