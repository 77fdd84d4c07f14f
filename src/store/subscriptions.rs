//! Newsletter subscriptions the shop asked for: `subscriptions` holds one per (account, list,
//! email) with where it stands; `subscriptions_pending` lists those Mailchimp has yet to
//! confirm. A request and its pending mark are written in one transaction and flushed before
//! the caller acknowledges; the worker settles one only if no newer request replaced it.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::queued::{Queue, storage};
use super::{Store, StoreError, encode};
use crate::domain::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
/// What the shop asked for an email on a list.
pub enum Wanted {
    /// Subscribe (pending first under double opt-in).
    Subscribed,
    /// Unsubscribe.
    Unsubscribed,
    /// A customer accepted marketing under double opt-in: becomes `pending` (Mailchimp mails
    /// the confirmation link) unless already a member with a marketing status (subscribed,
    /// pending, unsubscribed, cleaned), which is left as it is.
    Consented,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
/// Where a request stands.
pub enum SubscriptionState {
    /// Not yet applied (Mailchimp unreachable, or not tried yet).
    Queued,
    /// Applied: `status` is the member's status.
    Applied,
    /// Mailchimp refused it: `error` says why.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// A GDPR marketing permission as the shopper answered it.
pub struct PermissionChoice {
    /// Mailchimp's id of the permission.
    pub id: String,
    /// The text the shopper was shown (Mailchimp's, as mcsync had it then).
    pub text: String,
    /// Whether they agreed.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// What a shopper agreed to on a list, and when: kept through later requests (an unsubscribe
/// included) until they answer the permissions again.
pub struct ConsentRecord {
    /// Each permission shown, with the answer.
    pub permissions: Vec<PermissionChoice>,
    /// When they answered.
    pub given_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// The last newsletter request for one email on one list, durable until applied.
pub struct Subscription {
    /// The account it was asked under.
    pub account_id: String,
    /// The audience.
    pub list_id: String,
    /// The email, normalised.
    pub email: String,
    /// What was asked.
    pub wanted: Wanted,
    /// The merchant's "single opt-in" when the shop asked.
    pub single_opt_in: bool,
    /// Sent as FNAME.
    pub first_name: String,
    /// Sent as LNAME.
    pub last_name: String,
    /// Interest ids of this list.
    pub interests: Vec<String>,
    /// The GDPR answers this request carries, sent as the member's `marketing_permissions`.
    #[serde(default)]
    pub permissions: Vec<PermissionChoice>,
    /// The consent record of this email on this list: this request's answers, or else the
    /// record of an earlier request, carried over.
    #[serde(default)]
    pub consent: Option<ConsentRecord>,
    /// Where it stands.
    pub state: SubscriptionState,
    /// The member's status in Mailchimp as last seen, or what it will be.
    pub status: String,
    /// Why Mailchimp refused it.
    pub error: String,
    /// When it last changed.
    pub updated_at: UnixTime,
    /// Grows with each request, so that the worker never settles a request that a newer one
    /// replaced while it was talking to Mailchimp.
    pub version: u64,
}

impl Subscription {
    fn key(&self) -> Vec<u8> {
        key(&self.account_id, &self.list_id, &self.email)
    }
}

pub(super) fn key(account: &str, list: &str, email: &str) -> Vec<u8> {
    format!("{account}\0{list}\0{}", email.to_lowercase()).into_bytes()
}

impl Store {
    fn subscriptions_queue(&self) -> Queue<'_> {
        Queue {
            all: &self.subscriptions,
            pending: &self.subscriptions_pending,
        }
    }

    /// The request for an email on a list, if the shop made one.
    pub fn subscription(
        &self,
        account: &str,
        list: &str,
        email: &str,
    ) -> Result<Option<Subscription>, StoreError> {
        self.subscriptions_queue().get(&key(account, list, email))
    }

    /// Stores new requests (their versions set here), queued for the worker; durable on return.
    pub async fn queue_subscriptions(&self, subs: Vec<Subscription>) -> Result<(), StoreError> {
        let mut subs = subs;
        for s in &mut subs {
            let previous = self.subscription(&s.account_id, &s.list_id, &s.email)?;
            if let Some(p) = &previous
                && s.consent.is_none()
            {
                // What was agreed stays on record, whatever is asked next.
                s.consent = p.consent.clone();
            }
            s.version = previous.map_or(1, |p| p.version + 1);
            s.state = SubscriptionState::Queued;
        }
        let items: Vec<_> = subs.iter().map(|s| (s.key(), s, s.version)).collect();
        self.subscriptions_queue().put(&items)?;
        self.flush().await
    }

    /// Queues the subscription a consenting customer owes under double opt-in, unless the
    /// shop has asked anything for this email and list before (then it is never made): so it
    /// is made once. Not flushed (the sync engine calls it per customer); see
    /// `sync::push::consent` for why a crash loses nothing.
    pub fn queue_consent(
        &self,
        account: &str,
        list: &str,
        c: &crate::proto::v1::Customer,
    ) -> Result<bool, StoreError> {
        let k = key(account, list, &c.email);
        // Asked before: the common case on every later upload, without a transaction.
        if self.subscriptions.contains_key(&k)? {
            return Ok(false);
        }
        let sub = Subscription {
            account_id: account.to_owned(),
            list_id: list.to_owned(),
            email: c.email.clone(),
            wanted: Wanted::Consented,
            single_opt_in: false,
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            interests: Vec::new(),
            permissions: Vec::new(),
            consent: None,
            state: SubscriptionState::Queued,
            status: "pending".into(),
            error: String::new(),
            updated_at: crate::domain::now(),
            version: 1,
        };
        let queued = (&self.subscriptions, &self.subscriptions_pending)
            .transaction(|(all, pending)| {
                if all.get(&k)?.is_some() {
                    return Ok(false);
                }
                all.insert(k.as_slice(), encode(&sub))?;
                pending.insert(k.as_slice(), &sub.version.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(true)
            })
            .map_err(storage)?;
        Ok(queued)
    }

    /// Requests Mailchimp has yet to confirm, oldest keys first.
    pub fn pending_subscriptions(&self, limit: usize) -> Result<Vec<Subscription>, StoreError> {
        self.subscriptions_queue().pending(limit)
    }

    /// Records what Mailchimp made of a request, unless a newer request replaced it meanwhile
    /// (that one stays queued).
    pub async fn settle_subscription(&self, settled: &Subscription) -> Result<(), StoreError> {
        self.subscriptions_queue()
            .settle(&settled.key(), settled, settled.version)?;
        self.flush().await
    }
}
