//! A job's Mailchimp stores: found, adopted or made before any record is sent, and their
//! `is_syncing` flag raised for the job and lowered after it.

use super::context::UploadContext;
use super::stop::{During, Stop};
use crate::mailchimp::{AccountClient, ecommerce};
use crate::store::Store;

/// The store for a list: the one we made before, one Mailchimp has for this list and our
/// domain (adopted, never duplicated), or a new one; in each case with `is_syncing=true`.
pub(super) async fn ensure_store(
    store: &Store,
    ctx: &UploadContext,
    list_id: &str,
    list_name: &str,
) -> Result<(String, bool), Stop> {
    let fail = |source| Stop::Mailchimp {
        during: During::EnsureStore {
            list_id: list_id.to_owned(),
        },
        source,
    };
    let known = store.mc_store(&ctx.account_id, list_id)?;
    let first = known.is_none();
    let id =
        known.unwrap_or_else(|| ecommerce::store_id(&ctx.account_id, list_id, &ctx.shop.shop_url));
    let body = ecommerce::store_body(&id, list_id, list_name, &ctx.shop, true);
    let find = || ctx.client.find_store(list_id, &ctx.shop.shop_url);
    let (exists, adopted) = if first {
        // The list's first upload: most likely no store yet, so both are asked at once.
        let (exists, found) = tokio::join!(ctx.client.has_store(&id), find());
        let exists = exists.map_err(fail)?;
        (exists, if exists { None } else { found.map_err(fail)? })
    } else {
        let exists = ctx.client.has_store(&id).await.map_err(fail)?;
        let adopted = if exists {
            None
        } else {
            find().await.map_err(fail)?
        };
        (exists, adopted)
    };
    let (id, created) = match adopted {
        Some(adopted) => {
            ctx.client
                .update_store(&adopted, &body)
                .await
                .map_err(fail)?;
            (adopted, false)
        }
        None if exists => {
            ctx.client.update_store(&id, &body).await.map_err(fail)?;
            (id, false)
        }
        None => {
            ctx.client.create_store(&id, &body).await.map_err(fail)?;
            (id, true)
        }
    };
    store.set_mc_store(&ctx.account_id, list_id, &id).await?;
    Ok((id, created))
}

/// Whether the store itself is gone from Mailchimp (a 404 for the store, not for a record).
pub async fn store_gone(client: &AccountClient, store_id: &str) -> bool {
    matches!(client.has_store(store_id).await, Ok(false))
}

pub(super) async fn set_syncing(
    store: &Store,
    client: &AccountClient,
    stores: &[(String, String)],
    syncing: bool,
) {
    for (id, _) in stores {
        let cleared = clear_syncing(client, id, syncing).await;
        // A flag that could not be cleared now is cleared by live sync as soon as Mailchimp
        // answers again (a key revoked mid-job, an outage).
        let owed = !syncing && !cleared;
        if let Err(e) = store.set_syncing_owed(id, owed).await {
            tracing::warn!(store = %id, error = %e, "could not note is_syncing");
        }
    }
}

/// PATCHes a store's `is_syncing`; whether Mailchimp took it.
pub async fn clear_syncing(client: &AccountClient, store_id: &str, syncing: bool) -> bool {
    match client.set_store_syncing(store_id, syncing).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(store = %store_id, error = %e, "could not set is_syncing");
            false
        }
    }
}
