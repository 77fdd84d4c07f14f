//! Validated domain types: what the API accepts, parsed once at the edge ("parse, don't validate").

mod api_key;
mod audience;
pub mod cart_link;
pub mod member_event;
pub mod merge_map;
pub mod money;
pub mod record;
mod settings;
pub mod tag_rules;
pub mod validate;

pub use api_key::ApiKey;
pub use audience::{
    Audience, AudienceStats, Interest, InterestCategory, MarketingPermission, MergeField, Segment,
};
pub use settings::{
    Account, AccountChoices, Address, AskedMergeMaps, Connection, CouponUploadMode,
    ListUpdateInterval, Settings, SettingsUpdate, ShopIdentity, ShopIdentityUpdate,
    SubscriptionElementType,
};

/// One rejected field: the field's path as the client named it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// The field's path, such as `shop.currency_code` or `order.lines[2].price`.
    pub field: String,
    /// Why the value was refused, in words a shop developer can act on.
    pub reason: String,
}

impl ValidationError {
    /// An error for `field`, saying `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Seconds since the Unix epoch, UTC; the one time representation inside mcsync.
pub type UnixTime = i64;

/// Seconds since the Unix epoch, now.
pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
