//! A Mailchimp audience as mcsync caches it, with the merchant's choices beside it.

use serde::{Deserialize, Serialize};

use super::UnixTime;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudienceStats {
    pub member_count: i64,
    pub unsubscribe_count: i64,
    pub cleaned_count: i64,
    pub campaign_count: i64,
    pub open_rate: f64,
    pub click_rate: f64,
    pub avg_sub_rate: f64,
    pub last_sub_date: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interest {
    pub id: String,
    pub name: String,
    pub subscriber_count: i64,
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterestCategory {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub display_order: i64,
    pub interests: Vec<Interest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub member_count: i64,
}

/// What Mailchimp said about an audience at the last refresh that saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Audience {
    pub id: String,
    pub web_id: i64,
    pub name: String,
    pub stats: AudienceStats,
    pub interest_categories: Vec<InterestCategory>,
    pub segments: Vec<Segment>,
    /// Set by the first refresh that no longer found the audience.
    pub removed_at: Option<UnixTime>,
}
