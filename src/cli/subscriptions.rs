//! Operator commands for newsletter subscriptions: look an email up, subscribe, unsubscribe.

use super::ops::{Remote, clients, failure};
use crate::proto::v1 as pb;

fn show(r: pb::SubscriptionsResponse) {
    println!("{}", r.email);
    for l in r.lists {
        let state = match l.state() {
            pb::SubscriptionState::Unspecified => "nothing asked",
            pb::SubscriptionState::Queued => "queued",
            pb::SubscriptionState::Applied => "applied",
            pb::SubscriptionState::Refused => "refused",
        };
        let status = if l.status.is_empty() {
            "not a member"
        } else {
            &l.status
        };
        let wanted = if l.wanted.is_empty() {
            String::new()
        } else {
            format!(", asked: {}", l.wanted)
        };
        println!(
            "  {} ({}): {status} [{state}{wanted}]",
            l.list_name, l.list_id
        );
        if !l.error.is_empty() {
            println!("    {}", l.error);
        }
    }
}

pub async fn get(remote: &Remote, email: String) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .subscriptions
        .get_subscriptions(pb::GetSubscriptionsRequest { email })
        .await
        .map_err(failure)?;
    show(r.into_inner());
    Ok(())
}

pub async fn subscribe(remote: &Remote, request: pb::SubscribeRequest) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c.subscriptions.subscribe(request).await.map_err(failure)?;
    show(r.into_inner());
    Ok(())
}

pub async fn unsubscribe(
    remote: &Remote,
    email: String,
    list_ids: Vec<String>,
) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .subscriptions
        .unsubscribe(pb::UnsubscribeRequest { email, list_ids })
        .await
        .map_err(failure)?;
    show(r.into_inner());
    Ok(())
}
