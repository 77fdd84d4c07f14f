//! An audience's webhooks (`/lists/{list_id}/webhooks`): the ones mcsync registers so that
//! Mailchimp tells it about unsubscribes, cleans, profile and email changes.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::AccountClient;
use super::endpoint::seg;
use super::error::{ErrorKind, MailchimpError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
/// A webhook as Mailchimp lists it.
pub struct WebhookWire {
    /// Mailchimp's id.
    pub id: String,
    /// Where it posts.
    pub url: String,
    /// Which events it fires for.
    pub events: WebhookEvents,
    /// From which sources.
    pub sources: WebhookSources,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
/// A webhook's events.
pub struct WebhookEvents {
    /// A member subscribed.
    pub subscribe: bool,
    /// A member unsubscribed.
    pub unsubscribe: bool,
    /// A member's profile changed.
    pub profile: bool,
    /// An address was cleaned.
    pub cleaned: bool,
    /// An email changed.
    pub upemail: bool,
    /// A campaign was sent.
    pub campaign: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
/// A webhook's sources.
pub struct WebhookSources {
    /// The member, through a form or a mail's link.
    pub user: bool,
    /// The account's users, in Mailchimp.
    pub admin: bool,
    /// The API (mcsync among others).
    pub api: bool,
}

impl WebhookWire {
    /// Whether it fires for exactly what mcsync asks: every member event from every source,
    /// no campaigns.
    pub fn is_as_wanted(&self) -> bool {
        let e = &self.events;
        let s = &self.sources;
        e.subscribe
            && e.unsubscribe
            && e.profile
            && e.cleaned
            && e.upemail
            && !e.campaign
            && s.user
            && s.admin
            && s.api
    }
}

#[derive(Deserialize)]
struct WebhooksPage {
    #[serde(default)]
    webhooks: Vec<WebhookWire>,
}

fn collection(list_id: &str) -> String {
    format!("/lists/{}/webhooks", seg(list_id))
}

impl AccountClient {
    /// The audience's webhooks (Mailchimp does not page them).
    pub async fn webhooks(&self, list_id: &str) -> Result<Vec<WebhookWire>, MailchimpError> {
        let page: WebhooksPage = self.get(&collection(list_id), &[]).await?;
        Ok(page.webhooks)
    }

    /// Registers a hook to `url` for every member event from every source. Mailchimp first
    /// checks that the URL answers; a URL it cannot reach is refused (400).
    pub async fn create_webhook(
        &self,
        list_id: &str,
        url: &str,
    ) -> Result<WebhookWire, MailchimpError> {
        let body = json!({
            "url": url,
            "events": {"subscribe": true, "unsubscribe": true, "profile": true,
                       "cleaned": true, "upemail": true, "campaign": false},
            "sources": {"user": true, "admin": true, "api": true},
        });
        let path = collection(list_id);
        let bytes = self.create(&path, &body).await?;
        serde_json::from_slice(&bytes).map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))
    }

    /// Removes a hook; one already gone counts as removed.
    pub async fn delete_webhook(&self, list_id: &str, id: &str) -> Result<(), MailchimpError> {
        let path = format!("{}/{}", collection(list_id), seg(id));
        match self.send(Method::DELETE, &path, &[], None).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}
