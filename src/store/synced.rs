//! What Mailchimp last accepted, per store and record: the hash of the body it acknowledged.
//! It makes a second upload of unchanged data send nothing, and tells create from update.

use super::records::HASH_LEN;
use super::{Store, StoreError};
use crate::domain::record::RecordKind;

/// `<store id> 0x00 <kind> <id>`: the key of every per-store, per-record tree (`synced`,
/// `sync_errors`); with an empty id, the prefix of a store's records of one kind.
pub(super) fn key(store_id: &str, kind: RecordKind, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(store_id.len() + id.len() + 2);
    k.extend_from_slice(store_id.as_bytes());
    k.push(0);
    k.push(kind.to_byte());
    k.extend_from_slice(id.as_bytes());
    k
}

/// The synced "hash" of a record whose create got an ambiguous answer: Mailchimp may hold it,
/// with a body we do not know, so the next push updates first (and creates only on 404). No
/// body hashes to it.
pub const MAYBE: [u8; HASH_LEN] = [0; HASH_LEN];

/// Marks, in the same tree, products mcsync made from order lines (their product was missing
/// from the mirror): not "deleted in the shop" although the mirror lacks them.
const LINE_PRODUCT: u8 = 0xfe;

fn line_product_key(store_id: &str, product_id: &str) -> Vec<u8> {
    let mut k = key(store_id, RecordKind::Product, product_id);
    k[store_id.len() + 1] = LINE_PRODUCT;
    k
}

/// Marks, in the same tree, variants mcsync made from order lines for a product Mailchimp has
/// (the mirror's product does not list them).
const LINE_VARIANT: u8 = 0xfd;

fn line_variant_key(store_id: &str, product_id: &str, variant_id: &str) -> Vec<u8> {
    let mut k = key(store_id, RecordKind::Product, product_id);
    k[store_id.len() + 1] = LINE_VARIANT;
    k.push(0);
    k.extend_from_slice(variant_id.as_bytes());
    k
}

impl Store {
    pub fn mark_line_variant(
        &self,
        store_id: &str,
        product_id: &str,
        variant_id: &str,
    ) -> Result<(), StoreError> {
        self.synced
            .insert(line_variant_key(store_id, product_id, variant_id), &[][..])?;
        Ok(())
    }

    pub fn is_line_variant(
        &self,
        store_id: &str,
        product_id: &str,
        variant_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .synced
            .contains_key(line_variant_key(store_id, product_id, variant_id))?)
    }

    pub fn mark_line_product(&self, store_id: &str, product_id: &str) -> Result<(), StoreError> {
        self.synced
            .insert(line_product_key(store_id, product_id), &[][..])?;
        Ok(())
    }

    pub fn is_line_product(&self, store_id: &str, product_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .synced
            .contains_key(line_product_key(store_id, product_id))?)
    }

    pub fn synced_hash(
        &self,
        store_id: &str,
        kind: RecordKind,
        id: &str,
    ) -> Result<Option<[u8; HASH_LEN]>, StoreError> {
        Ok(self
            .synced
            .get(key(store_id, kind, id))?
            .and_then(|v| v.as_ref().try_into().ok()))
    }

    /// Records that Mailchimp accepted this body. Not flushed here: losing it in a crash only
    /// means the record is sent again, as an update.
    pub fn set_synced(
        &self,
        store_id: &str,
        kind: RecordKind,
        id: &str,
        hash: [u8; HASH_LEN],
    ) -> Result<(), StoreError> {
        self.synced.insert(key(store_id, kind, id), &hash[..])?;
        Ok(())
    }

    pub fn clear_synced(
        &self,
        store_id: &str,
        kind: RecordKind,
        id: &str,
    ) -> Result<(), StoreError> {
        self.synced.remove(key(store_id, kind, id))?;
        Ok(())
    }
}
