//! What mcsync sends Mailchimp for each shop record: X-Cart's entity mapping
//! (shared/xcart/MODULE-NOTES.md) as request bodies of the e-commerce API. Pure functions; the
//! sync engine decides when to send them. Every body here validates against the spec (tests).

use serde_json::{Map, Value, json};

use crate::domain::{CouponUploadMode, ShopIdentity, money};
use crate::proto::v1 as pb;

/// The store id for (account, list, shop URL): stable across restarts, resets and reinstalls,
/// and different for another shop on the same list.
pub fn store_id(account_id: &str, list_id: &str, shop_url: &str) -> String {
    let key = format!(
        "{account_id}\n{list_id}\n{}",
        shop_url.trim_end_matches('/').to_lowercase()
    );
    format!("xc_{:x}", md5::compute(key.as_bytes()))
}

/// A store's `domain`. Mailchimp wants domains unique in the account, and each selected list
/// has its own store, so each store's domain is the shop URL with the list as fragment:
/// stable whatever else is selected, and still the shop's address.
pub fn store_domain(shop_url: &str, list_id: &str) -> String {
    format!("{}#{list_id}", shop_url.trim_end_matches('/'))
}

/// The default variant of a product that has none.
pub fn default_variant_id(product_id: &str) -> String {
    format!("{product_id}_dv")
}

/// A decimal string as the JSON number Mailchimp wants; the shortest form that reads back as
/// the same amount (19.99 stays 19.99).
fn amount(s: &str) -> Value {
    match money::parse(s) {
        Ok(units) => {
            serde_json::Number::from_f64(units as f64 / 10_000.0).map_or(json!(0), Value::Number)
        }
        Err(_) => json!(0),
    }
}

/// Puts `value` under `key` unless it is empty: Mailchimp treats "" as a value.
fn put(m: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        m.insert(key.into(), Value::String(value.to_owned()));
    }
}

fn address(a: &pb::Address) -> Value {
    let mut m = Map::new();
    put(&mut m, "address1", &a.address1);
    put(&mut m, "address2", &a.address2);
    put(&mut m, "city", &a.city);
    put(&mut m, "province", &a.province);
    put(&mut m, "province_code", &a.province_code);
    put(&mut m, "postal_code", &a.postal_code);
    put(&mut m, "country", &a.country);
    put(&mut m, "country_code", &a.country_code);
    Value::Object(m)
}

fn money_format(currency: &str) -> &str {
    match currency {
        "USD" | "CAD" | "AUD" | "NZD" | "MXN" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" | "CNY" => "¥",
        "INR" => "₹",
        other => other,
    }
}

/// The store of one list: `POST /ecommerce/stores` (also the PATCH of "Update store data",
/// minus `id` and `list_id`, which never change).
pub fn store_body(
    id: &str,
    list_id: &str,
    list_name: &str,
    shop: &ShopIdentity,
    is_syncing: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("list_id".into(), json!(list_id));
    m.insert(
        "name".into(),
        json!(format!("{} ({list_name})", shop.company_name)),
    );
    m.insert("platform".into(), json!("X-Cart"));
    m.insert("is_syncing".into(), json!(is_syncing));
    if !shop.shop_url.is_empty() {
        m.insert(
            "domain".into(),
            json!(store_domain(&shop.shop_url, list_id)),
        );
    }
    put(&mut m, "email_address", &shop.email);
    let currency = if shop.currency_code.is_empty() {
        "USD"
    } else {
        &shop.currency_code
    };
    m.insert("currency_code".into(), json!(currency));
    m.insert("money_format".into(), json!(money_format(currency)));
    put(&mut m, "primary_locale", &shop.locale);
    put(&mut m, "timezone", &shop.timezone);
    put(&mut m, "phone", &shop.phone);
    m.insert("address".into(), address(&pb::Address::from(&shop.address)));
    Value::Object(m)
}

