//! Reading an account's audiences with their interest groups and segments.

use tokio::task::JoinSet;

use crate::domain::{Audience, AudienceStats, Interest, InterestCategory, Segment};
use crate::mailchimp::{AccountClient, ErrorKind, ListWire, MailchimpError, lenient_count};

/// Every audience, all pages, with details. The client's per-key limit bounds the fan-out; an
/// audience deleted while we read it is left out (the store then marks it removed).
pub async fn read_all(client: &AccountClient) -> Result<Vec<Audience>, MailchimpError> {
    let lists = client.lists().await?;
    let mut tasks = JoinSet::new();
    for (index, list) in lists.into_iter().enumerate() {
        let client = client.clone();
        tasks.spawn(async move { (index, details(&client, list).await) });
    }
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.expect("audience reads do not panic");
        match result {
            Ok(audience) => out.push((index, audience)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                tasks.abort_all();
                return Err(e);
            }
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, a)| a).collect())
}

async fn details(client: &AccountClient, list: ListWire) -> Result<Audience, MailchimpError> {
    let mut categories = Vec::new();
    for c in client.interest_categories(&list.id).await? {
        let interests = client
            .interests(&list.id, &c.id)
            .await?
            .into_iter()
            .map(|i| Interest {
                subscriber_count: lenient_count(&i.subscriber_count),
                id: i.id,
                name: i.name,
                display_order: i.display_order,
            })
            .collect();
        categories.push(InterestCategory {
            id: c.id,
            title: c.title,
            kind: c.kind,
            display_order: c.display_order,
            interests,
        });
    }
    let segments = client
        .segments(&list.id)
        .await?
        .into_iter()
        .map(|s| Segment {
            id: s.id,
            name: s.name,
            kind: s.kind,
            member_count: s.member_count,
        })
        .collect();
    let s = list.stats;
    Ok(Audience {
        id: list.id,
        web_id: list.web_id,
        name: list.name,
        stats: AudienceStats {
            member_count: s.member_count,
            unsubscribe_count: s.unsubscribe_count,
            cleaned_count: s.cleaned_count,
            campaign_count: s.campaign_count,
            open_rate: s.open_rate,
            click_rate: s.click_rate,
            avg_sub_rate: s.avg_sub_rate,
            last_sub_date: s.last_sub_date,
        },
        interest_categories: categories,
        segments,
        removed_at: None,
    })
}
