//! The mirror of shop records: a tree per kind (`<id>` → 16-byte content hash + the encoded
//! record) and the outbox (`<sequence u64 BE>` → kind, operation, id), written together in one
//! transaction, and the outbox only when a record really changed.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::{Store, StoreError};
use crate::domain::record::{Change, RecordKind};

pub const HASH_LEN: usize = 16;

/// What became of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New or different: stored, and queued in the outbox.
    Accepted,
    /// Identical to what was stored: nothing written.
    Unchanged,
    Deleted,
    /// A delete of a record that was not there.
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Upsert = 1,
    Delete = 2,
}

/// One entry of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub sequence: u64,
    pub kind: RecordKind,
    pub operation: Operation,
    pub id: String,
}

pub fn content_hash(encoded: &[u8]) -> [u8; HASH_LEN] {
    md5::compute(encoded).0
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

    /// Applies the changes in order, in one transaction (later changes see earlier ones), and
    /// does not flush: the caller acknowledges only after [`Store::flush`]. This is what lets
    /// one flush cover many requests (group commit).
    pub fn apply_changes(&self, changes: &[Change]) -> Result<Vec<Outcome>, StoreError> {
        let encoded: Vec<Option<(Vec<u8>, [u8; HASH_LEN])>> = changes
            .iter()
            .map(|c| match c {
                Change::Upsert(v) => {
                    let bytes = v.encode();
                    let hash = content_hash(&bytes);
                    let mut value = Vec::with_capacity(HASH_LEN + bytes.len());
                    value.extend_from_slice(&hash);
                    value.extend_from_slice(&bytes);
                    Some((value, hash))
                }
                Change::Delete(..) => None,
            })
            .collect();
        let r = &self.records;
        let trees = (&r[0], &r[1], &r[2], &r[3], &r[4], &self.outbox);
        trees
            .transaction(|(t0, t1, t2, t3, t4, outbox)| {
                let trees: [&TransactionalTree; 5] = [t0, t1, t2, t3, t4];
                let mut outcomes = Vec::with_capacity(changes.len());
                for (change, enc) in changes.iter().zip(&encoded) {
                    let tree = trees[tree_index(change.kind())];
                    let id = change.id().as_bytes();
                    let outcome = match enc {
                        Some((value, hash)) => match tree.get(id)? {
                            Some(old) if old.get(..HASH_LEN) == Some(&hash[..]) => {
                                Outcome::Unchanged
                            }
                            _ => {
                                tree.insert(id, value.as_slice())?;
                                Outcome::Accepted
                            }
                        },
                        None => match tree.remove(id)? {
                            Some(_) => Outcome::Deleted,
                            None => Outcome::NotFound,
                        },
                    };
                    let op = match outcome {
                        Outcome::Accepted => Some(Operation::Upsert),
                        Outcome::Deleted => Some(Operation::Delete),
                        Outcome::Unchanged | Outcome::NotFound => None,
                    };
                    if let Some(op) = op {
                        let seq = outbox.generate_id()?;
                        outbox.insert(
                            &seq.to_be_bytes(),
                            outbox_value(change.kind(), op, change.id()),
                        )?;
                    }
                    outcomes.push(outcome);
                }
                Ok::<_, ConflictableTransactionError<()>>(outcomes)
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })
    }

    /// The stored record (encoded message) and its content hash.
    pub fn record(
        &self,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<([u8; HASH_LEN], Vec<u8>)>, StoreError> {
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

    pub fn count_records(&self, kind: RecordKind) -> usize {
        self.records[tree_index(kind)].len()
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// The oldest outbox entries, up to `limit`.
    pub fn outbox_head(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox
            .iter()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                decode_outbox(&k, &v)
            })
            .collect()
    }
}

fn outbox_value(kind: RecordKind, op: Operation, id: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + id.len());
    v.push(kind.to_byte());
    v.push(op as u8);
    v.extend_from_slice(id.as_bytes());
    v
}

fn decode_outbox(k: &[u8], v: &[u8]) -> Result<OutboxEntry, StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: format!("outbox/{k:?}"),
        reason: "bad entry".into(),
    };
    let sequence = u64::from_be_bytes(k.try_into().map_err(|_| corrupt())?);
    let kind = RecordKind::from_byte(*v.first().ok_or_else(corrupt)?).ok_or_else(corrupt)?;
    let operation = match v.get(1) {
        Some(1) => Operation::Upsert,
        Some(2) => Operation::Delete,
        _ => return Err(corrupt()),
    };
    let id = String::from_utf8(v[2..].to_vec()).map_err(|_| corrupt())?;
    Ok(OutboxEntry {
        sequence,
        kind,
        operation,
        id,
    })
}
