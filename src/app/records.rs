//! The record operations behind StoreDataService.

use super::feed::Push;
use super::{App, AppError};
use crate::domain::record::{self, Change, RecordKind};
use crate::proto::v1 as pb;
use crate::store::records::Outcome;

impl App {
    /// A new PushRecords stream.
    pub fn push(&self) -> Push {
        Push::new(self.feed.clone())
    }

    /// One change, acknowledged once durable. Returns whether anything changed.
    pub async fn upsert(&self, record: pb::Record) -> Result<bool, AppError> {
        let change = record::parse(record).map_err(|r| AppError::Invalid(r.errors))?;
        let key = (change.kind(), change.id().to_owned());
        match self.feed.write(vec![change]).await?.as_slice() {
            [Outcome::Accepted | Outcome::Deleted] => Ok(true),
            [Outcome::Unchanged] => Ok(false),
            [Outcome::NotFound] => Err(not_found(key.0, &key.1)),
            other => unreachable!("one change, one outcome: {other:?}"),
        }
    }

    /// Deletes one record from the mirror (and, through the outbox, from Mailchimp).
    pub async fn delete(&self, key: &pb::RecordKey) -> Result<(), AppError> {
        let (kind, id) = record::parse_key(key, "").map_err(AppError::Invalid)?;
        match self
            .feed
            .write(vec![Change::Delete(kind, id.clone())])
            .await?
            .as_slice()
        {
            [Outcome::Deleted] => Ok(()),
            _ => Err(not_found(kind, &id)),
        }
    }

    /// One record as the mirror holds it.
    pub fn get_record(&self, key: &pb::RecordKey) -> Result<pb::Record, AppError> {
        let (kind, id) = record::parse_key(key, "").map_err(AppError::Invalid)?;
        let decoded = self
            .store
            .decoded_record(kind, &id)?
            .ok_or_else(|| not_found(kind, &id))?;
        Ok(pb::Record {
            record: Some(decoded),
        })
    }

    /// Up to `limit` records of a kind after the id `after`, in id order, as the mirror holds
    /// them: a page of an export. An empty page is the end.
    pub fn records_page(
        &self,
        kind: RecordKind,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, pb::Record)>, AppError> {
        let page = self.store.records_after(kind, after, limit)?;
        let mut out = Vec::with_capacity(page.len());
        for (id, bytes) in page {
            let decoded =
                crate::store::records::decode_stored(kind, &String::from_utf8_lossy(&id), &bytes)?;
            out.push((
                id,
                pb::Record {
                    record: Some(decoded),
                },
            ));
        }
        Ok(out)
    }

    /// Records per kind in the mirror, and the outbox's length.
    pub fn count_records(&self) -> Result<(Vec<(RecordKind, usize)>, usize), AppError> {
        let counts = RecordKind::ALL
            .iter()
            .map(|k| (*k, self.store.count_records(*k)))
            .collect();
        Ok((counts, self.store.outbox_len()?))
    }
}

fn not_found(kind: RecordKind, id: &str) -> AppError {
    super::Missing::Record {
        kind,
        id: id.to_owned(),
    }
    .into()
}
