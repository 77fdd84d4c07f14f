//! proto <-> domain. Requests are parsed into validated domain values here; responses are built
//! from domain values, with the API key masked.

use crate::app::AudienceView;
use crate::domain::tag_rules::{AskedCondition, TagCondition};
use crate::domain::{
    self, Audience, CouponUploadMode, ListUpdateInterval, Settings, SettingsUpdate,
    ShopIdentityUpdate, SubscriptionElementType, ValidationError,
};
use crate::proto::v1 as pb;

pub fn timestamp(t: domain::UnixTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t,
        nanos: 0,
    }
}

pub fn settings(s: &Settings) -> pb::Settings {
    let connection = match &s.connection {
        Some(c) => pb::Connection {
            connected: true,
            api_key_masked: c.api_key.masked(),
            data_center: c.api_key.data_center().to_owned(),
            account_id: c.account.id.clone(),
            account_name: c.account.name.clone(),
            account_email: c.account.email.clone(),
            login_name: c.account.login_name.clone(),
            connected_at: Some(timestamp(c.connected_at)),
            via_oauth: c.api_key.is_oauth(),
        },
        None => pb::Connection::default(),
    };
    pb::Settings {
        connection: Some(connection),
        ecommerce_analytics: s.ecommerce_analytics,
        abandoned_carts: s.abandoned_carts,
        single_opt_in: s.single_opt_in,
        subscription_element_type: element_type_to_pb(s.subscription_element_type) as i32,
        list_update_interval: s.list_update_interval.to_pb(),
        coupon_upload_mode: coupon_mode_to_pb(s.coupon_upload_mode) as i32,
        default_automation_list_id: s.choices().default_automation_list.unwrap_or_default(),
        shop: Some(shop(&s.shop)),
        // Filled by the handler, which knows the hooks.
        webhooks: None,
        webhook_base_url: s.webhook_base_url.clone(),
        cart_recovery_url: s.cart_recovery_url.clone(),
        audit_interval: s.audit_interval.to_pb(),
        site_scripts: Vec::new(),
        oauth_available: false,
        marketing_permissions: Vec::new(),
        merge_fields: merge_maps(s),
        tag_rules: s
            .choices()
            .tag_rules
            .iter()
            .map(|r| pb::TagRule {
                tag: r.tag.clone(),
                condition: Some(tag_condition(&r.condition)),
            })
            .collect(),
    }
}

/// A store's connected site.
pub fn site_script(store_id: String, site: crate::store::sites::Site) -> pb::SiteScript {
    pb::SiteScript {
        store_id,
        list_id: site.list_id,
        url: site.url,
        fragment: site.fragment,
        verified: site.verified,
        problem: site.problem,
    }
}

fn shop(s: &domain::ShopIdentity) -> pb::ShopIdentity {
    pb::ShopIdentity {
        shop_url: s.shop_url.clone(),
        company_name: s.company_name.clone(),
        email: s.email.clone(),
        phone: s.phone.clone(),
        address: Some(pb::Address::from(&s.address)),
        currency_code: s.currency_code.clone(),
        locale: s.locale.clone(),
        timezone: s.timezone.clone(),
    }
}

fn address_from_pb(a: pb::Address) -> domain::Address {
    domain::Address {
        address1: a.address1,
        address2: a.address2,
        city: a.city,
        province: a.province,
        province_code: a.province_code,
        postal_code: a.postal_code,
        country: a.country,
        country_code: a.country_code,
    }
}

/// An optional URL setting, checked by `check` ("" clears it); a refusal goes to `errors`.
fn url_field(
    name: &str,
    value: Option<String>,
    check: fn(&str) -> Result<String, String>,
    errors: &mut Vec<ValidationError>,
) -> Option<String> {
    match check(&value?) {
        Ok(url) => Some(url),
        Err(reason) => {
            errors.push(ValidationError::new(name, reason));
            None
        }
    }
}

