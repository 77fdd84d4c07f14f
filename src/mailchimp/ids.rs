//! What a store holds, cheaply: the ids of a collection (and of each product's variants), read
//! 1,000 at a time with `fields=` so that a page carries ids only.

use serde::Deserialize;

use super::client::{AccountClient, MAX_PAGE, seg};
use super::error::MailchimpError;

/// An e-commerce collection of a store, by its path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Products,
    Customers,
    Orders,
    Carts,
    PromoRules,
}

impl Collection {
    fn path(self) -> &'static str {
        match self {
            Collection::Products => "products",
            Collection::Customers => "customers",
            Collection::Orders => "orders",
            Collection::Carts => "carts",
            Collection::PromoRules => "promo-rules",
        }
    }

    /// The array the collection's page holds its items in.
    fn field(self) -> &'static str {
        match self {
            Collection::PromoRules => "promo_rules",
            other => other.path(),
        }
    }
}

/// One record Mailchimp holds: its id and, for a product, its variants' ids.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Held {
    pub id: String,
    #[serde(default)]
    pub variants: Vec<HeldVariant>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HeldVariant {
    pub id: String,
}

impl AccountClient {
    /// Every record of a store's collection, ids only: one read per 1,000 records.
    pub async fn held(
        &self,
        store_id: &str,
        collection: Collection,
    ) -> Result<Vec<Held>, MailchimpError> {
        let field = collection.field();
        let fields = if collection == Collection::Products {
            format!("{field}.id,{field}.variants.id")
        } else {
            format!("{field}.id")
        };
        let path = format!("/ecommerce/stores/{}/{}", seg(store_id), collection.path());
        self.get_all_fields(&path, field, Some(&fields)).await
    }

    /// The reads [`Self::held`] takes for `n` records.
    pub fn reads_for(n: usize) -> u64 {
        (n as u64).div_ceil(MAX_PAGE).max(1)
    }

    /// Whether Mailchimp has the store: `false` on a 404 for the store itself.
    pub async fn has_store(&self, store_id: &str) -> Result<bool, MailchimpError> {
        let path = format!("/ecommerce/stores/{}", seg(store_id));
        match self
            .send(
                reqwest::Method::GET,
                &path,
                &[("fields", "id".into())],
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(MailchimpError::Api(p)) if p.status == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a store with everything in it (gone already is fine).
    pub async fn delete_store(&self, store_id: &str) -> Result<(), MailchimpError> {
        let path = format!("/ecommerce/stores/{}", seg(store_id));
        match self.send(reqwest::Method::DELETE, &path, &[], None).await {
            Err(MailchimpError::Api(p)) if p.status == 404 => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Deletes one variant of a product (a variant the shop no longer has).
    pub async fn delete_variant(
        &self,
        store_id: &str,
        product_id: &str,
        variant_id: &str,
    ) -> Result<(), MailchimpError> {
        let path = format!(
            "/ecommerce/stores/{}/products/{}/variants/{}",
            seg(store_id),
            seg(product_id),
            seg(variant_id)
        );
        match self.send(reqwest::Method::DELETE, &path, &[], None).await {
            Err(MailchimpError::Api(p)) if p.status == 404 => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
