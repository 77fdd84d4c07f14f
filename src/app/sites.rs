//! The storefront script: the connected sites of the selected audiences' stores, for
//! GetSettings, and Mailchimp's check that the shop prints them.

use super::{App, AppError, Unmet};
use crate::store::sites::Site;

impl App {
    /// The sites of the connected account's selected audiences, by store id.
    pub fn site_scripts(&self) -> Result<Vec<(String, Site)>, AppError> {
        let settings = self.store.settings()?;
        let selected = settings.choices().selected_lists;
        Ok(self
            .store
            .sites()?
            .into_iter()
            .filter(|(_, site)| selected.contains(&site.list_id))
            .collect())
    }

    /// Asks Mailchimp to check every selected store's site on the storefront.
    pub async fn verify_site_scripts(&self) -> Result<Vec<(String, Site)>, AppError> {
        let (_, client) = self.connected_client()?;
        let stores: Vec<String> = self.site_scripts()?.into_iter().map(|(id, _)| id).collect();
        if stores.is_empty() {
            return Err(Unmet::NoSite.into());
        }
        Ok(crate::sync::sites::verify_sites(&self.store, &client, &stores).await?)
    }
}