fn variant(v: &pb::ProductVariant) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(v.id));
    m.insert("title".into(), json!(v.title));
    put(&mut m, "sku", &v.sku);
    if !v.price.is_empty() {
        m.insert("price".into(), amount(&v.price));
    }
    m.insert("inventory_quantity".into(), json!(v.inventory_quantity));
    put(&mut m, "url", &v.url);
    put(&mut m, "image_url", &v.image_url);
    put(&mut m, "visibility", &v.visibility);
    Value::Object(m)
}

/// `POST …/products` (and its PATCH): a product without variants gets `<id>_dv`.
pub fn product_body(p: &pb::Product) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("title".into(), json!(p.title));
    put(&mut m, "url", &p.url);
    put(&mut m, "description", &p.description);
    put(&mut m, "vendor", &p.vendor);
    put(&mut m, "image_url", &p.image_url);
    put(&mut m, "published_at_foreign", &p.published_at);
    if let Some(kind) = p.categories.last() {
        m.insert("type".into(), json!(kind));
    }
    let variants: Vec<Value> = if p.variants.is_empty() {
        vec![variant(&pb::ProductVariant {
            id: default_variant_id(&p.id),
            title: p.title.clone(),
            sku: p.sku.clone(),
            price: p.price.clone(),
            inventory_quantity: p.inventory_quantity,
            url: p.url.clone(),
            image_url: p.image_url.clone(),
            visibility: p.visibility.clone(),
        })]
    } else {
        p.variants.iter().map(variant).collect()
    };
    m.insert("variants".into(), Value::Array(variants));
    let images: Vec<Value> = p
        .images
        .iter()
        .map(|i| json!({"id": i.id, "url": i.url, "variant_ids": i.variant_ids}))
        .collect();
    if !images.is_empty() {
        m.insert("images".into(), Value::Array(images));
    }
    Value::Object(m)
}

/// A variant made from an order or cart line whose variant Mailchimp lacks, for `PUT
/// …/products/{p}/variants/{v}` (an upsert).
pub fn line_variant_body(l: &pb::LineItem) -> Value {
    let title = if l.title.is_empty() {
        &l.variant_id
    } else {
        &l.title
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(l.variant_id));
    m.insert("title".into(), json!(title));
    put(&mut m, "sku", &l.sku);
    if !l.price.is_empty() {
        m.insert("price".into(), amount(&l.price));
    }
    Value::Object(m)
}

/// Whether an e-commerce customer may be subscribed by Mailchimp itself: only when the shopper
/// accepted marketing and the merchant runs single opt-in. Under double opt-in a customer is
/// always a transactional contact, and consent goes through a pending member instead.
pub fn customer_opt_in(c: &pb::Customer, single_opt_in: bool) -> bool {
    c.accepts_marketing && single_opt_in
}

/// `PUT …/customers/{id}`. `opt_in_status` only decides the status of an email new to the
/// audience; Mailchimp never lets it change an existing member. Mailchimp computes the order
/// count and total spent itself.
pub fn customer_body(c: &pb::Customer, single_opt_in: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("email_address".into(), json!(c.email));
    m.insert(
        "opt_in_status".into(),
        json!(customer_opt_in(c, single_opt_in)),
    );
    put(&mut m, "company", &c.company);
    put(&mut m, "first_name", &c.first_name);
    put(&mut m, "last_name", &c.last_name);
    if let Some(a) = &c.address {
        m.insert("address".into(), address(a));
    }
    Value::Object(m)
}

fn order_customer(c: &pb::OrderCustomer) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("email_address".into(), json!(c.email));
    m.insert("opt_in_status".into(), json!(false));
    put(&mut m, "company", &c.company);
    put(&mut m, "first_name", &c.first_name);
    put(&mut m, "last_name", &c.last_name);
    if let Some(a) = &c.address {
        m.insert("address".into(), address(a));
    }
    Value::Object(m)
}

