//! What Mailchimp's webhooks said, and what that binds: `member_events` holds every event by
//! sequence, `member_event_keys` recognises a repeated delivery, `suppressed` lists the
//! (audience, email) pairs Mailchimp unsubscribed or cleaned, which no sync may subscribe
//! again; `webhooks` holds the secret of the hook URL and the hook registered per audience.
//!
//! An event, its suppression and the cancelling of an older queued subscribe are one
//! transaction, flushed before Mailchimp gets its 200.

use prost::Message;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::subscriptions::{Subscription, SubscriptionState};
use super::{Store, StoreError, decode, encode};
use crate::proto::v1 as pb;

/// Where the hook URL's secret is kept (never in a backup).
pub(super) const SECRET_KEY: &[u8] = b"secret";

/// The trees of this module.
#[derive(Clone)]
pub(super) struct Trees {
    pub events: sled::Tree,
    pub keys: sled::Tree,
    pub suppressed: sled::Tree,
    pub webhooks: sled::Tree,
}

impl Trees {
    pub(super) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            events: db.open_tree("member_events")?,
            keys: db.open_tree("member_event_keys")?,
            suppressed: db.open_tree("suppressed")?,
            webhooks: db.open_tree("webhooks")?,
        })
    }
}

/// Why an email may not be subscribed to an audience by any sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// "unsubscribed" or "cleaned".
    pub status: String,
    /// The event that said so.
    pub sequence: u64,
}

/// A hook mcsync registered on an audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredHook {
    /// Mailchimp's id of the hook.
    pub id: String,
    /// The URL it posts to, its secret left out.
    pub url: String,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored under this sequence.
    New(u64),
    /// The same delivery was stored before, under this sequence.
    Repeated(u64),
}

fn suppression_key(list: &str, email: &str) -> Vec<u8> {
    format!("{list}\0{}", email.to_lowercase()).into_bytes()
}

fn hook_key(list: &str) -> Vec<u8> {
    format!("hook\0{list}").into_bytes()
}

impl Store {
    /// Stores an event (its sequence and receive time set here) unless the same delivery was
    /// stored before; applies what it binds; durable on return.
    ///
    /// `account` is the connected account (its shop requests for the email are updated).
    pub async fn record_member_event(
        &self,
        account: &str,
        mut event: pb::MemberEvent,
        dedup: [u8; 16],
    ) -> Result<Recorded, StoreError> {
        let t = &self.member_events;
        let next = match t.events.last()? {
            Some((k, _)) => u64_key(&k) + 1,
            None => 1,
        };
        event.sequence = i64::try_from(next).unwrap_or(i64::MAX);
        event.received_at = Some(prost_types::Timestamp {
            seconds: crate::domain::now(),
            nanos: 0,
        });
        let kind = event.r#type();
        let suppress = match kind {
            pb::MemberEventType::Unsubscribe => Some("unsubscribed"),
            pb::MemberEventType::Cleaned => Some("cleaned"),
            _ => None,
        };
        let sk = suppression_key(&event.list_id, &event.email);
        let sub_key = super::subscriptions::key(account, &event.list_id, &event.email);
        let bytes = event.encode_to_vec();
        let result = (
            &t.events,
            &t.keys,
            &t.suppressed,
            &self.subscriptions,
            &self.subscriptions_pending,
        )
            .transaction(|(events, keys, suppressed, subs, pending)| {
                if let Some(seq) = keys.get(dedup)? {
                    return Ok(Recorded::Repeated(u64_key(&seq)));
                }
                // Another writer may have taken `next` meanwhile: the transaction sees it.
                if events.get(next.to_be_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
                events.insert(&next.to_be_bytes(), bytes.as_slice())?;
                keys.insert(&dedup, &next.to_be_bytes())?;
                match (kind, suppress) {
                    (_, Some(status)) => {
                        let s = Suppression {
                            status: status.into(),
                            sequence: next,
                        };
                        suppressed.insert(sk.as_slice(), encode(&s))?;
                        // The shop's older request is overtaken: Mailchimp's word is newer.
                        if let Some(v) = subs.get(&sub_key)? {
                            if let Ok(mut sub) = serde_json::from_slice::<Subscription>(&v) {
                                sub.state = SubscriptionState::Applied;
                                sub.status = status.into();
                                sub.error = String::new();
                                sub.updated_at = crate::domain::now();
                                sub.version += 1;
                                subs.insert(sub_key.as_slice(), encode(&sub))?;
                                pending.remove(sub_key.as_slice())?;
                            }
                        }
                    }
                    // Subscribed again in Mailchimp: the member asked, the bar is lifted.
                    (pb::MemberEventType::Subscribe, None) => {
                        suppressed.remove(sk.as_slice())?;
                    }
                    _ => {}
                }
                Ok(Recorded::New(next))
            });
        let recorded = match result {
            Ok(r) => r,
            Err(TransactionError::Abort(())) => {
                return Box::pin(self.record_member_event(account, event, dedup)).await;
            }
            Err(TransactionError::Storage(e)) => return Err(StoreError::Sled(e)),
        };
        self.flush().await?;
        Ok(recorded)
    }

    /// Up to `limit` events after `after`, oldest first.
    pub fn member_events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<pb::MemberEvent>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .member_events
            .events
            .range((after + 1).to_be_bytes()..)
            .take(limit)
        {
            let (k, v) = kv?;
            out.push(super::decode_message(
                format_args!("member_events/{}", u64_key(&k)),
                &v,
            )?);
        }
        Ok(out)
    }

