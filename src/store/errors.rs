//! Records Mailchimp refused, per store: durable until the record goes through, so that
//! operators can list them and retry them after a fix.
//! Tree `sync_errors`: `<store id> 0x00 <kind> <id>` → [`SyncErrorRecord`] (JSON).

use serde::{Deserialize, Serialize};

use super::synced::key;
use super::{Store, StoreError};
use crate::domain::UnixTime;
use crate::domain::record::RecordKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// A record Mailchimp refused (or keeps failing on), kept for ListSyncErrors and RetryFailed.
pub struct SyncErrorRecord {
    /// The Mailchimp store it was sent to.
    pub store_id: String,
    /// Its kind, as [`RecordKind::to_byte`] stores it.
    pub kind: u8,
    /// Its id.
    pub id: String,
    /// The status Mailchimp answered.
    pub status: u16,
    /// Mailchimp's title.
    pub title: String,
    /// Mailchimp's detail.
    pub detail: String,
    /// Mailchimp's field errors, as `field: message`.
    pub field_errors: Vec<String>,
    /// Sends that failed so far.
    pub attempts: u32,
    /// When it last failed.
    pub at: UnixTime,
}

impl Store {
    /// Records a refusal, counting attempts.
    pub fn record_sync_error(&self, mut e: SyncErrorRecord) -> Result<(), StoreError> {
        let kind = RecordKind::from_byte(e.kind).unwrap_or(RecordKind::Product);
        let k = key(&e.store_id, kind, &e.id);
        if let Some(old) = self.sync_errors.get(&k)? {
            if let Ok(old) = serde_json::from_slice::<SyncErrorRecord>(&old) {
                e.attempts += old.attempts;
            }
        }
        self.sync_errors
            .insert(k, serde_json::to_vec(&e).expect("serialisable"))?;
        Ok(())
    }

    /// Forgets a record's failure if its title is (`is` true) or is not (`is` false) `title`:
    /// one kind of failure, such as the member's merge fields of a customer, has its own
    /// clearing, apart from the record's own push.
    pub fn clear_sync_error_titled(
        &self,
        store_id: &str,
        kind: RecordKind,
        id: &str,
        title: &str,
        is: bool,
    ) -> Result<(), StoreError> {
        let k = key(store_id, kind, id);
        if let Some(old) = self.sync_errors.get(&k)?
            && serde_json::from_slice::<SyncErrorRecord>(&old)
                .is_ok_and(|e| (e.title == title) == is)
        {
            self.sync_errors.remove(k)?;
        }
        Ok(())
    }

    /// All refusals, in store, kind and id order, from `offset`, at most `limit`.
    pub fn sync_errors(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<SyncErrorRecord>, usize), StoreError> {
        let total = self.sync_errors.len();
        let page = self
            .sync_errors
            .iter()
            .skip(offset)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((page, total))
    }

    /// Refusals of one store and kind, for sync status.
    pub fn count_sync_errors(&self, store_id: &str, kind: RecordKind) -> usize {
        self.sync_errors
            .scan_prefix(key(store_id, kind, ""))
            .count()
    }

    /// Records Mailchimp has from us in one store, of one kind.
    pub fn count_synced(&self, store_id: &str, kind: RecordKind) -> usize {
        self.synced.scan_prefix(key(store_id, kind, "")).count()
    }
}