/// An order's or a cart's lines; only order lines take a `discount`.
fn lines(lines: &[pb::LineItem], with_discount: bool) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|l| {
                let mut m = Map::new();
                m.insert("id".into(), json!(l.id));
                m.insert("product_id".into(), json!(l.product_id));
                m.insert("product_variant_id".into(), json!(l.variant_id));
                m.insert("quantity".into(), json!(l.quantity));
                m.insert("price".into(), amount(&l.price));
                if with_discount && !l.discount.is_empty() {
                    m.insert("discount".into(), amount(&l.discount));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// X-Cart's mapping of payment status to Mailchimp's `financial_status`.
pub fn financial_status(status: i32) -> &'static str {
    use pb::PaymentStatus as P;
    match P::try_from(status).unwrap_or(P::Unspecified) {
        P::Paid | P::PartPaid => "paid",
        P::Authorized | P::Queued => "pending",
        P::Refunded | P::PartRefunded => "refunded",
        P::Canceled | P::Declined => "cancelled",
        P::Unspecified => "unknown",
    }
}

/// `POST …/orders` (and its PATCH).
pub fn order_body(o: &pb::Order) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(o.id));
    if let Some(c) = &o.customer {
        m.insert("customer".into(), order_customer(c));
    }
    m.insert("currency_code".into(), json!(o.currency_code));
    m.insert("order_total".into(), amount(&o.order_total));
    for (key, value) in [
        ("tax_total", &o.tax_total),
        ("shipping_total", &o.shipping_total),
        ("discount_total", &o.discount_total),
    ] {
        if !value.is_empty() {
            m.insert(key.into(), amount(value));
        }
    }
    m.insert(
        "financial_status".into(),
        json!(financial_status(o.payment_status)),
    );
    if o.shipping_status == pb::ShippingStatus::Shipped as i32 {
        m.insert("fulfillment_status".into(), json!("shipped"));
    }
    put(&mut m, "processed_at_foreign", &o.placed_at);
    put(&mut m, "updated_at_foreign", &o.updated_at);
    put(&mut m, "cancelled_at_foreign", &o.cancelled_at);
    put(&mut m, "order_url", &o.order_url);
    if let Some(t) = &o.tracking {
        put(&mut m, "campaign_id", &t.campaign_id);
        put(&mut m, "landing_site", &t.landing_site);
        // Mailchimp's enum has one value; an older mirror may hold another, never sent.
        if t.tracking_code == "prec" {
            m.insert("tracking_code".into(), json!("prec"));
        }
        let outreach = if t.outreach_id.is_empty() {
            &t.campaign_id
        } else {
            &t.outreach_id
        };
        if !outreach.is_empty() {
            m.insert("outreach".into(), json!({ "id": outreach }));
        }
    }
    if let Some(s) = &o.shipment {
        put(&mut m, "tracking_number", &s.tracking_number);
        put(&mut m, "tracking_carrier", &s.tracking_carrier);
        put(&mut m, "tracking_url", &s.tracking_url);
    }
    if let Some(a) = &o.billing_address {
        m.insert("billing_address".into(), address(a));
    }
    if let Some(a) = &o.shipping_address {
        m.insert("shipping_address".into(), address(a));
    }
    if !o.promos.is_empty() {
        let promos: Vec<Value> = o
            .promos
            .iter()
            .map(|p| {
                let kind = if p.r#type == "percent" { "percentage" } else { "fixed" };
                json!({"code": p.code, "amount_discounted": amount(&p.amount_discounted), "type": kind})
            })
            .collect();
        m.insert("promos".into(), Value::Array(promos));
    }
    m.insert("lines".into(), lines(&o.lines, true));
    Value::Object(m)
}

