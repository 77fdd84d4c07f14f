//! Connected sites (`/connected-sites`): the storefront script Mailchimp gives a site (pop-up
//! forms, product retargeting, tracking), and its check that the script is installed.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::AccountClient;
use super::endpoint::seg;
use super::error::{ErrorKind, MailchimpError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
/// A connected site as Mailchimp shows it.
pub struct ConnectedSiteWire {
    /// mcsync's id for it: the store's id.
    pub foreign_id: String,
    /// The storefront's host.
    pub domain: String,
    /// What the storefront prints.
    pub site_script: SiteScriptWire,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
/// The script of a connected site.
pub struct SiteScriptWire {
    /// The script's URL, for platforms that load it themselves.
    pub url: String,
    /// The `<script>` tag to print on every storefront page.
    pub fragment: String,
}

fn path(id: &str) -> String {
    format!("/connected-sites/{}", seg(id))
}

impl AccountClient {
    /// The connected site with this foreign id; `None` when Mailchimp has none.
    pub async fn connected_site(
        &self,
        foreign_id: &str,
    ) -> Result<Option<ConnectedSiteWire>, MailchimpError> {
        match self.get(&path(foreign_id), &[]).await {
            Ok(site) => Ok(Some(site)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The site with this foreign id, made for `domain` when Mailchimp has none (never made
    /// twice: after an ambiguous answer, or one saying it exists, it is read again).
    pub async fn ensure_connected_site(
        &self,
        foreign_id: &str,
        domain: &str,
    ) -> Result<ConnectedSiteWire, MailchimpError> {
        if let Some(site) = self.connected_site(foreign_id).await? {
            return Ok(site);
        }
        let body = json!({ "foreign_id": foreign_id, "domain": domain });
        match self.create("/connected-sites", &body).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| MailchimpError::Decode(format!("/connected-sites: {e}"))),
            Err(e) if e.kind() == ErrorKind::AlreadyExists || e.is_ambiguous() => {
                match self.connected_site(foreign_id).await? {
                    Some(site) => Ok(site),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Asks Mailchimp to check that the site's script is on the storefront; an error (400)
    /// when it is not found there.
    pub async fn verify_site_script(&self, foreign_id: &str) -> Result<(), MailchimpError> {
        let action = format!("{}/actions/verify-script-installation", path(foreign_id));
        self.send(Method::POST, &action, &[], None).await?;
        Ok(())
    }
}
