//! `connected_sites`: the storefront script of each Mailchimp store, as Mailchimp gave it, and
//! whether Mailchimp found it installed.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};

/// A store's connected site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Site {
    /// The store's audience.
    pub list_id: String,
    /// The site's foreign id (the store's id).
    pub foreign_id: String,
    /// The script's URL.
    pub url: String,
    /// The `<script>` tag the storefront prints.
    pub fragment: String,
    /// Whether Mailchimp found the script on the storefront at the last check.
    pub verified: bool,
    /// Why not, when it did not.
    pub problem: String,
}

impl Store {
    /// Notes a store's site; durable on return.
    pub async fn set_site(&self, store_id: &str, site: &Site) -> Result<(), StoreError> {
        self.sites.insert(store_id.as_bytes(), encode(site))?;
        self.flush().await
    }

    /// A store's site, if it has one.
    pub fn site(&self, store_id: &str) -> Result<Option<Site>, StoreError> {
        let k = store_id.as_bytes();
        self.sites.get(k)?.map(|v| decode(k, &v)).transpose()
    }

    /// Every store's site, by store id.
    pub fn sites(&self) -> Result<Vec<(String, Site)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.sites.iter() {
            let (k, v) = kv?;
            out.push((String::from_utf8_lossy(&k).into_owned(), decode(&k, &v)?));
        }
        Ok(out)
    }
}
