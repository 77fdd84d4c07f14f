//! The subscription worker's step: newsletter requests the shop queued (and consent queued by
//! pushes) applied to Mailchimp, each settled by Mailchimp's answer. A request that meets an
//! outage or a refused key stays queued, so that it survives a restart.

use serde_json::{Map, Value, json};

use super::fan_out::{FAN_OUT, FanOut};
use super::{During, Stop};
use crate::domain::merge_map::{MergeMapping, MergeSource};
use crate::mailchimp::{AccountClient, Mailchimp, MailchimpError};
use crate::store::Store;
use crate::store::subscriptions::{Subscription, SubscriptionState, Wanted};

/// Requests applied per step of the worker.
const APPLY_AT_ONCE: usize = 64;

/// One step of the subscription worker: applies queued requests; whether there were any.
/// Mailchimp out of reach (or refusing the key) keeps them queued and stops the step.
pub async fn apply_queued(store: &Store, mailchimp: &Mailchimp) -> Result<bool, Stop> {
    let pending = store.pending_subscriptions(APPLY_AT_ONCE)?;
    if pending.is_empty() {
        return Ok(false);
    }
    let settings = store.settings()?;
    let conn = settings.connection.as_ref();
    // Consent gives way to the shop's records on the key's connections (an upload finishes
    // first; a customer's confirmation mail waits seconds, at most half a minute).
    let client = conn.map(|c| {
        let client = mailchimp.for_key(&c.api_key).background();
        (c.account.id.clone(), client)
    });
    let maps = settings.choices().merge_fields;
    let mut tasks = FanOut::new(FAN_OUT);
    for sub in pending {
        match &client {
            Some((account, client)) if *account == sub.account_id => {
                let client = client.clone();
                let key = sub.clone();
                let names = name_tags(maps.get(&sub.list_id));
                tasks
                    .spawn(key, async move { apply(&client, sub, names).await })
                    .await;
            }
            _ => {
                // Asked under an account that is no longer connected: it cannot be applied.
                let mut sub = sub;
                sub.state = SubscriptionState::Refused;
                sub.error =
                    "the Mailchimp account it was asked under is no longer connected".into();
                store.settle_subscription(&sub).await?;
            }
        }
    }
    let mut stop = None;
    for (asked, result) in tasks.join_all().await {
        match result {
            Ok(Ok(sub)) => store.settle_subscription(&sub).await?,
            Ok(Err(e)) => stop = Some(Stop::mailchimp(During::Subscriptions)(e)),
            // A bug, not Mailchimp: the request is refused, so that it never spins.
            Err(panicked) => {
                let mut sub = asked;
                sub.state = SubscriptionState::Refused;
                sub.error = panicked.to_string();
                store.settle_subscription(&sub).await?;
            }
        }
    }
    stop.map_or(Ok(true), Err)
}

/// Applies one request: what the member becomes, by Mailchimp's answer. A refusal settles the
/// request as refused; any other failure is returned (the request stays queued).
async fn apply(
    client: &AccountClient,
    mut sub: Subscription,
    names: NameTags,
) -> Result<Subscription, MailchimpError> {
    match apply_status(client, &sub, &names).await {
        Ok(status) => {
            sub.state = SubscriptionState::Applied;
            sub.status = status;
            sub.error.clear();
        }
        Err(MailchimpError::Api(p)) if p.kind().is_refusal() => {
            sub.state = SubscriptionState::Refused;
            sub.error = format!("{}: {}", p.title, p.detail);
        }
        Err(e) => return Err(e),
    }
    Ok(sub)
}

/// The merge tags of the first and last name: the merchant's map's, else FNAME and LNAME.
type NameTags = (String, String);

fn name_tags(map: Option<&Vec<MergeMapping>>) -> NameTags {
    let tag = |source: MergeSource, default: &str| {
        map.and_then(|m| m.iter().find(|m| m.source == source))
            .map_or_else(|| default.to_owned(), |m| m.tag.clone())
    };
    (
        tag(MergeSource::FirstName, "FNAME"),
        tag(MergeSource::LastName, "LNAME"),
    )
}

/// The first and last name, when the request has them.
fn merge_fields(sub: &Subscription, (first, last): &NameTags) -> Option<Value> {
    let mut merge = Map::new();
    for (tag, value) in [(first, &sub.first_name), (last, &sub.last_name)] {
        if !value.is_empty() {
            merge.insert(tag.into(), json!(value));
        }
    }
    (!merge.is_empty()).then_some(Value::Object(merge))
}

async fn apply_status(
    client: &AccountClient,
    sub: &Subscription,
    names: &NameTags,
) -> Result<String, MailchimpError> {
    let existing = client.member(&sub.list_id, &sub.email).await?;
    let current = existing.as_ref().map(|m| m.status.as_str());
    let opt_in = if sub.single_opt_in {
        "subscribed"
    } else {
        "pending"
    };
    let mut body = Map::new();
    body.insert("email_address".into(), json!(sub.email));
    match sub.wanted {
        Wanted::Subscribed => {
            body.insert("status_if_new".into(), json!(opt_in));
            let status = match current {
                // Already in: stays as it is (a pending member may skip confirming only when
                // the merchant runs single opt-in).
                Some("subscribed") => None,
                Some("pending") if !sub.single_opt_in => None,
                // Only the person can confirm their way back.
                Some("unsubscribed") | Some("cleaned") => Some("pending"),
                _ => Some(opt_in),
            };
            if let Some(s) = status {
                body.insert("status".into(), json!(s));
            }
            if let Some(merge) = merge_fields(sub, names) {
                body.insert("merge_fields".into(), merge);
            }
            if !sub.permissions.is_empty() {
                let answers: Vec<Value> = sub
                    .permissions
                    .iter()
                    .map(|p| json!({"marketing_permission_id": p.id, "enabled": p.enabled}))
                    .collect();
                body.insert("marketing_permissions".into(), Value::Array(answers));
            }
            if !sub.interests.is_empty() {
                let interests: Map<String, Value> = sub
                    .interests
                    .iter()
                    .map(|i| (i.clone(), json!(true)))
                    .collect();
                body.insert("interests".into(), Value::Object(interests));
            }
        }
        Wanted::Consented => {
            // Consent given at checkout never overrides what the person did with the list
            // before: only a new email, or a transactional contact (what an e-commerce
            // customer without consent is), is made pending.
            if let Some(status) = current.filter(|s| *s != "transactional") {
                return Ok(status.to_owned());
            }
            body.insert("status_if_new".into(), json!("pending"));
            body.insert("status".into(), json!("pending"));
            if let Some(merge) = merge_fields(sub, names) {
                body.insert("merge_fields".into(), merge);
            }
        }
        Wanted::Unsubscribed => {
            if !matches!(current, Some("subscribed") | Some("pending")) {
                // Not on the list: nothing to leave.
                return Ok(current.unwrap_or_default().to_owned());
            }
            body.insert("status_if_new".into(), json!("unsubscribed"));
            body.insert("status".into(), json!("unsubscribed"));
        }
    }
    let member = client
        .put_member(&sub.list_id, &sub.email, &Value::Object(body))
        .await?;
    Ok(member.status)
}
