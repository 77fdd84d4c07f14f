//! What a push's result means for the error list: a refused record (or one Mailchimp keeps
//! failing on, or a panicked push) is parked durably for ListSyncErrors and RetryFailed, a
//! success clears an old entry, anything else stops the work.

use super::push::{PushError, Pushed};
use super::stop::Stop;
use crate::domain::record::RecordKind;
use crate::mailchimp::{MailchimpError, Problem};
use crate::store::Store;
use crate::store::errors::SyncErrorRecord;

/// A record Mailchimp refused: a 4xx other than a refused key (401/403) or a rate limit.
pub struct Refusal(pub Box<Problem>);

/// Sorts a push result, keeping the error list current: a refusal, or a record Mailchimp keeps
/// failing on while it answers others, is parked (durably, for ListSyncErrors and RetryFailed),
/// a success clears an old one; anything else ends the job.
pub fn outcome(
    store: &Store,
    store_id: &str,
    kind: RecordKind,
    id: &str,
    result: Result<Pushed, PushError>,
) -> Result<Result<Pushed, Refusal>, Stop> {
    match result {
        Ok(pushed) => {
            // A customer's left-out merge fields stay listed until the member-fields worker
            // sends them (it may have listed them before this push is settled).
            let fields = super::member_fields::REFUSED;
            store.clear_sync_error_titled(store_id, kind, id, fields, false)?;
            Ok(Ok(pushed))
        }
        Err(PushError::Mailchimp(MailchimpError::Api(p))) if p.kind().is_refusal() => {
            Ok(park(store, store_id, kind, id, p)?)
        }
        Err(PushError::Failing(e)) => Ok(park(
            store,
            store_id,
            kind,
            id,
            Box::new(failing_problem(&e)),
        )?),
        Err(PushError::Panicked(p)) => {
            let problem = Problem {
                status: 500,
                kind: String::new(),
                title: "Internal error".into(),
                detail: p.to_string(),
                instance: String::new(),
                errors: Vec::new(),
            };
            Ok(park(store, store_id, kind, id, Box::new(problem))?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Lists a record Mailchimp refused or keeps failing on, for ListSyncErrors and RetryFailed.
fn park(
    store: &Store,
    store_id: &str,
    kind: RecordKind,
    id: &str,
    p: Box<Problem>,
) -> Result<Result<Pushed, Refusal>, crate::store::StoreError> {
    store.record_sync_error(SyncErrorRecord {
        store_id: store_id.to_owned(),
        kind: kind.to_byte(),
        id: id.to_owned(),
        status: p.status,
        title: p.title.clone(),
        detail: p.detail.clone(),
        field_errors: p.field_errors(),
        attempts: 1,
        at: crate::domain::now(),
    })?;
    Ok(Err(Refusal(p)))
}

/// The problem to list for a record that keeps failing without a refusal: Mailchimp's own
/// 5xx document, or what stood for an answer.
fn failing_problem(e: &MailchimpError) -> Problem {
    match e {
        MailchimpError::Api(p) => Problem {
            detail: format!(
                "{} (after every retry, while Mailchimp answered other requests)",
                p.detail
            ),
            ..(**p).clone()
        },
        other => Problem {
            status: 504,
            kind: String::new(),
            title: "No answer".into(),
            detail: format!("{other} (after every retry, while Mailchimp answered other requests)"),
            instance: String::new(),
            errors: Vec::new(),
        },
    }
}
