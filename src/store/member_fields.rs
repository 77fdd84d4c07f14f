//! Merge fields owed to audience members: `member_fields` holds, per (account, list, email),
//! the values the merchant's map gives the member's customer and those Mailchimp took;
//! `member_fields_pending` lists those with something to send. Queued by the sync engine as it
//! pushes customers (not flushed: see `sync::push::consent` for why a crash loses nothing) and
//! settled by the member-fields worker, only if no newer values replaced them meanwhile.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::queued::Queue;
use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
/// Where a member's merge fields stand.
pub enum FieldsState {
    /// Something to send.
    Queued,
    /// Mailchimp has the values it could take.
    Applied,
    /// The email was not a member (a PATCH never makes one); tried again when the customer is
    /// pushed again.
    NotMember,
    /// Mailchimp refused the values: `error` says why.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// The mapped merge fields of one member of one audience.
pub struct MemberFields {
    /// The connected account.
    pub account_id: String,
    /// The audience.
    pub list_id: String,
    /// The member's email, lower-cased.
    pub email: String,
    /// The store the customer went to, and its id: where a refusal is listed.
    pub store_id: String,
    /// The customer's id.
    pub customer_id: String,
    /// Tag → value, as the map gives them (an empty string: the shop has no value).
    pub wanted: BTreeMap<String, Value>,
    /// Tags left out, with why their value would be refused.
    pub refused: Vec<(String, String)>,
    /// Tag → value, as Mailchimp took them.
    pub sent: BTreeMap<String, Value>,
    /// Where they stand.
    pub state: FieldsState,
    /// Why Mailchimp refused them.
    pub error: String,
    /// Grows with each change, so that the worker never settles values replaced meanwhile.
    pub version: u64,
}

impl MemberFields {
    /// What a PATCH must carry: each wanted value Mailchimp does not have yet. An empty value
    /// is sent only to clear one that mcsync set.
    pub fn changes(&self) -> BTreeMap<String, Value> {
        self.wanted
            .iter()
            .filter(|(tag, v)| match self.sent.get(*tag) {
                Some(sent) => sent != *v,
                None => v.as_str() != Some(""),
            })
            .map(|(t, v)| (t.clone(), v.clone()))
            .collect()
    }
}

fn key(account: &str, list: &str, email: &str) -> Vec<u8> {
    format!("{account}\0{list}\0{}", email.to_lowercase()).into_bytes()
}

impl Store {
    fn member_fields_queue(&self) -> Queue<'_> {
        Queue {
            all: &self.member_fields,
            pending: &self.member_fields_pending,
        }
    }

    /// Notes the values a customer's map gives the member now; queues them when they differ
    /// from the last ones (or the email was not a member then). Whether it queued.
    pub fn queue_member_fields(&self, mut fields: MemberFields) -> Result<bool, StoreError> {
        let k = key(&fields.account_id, &fields.list_id, &fields.email);
        let before: Option<MemberFields> = self.member_fields_queue().get(&k)?;
        if let Some(b) = &before {
            let same = b.wanted == fields.wanted
                && b.refused == fields.refused
                && b.customer_id == fields.customer_id;
            if same && b.state != FieldsState::NotMember {
                return Ok(false);
            }
            fields.sent = b.sent.clone();
            fields.version = b.version + 1;
        } else {
            fields.version = 1;
        }
        fields.state = FieldsState::Queued;
        fields.error.clear();
        self.member_fields_queue()
            .put(&[(k, &fields, fields.version)])?;
        Ok(true)
    }

    /// Members with merge fields to send, oldest keys first.
    pub fn pending_member_fields(&self, limit: usize) -> Result<Vec<MemberFields>, StoreError> {
        self.member_fields_queue().pending(limit)
    }

    /// Records what Mailchimp made of a member's values, unless newer ones replaced them
    /// meanwhile (those stay queued).
    pub async fn settle_member_fields(&self, settled: &MemberFields) -> Result<(), StoreError> {
        let k = key(&settled.account_id, &settled.list_id, &settled.email);
        self.member_fields_queue()
            .settle(&k, settled, settled.version)?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_patch_carries_changed_values_and_clears_only_what_mcsync_set() {
        let f = MemberFields {
            account_id: "a".into(),
            list_id: "l".into(),
            email: "e@example.com".into(),
            store_id: "s".into(),
            customer_id: "c".into(),
            wanted: [
                ("PHONE", json!("")),
                ("TIER", json!("Gold")),
                ("CITY", json!("")),
                ("FNAME", json!("Ada")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            refused: Vec::new(),
            sent: [
                ("PHONE", json!("555")),
                ("FNAME", json!("Ada")),
                ("TIER", json!("Silver")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            state: FieldsState::Queued,
            error: String::new(),
            version: 1,
        };
        let changes: Vec<(String, Value)> = f.changes().into_iter().collect();
        assert_eq!(
            changes,
            [
                ("PHONE".to_owned(), json!("")),
                ("TIER".to_owned(), json!("Gold"))
            ]
        );
    }
}