/// `POST …/carts` (and its PATCH). `link`, when given, is the `checkout_url` in place of the
/// one the shop sent (the cart's recovery link).
pub fn cart_body(c: &pb::Cart, link: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    if let Some(customer) = &c.customer {
        m.insert("customer".into(), order_customer(customer));
    }
    m.insert("currency_code".into(), json!(c.currency_code));
    m.insert("order_total".into(), amount(&c.order_total));
    if !c.tax_total.is_empty() {
        m.insert("tax_total".into(), amount(&c.tax_total));
    }
    put(&mut m, "checkout_url", link.unwrap_or(&c.checkout_url));
    if let Some(t) = &c.tracking {
        put(&mut m, "campaign_id", &t.campaign_id);
    }
    m.insert("lines".into(), lines(&c.lines, false));
    Value::Object(m)
}

/// The resources whose PATCH body differs from their create body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patchable {
    /// A store, from its create body: not its list.
    Store,
    /// A store's identity for "Update store data": not its list, nor `is_syncing`.
    StoreIdentity,
    /// A product: its variants keep their ids.
    Product,
    /// An order: not its customer; its lines keep their ids.
    Order,
    /// A cart: not its customer; its lines keep their ids.
    Cart,
    /// A promo rule.
    PromoRule,
    /// A promo code.
    PromoCode,
}

/// The PATCH body of a resource, from its create body: only the fields that operation takes.
/// No PATCH takes the `id` (it is in the path); an order's or a cart's PATCH does not change
/// its customer (the spec's PATCH schemas). A product's variants and an order's or a cart's
/// lines keep their ids: the spec's PATCH schemas omit them, but Mailchimp matches variants and
/// lines by id on update and refuses lines without one (API-NOTES.md, "Spec quirks": its own
/// plugins, mc-woocommerce and mc-magento2, send line ids on every order and cart update).
pub fn patch_body(what: Patchable, create: &Value) -> Value {
    let mut body = create.clone();
    let Some(m) = body.as_object_mut() else {
        return body;
    };
    m.remove("id");
    if matches!(what, Patchable::Store | Patchable::StoreIdentity) {
        m.remove("list_id");
    }
    if what == Patchable::StoreIdentity {
        m.remove("is_syncing");
    }
    if matches!(what, Patchable::Order | Patchable::Cart) {
        m.remove("customer");
    }
    body
}

/// The conditions of a coupon that Mailchimp's promo rules cannot express.
fn extra_conditions(c: &pb::Coupon) -> Vec<String> {
    let mut out = Vec::new();
    if !c.total_min.is_empty() {
        out.push(format!("order total from {}", c.total_min));
    }
    if !c.total_max.is_empty() {
        out.push(format!("order total up to {}", c.total_max));
    }
    let lists = [
        ("products", &c.product_ids),
        ("product classes", &c.product_class_ids),
        ("memberships", &c.membership_ids),
        ("zones", &c.zone_ids),
        ("categories", &c.category_ids),
    ];
    for (name, ids) in lists {
        if !ids.is_empty() {
            out.push(format!("{name}: {}", ids.join(", ")));
        }
    }
    if c.uses_limit > 0 {
        out.push(format!("at most {} uses", c.uses_limit));
    }
    if c.uses_limit_per_user > 0 {
        out.push(format!(
            "at most {} uses per customer",
            c.uses_limit_per_user
        ));
    }
    out
}

/// "Matches Mailchimp promo rules": nothing beyond code, amount, active from and active till.
pub fn matches_promo_rules(c: &pb::Coupon) -> bool {
    extra_conditions(c).is_empty()
}

