//! What a store holds, cheaply: the ids of a collection (and of each product's variants), read
//! 1,000 at a time with `fields=` so that a page carries ids only.

use serde::Deserialize;

use super::client::{AccountClient, MAX_PAGE};
use super::endpoint::{Collection, Records};
use super::error::MailchimpError;

/// One record Mailchimp holds: its id and, for a product, its variants' ids.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Held {
    /// The record's id.
    pub id: String,
    #[serde(default)]
    /// A product's variants (empty for other records).
    pub variants: Vec<HeldVariant>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
/// One variant Mailchimp holds.
pub struct HeldVariant {
    /// The variant's id.
    pub id: String,
}

impl AccountClient {
    /// Every record of a store's collection, ids only: one read per 1,000 records.
    pub async fn held(
        &self,
        store_id: &str,
        collection: Collection,
    ) -> Result<Vec<Held>, MailchimpError> {
        let (path, field, fields) = held_query(store_id, collection);
        self.get_all_fields(&path, field, Some(&fields)).await
    }

    /// [`Self::held`] a page at a time, handed to `on_page` as each arrives (in no order), so
    /// that a store of millions is never held whole.
    pub async fn each_held<E: From<MailchimpError>>(
        &self,
        store_id: &str,
        collection: Collection,
        mut on_page: impl FnMut(Vec<Held>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (path, field, fields) = held_query(store_id, collection);
        self.each_page(&path, field, Some(&fields), |_, page| on_page(page))
            .await
    }

    /// The ids of a promo rule's codes (one read per 1,000 codes; mcsync's rules have one).
    pub async fn promo_code_ids(
        &self,
        store_id: &str,
        rule_id: &str,
    ) -> Result<Vec<String>, MailchimpError> {
        let path = Records::promo_codes(store_id, rule_id).path();
        let held: Vec<Held> = self
            .get_all_fields(&path, "promo_codes", Some("promo_codes.id"))
            .await?;
        Ok(held.into_iter().map(|h| h.id).collect())
    }

    /// The reads [`Self::held`] takes for `n` records.
    pub fn reads_for(n: usize) -> u64 {
        (n as u64).div_ceil(MAX_PAGE).max(1)
    }
}

/// The path, the collection's field and `fields=` of a read of ids.
fn held_query(store_id: &str, collection: Collection) -> (String, &'static str, String) {
    let field = collection.field();
    let fields = if collection == Collection::Products {
        format!("{field}.id,{field}.variants.id")
    } else {
        format!("{field}.id")
    };
    (Records::new(store_id, collection).path(), field, fields)
}
