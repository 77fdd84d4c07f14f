//! Operator commands for newsletter subscriptions: look an email up, subscribe, unsubscribe,
//! and what Mailchimp's webhooks said (`mcsync events`).

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
        if let Some(consent) = &l.consent {
            let when = consent
                .given_at
                .as_ref()
                .map(super::progress::rfc3339)
                .unwrap_or_default();
            println!("    consent given {when}:");
            for p in &consent.permissions {
                let answer = if p.enabled { "yes" } else { "no" };
                println!(
                    "      {answer:<3} {} ({})",
                    p.text, p.marketing_permission_id
                );
            }
        }
    }
}

/// `--permission <id>=yes|no`.
pub fn permission_answer(arg: &str) -> Result<pb::MarketingPermissionChoice, String> {
    let (id, answer) = arg
        .split_once('=')
        .ok_or("expected <marketing permission id>=yes or =no")?;
    let enabled = match answer {
        "yes" | "true" => true,
        "no" | "false" => false,
        other => return Err(format!("{other:?}: expected yes or no")),
    };
    Ok(pb::MarketingPermissionChoice {
        marketing_permission_id: id.to_owned(),
        enabled,
    })
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

/// One line per event: sequence, type, audience, email, and what Mailchimp added.
fn event_line(e: &pb::MemberEvent) -> String {
    let kind = match e.r#type() {
        pb::MemberEventType::Subscribe => "subscribe",
        pb::MemberEventType::Unsubscribe => "unsubscribe",
        pb::MemberEventType::Profile => "profile",
        pb::MemberEventType::Cleaned => "cleaned",
        pb::MemberEventType::Upemail => "upemail",
        pb::MemberEventType::Unspecified => "?",
    };
    let mut line = format!("{:>6}  {kind:<11} {}  {}", e.sequence, e.list_id, e.email);
    if !e.old_email.is_empty() {
        line.push_str(&format!(" (was {})", e.old_email));
    }
    for (name, value) in [
        ("action", &e.action),
        ("reason", &e.reason),
        ("campaign", &e.campaign_id),
    ] {
        if !value.is_empty() {
            line.push_str(&format!("  {name}={value}"));
        }
    }
    line
}

/// `mcsync events`: the events after `after`, then, with `follow`, each new one as it comes.
pub async fn events(remote: &Remote, after: i64, follow: bool) -> Result<(), String> {
    let mut c = clients(remote).await?;
    if follow {
        let mut stream = c
            .events
            .watch_member_events(pb::WatchMemberEventsRequest {
                after_sequence: after,
            })
            .await
            .map_err(failure)?
            .into_inner();
        while let Some(event) = stream.message().await.map_err(failure)? {
            println!("{}", event_line(&event));
        }
        return Ok(());
    }
    let mut place = after;
    loop {
        let page = c
            .events
            .list_member_events(pb::ListMemberEventsRequest {
                after_sequence: place,
                limit: 1000,
            })
            .await
            .map_err(failure)?
            .into_inner();
        if page.events.is_empty() {
            if place == after {
                println!("No member events after {after}.");
            }
            return Ok(());
        }
        for e in &page.events {
            println!("{}", event_line(e));
            place = e.sequence;
        }
    }
}
