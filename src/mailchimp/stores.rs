//! A Mailchimp store itself: made once (never twice), found when another integration made it,
//! kept up to date, its `is_syncing` flag, and removed.

use serde_json::{Value, json};

use super::client::AccountClient;
use super::ecommerce::{Patchable, patch_body, store_domain};
use super::endpoint::{self, STORES, Verb, store_path};
use super::error::{ErrorKind, MailchimpError};

impl AccountClient {
    /// Whether Mailchimp has the store: `false` on a 404 for the store itself.
    pub async fn has_store(&self, store_id: &str) -> Result<bool, MailchimpError> {
        Ok(self.store_syncing(store_id).await?.is_some())
    }

    /// The store's `is_syncing`; `None` when Mailchimp has no such store.
    pub async fn store_syncing(&self, store_id: &str) -> Result<Option<bool>, MailchimpError> {
        let query = [("fields", "id,is_syncing".to_owned())];
        match self.get::<Value>(&store_path(store_id), &query).await {
            Ok(body) => Ok(Some(body["is_syncing"].as_bool().unwrap_or(false))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the store from its create body, never twice: after an ambiguous answer an
    /// update tells whether it was made (404: not made, created again, within the retry
    /// policy's attempts); a store that exists already is updated.
    pub async fn create_store(&self, id: &str, body: &Value) -> Result<(), MailchimpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.create(STORES, body).await {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return self.update_store(id, body).await;
                }
                Err(e) if e.is_ambiguous() => match self.update_store(id, body).await {
                    Err(e) if e.kind() == ErrorKind::NotFound && self.back_off(attempt).await => {}
                    other => return other,
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings a store up to date from its create body, less what a PATCH does not take (its
    /// id and list).
    pub async fn update_store(&self, id: &str, body: &Value) -> Result<(), MailchimpError> {
        self.patch_store(id, &patch_body(Patchable::Store, body))
            .await
    }

    /// "Update store data": the shop's identity only, leaving `is_syncing` as it is.
    pub async fn update_store_identity(
        &self,
        id: &str,
        body: &Value,
    ) -> Result<(), MailchimpError> {
        self.patch_store(id, &patch_body(Patchable::StoreIdentity, body))
            .await
    }

    /// Sets the store's `is_syncing`, which holds Mailchimp's automations during an upload.
    pub async fn set_store_syncing(&self, id: &str, syncing: bool) -> Result<(), MailchimpError> {
        self.patch_store(id, &json!({ "is_syncing": syncing }))
            .await
    }

    async fn patch_store(&self, id: &str, patch: &Value) -> Result<(), MailchimpError> {
        self.send(reqwest::Method::PATCH, &store_path(id), &[], Some(patch))
            .await
            .map(|_| ())
    }

    /// A store Mailchimp has for this list and this shop: with our domain, or the bare shop
    /// URL (as other integrations, X-Cart's own addon among them, name it).
    pub async fn find_store(
        &self,
        list_id: &str,
        shop_url: &str,
    ) -> Result<Option<String>, MailchimpError> {
        let ours = store_domain(shop_url, list_id);
        let bare = shop_url.trim_end_matches('/');
        let stores: Vec<Value> = self
            .get_all_fields(
                STORES,
                "stores",
                Some("stores.id,stores.list_id,stores.domain"),
            )
            .await?;
        let found = stores.iter().find(|s| {
            let domain = s["domain"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches('/');
            s["list_id"] == list_id && (domain == ours || domain == bare)
        });
        Ok(found.and_then(|s| s["id"].as_str().map(str::to_owned)))
    }

    /// Deletes a store with everything in it (gone already is fine).
    pub async fn delete_store(&self, store_id: &str) -> Result<(), MailchimpError> {
        match self
            .send(reqwest::Method::DELETE, &store_path(store_id), &[], None)
            .await
        {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Deletes one variant of a product (a variant the shop no longer has); gone already is
    /// fine.
    pub async fn delete_variant(
        &self,
        store_id: &str,
        product_id: &str,
        variant_id: &str,
    ) -> Result<(), MailchimpError> {
        let request = endpoint::variant(store_id, product_id, variant_id, Verb::Delete);
        match self.execute(&request, None).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
