//! A Mailchimp audience as mcsync caches it, with the merchant's choices beside it.

use serde::{Deserialize, Serialize};

use super::UnixTime;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// An audience's numbers, as Mailchimp counts them, for the settings page.
pub struct AudienceStats {
    /// Subscribed members.
    pub member_count: i64,
    /// Members who unsubscribed.
    pub unsubscribe_count: i64,
    /// Members Mailchimp cleaned (bounced addresses).
    pub cleaned_count: i64,
    /// Campaigns sent to the audience.
    pub campaign_count: i64,
    /// Average open rate of its campaigns, in percent.
    pub open_rate: f64,
    /// Average click rate of its campaigns, in percent.
    pub click_rate: f64,
    /// Average monthly growth through sign-ups, in percent.
    pub avg_sub_rate: f64,
    /// When the last member subscribed (ISO 8601, or empty).
    pub last_sub_date: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// One interest (group) a subscriber can pick, such as "Shoes".
pub struct Interest {
    /// Mailchimp's id, which a subscription names.
    pub id: String,
    /// The interest's name.
    pub name: String,
    /// Members who picked it.
    pub subscriber_count: i64,
    /// Its place in the form, as the merchant ordered it.
    pub display_order: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// A group of interests, shown on the shop's sign-up form.
pub struct InterestCategory {
    /// Mailchimp's id.
    pub id: String,
    /// The question the form asks.
    pub title: String,
    /// How the form shows it: checkboxes, radio, dropdown or hidden.
    pub kind: String,
    /// Its place in the form.
    pub display_order: i64,
    /// Its interests.
    pub interests: Vec<Interest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// A saved segment or tag of the audience.
pub struct Segment {
    /// Mailchimp's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `saved`, `static` (a tag) or `fuzzy`.
    pub kind: String,
    /// Members in it.
    pub member_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// A merge field of an audience: where a member's data goes (FNAME, ADDRESS, BIRTHDAY, …).
pub struct MergeField {
    /// The merge tag, which member writes name.
    pub tag: String,
    /// Its label in Mailchimp.
    pub name: String,
    /// Mailchimp's type: text, number, address, phone, date, birthday, url, dropdown, radio, …
    pub kind: String,
    /// Required on Mailchimp's forms (mcsync's writes skip that check).
    pub required: bool,
    /// A date or birthday field's format (`MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD`, `DD/MM`).
    pub date_format: String,
    /// A dropdown or radio field's choices.
    pub choices: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
/// A GDPR marketing permission of an audience, such as "Email" or "Direct mail".
pub struct MarketingPermission {
    /// Mailchimp's id, which a subscription's choice names.
    pub id: String,
    /// What the shopper is asked to agree to, as Mailchimp has it.
    pub text: String,
}

/// What Mailchimp said about an audience at the last refresh that saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Audience {
    /// Mailchimp's list id, which everything else names.
    pub id: String,
    /// The id in Mailchimp's web app, for links to the audience.
    pub web_id: i64,
    /// The audience's name.
    pub name: String,
    /// Its numbers.
    pub stats: AudienceStats,
    /// Its interest groups, for the sign-up form.
    pub interest_categories: Vec<InterestCategory>,
    /// Its segments and tags.
    pub segments: Vec<Segment>,
    /// Set by the first refresh that no longer found the audience.
    pub removed_at: Option<UnixTime>,
    /// Whether the audience has GDPR fields (Mailchimp's `marketing_permissions` flag).
    #[serde(default)]
    pub marketing_permissions_enabled: bool,
    /// Its marketing permissions; empty while a GDPR audience has no member to read them from.
    #[serde(default)]
    pub marketing_permissions: Vec<MarketingPermission>,
    /// Its merge fields, as of the last refresh.
    #[serde(default)]
    pub merge_fields: Vec<MergeField>,
}
