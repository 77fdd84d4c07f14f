//! Upload jobs and their cursors, the Mailchimp stores mcsync uses per (account, list), and
//! reads of the mirror in key order for the phases of a job.
//!
//! Trees: `jobs` (`<job id>` → encoded JobProgress; ids sort by start time), `cursors`
//! (`<job id> 0x00 <store id> 0x00 <kind>` → the last id done, or [`PHASE_DONE`]),
//! `mc_stores` (`<account id> 0x00 <list id>` → store id).

use prost::Message;

use super::records::HASH_LEN;
use super::{Store, StoreError};
use crate::domain::record::RecordKind;
use crate::proto::v1 as pb;

/// A record's id and its encoded message, as the mirror holds them.
pub type IdAndRecord = (Vec<u8>, Vec<u8>);

/// The cursor of a finished phase.
pub const PHASE_DONE: &[u8] = b"\xff";

fn cursor_key(job: &str, store_id: &str, kind: RecordKind) -> Vec<u8> {
    let mut k = format!("{job}\0{store_id}\0").into_bytes();
    k.push(kind.to_byte());
    k
}

impl Store {
    /// Saves a job's progress (durably: a restart resumes from it).
    pub async fn save_job(&self, job: &pb::JobProgress) -> Result<(), StoreError> {
        self.jobs
            .insert(job.job_id.as_bytes(), job.encode_to_vec())?;
        self.flush().await
    }

    /// One job as saved.
    pub fn job(&self, id: &str) -> Result<Option<pb::JobProgress>, StoreError> {
        self.jobs
            .get(id.as_bytes())?
            .map(|v| super::decode_message(format_args!("jobs/{id}"), &v))
            .transpose()
    }

    /// Newest first.
    pub fn jobs(&self, limit: usize) -> Result<Vec<pb::JobProgress>, StoreError> {
        self.jobs
            .iter()
            .rev()
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                super::decode_message(format_args!("jobs/{}", String::from_utf8_lossy(&k)), &v)
            })
            .collect()
    }

    /// Where a job's phase (store and kind) stands: the last id it settled.
    pub fn cursor(
        &self,
        job: &str,
        store_id: &str,
        kind: RecordKind,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .cursors
            .get(cursor_key(job, store_id, kind))?
            .map(|v| v.to_vec()))
    }

    /// Durable before it returns: a resumed job starts after this id.
    pub async fn set_cursor(
        &self,
        job: &str,
        store_id: &str,
        kind: RecordKind,
        last: &[u8],
    ) -> Result<(), StoreError> {
        self.cursors.insert(cursor_key(job, store_id, kind), last)?;
        self.flush().await
    }

    /// The Mailchimp store of an account's list, once made or adopted.
    pub fn mc_store(&self, account: &str, list: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .mc_stores
            .get(format!("{account}\0{list}"))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every store mcsync made or adopted for an account: (list id, store id).
    pub fn mc_stores_of(&self, account: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = format!("{account}\0");
        let mut out = Vec::new();
        for kv in self.mc_stores.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let list = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push((list, String::from_utf8_lossy(&v).into_owned()));
        }
        Ok(out)
    }

    /// A store removed from Mailchimp: everything mcsync kept about it goes, durably.
    pub async fn forget_store(
        &self,
        account: &str,
        list: &str,
        store_id: &str,
    ) -> Result<(), StoreError> {
        let prefix = super::synced::store_prefix(store_id);
        for tree in [&self.synced, &self.sync_errors] {
            for k in tree.scan_prefix(&prefix).keys() {
                tree.remove(k?)?;
            }
        }
        for key in [
            super::live::uploaded_key(store_id),
            super::live::syncing_key(store_id),
            super::synced::reconciled_key(store_id),
            super::synced::lost_key(store_id),
        ] {
            self.cursors.remove(key)?;
        }
        self.mc_stores.remove(format!("{account}\0{list}"))?;
        self.flush().await
    }

    /// Notes the Mailchimp store of an account's list.
    pub async fn set_mc_store(
        &self,
        account: &str,
        list: &str,
        store_id: &str,
    ) -> Result<(), StoreError> {
        self.mc_stores
            .insert(format!("{account}\0{list}"), store_id.as_bytes())?;
        self.flush().await
    }

    /// Every record of a kind, decoded, in id order, read 1,000 at a time.
    pub fn each_record(
        &self,
        kind: RecordKind,
        mut f: impl FnMut(&str, pb::record::Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.records_after(kind, after.as_deref(), 1_000)?;
            let Some((last, _)) = page.last() else {
                return Ok(());
            };
            after = Some(last.clone());
            for (id, bytes) in &page {
                let id = String::from_utf8_lossy(id);
                f(&id, super::records::decode_stored(kind, &id, bytes)?)?;
            }
        }
    }

    /// Up to `limit` records of a kind after `after` (exclusive), in id order: (id, encoded).
    pub fn records_after(
        &self,
        kind: RecordKind,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<IdAndRecord>, StoreError> {
        let tree = &self.records[kind as usize];
        let iter = match after {
            Some(a) => {
                tree.range::<&[u8], _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
            }
            None => tree.iter(),
        };
        iter.take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), v.get(HASH_LEN..).unwrap_or_default().to_vec()))
            })
            .collect()
    }

    /// Ids Mailchimp has from us in a store for a kind, that the mirror no longer has.
    pub fn synced_but_deleted(
        &self,
        store_id: &str,
        kind: RecordKind,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = super::synced::key(store_id, kind, "");
        let mut out = Vec::new();
        for kv in self.synced.scan_prefix(&prefix) {
            let (k, _) = kv?;
            let id = &k[prefix.len()..];
            let line_product = kind == RecordKind::Product
                && self.is_line_product(store_id, &String::from_utf8_lossy(id))?;
            if !line_product && !self.records[kind as usize].contains_key(id)? {
                out.push(String::from_utf8_lossy(id).into_owned());
            }
        }
        Ok(out)
    }
}
