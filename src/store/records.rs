//! The mirror of shop records: a tree per kind (`<id>` → 16-byte content hash + the encoded
//! record) and the outbox of changes, written together in one transaction, and the outbox only
//! when a record really changed.
//!
//! The outbox keeps one *segment* per write: key = the first entry's sequence (u64 BE), value =
//! the entries (kind, operation, id), whose sequences follow on from the key. Every change
//! still has its own entry and sequence; packing them costs one insert per write group instead
//! of one per change, which halves the cost of ingest (BENCHMARKS.md has the measurements).

use std::sync::atomic::{AtomicI64, Ordering};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{Store, StoreError};
use crate::domain::record::{Change, RecordKind};
use crate::proto::v1 as pb;

/// Bytes of a content hash (md5).
pub const HASH_LEN: usize = 16;

/// A stored record: its content hash and its encoded message.
pub type Stored = ([u8; HASH_LEN], Vec<u8>);

/// Records per kind, in `RecordKind::ALL` order: counted when the store opens, then kept by the
/// single writer (under its lock) as records are created and deleted.
pub type RecordCounts = std::sync::Arc<[AtomicI64; RecordKind::ALL.len()]>;

/// What became of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New or different: stored, and queued in the outbox.
    Accepted,
    /// Identical to what was stored: nothing written.
    Unchanged,
    /// A record deleted.
    Deleted,
    /// A delete of a record that was not there.
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What an outbox entry did to its record.
pub enum Operation {
    /// Stored or replaced.
    Upsert = 1,
    /// Deleted.
    Delete = 2,
}

/// One entry of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its place in the outbox, increasing.
    pub sequence: u64,
    /// The record's kind.
    pub kind: RecordKind,
    /// What happened to it.
    pub operation: Operation,
    /// The record's id.
    pub id: String,
    /// When it entered the outbox (Unix milliseconds); `None` for entries written before
    /// mcsync kept the time.
    pub written_at_ms: Option<u64>,
}

/// The hash mcsync compares bodies and records by.
pub fn content_hash(encoded: &[u8]) -> [u8; HASH_LEN] {
    md5::compute(encoded).0
}

/// A change made ready for the writer: the record encoded and hashed. Streams prepare their
/// changes on the async workers, so the single writer thread only compares and writes, and a
/// batch waiting for the writer holds compact bytes instead of decoded messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    kind: RecordKind,
    id: String,
    /// Hash followed by the encoded record, exactly as stored; `None` for a delete.
    value: Option<Vec<u8>>,
    /// For an order: the cart it was placed from (see [`Store::placed_order`]).
    placed_cart: Option<String>,
}

