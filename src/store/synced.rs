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

/// `<store id> 0x00`: the prefix of everything a per-store tree keeps about one store.
pub(super) fn store_prefix(store_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(store_id.len() + 2);
    k.extend_from_slice(store_id.as_bytes());
    k.push(0);
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

/// In `cursors`: a store's last reconciliation.
pub(super) fn reconciled_key(store_id: &str) -> Vec<u8> {
    [b"reconciled\0".as_slice(), store_id.as_bytes()].concat()
}

/// In `cursors`: a store's last scheduled audit.
fn audit_key(store_id: &str) -> Vec<u8> {
    [b"audit\0".as_slice(), store_id.as_bytes()].concat()
}

/// In `cursors`: why and since when a store is lost.
pub(super) fn lost_key(store_id: &str) -> Vec<u8> {
    [b"lost\0".as_slice(), store_id.as_bytes()].concat()
}

impl Store {
    /// The ids of a kind Mailchimp accepted in a store (or may hold: [`MAYBE`]).
    pub fn synced_ids(&self, store_id: &str, kind: RecordKind) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        self.each_synced_id(store_id, kind, |id| {
            out.push(id.to_owned());
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Self::synced_ids`] one at a time, in key order, none of them kept.
    pub fn each_synced_id(
        &self,
        store_id: &str,
        kind: RecordKind,
        mut each: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let prefix = key(store_id, kind, "");
        for kv in self.synced.scan_prefix(&prefix) {
            let (k, _) = kv?;
            each(&String::from_utf8_lossy(&k[prefix.len()..]))?;
        }
        Ok(())
    }

    /// Resync: what Mailchimp accepted in a store is forgotten, but not that it holds it, so
    /// every record is sent again as an update (a create only on 404).
    pub fn forget_bodies(&self, store_id: &str) -> Result<(), StoreError> {
        for kind in RecordKind::ALL {
            for id in self.synced_ids(store_id, kind)? {
                self.set_synced(store_id, kind, &id, MAYBE)?;
            }
        }
        Ok(())
    }

    /// The variants mcsync made from order lines in a store: (product id, variant id).
    pub fn line_variants(&self, store_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = line_variant_key(store_id, "", "");
        let prefix = &prefix[..prefix.len() - 1];
        let mut out = Vec::new();
        for kv in self.synced.scan_prefix(prefix) {
            let (k, _) = kv?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some((product, variant)) = rest.split_once('\0') {
                out.push((product.to_owned(), variant.to_owned()));
            }
        }
        Ok(out)
    }

    /// Forgets that mcsync made a line's variant (it is gone from Mailchimp).
    pub fn unmark_line_variant(
        &self,
        store_id: &str,
        product_id: &str,
        variant_id: &str,
    ) -> Result<(), StoreError> {
        self.synced
            .remove(line_variant_key(store_id, product_id, variant_id))?;
        Ok(())
    }

    /// Notes that live sync found a store gone from Mailchimp (`None` clears it): why, and when.
    pub fn set_store_lost(&self, store_id: &str, reason: Option<&str>) -> Result<(), StoreError> {
        let k = lost_key(store_id);
        match reason {
            Some(r) => {
                let v = format!("{}\0{r}", crate::domain::now());
                self.cursors.insert(k, v.as_bytes())?;
            }
            None => {
                self.cursors.remove(k)?;
            }
        }
        Ok(())
    }

    /// Why and since when (unix seconds) a store is lost, if it is.
    pub fn store_lost(&self, store_id: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self.cursors.get(lost_key(store_id))?.and_then(|v| {
            let text = String::from_utf8_lossy(&v).into_owned();
            let (at, reason) = text.split_once('\0')?;
            Some((at.parse().ok()?, reason.to_owned()))
        }))
    }

    /// Keeps what the last reconciliation of a store found, for GetSyncStatus.
    pub fn save_reconciliation(
        &self,
        r: &crate::proto::v1::Reconciliation,
    ) -> Result<(), StoreError> {
        use prost::Message;
        self.cursors
            .insert(reconciled_key(&r.store_id), r.encode_to_vec())?;
        Ok(())
    }

    /// The last reconciliation of a store.
    pub fn last_reconciliation(
        &self,
        store_id: &str,
    ) -> Result<Option<crate::proto::v1::Reconciliation>, StoreError> {
        self.cursors
            .get(reconciled_key(store_id))?
            .map(|v| super::decode_message(format_args!("cursors/reconciled/{store_id}"), &v))
            .transpose()
    }

    /// Keeps a store's last audit, for GetSyncStatus (flushed: an audit happens at most once a
    /// minute).
    pub async fn save_audit(&self, a: &crate::proto::v1::Audit) -> Result<(), StoreError> {
        use prost::Message;
        let store_id = a.found.as_ref().map_or("", |f| f.store_id.as_str());
        self.cursors
            .insert(audit_key(store_id), a.encode_to_vec())?;
        self.flush().await
    }

    /// When the newest audit of any store ran.
    pub fn newest_audit_at(&self) -> Result<Option<i64>, StoreError> {
        let mut newest = None;
        for kv in self.cursors.scan_prefix(audit_key("")) {
            let (_, v) = kv?;
            // An audit that does not decode says nothing of when the last one ran.
            let audit: Result<crate::proto::v1::Audit, _> = super::decode_message("", &v);
            newest = newest.max(audit.ok().and_then(|a| a.at).map(|at| at.seconds));
        }
        Ok(newest)
    }

    /// The last audit of a store.
    pub fn last_audit(
        &self,
        store_id: &str,
    ) -> Result<Option<crate::proto::v1::Audit>, StoreError> {
        self.cursors
            .get(audit_key(store_id))?
            .map(|v| super::decode_message(format_args!("cursors/audit/{store_id}"), &v))
            .transpose()
    }

    /// Notes that mcsync made a line's variant in a store, so that it is made once.
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

    /// Whether mcsync made a line's variant in a store.
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

    /// Notes that a line's product was made from the line (the mirror lacks it).
    pub fn mark_line_product(&self, store_id: &str, product_id: &str) -> Result<(), StoreError> {
        self.synced
            .insert(line_product_key(store_id, product_id), &[][..])?;
        Ok(())
    }

    /// Whether a product was made from a line.
    pub fn is_line_product(&self, store_id: &str, product_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .synced
            .contains_key(line_product_key(store_id, product_id))?)
    }

    /// The hash of what Mailchimp last accepted for a record, or [`MAYBE`].
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

    /// Forgets what Mailchimp held of a record (deleted there).
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