/// `POST …/promo-rules`, or `None` when the mode leaves the coupon out of Mailchimp.
pub fn promo_rule_body(c: &pb::Coupon, mode: CouponUploadMode) -> Option<Value> {
    let extra = extra_conditions(c);
    if mode == CouponUploadMode::MatchingPromoRules && !extra.is_empty() {
        return None;
    }
    let (kind, value, target) =
        match pb::CouponType::try_from(c.r#type).unwrap_or(pb::CouponType::Absolute) {
            pb::CouponType::Percent => {
                let pct = money::parse(&c.value).unwrap_or(0) as f64 / 10_000.0 / 100.0;
                ("percentage", json!(pct), "total")
            }
            pb::CouponType::FreeShipping => ("fixed", json!(0), "shipping"),
            _ => ("fixed", amount(&c.value), "total"),
        };
    let mut description = if c.comment.is_empty() {
        format!("Coupon {}", c.code)
    } else {
        c.comment.clone()
    };
    if !extra.is_empty() {
        description = format!("{description} ({})", extra.join("; "));
    }
    let description: String = description.chars().take(255).collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("title".into(), json!(c.code));
    m.insert("description".into(), json!(description));
    m.insert("amount".into(), value);
    m.insert("type".into(), json!(kind));
    m.insert("target".into(), json!(target));
    m.insert("enabled".into(), json!(c.enabled));
    put(&mut m, "starts_at", &c.valid_from);
    put(&mut m, "ends_at", &c.valid_until);
    Some(Value::Object(m))
}