/// Parses a partial update; every invalid field is reported at once.
pub fn settings_update(
    r: pb::UpdateSettingsRequest,
) -> Result<SettingsUpdate, Vec<ValidationError>> {
    let mut errors = Vec::new();
    let mut enum_field = |name: &str, value: Option<i32>, ok: bool| {
        if value.is_some() && !ok {
            errors.push(ValidationError::new(
                name,
                format!("{} is not an allowed value", value.unwrap_or_default()),
            ));
        }
    };
    let element = r.subscription_element_type.map(element_type_from_pb);
    enum_field(
        "subscription_element_type",
        r.subscription_element_type,
        element.is_none_or(|e| e.is_some()),
    );
    let interval = r.list_update_interval.map(ListUpdateInterval::from_pb);
    enum_field(
        "list_update_interval",
        r.list_update_interval,
        interval.is_none_or(|e| e.is_some()),
    );
    let audit = r.audit_interval.map(ListUpdateInterval::from_pb);
    enum_field(
        "audit_interval",
        r.audit_interval,
        audit.is_none_or(|e| e.is_some()),
    );
    let coupon = r.coupon_upload_mode.map(coupon_mode_from_pb);
    enum_field(
        "coupon_upload_mode",
        r.coupon_upload_mode,
        coupon.is_none_or(|e| e.is_some()),
    );

    let default_list = r.default_automation_list_id.map(|id| {
        let id = id.trim().to_owned();
        if id.is_empty() { None } else { Some(id) }
    });
    let shop = r.shop.map(|s| ShopIdentityUpdate {
        shop_url: s.shop_url,
        company_name: s.company_name,
        email: s.email,
        phone: s.phone,
        address: s.address.map(address_from_pb),
        currency_code: s.currency_code,
        locale: s.locale,
        timezone: s.timezone,
    });
    let webhook_base_url = url_field(
        "webhook_base_url",
        r.webhook_base_url,
        domain::validate::webhook_base_url,
        &mut errors,
    );
    let cart_recovery_url = url_field(
        "cart_recovery_url",
        r.cart_recovery_url,
        domain::validate::cart_recovery_url,
        &mut errors,
    );
    let shop = match shop.unwrap_or_default().validated() {
        Ok(s) => s,
        Err(e) => {
            errors.extend(e);
            ShopIdentityUpdate::default()
        }
    };
    let tag_rules = match r.tag_rules.map(|t| {
        let asked = t
            .rules
            .into_iter()
            .map(|r| (r.tag, r.condition.map(asked_condition)));
        domain::tag_rules::checked(asked.collect())
    }) {
        Some(Ok(rules)) => Some(rules),
        Some(Err(e)) => {
            errors.extend(e);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SettingsUpdate {
        ecommerce_analytics: r.ecommerce_analytics,
        abandoned_carts: r.abandoned_carts,
        single_opt_in: r.single_opt_in,
        subscription_element_type: element.flatten(),
        list_update_interval: interval.flatten(),
        coupon_upload_mode: coupon.flatten(),
        default_automation_list_id: default_list,
        shop,
        webhook_base_url,
        cart_recovery_url,
        audit_interval: audit.flatten(),
        tag_rules,
        merge_fields: r.merge_fields.map(|m| {
            m.audiences
                .into_iter()
                .map(|a| {
                    let pairs = a.mappings.into_iter().map(|p| (p.source, p.tag));
                    (a.list_id, pairs.collect())
                })
                .collect()
        }),
    })
}

fn asked_condition(c: pb::TagCondition) -> AskedCondition {
    use pb::tag_condition::Kind;
    let all = |list: pb::TagConditions| {
        list.conditions
            .into_iter()
            .map(|c| Some(asked_condition(c)))
            .collect()
    };
    match c.kind {
        Some(Kind::Bought(b)) => AskedCondition::Bought(b.product_ids, b.variant_ids),
        Some(Kind::TotalSpentAtLeast(a)) => AskedCondition::SpentAtLeast(a),
        Some(Kind::OrdersAtLeast(n)) => AskedCondition::OrdersAtLeast(n),
        Some(Kind::LastOrderOlderThanDays(d)) => AskedCondition::LastOrderOlderThanDays(d),
        Some(Kind::InGroup(g)) => AskedCondition::InGroup(g),
        Some(Kind::AllOf(list)) => AskedCondition::AllOf(all(list)),
        Some(Kind::AnyOf(list)) => AskedCondition::AnyOf(all(list)),
        // An empty condition: the checker names it.
        None => AskedCondition::AnyOf(Vec::new()),
    }
}

/// A tag rule's condition, for GetSettings.
pub fn tag_condition(c: &TagCondition) -> pb::TagCondition {
    use pb::tag_condition::Kind;
    let all = |list: &[TagCondition]| pb::TagConditions {
        conditions: list.iter().map(tag_condition).collect(),
    };
    let kind = match c {
        TagCondition::Bought { products, variants } => Kind::Bought(pb::ProductsBought {
            product_ids: products.clone(),
            variant_ids: variants.clone(),
        }),
        TagCondition::SpentAtLeast(units) => Kind::TotalSpentAtLeast(domain::money::format(*units)),
        TagCondition::OrdersAtLeast(n) => Kind::OrdersAtLeast(*n),
        TagCondition::LastOrderOlderThanDays(d) => Kind::LastOrderOlderThanDays(*d),
        TagCondition::InGroup(g) => Kind::InGroup(g.clone()),
        TagCondition::AllOf(list) => Kind::AllOf(all(list)),
        TagCondition::AnyOf(list) => Kind::AnyOf(all(list)),
    };
    pb::TagCondition { kind: Some(kind) }
}

/// The connected account's merge-field maps, for GetSettings.
fn merge_maps(s: &Settings) -> Vec<pb::MergeFieldMap> {
    s.choices()
        .merge_fields
        .into_iter()
        .map(|(list_id, mappings)| pb::MergeFieldMap {
            list_id,
            mappings: mappings
                .into_iter()
                .map(|m| pb::MergeFieldMapping {
                    source: m.source.to_string(),
                    tag: m.tag,
                })
                .collect(),
        })
        .collect()
}

fn element_type_to_pb(t: SubscriptionElementType) -> pb::SubscriptionElementType {
    match t {
        SubscriptionElementType::Checkbox => pb::SubscriptionElementType::Checkbox,
        SubscriptionElementType::Select => pb::SubscriptionElementType::Select,
    }
}

fn element_type_from_pb(v: i32) -> Option<SubscriptionElementType> {
    match pb::SubscriptionElementType::try_from(v).ok()? {
        pb::SubscriptionElementType::Checkbox => Some(SubscriptionElementType::Checkbox),
        pb::SubscriptionElementType::Select => Some(SubscriptionElementType::Select),
        pb::SubscriptionElementType::Unspecified => None,
    }
}

fn coupon_mode_to_pb(m: CouponUploadMode) -> pb::CouponUploadMode {
    match m {
        CouponUploadMode::All => pb::CouponUploadMode::All,
        CouponUploadMode::MatchingPromoRules => pb::CouponUploadMode::MatchingPromoRules,
    }
}

fn coupon_mode_from_pb(v: i32) -> Option<CouponUploadMode> {
    match pb::CouponUploadMode::try_from(v).ok()? {
        pb::CouponUploadMode::All => Some(CouponUploadMode::All),
        pb::CouponUploadMode::MatchingPromoRules => Some(CouponUploadMode::MatchingPromoRules),
        pb::CouponUploadMode::Unspecified => None,
    }
}

pub fn audiences(view: AudienceView) -> pb::ListListsResponse {
    pb::ListListsResponse {
        account_id: view.account_id,
        lists: view
            .lists
            .into_iter()
            .map(|(a, selected)| audience(a, selected))
            .collect(),
        last_refreshed_at: view.last_refreshed_at.map(timestamp),
        detached_stores: view
            .detached
            .into_iter()
            .map(|(list_id, store_id)| pb::DetachedStore { store_id, list_id })
            .collect(),
    }
}

/// An audience's GDPR permissions, for ListLists and GetSettings.
pub fn marketing_permissions(
    permissions: Vec<crate::domain::MarketingPermission>,
) -> Vec<pb::MarketingPermission> {
    permissions
        .into_iter()
        .map(|p| pb::MarketingPermission {
            id: p.id,
            text: p.text,
        })
        .collect()
}

fn audience(a: Audience, selected: bool) -> pb::Audience {
    let s = a.stats;
    pb::Audience {
        id: a.id,
        name: a.name,
        member_count: s.member_count,
        stats: Some(pb::AudienceStats {
            member_count: s.member_count,
            unsubscribe_count: s.unsubscribe_count,
            cleaned_count: s.cleaned_count,
            campaign_count: s.campaign_count,
            open_rate: s.open_rate,
            click_rate: s.click_rate,
            avg_sub_rate: s.avg_sub_rate,
            last_sub_date: s.last_sub_date,
        }),
        selected,
        removed: a.removed_at.is_some(),
        marketing_permissions_enabled: a.marketing_permissions_enabled,
        marketing_permissions: marketing_permissions(a.marketing_permissions),
        merge_fields: a
            .merge_fields
            .into_iter()
            .map(|f| pb::MergeField {
                tag: f.tag,
                name: f.name,
                r#type: f.kind,
                required: f.required,
                date_format: f.date_format,
                choices: f.choices,
            })
            .collect(),
        interest_categories: a
            .interest_categories
            .into_iter()
            .map(|c| pb::InterestCategory {
                id: c.id,
                title: c.title,
                r#type: c.kind,
                display_order: c.display_order,
                interests: c
                    .interests
                    .into_iter()
                    .map(|i| pb::Interest {
                        id: i.id,
                        name: i.name,
                        subscriber_count: i.subscriber_count,
                        display_order: i.display_order,
                    })
                    .collect(),
            })
            .collect(),
        segments: a
            .segments
            .into_iter()
            .map(|s| pb::Segment {
                id: s.id,
                name: s.name,
                r#type: s.kind,
                member_count: s.member_count,
            })
            .collect(),
        web_id: a.web_id,
        removed_at: a.removed_at.map(timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_enum_round_trips_all_fourteen_choices() {
        for (n, i) in ListUpdateInterval::ALL.iter().enumerate() {
            let v = i.to_pb();
            assert_eq!(v, n as i32 + 1);
            assert_eq!(ListUpdateInterval::from_pb(v), Some(*i));
        }
        assert_eq!(ListUpdateInterval::from_pb(0), None);
        assert_eq!(ListUpdateInterval::from_pb(15), None);
        assert_eq!(
            pb::ListUpdateInterval::try_from(ListUpdateInterval::Weeks1.to_pb()),
            Ok(pb::ListUpdateInterval::ListUpdateInterval1Week)
        );
    }
}
