//! A Mailchimp webhook delivery, parsed: the form fields Mailchimp POSTs (`type`, `fired_at`,
//! `data[...]`) into a [`pb::MemberEvent`], bounded, with the key that recognises a repeated
//! delivery.

use crate::proto::v1 as pb;

/// At most this many form fields are read from one delivery; Mailchimp sends about twenty.
pub const MAX_FIELDS: usize = 200;
/// Merge fields kept per event.
pub const MAX_MERGES: usize = 30;
/// Characters kept of any one value.
pub const MAX_VALUE: usize = 256;

/// What a delivery holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// An event to store.
    Event(Box<pb::MemberEvent>),
    /// Nothing to store: Mailchimp's check of the URL (an empty POST), or an event type
    /// mcsync did not ask for (named).
    Nothing(String),
}

/// Why a delivery cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadDelivery(pub String);

/// Parses the form fields of one delivery (already URL-decoded, in order).
pub fn parse(fields: &[(String, String)]) -> Result<Delivery, BadDelivery> {
    if fields.is_empty() {
        return Ok(Delivery::Nothing(
            "an empty POST (Mailchimp checking the URL)".into(),
        ));
    }
    if fields.len() > MAX_FIELDS {
        return Err(BadDelivery(format!(
            "{} form fields; at most {MAX_FIELDS} are read",
            fields.len()
        )));
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| capped(v))
            .unwrap_or_default()
    };
    let kind = match get("type").as_str() {
        "subscribe" => pb::MemberEventType::Subscribe,
        "unsubscribe" => pb::MemberEventType::Unsubscribe,
        "profile" => pb::MemberEventType::Profile,
        "cleaned" => pb::MemberEventType::Cleaned,
        "upemail" => pb::MemberEventType::Upemail,
        "" => return Err(BadDelivery("no 'type' field".into())),
        other => {
            return Ok(Delivery::Nothing(format!(
                "event type '{other}' is not one mcsync asked for"
            )));
        }
    };
    let upemail = kind == pb::MemberEventType::Upemail;
    let email = if upemail {
        get("data[new_email]")
    } else {
        get("data[email]")
    };
    let list_id = get("data[list_id]");
    if email.is_empty() || list_id.is_empty() {
        return Err(BadDelivery("no data[email] or data[list_id]".into()));
    }
    let mut merges = std::collections::BTreeMap::new();
    for (k, v) in fields {
        if merges.len() >= MAX_MERGES {
            break;
        }
        if let Some(name) = k
            .strip_prefix("data[merges][")
            .and_then(|n| n.strip_suffix(']'))
        {
            // Nested merges (an address's parts) come as data[merges][ADDRESS][city]: kept
            // under their flattened name.
            merges.insert(capped(&name.replace("][", ".")), capped(v));
        }
    }
    Ok(Delivery::Event(Box::new(pb::MemberEvent {
        sequence: 0,
        r#type: kind as i32,
        list_id,
        email: email.to_lowercase(),
        old_email: if upemail {
            get("data[old_email]").to_lowercase()
        } else {
            String::new()
        },
        member_id: if upemail {
            get("data[new_id]")
        } else {
            get("data[id]")
        },
        fired_at: fired_at(&get("fired_at")),
        received_at: None,
        action: get("data[action]"),
        reason: get("data[reason]"),
        campaign_id: get("data[campaign_id]"),
        merges,
    })))
}

/// The key a repeated delivery shares with the first: every field as sent, sorted.
pub fn dedup_key(fields: &[(String, String)]) -> [u8; 16] {
    let mut sorted: Vec<&(String, String)> = fields.iter().collect();
    sorted.sort();
    let mut ctx = md5::Context::new();
    for (k, v) in sorted {
        ctx.consume(k.as_bytes());
        ctx.consume([0u8]);
        ctx.consume(v.as_bytes());
        ctx.consume([1u8]);
    }
    ctx.compute().0
}

fn capped(v: &str) -> String {
    v.chars().take(MAX_VALUE).collect()
}

/// Mailchimp's "YYYY-MM-DD HH:MM:SS" (UTC); `None` when it is not that.
fn fired_at(text: &str) -> Option<prost_types::Timestamp> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(text, format).ok()?;
    Some(prost_types::Timestamp {
        seconds: at.assume_utc().unix_timestamp(),
        nanos: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_unsubscribe_from_a_campaign_is_read_whole() {
        let fields = form(&[
            ("type", "unsubscribe"),
            ("fired_at", "2009-03-26 21:40:57"),
            ("data[action]", "unsub"),
            ("data[reason]", "manual"),
            ("data[id]", "8a25ff1d98"),
            ("data[list_id]", "a6b5da1054"),
            ("data[email]", "API+Test@Mailchimp.com"),
            ("data[email_type]", "html"),
            ("data[merges][EMAIL]", "api@mailchimp.com"),
            ("data[merges][FNAME]", "Mailchimp"),
            ("data[ip_opt]", "10.20.10.30"),
            ("data[campaign_id]", "cb398d21d2"),
        ]);
        let Delivery::Event(e) = parse(&fields).unwrap() else {
            panic!("an event")
        };
        assert_eq!(e.r#type(), pb::MemberEventType::Unsubscribe);
        assert_eq!(e.email, "api+test@mailchimp.com");
        assert_eq!((e.action.as_str(), e.reason.as_str()), ("unsub", "manual"));
        assert_eq!(e.campaign_id, "cb398d21d2");
        assert_eq!(e.merges["FNAME"], "Mailchimp");
        assert_eq!(e.fired_at.unwrap().seconds, 1_238_103_657);
    }

    #[test]
    fn an_email_change_names_both_addresses() {
        let fields = form(&[
            ("type", "upemail"),
            ("data[list_id]", "a6b5da1054"),
            ("data[new_id]", "51aa07400d"),
            ("data[new_email]", "new@example.com"),
            ("data[old_email]", "old@example.com"),
        ]);
        let Delivery::Event(e) = parse(&fields).unwrap() else {
            panic!("an event")
        };
        assert_eq!(
            (e.email.as_str(), e.old_email.as_str(), e.member_id.as_str()),
            ("new@example.com", "old@example.com", "51aa07400d")
        );
    }

    #[test]
    fn checks_and_unknown_types_store_nothing_and_junk_is_refused() {
        assert!(matches!(parse(&[]), Ok(Delivery::Nothing(_))));
        assert!(matches!(
            parse(&form(&[("type", "campaign")])),
            Ok(Delivery::Nothing(_))
        ));
        assert!(parse(&form(&[("data[email]", "a@b.c")])).is_err());
        assert!(parse(&form(&[("type", "cleaned")])).is_err());
        let many: Vec<(String, String)> = (0..=MAX_FIELDS)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        assert!(parse(&many).is_err());
    }

    #[test]
    fn a_repeated_delivery_has_the_same_key_whatever_the_field_order() {
        let a = form(&[("type", "cleaned"), ("data[email]", "x@y.z")]);
        let b = form(&[("data[email]", "x@y.z"), ("type", "cleaned")]);
        let c = form(&[("type", "cleaned"), ("data[email]", "x@y.zz")]);
        assert_eq!(dedup_key(&a), dedup_key(&b));
        assert_ne!(dedup_key(&a), dedup_key(&c));
    }
}