    /// The newest event's sequence (0: none).
    pub fn last_member_event(&self) -> Result<u64, StoreError> {
        Ok(self
            .member_events
            .events
            .last()?
            .map_or(0, |(k, _)| u64_key(&k)))
    }

    /// Why Mailchimp said this email may not be subscribed to this audience, if it did.
    pub fn suppression(&self, list: &str, email: &str) -> Result<Option<Suppression>, StoreError> {
        let k = suppression_key(list, email);
        self.member_events
            .suppressed
            .get(&k)?
            .map(|v| decode(&k, &v))
            .transpose()
    }

    /// The shopper asked again (Subscribe): Mailchimp's earlier unsubscribe no longer binds.
    /// Written before the request itself is queued and flushed with it.
    pub fn lift_suppression(&self, list: &str, email: &str) -> Result<(), StoreError> {
        self.member_events
            .suppressed
            .remove(suppression_key(list, email))?;
        Ok(())
    }

    /// The secret of the hook URL, made on first use and kept.
    pub async fn webhook_secret(&self) -> Result<String, StoreError> {
        let w = &self.member_events.webhooks;
        if let Some(v) = w.get(SECRET_KEY)? {
            return Ok(String::from_utf8_lossy(&v).into_owned());
        }
        let fresh = new_secret();
        // Two first uses at once keep the same one.
        let _ = w.compare_and_swap(SECRET_KEY, None as Option<&[u8]>, Some(fresh.as_bytes()))?;
        self.flush().await?;
        let kept = w.get(SECRET_KEY)?.expect("just written");
        Ok(String::from_utf8_lossy(&kept).into_owned())
    }

    /// A new secret: deliveries to the old URL are refused from now on (after a reset, hooks
    /// mcsync could not remove must not reach it).
    pub async fn rotate_webhook_secret(&self) -> Result<(), StoreError> {
        self.member_events
            .webhooks
            .insert(SECRET_KEY, new_secret().as_bytes())?;
        self.flush().await
    }

    /// The hook mcsync registered on an audience, if any.
    pub fn registered_hook(&self, list: &str) -> Result<Option<RegisteredHook>, StoreError> {
        let k = hook_key(list);
        self.member_events
            .webhooks
            .get(&k)?
            .map(|v| decode(&k, &v))
            .transpose()
    }

    /// Every audience with a hook mcsync registered.
    pub fn registered_hooks(&self) -> Result<Vec<(String, RegisteredHook)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.member_events.webhooks.scan_prefix(b"hook\0") {
            let (k, v) = kv?;
            let list = String::from_utf8_lossy(&k[5..]).into_owned();
            out.push((list, decode(&k, &v)?));
        }
        Ok(out)
    }

    /// Notes (or, with `None`, forgets) the hook of an audience; durable on return.
    pub async fn set_registered_hook(
        &self,
        list: &str,
        hook: Option<&RegisteredHook>,
    ) -> Result<(), StoreError> {
        let k = hook_key(list);
        match hook {
            Some(h) => self.member_events.webhooks.insert(k, encode(h))?,
            None => self.member_events.webhooks.remove(k)?,
        };
        self.flush().await
    }
}

fn u64_key(k: &[u8]) -> u64 {
    k.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// 128 random bits from the operating system, as hex: the hook URL's only protection
/// (Mailchimp signs nothing), and OAuth's `state`.
pub fn new_secret() -> String {
    super::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
