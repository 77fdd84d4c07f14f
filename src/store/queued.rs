//! A tree of items with an index of those still to apply, each index entry holding the item's
//! version: what subscriptions and members' merge fields share. A worker settles an item only
//! if no newer version was queued while it talked to Mailchimp (that one stays queued).

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{StoreError, decode, encode};

/// The two trees of a queue.
pub(super) struct Queue<'a> {
    /// Key → item.
    pub all: &'a sled::Tree,
    /// Key → the version still to apply.
    pub pending: &'a sled::Tree,
}

/// The error of a transaction that never aborts.
pub(super) fn storage(e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(()) => unreachable!("these transactions never abort"),
    }
}

impl Queue<'_> {
    /// The item under `k`, if any.
    pub fn get<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        self.all.get(k)?.map(|v| decode(k, &v)).transpose()
    }

    /// Stores `items` (key, item, version), each queued, in one transaction.
    pub fn put<T: Serialize>(&self, items: &[(Vec<u8>, &T, u64)]) -> Result<(), StoreError> {
        (self.all, self.pending)
            .transaction(|(all, pending)| {
                for (k, item, version) in items {
                    all.insert(k.as_slice(), encode(item))?;
                    pending.insert(k.as_slice(), &version.to_be_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(storage)
    }

    /// Items still to apply, oldest keys first.
    pub fn pending<T: DeserializeOwned>(&self, limit: usize) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for kv in self.pending.iter().take(limit) {
            let (k, _) = kv?;
            if let Some(v) = self.all.get(&k)? {
                out.push(decode(&k, &v)?);
            }
        }
        Ok(out)
    }

    /// Records the outcome of version `version` of an item, unless a newer one was queued.
    pub fn settle<T: Serialize>(&self, k: &[u8], item: &T, version: u64) -> Result<(), StoreError> {
        let version = version.to_be_bytes();
        (self.all, self.pending)
            .transaction(|(all, pending)| {
                if pending.get(k)?.as_deref() == Some(version.as_slice()) {
                    all.insert(k, encode(item))?;
                    pending.remove(k)?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(storage)
    }
}
