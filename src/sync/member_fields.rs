//! The merchant's merge-field map at work: as the engine pushes a customer, the values its map
//! gives the member are worked out and queued when they changed ([`queue`]); the worker's step
//! ([`apply_queued`]) PATCHes each member with its changed merge fields only, never its status,
//! and never makes a member. A value its field's type would refuse is left out and listed as a
//! sync error of the customer naming the tag; the others go through.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::fan_out::{FAN_OUT, FanOut};
use super::push::Consent;
use super::{During, Stop};
use crate::domain::merge_map::MergeSource;
use crate::domain::record::RecordKind;
use crate::domain::{MergeField, now};
use crate::mailchimp::merge_values::{ShopValue, merge_value};
use crate::mailchimp::{AccountClient, Mailchimp, MailchimpError};
use crate::proto::v1 as pb;
use crate::store::errors::SyncErrorRecord;
use crate::store::member_fields::{FieldsState, MemberFields};
use crate::store::{Store, StoreError};

/// Every selected audience's map, each source with the merge field it goes to (as of the last
/// refresh of the audiences).
pub type MergeMaps = BTreeMap<String, Vec<(MergeSource, MergeField)>>;

/// The title under which a customer's refused merge fields are listed as its sync error.
pub const REFUSED: &str = "Merge fields left out";

/// Members settled per step of the worker.
const APPLY_AT_ONCE: usize = 64;

/// The customer's value for a source.
fn source_value<'a>(c: &'a pb::Customer, source: &MergeSource) -> ShopValue<'a> {
    static NO_ADDRESS: pb::Address = pb::Address {
        address1: String::new(),
        address2: String::new(),
        city: String::new(),
        province: String::new(),
        province_code: String::new(),
        postal_code: String::new(),
        country: String::new(),
        country_code: String::new(),
    };
    match source {
        MergeSource::FirstName => ShopValue::Text(&c.first_name),
        MergeSource::LastName => ShopValue::Text(&c.last_name),
        MergeSource::Company => ShopValue::Text(&c.company),
        MergeSource::Phone => ShopValue::Text(&c.phone),
        MergeSource::Birthday => ShopValue::Date(&c.birthday),
        MergeSource::Address => ShopValue::Address(c.address.as_ref().unwrap_or(&NO_ADDRESS)),
        MergeSource::Attribute(key) => {
            ShopValue::Text(c.attributes.get(key).map_or("", String::as_str))
        }
    }
}

/// The values `map` gives customer `c`, and the tags left out with why.
pub fn mapped(
    c: &pb::Customer,
    map: &[(MergeSource, MergeField)],
) -> (BTreeMap<String, Value>, Vec<(String, String)>) {
    let mut wanted = BTreeMap::new();
    let mut refused = Vec::new();
    for (source, field) in map {
        let value = source_value(c, source);
        if value.is_empty() {
            wanted.insert(field.tag.clone(), json!(""));
            continue;
        }
        match merge_value(field, &value) {
            Ok(v) => {
                wanted.insert(field.tag.clone(), v);
            }
            Err(reason) => refused.push((field.tag.clone(), format!("{source}: {reason}"))),
        }
    }
    (wanted, refused)
}

/// Queues the member fields of customer `c` for each audience of `store_id` that has a map.
/// Called as the customer is pushed, before its push is noted (see `push::consent`).
pub fn queue(
    store: &Store,
    consent: &Consent<'_>,
    store_id: &str,
    c: &pb::Customer,
) -> Result<(), StoreError> {
    // Every customer push passes here: without a map, not even the store's lists are looked up.
    if consent.merge_maps.is_empty() {
        return Ok(());
    }
    for list_id in consent.lists_of(store_id) {
        let Some(map) = consent.merge_maps.get(list_id) else {
            continue;
        };
        let (wanted, refused) = mapped(c, map);
        store.queue_member_fields(MemberFields {
            account_id: consent.account_id.to_owned(),
            list_id: list_id.to_owned(),
            email: c.email.to_lowercase(),
            store_id: store_id.to_owned(),
            customer_id: c.id.clone(),
            wanted,
            refused,
            sent: BTreeMap::new(),
            state: FieldsState::Queued,
            error: String::new(),
            version: 0,
        })?;
    }
    Ok(())
}