impl Prepared {
    /// Whether it deletes its record.
    pub fn is_delete(&self) -> bool {
        self.value.is_none()
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn hash(&self) -> Option<&[u8]> {
        self.value.as_deref().map(|v| &v[..HASH_LEN])
    }
}

impl From<&Change> for Prepared {
    fn from(change: &Change) -> Self {
        let placed_cart = match change {
            Change::Upsert(v) => v.placed_cart().map(str::to_owned),
            Change::Delete(..) => None,
        };
        let value = match change {
            Change::Upsert(v) => {
                let bytes = v.encode();
                let mut value = Vec::with_capacity(HASH_LEN + bytes.len());
                value.extend_from_slice(&content_hash(&bytes));
                value.extend_from_slice(&bytes);
                Some(value)
            }
            Change::Delete(..) => None,
        };
        Self {
            kind: change.kind(),
            id: change.id().to_owned(),
            value,
            placed_cart,
        }
    }
}

fn tree_index(kind: RecordKind) -> usize {
    kind as usize
}

impl Store {
    pub(super) fn open_record_trees(db: &sled::Db) -> Result<Vec<sled::Tree>, StoreError> {
        RecordKind::ALL
            .iter()
            .map(|k| {
                db.open_tree(format!("records/{}", k.name()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// Counts each record tree once (sled's `len()` walks it), for [`RecordCounts`].
    pub(super) fn count_record_trees(trees: &[sled::Tree]) -> RecordCounts {
        std::sync::Arc::new(std::array::from_fn(|i| {
            AtomicI64::new(trees[i].len() as i64)
        }))
    }

    /// Applies the changes in order (later changes see earlier ones) in one transaction, and
    /// does not flush: the caller acknowledges only after [`Store::flush`]. This is what lets
    /// one flush cover many requests (group commit).
    pub fn apply_changes(&self, changes: &[Change]) -> Result<Vec<Outcome>, StoreError> {
        let prepared: Vec<Prepared> = changes.iter().map(Prepared::from).collect();
        self.apply_prepared(&prepared)
    }

    /// [`Store::apply_changes`] for changes already encoded and hashed.
    ///
    /// Writers are serialised by a lock, so the stored hashes can be read before the
    /// transaction and outbox sequences drawn from a counter: the transaction itself only
    /// writes, which makes it several times cheaper.
    pub fn apply_prepared(&self, changes: &[Prepared]) -> Result<Vec<Outcome>, StoreError> {
        self.check_write_fault()?;
        let mut next_seq = self.writer.lock().expect("writer lock");
        let mut outcomes = Vec::with_capacity(changes.len());
        // What this batch has already written, so that a record changed twice compares with
        // its newer version: (kind, id) -> hash, or None once deleted.
        let mut batch_state: std::collections::HashMap<(RecordKind, &str), Option<&[u8]>> =
            std::collections::HashMap::new();
        let mut writes: Vec<&Prepared> = Vec::with_capacity(changes.len());
        // (cart id, order id) of orders placed from a cart the mirror holds.
        let mut placed: Vec<(&str, &str)> = Vec::new();
        // Records each kind gains or loses, applied once the transaction is in.
        let mut added = [0i64; RecordKind::ALL.len()];
        let first_seq = *next_seq;
        let mut segment = Segment::with_capacity(changes.len());
        for change in changes {
            let (kind, id) = (change.kind, change.id.as_str());
            let stored;
            let current: Option<&[u8]> = match batch_state.get(&(kind, id)) {
                Some(state) => *state,
                None => {
                    stored = self.records[tree_index(kind)].get(id.as_bytes())?;
                    stored.as_deref().and_then(|v| v.get(..HASH_LEN))
                }
            };
            let (outcome, op) = match change.hash() {
                Some(hash) if current == Some(hash) => (Outcome::Unchanged, None),
                Some(hash) => {
                    if current.is_none() {
                        added[tree_index(kind)] += 1;
                    }
                    batch_state.insert((kind, id), Some(hash));
                    (Outcome::Accepted, Some(Operation::Upsert))
                }
                None if current.is_some() => {
                    added[tree_index(kind)] -= 1;
                    batch_state.insert((kind, id), None);
                    (Outcome::Deleted, Some(Operation::Delete))
                }
                None => (Outcome::NotFound, None),
            };
            if let (Some(Operation::Upsert), Some(cart)) = (op, change.placed_cart.as_deref()) {
                if self.holds_cart(&batch_state, cart)? {
                    placed.push((cart, id));
                }
            }
            if let Some(op) = op {
                writes.push(change);
                segment.push(kind, op, id);
            }
            outcomes.push(outcome);
        }
        if writes.is_empty() {
            return Ok(outcomes);
        }
        let entries = segment.entries;
        let segment = segment.finish();
        let r = &self.records;
        let trees = (
            &r[0],
            &r[1],
            &r[2],
            &r[3],
            &r[4],
            &self.outbox,
            &self.placed_carts,
        );
        trees
            .transaction(|(t0, t1, t2, t3, t4, ob, pc)| {
                let trees: [&TransactionalTree; 5] = [t0, t1, t2, t3, t4];
                for change in &writes {
                    let tree = trees[tree_index(change.kind)];
                    match &change.value {
                        Some(v) => tree.insert(change.id.as_bytes(), v.as_slice())?,
                        None => tree.remove(change.id.as_bytes())?,
                    };
                }
                ob.insert(&first_seq.to_be_bytes(), segment.as_slice())?;
                for (cart, order) in &placed {
                    pc.insert(cart.as_bytes(), order.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })?;
        *next_seq = first_seq + u64::from(entries);
        for (count, n) in self.record_counts.iter().zip(added) {
            count.fetch_add(n, Ordering::Relaxed);
        }
        Ok(outcomes)
    }

    /// Whether the mirror holds cart `id`, this write group's own changes included.
    fn holds_cart(
        &self,
        batch_state: &std::collections::HashMap<(RecordKind, &str), Option<&[u8]>>,
        id: &str,
    ) -> Result<bool, StoreError> {
        Ok(match batch_state.get(&(RecordKind::Cart, id)) {
            Some(state) => state.is_some(),
            None => self.records[tree_index(RecordKind::Cart)].contains_key(id.as_bytes())?,
        })
    }

    /// The order placed from cart `cart_id`, if the mirror held that cart when the order came
    /// (kept after the cart is deleted, so an old recovery link still learns it was bought).
    pub fn placed_order(&self, cart_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .placed_carts
            .get(cart_id.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Queues every record of `kind` in the outbox as changed, as if each had been written
    /// again: what a setting that changes their bodies (a cart's recovery link) needs, so live
    /// sync re-sends those Mailchimp holds (it compares bodies, so nothing else is sent).
    /// Returns how many were queued.
    pub async fn requeue(&self, kind: RecordKind) -> Result<usize, StoreError> {
        const PER_SEGMENT: usize = 1_000;
        let mut queued = 0;
        let mut ids = self.records[tree_index(kind)].iter().keys().peekable();
        while ids.peek().is_some() {
            let mut next_seq = self.writer.lock().expect("writer lock");
            let first_seq = *next_seq;
            let mut segment = Segment::with_capacity(PER_SEGMENT);
            for id in ids.by_ref().take(PER_SEGMENT) {
                segment.push(kind, Operation::Upsert, &String::from_utf8_lossy(&id?));
            }
            let entries = segment.entries;
            self.outbox
                .insert(first_seq.to_be_bytes(), segment.finish())?;
            *next_seq = first_seq + u64::from(entries);
            queued += entries as usize;
        }
        self.flush().await?;
        Ok(queued)
    }

    /// The sequence after the newest outbox entry: where the counter resumes after a restart.
    pub(super) fn next_outbox_sequence(outbox: &sled::Tree) -> Result<u64, StoreError> {
        Ok(match outbox.last()? {
            Some((k, v)) => {
                let entries = decode_segment(&k, &v)?;
                entries.last().map_or(1, |e| e.sequence + 1)
            }
            None => 1,
        })
    }

    /// The stored record (encoded message) and its content hash.
    pub fn record(&self, kind: RecordKind, id: &str) -> Result<Option<Stored>, StoreError> {
        let Some(v) = self.records[tree_index(kind)].get(id.as_bytes())? else {
            return Ok(None);
        };
        if v.len() < HASH_LEN {
            return Err(StoreError::Corrupt {
                key: format!("{}/{id}", kind.name()),
                reason: "too short".into(),
            });
        }
        let mut hash = [0u8; HASH_LEN];
        hash.copy_from_slice(&v[..HASH_LEN]);
        Ok(Some((hash, v[HASH_LEN..].to_vec())))
    }

    /// The stored record, decoded.
    pub fn decoded_record(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<pb::record::Record>, StoreError> {
        self.record(kind, id)?
            .map(|(_, bytes)| decode_stored(kind, id, &bytes))
            .transpose()
    }

    /// Records of a kind in the mirror.
    pub fn count_records(&self, kind: RecordKind) -> usize {
        let n = self.record_counts[tree_index(kind)].load(Ordering::Relaxed);
        usize::try_from(n).unwrap_or(0)
    }

    /// Changes waiting in the outbox: those live sync has not dealt with yet.
    pub fn outbox_len(&self) -> Result<usize, StoreError> {
        let after = self.live_cursor()?;
        let mut n = 0;
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            let first = k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            let count = v.get(..4).map_or(0, |c| {
                u64::from(u32::from_be_bytes(c.try_into().unwrap_or([0; 4])))
            });
            // Entries first..first+count; those up to `after` are done.
            let done = (after + 1).saturating_sub(first).min(count);
            n += (count - done) as usize;
        }
        Ok(n)
    }

    /// The oldest outbox entries, up to `limit`.
    pub fn outbox_head(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        for kv in self.outbox.iter() {
            let (k, v) = kv?;
            out.extend(decode_segment(&k, &v)?);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        Ok(out)
    }
}

/// Decodes a stored record; bytes that do not decode are `Corrupt`, never "no record" (which
/// would read as a delete).
pub fn decode_stored(
    kind: RecordKind,
    id: &str,
    bytes: &[u8],
) -> Result<pb::record::Record, StoreError> {
    crate::domain::record::decode(kind, bytes).map_err(|e| StoreError::Corrupt {
        key: format!("{}/{id}", kind.name()),
        reason: e.to_string(),
    })
}

/// One outbox segment as it is written: the count of entries, the entries (kind, operation, id
/// length: ids are at most 50 bytes, id), then the time.
struct Segment {
    bytes: Vec<u8>,
    entries: u32,
}

impl Segment {
    fn with_capacity(entries: usize) -> Self {
        let mut bytes = Vec::with_capacity(4 + entries * 16 + 8);
        bytes.extend_from_slice(&0u32.to_be_bytes());
        Self { bytes, entries: 0 }
    }

    fn push(&mut self, kind: RecordKind, op: Operation, id: &str) {
        self.bytes.push(kind.to_byte());
        self.bytes.push(op as u8);
        self.bytes
            .push(u8::try_from(id.len()).expect("ids are at most 50 characters"));
        self.bytes.extend_from_slice(id.as_bytes());
        self.entries += 1;
    }

    /// The segment's bytes: its count filled in, and the time after the entries (so segments
    /// written before the time was kept still decode).
    fn finish(mut self) -> Vec<u8> {
        self.bytes[..4].copy_from_slice(&self.entries.to_be_bytes());
        self.bytes.extend_from_slice(&unix_ms().to_be_bytes());
        self.bytes
    }
}

pub(super) fn decode_segment(k: &[u8], v: &[u8]) -> Result<Vec<OutboxEntry>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: format!("outbox/{k:?}"),
        reason: "bad segment".into(),
    };
    let first = u64::from_be_bytes(k.try_into().map_err(|_| corrupt())?);
    let count = u32::from_be_bytes(
        v.get(..4)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?,
    );
    let mut decoded = Vec::with_capacity(count as usize);
    let mut rest = &v[4..];
    for i in 0..u64::from(count) {
        let [kind, op, len, tail @ ..] = rest else {
            return Err(corrupt());
        };
        let kind = RecordKind::from_byte(*kind).ok_or_else(corrupt)?;
        let operation = match op {
            1 => Operation::Upsert,
            2 => Operation::Delete,
            _ => return Err(corrupt()),
        };
        let id = tail.get(..usize::from(*len)).ok_or_else(corrupt)?;
        let id = String::from_utf8(id.to_vec()).map_err(|_| corrupt())?;
        rest = &tail[usize::from(*len)..];
        decoded.push((first + i, kind, operation, id));
    }
    let written_at_ms = rest
        .get(..8)
        .and_then(|t| t.try_into().ok())
        .map(u64::from_be_bytes);
    Ok(decoded
        .into_iter()
        .map(|(sequence, kind, operation, id)| OutboxEntry {
            sequence,
            kind,
            operation,
            id,
            written_at_ms,
        })
        .collect())
}

/// Now, in milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{self, Change};
    use crate::testdata;

    fn upsert(i: u64) -> Change {
        record::parse(testdata::mixed(i)).unwrap()
    }

    fn counts(store: &Store) -> Vec<usize> {
        RecordKind::ALL
            .iter()
            .map(|k| store.count_records(*k))
            .collect()
    }

    fn walked(store: &Store) -> Vec<usize> {
        RecordKind::ALL
            .iter()
            .map(|k| store.records[tree_index(*k)].len())
            .collect()
    }

    #[test]
    fn record_counts_follow_creates_changes_and_deletes_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let changes: Vec<Change> = (0..40).map(upsert).collect();
        let first = changes[3].clone();
        let gone = Change::Delete(first.kind(), first.id().to_owned());
        {
            let store = Store::open(dir.path()).unwrap();
            store.apply_changes(&changes).unwrap();
            // Again, a delete and a create of the same record in one write, and a delete of
            // a record that is not there.
            let missing = Change::Delete(first.kind(), "never-stored".into());
            store.apply_changes(&changes[..10]).unwrap();
            store
                .apply_changes(&[gone.clone(), first.clone(), gone.clone(), missing])
                .unwrap();
            assert_eq!(counts(&store).iter().sum::<usize>(), 39);
            assert_eq!(counts(&store), walked(&store));
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(counts(&store), walked(&store));
        store.apply_changes(&[first]).unwrap();
        assert_eq!(counts(&store).iter().sum::<usize>(), 40);
        assert_eq!(counts(&store), walked(&store));
    }

    #[test]
    fn outbox_sequences_are_contiguous_and_resume_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let out = store
                .apply_changes(&[upsert(1), upsert(2), upsert(1)])
                .unwrap();
            assert_eq!(
                out,
                [Outcome::Accepted, Outcome::Accepted, Outcome::Unchanged]
            );
            let del = Change::Delete(RecordKind::Order, "100002".into());
            let out = store.apply_changes(&[del.clone(), del]).unwrap();
            assert_eq!(
                out,
                [Outcome::Deleted, Outcome::NotFound],
                "the batch sees its own delete"
            );
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        store.apply_changes(&[upsert(3)]).unwrap();
        let entries = store.outbox_head(100).unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert_eq!(entries[2].operation, Operation::Delete);
        assert_eq!(
            (entries[3].kind, entries[3].id.as_str()),
            (RecordKind::Order, "100003")
        );
        assert_eq!(store.outbox_len().unwrap(), 4);
        assert_eq!(store.outbox_head(2).unwrap().len(), 2);
    }
}
