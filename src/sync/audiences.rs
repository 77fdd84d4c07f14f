//! Reading an account's audiences with their interest groups and segments.

use super::fan_out::{FAN_OUT, FanOut};

use crate::domain::{
    Audience, AudienceStats, Interest, InterestCategory, MarketingPermission, MergeField, Segment,
};
use crate::mailchimp::{AccountClient, ErrorKind, ListWire, MailchimpError, lenient_count};

/// Every audience, all pages, with details. The client's per-key limit bounds the fan-out; an
/// audience deleted while we read it is left out (the store then marks it removed).
pub async fn read_all(client: &AccountClient) -> Result<Vec<Audience>, MailchimpError> {
    let lists = client.lists().await?;
    let mut out = Vec::with_capacity(lists.len());
    let mut tasks = FanOut::new(FAN_OUT);
    for (index, list) in lists.into_iter().enumerate() {
        let client = client.clone();
        tasks
            .spawn(index, async move { details(&client, list).await })
            .await;
    }
    // An error drops the fan-out, which stops the other reads.
    while let Some((index, result)) = tasks.next().await {
        match result.unwrap_or_else(|p| Err(MailchimpError::Decode(p.to_string()))) {
            Ok(audience) => out.push((index, audience)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
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
    // One read more, only for audiences with GDPR fields.
    let marketing_permissions = if list.marketing_permissions {
        client
            .marketing_permissions(&list.id)
            .await?
            .into_iter()
            .map(|p| MarketingPermission {
                id: p.marketing_permission_id,
                text: p.text,
            })
            .collect()
    } else {
        Vec::new()
    };
    let merge_fields = client
        .merge_fields(&list.id)
        .await?
        .into_iter()
        .map(|f| MergeField {
            tag: f.tag,
            name: f.name,
            kind: f.kind,
            required: f.required,
            date_format: f.options.date_format,
            choices: f.options.choices,
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
        marketing_permissions_enabled: list.marketing_permissions,
        marketing_permissions,
        merge_fields,
    })
}
