//! Response bodies as Mailchimp sends them, read leniently: absent fields take defaults, unknown
//! fields are ignored, so a richer real answer never breaks us.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AccountWire {
    pub account_id: String,
    pub account_name: String,
    pub email: String,
    pub login_id: String,
    pub username: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListStatsWire {
    pub member_count: i64,
    pub unsubscribe_count: i64,
    pub cleaned_count: i64,
    pub campaign_count: i64,
    pub open_rate: f64,
    pub click_rate: f64,
    pub avg_sub_rate: f64,
    pub last_sub_date: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListWire {
    pub id: String,
    pub web_id: i64,
    pub name: String,
    pub stats: ListStatsWire,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InterestCategoryWire {
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InterestWire {
    pub id: String,
    pub name: String,
    /// A string in real answers (the spec says so too), sometimes a number in old ones.
    pub subscriber_count: serde_json::Value,
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SegmentWire {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
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
    pub email_address: String,
    pub status: String,
}
