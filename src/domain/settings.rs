//! The addon's settings with X-Cart's defaults, and the validated partial update.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ApiKey, UnixTime, ValidationError, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
/// How the shop's storefront offers newsletters ("Subscription element type").
pub enum SubscriptionElementType {
    #[default]
    /// One checkbox per audience.
    Checkbox,
    /// One select box listing the audiences.
    Select,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
/// Which coupons go to Mailchimp as promo rules ("Coupons upload mode").
pub enum CouponUploadMode {
    #[default]
    /// Every coupon; conditions Mailchimp cannot express go into the description.
    All,
    /// Only coupons Mailchimp's promo rules can express fully.
    MatchingPromoRules,
}

/// X-Cart's 14 choices for "Update Mailchimp lists every".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ListUpdateInterval {
    #[default]
    /// Only when the merchant asks.
    Never,
    /// Every minute.
    Minutes1,
    /// Every 10 minutes.
    Minutes10,
    /// Every 15 minutes.
    Minutes15,
    /// Every 30 minutes.
    Minutes30,
    /// Every hour.
    Hours1,
    /// Every 2 hours.
    Hours2,
    /// Every 4 hours.
    Hours4,
    /// Every 6 hours.
    Hours6,
    /// Every 12 hours.
    Hours12,
    /// Every day.
    Days1,
    /// Every 2 days.
    Days2,
    /// Every 5 days.
    Days5,
    /// Every week.
    Weeks1,
}

const MIN: u64 = 60;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// The one table of the choices, in X-Cart's order (the enum's and the proto's): each with its
/// period in seconds (`None`: never), its label and its short name (the CLI's flag value).
const INTERVALS: [(ListUpdateInterval, Option<u64>, &str, &str); 14] = {
    use ListUpdateInterval::*;
    [
        (Never, None, "never", "never"),
        (Minutes1, Some(MIN), "1 minute", "1m"),
        (Minutes10, Some(10 * MIN), "10 minutes", "10m"),
        (Minutes15, Some(15 * MIN), "15 minutes", "15m"),
        (Minutes30, Some(30 * MIN), "30 minutes", "30m"),
        (Hours1, Some(HOUR), "1 hour", "1h"),
        (Hours2, Some(2 * HOUR), "2 hours", "2h"),
        (Hours4, Some(4 * HOUR), "4 hours", "4h"),
        (Hours6, Some(6 * HOUR), "6 hours", "6h"),
        (Hours12, Some(12 * HOUR), "12 hours", "12h"),
        (Days1, Some(DAY), "1 day", "1d"),
        (Days2, Some(2 * DAY), "2 days", "2d"),
        (Days5, Some(5 * DAY), "5 days", "5d"),
        (Weeks1, Some(7 * DAY), "1 week", "1w"),
    ]
};

impl ListUpdateInterval {
    /// The 14 choices in X-Cart's order.
    pub const ALL: [Self; 14] = {
        let mut all = [Self::Never; 14];
        let mut i = 0;
        while i < INTERVALS.len() {
            all[i] = INTERVALS[i].0;
            i += 1;
        }
        all
    };

    /// The refresh period, or `None` for NEVER.
    pub fn period(self) -> Option<Duration> {
        INTERVALS[self as usize].1.map(Duration::from_secs)
    }