/// One step of the worker: sends queued merge fields; whether there were any. Mailchimp out of
/// reach (or refusing the key) keeps them queued and stops the step.
pub async fn apply_queued(store: &Store, mailchimp: &Mailchimp) -> Result<bool, Stop> {
    let pending = store.pending_member_fields(APPLY_AT_ONCE)?;
    if pending.is_empty() {
        return Ok(false);
    }
    let settings = store.settings()?;
    let client = settings.connection.as_ref().map(|c| {
        (
            c.account.id.clone(),
            mailchimp.for_key(&c.api_key).background(),
        )
    });
    let mut tasks = FanOut::new(FAN_OUT);
    for fields in pending {
        match &client {
            Some((account, client)) if *account == fields.account_id => {
                let client = client.clone();
                let key = fields.clone();
                tasks
                    .spawn(key, async move { apply(&client, fields).await })
                    .await;
            }
            _ => {
                // Computed under an account that is no longer connected: nowhere to send them.
                let mut fields = fields;
                fields.state = FieldsState::Refused;
                fields.error = "the Mailchimp account is no longer connected".into();
                store.settle_member_fields(&fields).await?;
            }
        }
    }
    let mut stop = None;
    for (asked, result) in tasks.join_all().await {
        match result {
            Ok(Ok(fields)) => settle(store, &fields).await?,
            Ok(Err(e)) => stop = Some(Stop::mailchimp(During::MemberFields)(e)),
            Err(panicked) => {
                let mut fields = asked;
                fields.state = FieldsState::Refused;
                fields.error = panicked.to_string();
                settle(store, &fields).await?;
            }
        }
    }
    stop.map_or(Ok(true), Err)
}

/// PATCHes the member with what changed. A 404 means no member (a PATCH never makes one); a
/// refusal is kept with the values; any other failure is returned (they stay queued).
async fn apply(
    client: &AccountClient,
    mut f: MemberFields,
) -> Result<MemberFields, MailchimpError> {
    let changes = f.changes();
    f.error.clear();
    if changes.is_empty() {
        f.state = FieldsState::Applied;
        return Ok(f);
    }
    let body = json!({ "merge_fields": changes });
    match client.patch_member(&f.list_id, &f.email, &body).await {
        Ok(()) => {
            f.sent.extend(changes);
            f.state = FieldsState::Applied;
        }
        Err(MailchimpError::Api(p)) if p.status == 404 => f.state = FieldsState::NotMember,
        Err(MailchimpError::Api(p)) if p.kind().is_refusal() => {
            f.state = FieldsState::Refused;
            let fields: Vec<String> = p
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            f.error = format!("{}: {} {}", p.title, p.detail, fields.join("; "));
        }
        Err(e) => return Err(e),
    }
    Ok(f)
}

/// Records the outcome, and lists the customer's left-out fields (or Mailchimp's refusal) as
/// its sync error; clears a listing of ours once all went through.
async fn settle(store: &Store, f: &MemberFields) -> Result<(), StoreError> {
    store.settle_member_fields(f).await?;
    let mut field_errors: Vec<String> = f
        .refused
        .iter()
        .map(|(tag, reason)| format!("merge_fields.{tag}: {reason}"))
        .collect();
    if f.state == FieldsState::Refused {
        field_errors.push(f.error.clone());
    }
    if field_errors.is_empty() {
        store.clear_sync_error_titled(
            &f.store_id,
            RecordKind::Customer,
            &f.customer_id,
            REFUSED,
            true,
        )?;
        return Ok(());
    }
    store.record_sync_error(SyncErrorRecord {
        store_id: f.store_id.clone(),
        kind: RecordKind::Customer.to_byte(),
        id: f.customer_id.clone(),
        status: 400,
        title: REFUSED.into(),
        detail: format!(
            "audience {}: these merge fields were left out of member {}; the rest went through",
            f.list_id, f.email
        ),
        field_errors,
        attempts: 1,
        at: now(),
    })
}
