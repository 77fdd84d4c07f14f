//! Mailchimp's webhook deliveries in, and the shop reading them out: a delivery is checked
//! against the secret, parsed, stored durably (once), and only then answered; readers page
//! through the events or follow them.

use super::{App, AppError};
use crate::domain::member_event::{self, Delivery};
use crate::proto::v1 as pb;
use crate::store::member_events::Recorded;
use crate::sync::webhooks::HookStatus;

/// What became of a delivery, for the HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The secret in the URL is not mcsync's (404, nothing stored).
    UnknownSecret,
    /// The body is not a delivery mcsync can read (400, nothing stored).
    Unreadable(String),
    /// Stored now, or stored before (a repeat), or nothing to store (a check, a type mcsync
    /// did not ask for): 200 either way.
    Taken(Option<Recorded>),
}

/// The most events one page holds.
pub const MAX_PAGE: usize = 1000;

impl App {
    /// One delivery to `<base>/mailchimp/webhook/<secret>` with its form fields.
    pub async fn receive_webhook(
        &self,
        secret: &str,
        fields: &[(String, String)],
    ) -> Result<Received, AppError> {
        let ours = self.store.webhook_secret().await?;
        if !crate::domain::validate::same_secret(secret, &ours) {
            tracing::warn!("a webhook delivery with a wrong secret was refused");
            return Ok(Received::UnknownSecret);
        }
        let event = match member_event::parse(fields) {
            Err(e) => return Ok(Received::Unreadable(e.to_string())),
            Ok(Delivery::Nothing(why)) => {
                tracing::info!(why, "a webhook delivery with nothing to store");
                return Ok(Received::Taken(None));
            }
            Ok(Delivery::Event(e)) => *e,
        };
        let account = self
            .store
            .settings()?
            .account_id()
            .unwrap_or_default()
            .to_owned();
        let recorded = self
            .store
            .record_member_event(&account, event, member_event::dedup_key(fields))
            .await?;
        match recorded {
            Recorded::New(seq) => {
                tracing::info!(sequence = seq, "member event from Mailchimp stored");
                self.member_events.send_replace(seq);
            }
            Recorded::Repeated(seq) => {
                tracing::info!(sequence = seq, "a repeated webhook delivery, stored before");
            }
        }
        Ok(Received::Taken(Some(recorded)))
    }

    /// Up to `limit` events after `after` (oldest first), and the newest sequence stored.
    pub fn member_events(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<pb::MemberEvent>, u64), AppError> {
        let events = self
            .store
            .member_events_after(after, limit.clamp(1, MAX_PAGE))?;
        Ok((events, self.store.last_member_event()?))
    }

    /// A receiver of the newest sequence, for followers.
    pub fn member_event_sequence(&self) -> tokio::sync::watch::Receiver<u64> {
        self.member_events.subscribe()
    }

    /// Where the webhooks stand.
    pub fn webhooks(&self) -> HookStatus {
        self.hooks.status()
    }

    /// Checks the webhooks now and answers where they stand (tests and operators).
    pub async fn check_webhooks(&self) -> Result<HookStatus, AppError> {
        self.hooks.reconcile().await.map_err(|e| match e {
            crate::sync::webhooks::HookError::Store(e) => AppError::Store(e),
        })?;
        Ok(self.hooks.status())
    }
}