    /// How X-Cart's settings page names it.
    pub fn label(self) -> &'static str {
        INTERVALS[self as usize].2
    }

    /// Its short name (`1m`, `2h`, `1w`), as the CLI takes it.
    pub fn short(self) -> &'static str {
        INTERVALS[self as usize].3
    }

    /// The choice a short name (`1m`, `2h`) names.
    pub fn from_short(name: &str) -> Option<Self> {
        INTERVALS.iter().find(|r| r.3 == name).map(|r| r.0)
    }

    /// Its place in the proto enum (from 1; 0 is unspecified).
    pub fn to_pb(self) -> i32 {
        self as i32 + 1
    }

    /// The choice a proto enum value names; `None` for unspecified.
    pub fn from_pb(v: i32) -> Option<Self> {
        let index = usize::try_from(v).ok()?.checked_sub(1)?;
        Self::ALL.get(index).copied()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
/// A postal address: the shop's (on its Mailchimp stores) or a customer's.
pub struct Address {
    /// Street and number.
    pub address1: String,
    /// Second address line.
    pub address2: String,
    /// City.
    pub city: String,
    /// State or province, by name.
    pub province: String,
    /// State or province, by code.
    pub province_code: String,
    /// Postal code.
    pub postal_code: String,
    /// Country, by name.
    pub country: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
}

impl From<&Address> for crate::proto::v1::Address {
    fn from(a: &Address) -> Self {
        Self {
            address1: a.address1.clone(),
            address2: a.address2.clone(),
            city: a.city.clone(),
            province: a.province.clone(),
            province_code: a.province_code.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            country_code: a.country_code.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
/// Who the shop is, as its Mailchimp stores show it.
pub struct ShopIdentity {
    /// The storefront's URL: the stores' domain, and what their ids derive from.
    pub shop_url: String,
    /// The company's name: the stores' name.
    pub company_name: String,
    /// The shop's contact email.
    pub email: String,
    /// The shop's phone.
    pub phone: String,
    /// The shop's address.
    pub address: Address,
    /// ISO 4217 code of the shop's currency; every amount is in it.
    pub currency_code: String,
    /// The shop's locale, such as `en`.
    pub locale: String,
    /// IANA time zone, such as `Europe/Berlin`.
    pub timezone: String,
}

/// The Mailchimp account an API key belongs to (`GET /`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Mailchimp's account id; the merchant's choices are kept per account.
    pub id: String,
    /// The account's name.
    pub name: String,
    /// The account's email.
    pub email: String,
    /// The login it belongs to.
    pub login_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// The connected Mailchimp account and the key that reaches it.
pub struct Connection {
    /// The key (secret: shown masked, never logged).
    pub api_key: ApiKey,
    /// The account the key belongs to.
    pub account: Account,
    /// When the merchant connected it.
    pub connected_at: UnixTime,
}

/// The merchant's choices about one Mailchimp account's audiences. Kept per account so that
/// reconnecting an account brings them back and another account never sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountChoices {
    /// Lists that get a Mailchimp Store ("E-Commerce features setup", **Update**).
    pub selected_lists: BTreeSet<String>,
    /// "Default list for automatic campaigns": one of `selected_lists`.
    pub default_automation_list: Option<String>,
    /// Merge-field maps by list id (`domain::merge_map`); a list without one gets FNAME and
    /// LNAME only.
    pub merge_fields: BTreeMap<String, Vec<super::merge_map::MergeMapping>>,
    /// Tag rules, applied to every selected audience (`sync::tags`).
    pub tag_rules: Vec<super::tag_rules::TagRule>,
}

/// Everything the merchant set, in one document so that every change is one atomic write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The connected account, if any.
    pub connection: Option<Connection>,
    /// "Enable e-commerce analytics": without it nothing is synced.
    pub ecommerce_analytics: bool,
    /// "Abandoned carts": whether carts are sent.
    pub abandoned_carts: bool,
    /// "Single opt-in": subscribed without a confirmation mail.
    pub single_opt_in: bool,
    /// "Subscription element type".
    pub subscription_element_type: SubscriptionElementType,
    /// "Update Mailchimp lists every".
    pub list_update_interval: ListUpdateInterval,
    /// "Coupons upload mode".
    pub coupon_upload_mode: CouponUploadMode,
    /// Who the shop is, for its stores.
    pub shop: ShopIdentity,
    /// Keyed by Mailchimp account id.
    pub accounts: BTreeMap<String, AccountChoices>,
    /// Where Mailchimp's webhooks reach mcsync (validated by `validate::webhook_base_url`);
    /// empty: `serve --webhook-base-url`, or webhooks off.
    pub webhook_base_url: String,
    /// The shop's page that restores a cart from a link (validated by
    /// `validate::cart_recovery_url`); when set, every cart goes to Mailchimp with this URL and
    /// a signed token as its `checkout_url` (`domain::cart_link`). Empty: the shop's own URL.
    pub cart_recovery_url: String,
    /// How often each live store is audited (reconciled read-only; drift starts a repair
    /// job); daily unless the merchant chose otherwise.
    pub audit_interval: ListUpdateInterval,
}

impl Default for Settings {
    /// X-Cart's defaults: analytics on, everything else off, checkbox, never, all coupons.
    fn default() -> Self {
        Self {
            connection: None,
            ecommerce_analytics: true,
            abandoned_carts: false,
            single_opt_in: false,
            subscription_element_type: SubscriptionElementType::Checkbox,
            list_update_interval: ListUpdateInterval::Never,
            coupon_upload_mode: CouponUploadMode::All,
            shop: ShopIdentity::default(),
            accounts: BTreeMap::new(),
            webhook_base_url: String::new(),
            cart_recovery_url: String::new(),
            audit_interval: ListUpdateInterval::Days1,
        }
    }
}

#[derive(Debug, Clone, Default)]
/// The shop identity fields present in an update, each checked on its own.
pub struct ShopIdentityUpdate {
    /// See [`ShopIdentity::shop_url`].
    pub shop_url: Option<String>,
    /// See [`ShopIdentity::company_name`].
    pub company_name: Option<String>,
    /// See [`ShopIdentity::email`].
    pub email: Option<String>,
    /// See [`ShopIdentity::phone`].
    pub phone: Option<String>,
    /// See [`ShopIdentity::address`].
    pub address: Option<Address>,
    /// See [`ShopIdentity::currency_code`].
    pub currency_code: Option<String>,
    /// See [`ShopIdentity::locale`].
    pub locale: Option<String>,
    /// See [`ShopIdentity::timezone`].
    pub timezone: Option<String>,
}

/// A partial update whose present fields have passed validation on their own; the list id is
/// checked against the account's selection by the caller, which knows it.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    /// See [`Settings::ecommerce_analytics`].
    pub ecommerce_analytics: Option<bool>,
    /// See [`Settings::abandoned_carts`].
    pub abandoned_carts: Option<bool>,
    /// See [`Settings::single_opt_in`].
    pub single_opt_in: Option<bool>,
    /// See [`Settings::subscription_element_type`].
    pub subscription_element_type: Option<SubscriptionElementType>,
    /// See [`Settings::list_update_interval`].
    pub list_update_interval: Option<ListUpdateInterval>,
    /// See [`Settings::coupon_upload_mode`].
    pub coupon_upload_mode: Option<CouponUploadMode>,
    /// `Some(None)` clears the default list.
    pub default_automation_list_id: Option<Option<String>>,
    /// The shop identity fields present.
    pub shop: ShopIdentityUpdate,
    /// See [`Settings::webhook_base_url`].
    pub webhook_base_url: Option<String>,
    /// See [`Settings::cart_recovery_url`].
    pub cart_recovery_url: Option<String>,
    /// See [`Settings::audit_interval`].
    pub audit_interval: Option<ListUpdateInterval>,
    /// Every audience's merge-field map as asked, (list id, [(source, tag)]), replacing the
    /// maps when present; checked against the audiences by the caller, which knows them, and
    /// set with [`Settings::set_merge_fields`].
    pub merge_fields: Option<AskedMergeMaps>,
    /// Every tag rule, checked, replacing the rules when present.
    pub tag_rules: Option<Vec<super::tag_rules::TagRule>>,
}

/// Merge-field maps as asked: (list id, [(source, tag)]) per audience.
pub type AskedMergeMaps = Vec<(String, Vec<(String, String)>)>;

impl ShopIdentityUpdate {
    /// Normalises and checks every present field; all problems are reported, not just the first.
    pub fn validated(mut self) -> Result<Self, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check =
            |field: &str, value: &mut Option<String>, rule: fn(&str) -> Result<String, String>| {
                if let Some(v) = value.as_mut() {
                    match rule(v) {
                        Ok(normalised) => *v = normalised,
                        Err(reason) => {
                            errors.push(ValidationError::new(format!("shop.{field}"), reason))
                        }
                    }
                }
            };
        check("shop_url", &mut self.shop_url, validate::shop_url);
        check("company_name", &mut self.company_name, |v| {
            validate::text(v, 100)
        });
        check("email", &mut self.email, validate::optional_email);
        check("phone", &mut self.phone, validate::phone);
        check(
            "currency_code",
            &mut self.currency_code,
            validate::currency_code,
        );
        check("locale", &mut self.locale, validate::locale);
        check("timezone", &mut self.timezone, validate::timezone);
        if let Some(address) = self.address.as_mut() {
            errors.extend(validate::address(address, "shop.address"));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

impl Settings {
    /// Applies an update whose fields are validated; the default list must be one of the
    /// connected account's selected lists (checked by the caller, which knows the audiences).
    pub fn apply(&mut self, update: SettingsUpdate) {
        let SettingsUpdate {
            ecommerce_analytics,
            abandoned_carts,
            single_opt_in,
            subscription_element_type,
            list_update_interval,
            coupon_upload_mode,
            default_automation_list_id,
            shop,
            webhook_base_url,
            cart_recovery_url,
            audit_interval,
            merge_fields: _,
            tag_rules,
        } = update;
        if let (Some(rules), Some(choices)) = (tag_rules, self.choices_mut()) {
            choices.tag_rules = rules;
        }
        set(&mut self.audit_interval, audit_interval);
        set(&mut self.webhook_base_url, webhook_base_url);
        set(&mut self.cart_recovery_url, cart_recovery_url);
        set(&mut self.ecommerce_analytics, ecommerce_analytics);
        set(&mut self.abandoned_carts, abandoned_carts);
        set(&mut self.single_opt_in, single_opt_in);
        set(
            &mut self.subscription_element_type,
            subscription_element_type,
        );
        set(&mut self.list_update_interval, list_update_interval);
        set(&mut self.coupon_upload_mode, coupon_upload_mode);
        if let Some(default) = default_automation_list_id {
            if let Some(choices) = self.choices_mut() {
                choices.default_automation_list = default;
            }
        }
        let s = &mut self.shop;
        set(&mut s.shop_url, shop.shop_url);
        set(&mut s.company_name, shop.company_name);
        set(&mut s.email, shop.email);
        set(&mut s.phone, shop.phone);
        set(&mut s.address, shop.address);
        set(&mut s.currency_code, shop.currency_code);
        set(&mut s.locale, shop.locale);
        set(&mut s.timezone, shop.timezone);
    }

    /// The connected account's id, if any.
    pub fn account_id(&self) -> Option<&str> {
        self.connection.as_ref().map(|c| c.account.id.as_str())
    }

    /// The connected account's choices (empty ones for an account seen for the first time).
    pub fn choices(&self) -> AccountChoices {
        self.account_id()
            .and_then(|id| self.accounts.get(id))
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces the connected account's merge-field maps (checked against its audiences).
    pub fn set_merge_fields(
        &mut self,
        maps: BTreeMap<String, Vec<super::merge_map::MergeMapping>>,
    ) {
        if let Some(choices) = self.choices_mut() {
            choices.merge_fields = maps;
        }
    }

    fn choices_mut(&mut self) -> Option<&mut AccountChoices> {
        let id = self.account_id()?.to_owned();
        Some(self.accounts.entry(id).or_default())
    }

    /// Replaces the connected account's selection; a default list no longer selected is cleared.
    pub fn select_lists(&mut self, lists: BTreeSet<String>) {
        if let Some(choices) = self.choices_mut() {
            if choices
                .default_automation_list
                .as_ref()
                .is_some_and(|d| !lists.contains(d))
            {
                choices.default_automation_list = None;
            }
            choices.selected_lists = lists;
        }
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_x_carts() {
        let s = Settings::default();
        assert!(s.ecommerce_analytics && !s.abandoned_carts && !s.single_opt_in);
        assert_eq!(
            s.subscription_element_type,
            SubscriptionElementType::Checkbox
        );
        assert_eq!(s.list_update_interval, ListUpdateInterval::Never);
        assert_eq!(s.coupon_upload_mode, CouponUploadMode::All);
        assert_eq!(s.choices(), AccountChoices::default());
    }

    #[test]
    fn intervals_are_the_fourteen_choices_in_increasing_order() {
        assert_eq!(ListUpdateInterval::ALL.len(), 14);
        assert_eq!(ListUpdateInterval::Never.period(), None);
        let periods: Vec<_> = ListUpdateInterval::ALL[1..]
            .iter()
            .map(|i| i.period().unwrap())
            .collect();
        assert!(periods.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(periods[0], Duration::from_secs(60));
        assert_eq!(*periods.last().unwrap(), Duration::from_secs(7 * 24 * 3600));
        for (i, interval) in ListUpdateInterval::ALL.iter().enumerate() {
            assert_eq!(*interval as usize, i, "the table is in the enum's order");
            assert_eq!(
                ListUpdateInterval::from_pb(interval.to_pb()),
                Some(*interval)
            );
            assert_eq!(
                ListUpdateInterval::from_short(interval.short()),
                Some(*interval)
            );
        }
        assert_eq!(ListUpdateInterval::Hours2.label(), "2 hours");
        assert_eq!(ListUpdateInterval::from_pb(0), None);
    }

    #[test]
    fn choices_follow_the_connected_account_and_deselecting_clears_the_default() {
        let mut s = Settings::default();
        let connect = |s: &mut Settings, id: &str| {
            s.connection = Some(Connection {
                api_key: ApiKey::parse("0123456789abcdef0123456789abcdef-us6").unwrap(),
                account: Account {
                    id: id.into(),
                    ..Default::default()
                },
                connected_at: 0,
            })
        };
        connect(&mut s, "a");
        s.select_lists(["l1".to_string(), "l2".to_string()].into());
        s.apply(SettingsUpdate {
            default_automation_list_id: Some(Some("l2".into())),
            ..Default::default()
        });
        connect(&mut s, "b");
        assert!(s.choices().selected_lists.is_empty());
        connect(&mut s, "a");
        assert_eq!(s.choices().default_automation_list.as_deref(), Some("l2"));
        s.select_lists(["l1".to_string()].into());
        assert_eq!(s.choices().default_automation_list, None);
    }

    #[test]
    fn apply_changes_only_present_fields() {
        let mut s = Settings::default();
        s.shop.company_name = "Acme".into();
        s.apply(SettingsUpdate {
            abandoned_carts: Some(true),
            shop: ShopIdentityUpdate {
                phone: Some("+1 555".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(s.abandoned_carts && s.ecommerce_analytics);
        assert_eq!(s.shop.company_name, "Acme");
        assert_eq!(s.shop.phone, "+1 555");
    }
}
