//! Response bodies as Mailchimp sends them, read leniently: absent fields take defaults, unknown
//! fields are ignored, so a richer real answer never breaks us.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// The account a key belongs to (`GET /`).
pub struct AccountWire {
    /// The account's id.
    pub account_id: String,
    /// The account's name.
    pub account_name: String,
    /// The account's email.
    pub email: String,
    /// The login's id.
    pub login_id: String,
    /// The login's user name.
    pub username: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// An audience's `stats`.
pub struct ListStatsWire {
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub member_count: i64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub unsubscribe_count: i64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub cleaned_count: i64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub campaign_count: i64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub open_rate: f64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub click_rate: f64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub avg_sub_rate: f64,
    /// See [`AudienceStats`](crate::domain::AudienceStats).
    pub last_sub_date: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// An audience as `GET /lists` gives it.
pub struct ListWire {
    /// The list id.
    pub id: String,
    /// The web app's id.
    pub web_id: i64,
    /// The audience's name.
    pub name: String,
    /// Its numbers.
    pub stats: ListStatsWire,
    /// Whether the audience has GDPR fields; their ids are not on the list (see
    /// [`AccountClient::marketing_permissions`](super::AccountClient::marketing_permissions)).
    pub marketing_permissions: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
/// A GDPR marketing permission as a member of the audience carries it.
pub struct MarketingPermissionWire {
    /// The permission's id, which a member write names.
    pub marketing_permission_id: String,
    /// What the shopper is asked to agree to.
    pub text: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// A merge field as `GET /lists/{id}/merge-fields` gives it.
pub struct MergeFieldWire {
    /// The merge tag (`FNAME`), which member writes name.
    pub tag: String,
    /// Its label.
    pub name: String,
    #[serde(rename = "type")]
    /// text, number, address, phone, date, birthday, url, imageurl, radio, dropdown or zip.
    pub kind: String,
    /// Required on Mailchimp's own forms (mcsync's writes skip that check).
    pub required: bool,
    /// Type options.
    pub options: MergeFieldOptionsWire,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// A merge field's type options.
pub struct MergeFieldOptionsWire {
    /// A date or birthday field's format (`MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD`, `DD/MM`).
    pub date_format: String,
    /// A dropdown or radio field's choices.
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// An interest category as Mailchimp gives it.
pub struct InterestCategoryWire {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    #[serde(rename = "type")]
    /// Its form type (`type` in the API).
    pub kind: String,
    /// Its place in the form.
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// An interest as Mailchimp gives it.
pub struct InterestWire {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// A string in real answers (the spec says so too), sometimes a number in old ones.
    pub subscriber_count: serde_json::Value,
    /// Its place in the form.
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
/// A segment as Mailchimp gives it.
pub struct SegmentWire {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    #[serde(rename = "type")]
    /// `saved`, `static` or `fuzzy` (`type` in the API).
    pub kind: String,
    /// Members in it.
    pub member_count: i64,
}

/// A number that Mailchimp may send as a JSON number or as a string of digits.
pub fn lenient_count(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::Number(n) => n.as_i64().unwrap_or_default(),
        serde_json::Value::String(s) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

/// A list member, as much of it as mcsync reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MemberWire {
    #[serde(default)]
    /// The member's email.
    pub email_address: String,
    /// `subscribed`, `unsubscribed`, `cleaned`, `pending` or `transactional`.
    pub status: String,
}
