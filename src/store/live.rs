//! What live sync keeps (in the `cursors` tree): its place in the outbox (every entry up to it
//! has reached Mailchimp, or was refused and parked), the stores whose first upload finished
//! (live sync feeds only those), the outbox sequence each upload job started at, and stores
//! whose `is_syncing=false` has still to reach Mailchimp.

use super::records::{OutboxEntry, decode_segment};
use super::{Store, StoreError};

const LIVE_CURSOR: &[u8] = b"live\0outbox";

pub(super) fn uploaded_key(store_id: &str) -> Vec<u8> {
    [b"uploaded\0".as_slice(), store_id.as_bytes()].concat()
}

pub(super) fn syncing_key(store_id: &str) -> Vec<u8> {
    [b"syncing\0".as_slice(), store_id.as_bytes()].concat()
}

fn job_start_key(job_id: &str) -> Vec<u8> {
    [b"jobstart\0".as_slice(), job_id.as_bytes()].concat()
}

fn u64_of(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

impl Store {
    /// The last outbox sequence live sync has dealt with (0: none).
    pub fn live_cursor(&self) -> Result<u64, StoreError> {
        Self::live_cursor_in(&self.cursors)
    }

    pub(super) fn live_cursor_in(cursors: &sled::Tree) -> Result<u64, StoreError> {
        Ok(cursors.get(LIVE_CURSOR)?.map_or(0, |v| u64_of(&v)))
    }

    /// The sequence the next outbox entry will get.
    pub fn next_outbox_seq(&self) -> u64 {
        *self.writer.lock().expect("writer lock")
    }

    /// Up to `limit` outbox entries after sequence `after`, oldest first.
    pub fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        // The segment holding `after + 1` starts at or before it.
        let start = match self.outbox.range(..=(after + 1).to_be_bytes()).next_back() {
            Some(kv) => kv?.0.to_vec(),
            None => (after + 1).to_be_bytes().to_vec(),
        };
        let mut out = Vec::new();
        for kv in self.outbox.range(start..) {
            let (k, v) = kv?;
            out.extend(
                decode_segment(&k, &v)?
                    .into_iter()
                    .filter(|e| e.sequence > after),
            );
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }

    /// Moves live sync's place forward to `upto` (never back), drops the segments it has fully
    /// passed, and flushes.
    pub async fn consume_outbox(&self, upto: u64) -> Result<(), StoreError> {
        if upto <= self.live_cursor()? {
            return Ok(());
        }
        self.cursors.insert(LIVE_CURSOR, &upto.to_be_bytes())?;
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            let last = decode_segment(&k, &v)?.last().map_or(0, |e| e.sequence);
            if last > upto {
                break;
            }
            self.outbox.remove(k)?;
        }
        self.flush().await
    }

    /// Remembers the outbox sequence an upload job started at: everything before it is in the
    /// mirror the job walks.
    pub async fn set_job_start(&self, job_id: &str, seq: u64) -> Result<(), StoreError> {
        self.cursors
            .insert(job_start_key(job_id), &seq.to_be_bytes())?;
        self.flush().await
    }

    /// The outbox position when a job started: live sync skips what the job covered.
    pub fn job_start(&self, job_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.cursors.get(job_start_key(job_id))?.map(|v| u64_of(&v)))
    }

    /// Notes that a store had its first upload: live sync feeds it from now on.
    pub async fn mark_uploaded(&self, store_id: &str) -> Result<(), StoreError> {
        self.cursors.insert(uploaded_key(store_id), b"1")?;
        self.flush().await
    }

    /// Whether a store had its first upload.
    pub fn is_uploaded(&self, store_id: &str) -> Result<bool, StoreError> {
        Ok(self.cursors.contains_key(uploaded_key(store_id))?)
    }

    /// Notes (or clears) that a store's `is_syncing=false` has not reached Mailchimp yet.
    pub async fn set_syncing_owed(&self, store_id: &str, owed: bool) -> Result<(), StoreError> {
        if owed {
            self.cursors.insert(syncing_key(store_id), b"1")?;
        } else {
            self.cursors.remove(syncing_key(store_id))?;
        }
        self.flush().await
    }

    /// The stores whose `is_syncing=false` has not reached Mailchimp yet.
    pub fn syncing_owed(&self) -> Result<Vec<String>, StoreError> {
        self.cursors
            .scan_prefix(b"syncing\0")
            .map(|kv| {
                let (k, _) = kv?;
                Ok(String::from_utf8_lossy(&k[b"syncing\0".len()..]).into_owned())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{self, Change};
    use crate::testdata;

    fn upsert(i: u64) -> Change {
        record::parse(testdata::mixed(i)).unwrap()
    }

    #[tokio::test]
    async fn live_sync_reads_after_its_place_drops_what_it_passed_and_sequences_go_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.apply_changes(&[upsert(1), upsert(2)]).unwrap();
            store.apply_changes(&[upsert(3)]).unwrap();
            let seqs = |v: Vec<OutboxEntry>| v.iter().map(|e| e.sequence).collect::<Vec<_>>();
            assert_eq!(seqs(store.outbox_after(0, 10).unwrap()), [1, 2, 3]);
            assert_eq!(
                seqs(store.outbox_after(1, 10).unwrap()),
                [2, 3],
                "mid-segment"
            );
            store.consume_outbox(2).await.unwrap();
            assert_eq!(store.outbox_len().unwrap(), 1);
            store.consume_outbox(1).await.unwrap();
            assert_eq!(store.live_cursor().unwrap(), 2, "never back");
            store.consume_outbox(3).await.unwrap();
            assert_eq!(store.outbox_len().unwrap(), 0);
            assert!(store.outbox_after(3, 10).unwrap().is_empty());
        }
        // Every segment is gone: the next change still gets a sequence after live sync's place.
        // sled's flusher may hold the closed database for a moment (once seen under a loaded
        // CI run: InUse), so the reopen waits for it, a second at most.
        let mut reopened = Store::open(dir.path());
        for _ in 0..100 {
            if !matches!(reopened, Err(StoreError::InUse { .. })) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            reopened = Store::open(dir.path());
        }
        let store = reopened.unwrap();
        store.apply_changes(&[upsert(4)]).unwrap();
        let entries = store
            .outbox_after(store.live_cursor().unwrap(), 10)
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].sequence, 4);
    }
}
