//! The storefront script: each store's connected site, read or made after the store is, and
//! Mailchimp's check that the shop prints it.

use super::context::UploadContext;
use crate::mailchimp::AccountClient;
use crate::store::sites::Site;
use crate::store::{Store, StoreError};

/// The storefront's host (with its port, if any), the connected site's domain.
pub fn site_domain(shop_url: &str) -> String {
    reqwest::Url::parse(shop_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| shop_url.to_owned())
}

/// Reads or makes the store's connected site and notes its script. Best effort: a site
/// Mailchimp will not give is logged and noted, and never stops the upload.
pub async fn ensure_site(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    list_id: &str,
) -> Result<(), StoreError> {
    let known = store.site(store_id)?;
    let domain = site_domain(&ctx.shop.shop_url);
    let site = match ctx.client.ensure_connected_site(store_id, &domain).await {
        Ok(wire) => Site {
            list_id: list_id.to_owned(),
            foreign_id: wire.foreign_id,
            url: wire.site_script.url,
            fragment: wire.site_script.fragment,
            verified: known.as_ref().is_some_and(|s| s.verified),
            problem: String::new(),
        },
        Err(e) => {
            tracing::warn!(store = %store_id, error = %e, "no connected site for the store");
            Site {
                list_id: list_id.to_owned(),
                foreign_id: store_id.to_owned(),
                problem: format!("Mailchimp gave no connected site: {e}"),
                ..known.unwrap_or_default()
            }
        }
    };
    store.set_site(store_id, &site).await
}

/// Asks Mailchimp to check each given store's site on the storefront, and notes the answer.
/// (store id, the site as now noted).
pub async fn verify_sites(
    store: &Store,
    client: &AccountClient,
    stores: &[String],
) -> Result<Vec<(String, Site)>, StoreError> {
    let mut out = Vec::new();
    for (id, mut site) in store.sites()? {
        if !stores.contains(&id) {
            continue;
        }
        match client.verify_site_script(&site.foreign_id).await {
            Ok(()) => {
                site.verified = true;
                site.problem.clear();
            }
            Err(e) => {
                site.verified = false;
                site.problem = e.to_string();
            }
        }
        store.set_site(&id, &site).await?;
        out.push((id, site));
    }
    Ok(out)
}