/// `POST …/promo-rules/{rule}/promo-codes`: one code per coupon, under the coupon's rule.
pub fn promo_code_body(c: &pb::Coupon, shop_url: &str) -> Value {
    json!({
        "id": c.id,
        "code": c.code,
        "redemption_url": if shop_url.is_empty() { "https://example.com" } else { shop_url },
        "usage_count": c.uses,
        "enabled": c.enabled,
    })
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use crate::sim::check_request;
    use crate::testdata;

    fn valid(method: &str, template: &str, body: &Value) {
        assert!(
            // A number is never a valid body: errors prove the operation has a body schema.
            !check_request(method, template, &json!(0)).is_empty(),
            "no schema found for {method} {template}"
        );
        let errors = check_request(method, template, body);
        assert!(errors.is_empty(), "{method} {template}: {errors:?}\n{body}");
    }

    #[test]
    fn every_body_validates_against_the_spec() {
        let shop = ShopIdentity {
            shop_url: "https://shop.example.com".into(),
            company_name: "Acme".into(),
            email: "owner@example.com".into(),
            currency_code: "EUR".into(),
            locale: "de".into(),
            timezone: "Europe/Berlin".into(),
            ..Default::default()
        };
        let store = store_body("xc_1", "list1", "Newsletter", &shop, true);
        valid("POST", "/ecommerce/stores", &store);
        assert_eq!(store["name"], "Acme (Newsletter)");
        assert_eq!(store["money_format"], "€");
        assert_eq!(store["domain"], "https://shop.example.com#list1");
        let s = "/ecommerce/stores/{store_id}";
        for i in 0..20 {
            valid(
                "POST",
                &format!("{s}/products"),
                &product_body(&testdata::product(i)),
            );
            valid(
                "PUT",
                &format!("{s}/customers/{{customer_id}}"),
                &customer_body(&testdata::customer(i), i % 3 == 0),
            );
            valid(
                "POST",
                &format!("{s}/orders"),
                &order_body(&testdata::order(i)),
            );
            valid(
                "POST",
                &format!("{s}/carts"),
                &cart_body(&testdata::cart(i), None),
            );
            let coupon = testdata::coupon(i);
            valid(
                "POST",
                &format!("{s}/promo-rules"),
                &promo_rule_body(&coupon, CouponUploadMode::All).unwrap(),
            );
            valid(
                "POST",
                &format!("{s}/promo-rules/{{promo_rule_id}}/promo-codes"),
                &promo_code_body(&coupon, &shop.shop_url),
            );
        }
    }

    #[test]
    fn patch_bodies_carry_only_what_each_patch_takes() {
        let s = "/ecommerce/stores/{store_id}";
        let table = [
            (
                Patchable::Product,
                format!("{s}/products/{{product_id}}"),
                product_body(&testdata::product(3)),
            ),
            (
                Patchable::Order,
                format!("{s}/orders/{{order_id}}"),
                order_body(&testdata::order(3)),
            ),
            (
                Patchable::Cart,
                format!("{s}/carts/{{cart_id}}"),
                cart_body(&testdata::cart(3), None),
            ),
            (
                Patchable::PromoRule,
                format!("{s}/promo-rules/{{promo_rule_id}}"),
                promo_rule_body(&testdata::coupon(3), CouponUploadMode::All).unwrap(),
            ),
            (
                Patchable::PromoCode,
                format!("{s}/promo-rules/{{promo_rule_id}}/promo-codes/{{promo_code_id}}"),
                promo_code_body(&testdata::coupon(3), "https://shop.example.com"),
            ),
        ];
        for (what, template, create) in table {
            let patch = patch_body(what, &create);
            valid("PATCH", &template, &patch);
            let unknown = crate::sim::unknown_fields("PATCH", &template, &patch);
            assert!(unknown.is_empty(), "{what:?}: {unknown:?}");
            assert!(patch.get("id").is_none(), "{what:?}");
            assert!(patch.get("customer").is_none(), "{what:?}");
            if let Some(lines) = patch.get("lines").and_then(Value::as_array) {
                assert!(!lines.is_empty(), "{what:?}");
                for (i, line) in lines.iter().zip(&create["lines"].as_array().unwrap()[..]) {
                    assert_eq!(i["id"], line["id"], "{what:?}: a line keeps its id");
                }
            }
        }
    }

    #[test]
    fn create_bodies_carry_no_field_their_schema_lacks() {
        let s = "/ecommerce/stores/{store_id}";
        let simple = testdata::simple_product(1);
        let table = [
            (
                "POST",
                format!("{s}/products"),
                product_body(&testdata::product(1)),
            ),
            ("POST", format!("{s}/products"), product_body(&simple)),
            (
                "PUT",
                format!("{s}/customers/{{customer_id}}"),
                customer_body(&testdata::customer(1), false),
            ),
            (
                "POST",
                format!("{s}/orders"),
                order_body(&testdata::order(1)),
            ),
            (
                "POST",
                format!("{s}/carts"),
                cart_body(&testdata::cart(1), None),
            ),
            (
                "PUT",
                format!("{s}/products/{{product_id}}/variants/{{variant_id}}"),
                line_variant_body(&testdata::order(1).lines[0]),
            ),
        ];
        for (method, template, body) in table {
            valid(method, &template, &body);
            let unknown = crate::sim::unknown_fields(method, &template, &body);
            assert!(unknown.is_empty(), "{method} {template}: {unknown:?}");
        }
    }

    #[test]
    fn consent_follows_the_opt_in_setting() {
        let mut c = testdata::customer(2);
        c.accepts_marketing = true;
        // (accepts marketing, single opt-in) -> opt_in_status
        let table = [
            (true, true, true),
            (true, false, false),
            (false, true, false),
            (false, false, false),
        ];
        for (accepts, single, expected) in table {
            c.accepts_marketing = accepts;
            assert_eq!(
                customer_body(&c, single)["opt_in_status"],
                json!(expected),
                "accepts {accepts}, single opt-in {single}"
            );
        }
        let body = customer_body(&c, true);
        assert!(body.get("orders_count").is_none() && body.get("total_spent").is_none());
        let order = order_body(&testdata::order(2));
        assert_eq!(order["customer"]["opt_in_status"], json!(false));
        let cart = cart_body(&testdata::cart(2), None);
        assert_eq!(cart["customer"]["opt_in_status"], json!(false));
    }

    #[test]
    fn a_simple_product_keeps_its_price_sku_and_stock() {
        let p = testdata::simple_product(7);
        let body = product_body(&p);
        let dv = &body["variants"][0];
        assert_eq!(dv["id"], "sp7_dv");
        assert_eq!(dv["price"].to_string(), "5.06");
        assert_eq!(dv["sku"], "POLISH-7");
        assert_eq!(dv["inventory_quantity"], 2);
        assert_eq!(dv["visibility"], "visible");
    }

    #[test]
    fn money_is_sent_as_the_same_number() {
        let body = order_body(&testdata::order(1));
        assert_eq!(body["order_total"].to_string(), "264.8");
        assert_eq!(body["lines"][0]["price"].to_string(), "129.9");
        assert_eq!(amount("0.10").to_string(), "0.1");
        assert_eq!(amount("19.99").to_string(), "19.99");
    }

    #[test]
    fn payment_statuses_map_as_x_cart_maps_them() {
        use pb::PaymentStatus as P;
        let table = [
            (P::Paid, "paid"),
            (P::PartPaid, "paid"),
            (P::Authorized, "pending"),
            (P::Queued, "pending"),
            (P::Refunded, "refunded"),
            (P::Canceled, "cancelled"),
            (P::Declined, "cancelled"),
            (P::Unspecified, "unknown"),
        ];
        for (status, expected) in table {
            assert_eq!(financial_status(status as i32), expected, "{status:?}");
        }
        let mut o = testdata::order(1);
        o.shipping_status = pb::ShippingStatus::Processing as i32;
        assert!(order_body(&o).get("fulfillment_status").is_none());
        o.shipping_status = pb::ShippingStatus::Shipped as i32;
        assert_eq!(order_body(&o)["fulfillment_status"], "shipped");
    }

    #[test]
    fn a_product_without_variants_gets_the_default_variant() {
        let mut p = testdata::product(5);
        p.variants.clear();
        p.images.clear();
        let body = product_body(&p);
        assert_eq!(body["variants"][0]["id"], "p5_dv");
        assert_eq!(body["variants"][0]["title"], p.title);
    }

    #[test]
    fn coupons_follow_the_upload_mode() {
        let mut plain = testdata::coupon(1);
        for ids in [
            &mut plain.product_ids,
            &mut plain.product_class_ids,
            &mut plain.membership_ids,
            &mut plain.zone_ids,
            &mut plain.category_ids,
        ] {
            ids.clear();
        }
        plain.total_min.clear();
        plain.total_max.clear();
        plain.uses_limit = 0;
        plain.uses_limit_per_user = 0;
        assert!(matches_promo_rules(&plain));
        let rule = promo_rule_body(&plain, CouponUploadMode::MatchingPromoRules).unwrap();
        assert_eq!(
            (rule["type"].as_str(), rule["amount"].as_f64()),
            (Some("percentage"), Some(0.15))
        );
        assert_eq!(rule["description"], "Autumn sale");

        let full = testdata::coupon(1);
        assert!(!matches_promo_rules(&full));
        assert!(promo_rule_body(&full, CouponUploadMode::MatchingPromoRules).is_none());
        let rule = promo_rule_body(&full, CouponUploadMode::All).unwrap();
        let description = rule["description"].as_str().unwrap();
        assert!(
            description.starts_with("Autumn sale (order total from 50.00"),
            "{description}"
        );
        assert!(
            description.contains("memberships: wholesale"),
            "{description}"
        );

        let mut shipping = plain.clone();
        shipping.r#type = pb::CouponType::FreeShipping as i32;
        let rule = promo_rule_body(&shipping, CouponUploadMode::All).unwrap();
        assert_eq!(
            (
                rule["type"].as_str(),
                rule["target"].as_str(),
                rule["amount"].as_i64()
            ),
            (Some("fixed"), Some("shipping"), Some(0))
        );
    }

    #[test]
    fn store_ids_are_stable_per_account_list_and_shop() {
        let a = store_id("acc", "list", "https://Shop.example.com/");
        assert_eq!(a, store_id("acc", "list", "https://shop.example.com"));
        assert_ne!(a, store_id("acc", "list2", "https://shop.example.com"));
        assert_ne!(a, store_id("acc", "list", "https://other.example.com"));
        assert!(a.len() <= 50);
    }
}
