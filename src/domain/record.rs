//! Shop records: checked and normalised at the edge, so that whatever is stored is valid and
//! equal records encode (and hash) identically.
//!
//! The records are the `mcsync.v1` messages themselves: they are also the storage encoding
//! (prost is compact and deterministic), and a second set of 80-odd fields would only be a copy.
//! What makes them domain values is [`Valid`], which only [`parse`] can build.

use std::collections::HashSet;

use prost::Message;

use super::{ValidationError, money, validate};
use crate::proto::v1 as pb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// The kinds of shop records mcsync mirrors and sends to Mailchimp.
pub enum RecordKind {
    /// A catalogue product with its variants.
    Product,
    /// A shop customer.
    Customer,
    /// A placed order.
    Order,
    /// A cart not yet ordered (for abandoned-cart mails).
    Cart,
    /// A coupon, sent as a promo rule with one promo code.
    Coupon,
}

/// Everything mcsync says about a kind, one row per kind, in the enum's order.
struct KindRow {
    kind: RecordKind,
    pb: pb::RecordKind,
    name: &'static str,
    plural: &'static str,
    /// Dependencies first: coupons, products and customers before the orders and carts that
    /// name them.
    rank: u8,
}

const KINDS: [KindRow; 5] = [
    KindRow {
        kind: RecordKind::Product,
        pb: pb::RecordKind::Product,
        name: "product",
        plural: "products",
        rank: 1,
    },
    KindRow {
        kind: RecordKind::Customer,
        pb: pb::RecordKind::Customer,
        name: "customer",
        plural: "customers",
        rank: 2,
    },
    KindRow {
        kind: RecordKind::Order,
        pb: pb::RecordKind::Order,
        name: "order",
        plural: "orders",
        rank: 3,
    },
    KindRow {
        kind: RecordKind::Cart,
        pb: pb::RecordKind::Cart,
        name: "cart",
        plural: "carts",
        rank: 4,
    },
    KindRow {
        kind: RecordKind::Coupon,
        pb: pb::RecordKind::Coupon,
        name: "coupon",
        plural: "coupons",
        rank: 0,
    },
];

impl RecordKind {
    /// Every kind, in the enum's order.
    pub const ALL: [Self; 5] = {
        let mut all = [Self::Product; 5];
        let mut i = 0;
        while i < KINDS.len() {
            all[i] = KINDS[i].kind;
            i += 1;
        }
        all
    };

    fn row(self) -> &'static KindRow {
        &KINDS[self as usize]
    }

    /// The kind's name in messages and field paths (`product`).
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// The kind's plural, for operators (`products`).
    pub fn plural(self) -> &'static str {
        self.row().plural
    }

    /// The order live sync pushes kinds in: dependencies first.
    pub fn rank(self) -> u8 {
        self.row().rank
    }

    /// The kind's byte in sled keys (never 0, so that a prefix scan never mixes kinds).
    pub fn to_byte(self) -> u8 {
        self as u8 + 1
    }

    /// The kind a sled key's byte names.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.get(usize::from(b).checked_sub(1)?).copied()
    }
}

/// A record that passed every rule, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Valid {
    kind: RecordKind,
    /// Boxed: an order is a kilobyte, a delete a few words, and both travel as a [`Change`].
    record: Box<pb::record::Record>,
}

impl Valid {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        use pb::record::Record::*;
        match self.record.as_ref() {
            Product(r) => &r.id,
            Customer(r) => &r.id,
            Order(r) => &r.id,
            Cart(r) => &r.id,
            Coupon(r) => &r.id,
            Delete(k) => &k.id,
        }
    }

    /// The cart an order was placed from (its `cart_id`), if it names one.
    pub fn placed_cart(&self) -> Option<&str> {
        match self.record.as_ref() {
            pb::record::Record::Order(o) if !o.cart_id.is_empty() => Some(&o.cart_id),
            _ => None,
        }
    }

    /// The storage encoding: the normalised message.
    pub fn encode(&self) -> Vec<u8> {
        use pb::record::Record::*;
        match self.record.as_ref() {
            Product(r) => r.encode_to_vec(),
            Customer(r) => r.encode_to_vec(),
            Order(r) => r.encode_to_vec(),
            Cart(r) => r.encode_to_vec(),
            Coupon(r) => r.encode_to_vec(),
            Delete(r) => r.encode_to_vec(),
        }
    }
}

/// Decodes a stored record back into its message.
pub fn decode(kind: RecordKind, bytes: &[u8]) -> Result<pb::record::Record, prost::DecodeError> {
    use pb::record::Record as R;
    Ok(match kind {
        RecordKind::Product => R::Product(pb::Product::decode(bytes)?),
        RecordKind::Customer => R::Customer(pb::Customer::decode(bytes)?),
        RecordKind::Order => R::Order(pb::Order::decode(bytes)?),
        RecordKind::Cart => R::Cart(pb::Cart::decode(bytes)?),
        RecordKind::Coupon => R::Coupon(pb::Coupon::decode(bytes)?),
    })
}

/// What one feed message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Store (or replace) a valid record.
    Upsert(Valid),
    /// Delete the record of this kind and id.
    Delete(RecordKind, String),
}

impl Change {
    /// The kind of record changed.
    pub fn kind(&self) -> RecordKind {
        match self {
            Change::Upsert(v) => v.kind(),
            Change::Delete(k, _) => *k,
        }
    }

    /// The id of the record changed.
    pub fn id(&self) -> &str {
        match self {
            Change::Upsert(v) => v.id(),
            Change::Delete(_, id) => id,
        }
    }
}

/// A record that was refused, with what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Its kind, when the message named one.
    pub kind: Option<RecordKind>,
    /// Its id, as sent.
    pub id: String,
    /// Every field error, each naming its field.
    pub errors: Vec<ValidationError>,
}

/// The kind a proto enum value names; `None` for unspecified or unknown values.
pub fn kind_from_pb(v: i32) -> Option<RecordKind> {
    KINDS.iter().find(|r| r.pb as i32 == v).map(|r| r.kind)
}

/// The proto enum value of a kind.
pub fn kind_to_pb(k: RecordKind) -> pb::RecordKind {
    k.row().pb
}

/// Checks a record key (for deletes and reads).
pub fn parse_key(
    key: &pb::RecordKey,
    prefix: &str,
) -> Result<(RecordKind, String), Vec<ValidationError>> {
    let mut c = Check::default();
    let kind = kind_from_pb(key.kind);
    if kind.is_none() {
        c.fail_at(
            (prefix, "kind"),
            "must be PRODUCT, CUSTOMER, ORDER, CART or COUPON",
        );
    }
    let mut id = key.id.clone();
    c.id((prefix, "id"), &mut id);
    match kind {
        Some(k) if c.errors.is_empty() => Ok((k, id)),
        _ => Err(c.errors),
    }
}

/// Validates and normalises one feed message. Field paths start with the kind, as in
/// `order.lines[2].quantity`.
pub fn parse(record: pb::Record) -> Result<Change, Refused> {
    use pb::record::Record as R;
    let Some(record) = record.record else {
        return Err(Refused {
            kind: None,
            id: String::new(),
            errors: vec![ValidationError::new(
                "record",
                "is empty: set one of product, customer, order, cart, coupon, delete",
            )],
        });
    };
    let mut c = Check::default();
    let (kind, record) = match record {
        R::Delete(key) => {
            return parse_key(&key, "delete")
                .map(|(k, id)| Change::Delete(k, id))
                .map_err(|errors| Refused {
                    kind: kind_from_pb(key.kind),
                    id: key.id,
                    errors,
                });
        }
        R::Product(mut p) => {
            product(&mut c, &mut p);
            (RecordKind::Product, R::Product(p))
        }
        R::Customer(mut x) => {
            customer(&mut c, &mut x);
            (RecordKind::Customer, R::Customer(x))
        }
        R::Order(mut o) => {
            order(&mut c, &mut o);
            (RecordKind::Order, R::Order(o))
        }
        R::Cart(mut x) => {
            cart(&mut c, &mut x);
            (RecordKind::Cart, R::Cart(x))
        }
        R::Coupon(mut x) => {
            coupon(&mut c, &mut x);
            (RecordKind::Coupon, R::Coupon(x))
        }
    };
    let valid = Valid {
        kind,
        record: Box::new(record),
    };
    if c.errors.is_empty() {
        Ok(Change::Upsert(valid))
    } else {
        Err(Refused {
            kind: Some(kind),
            id: valid.id().to_owned(),
            errors: c.finish(),
        })
    }
}

const MAX_ID: usize = 50;
const MAX_TEXT: usize = 255;
const MAX_DESCRIPTION: usize = 65_535;
const MAX_URL: usize = 2_048;

/// Caps on the repeated fields of a record, checked before any per-item work, so that a
/// hostile message costs little. Chosen from real shops with headroom: an X-Cart order rarely
/// has more than a few dozen lines, and a product with more than a few hundred variants is an
/// option matrix nobody sells from.
pub mod limits {
    /// Lines of an order or a cart.
    pub const LINES: usize = 500;
    /// Variants of a product, and variant ids of one image.
    pub const VARIANTS: usize = 1_000;
    /// Images of a product.
    pub const IMAGES: usize = 100;
    /// Categories of a product.
    pub const CATEGORIES: usize = 100;
    /// Promo codes used by one order.
    pub const PROMOS: usize = 50;
    /// Each id list of a coupon (products, classes, memberships, zones, categories).
    pub const COUPON_IDS: usize = 1_000;
    /// Field errors listed per record; the rest are counted in one last "and N more".
    pub const ERRORS: usize = 20;
}

/// Where a field is: its parent's path and its name, joined only when something is wrong, so
/// that a valid record costs no path strings (ingest validates every field of every record).
type At<'a> = (&'a str, &'a str);

fn path((parent, name): At) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

#[derive(Default)]
struct Check {
    errors: Vec<ValidationError>,
    /// Errors beyond [`limits::ERRORS`], counted only.
    more: usize,
}

impl Check {
    fn push(&mut self, e: ValidationError) {
        if self.errors.len() < limits::ERRORS {
            self.errors.push(e);
        } else {
            self.more += 1;
        }
    }

    fn fail(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.push(ValidationError::new(path, reason));
    }

    fn fail_at(&mut self, at: At, reason: impl Into<String>) {
        self.push(ValidationError::new(path(at), reason));
    }

    /// The listed errors, with "and N more" last when some were only counted.
    fn finish(mut self) -> Vec<ValidationError> {
        if self.more > 0 {
            let more = format!("and {} more errors in this record", self.more);
            self.errors.push(ValidationError::new("record", more));
        }
        self.errors
    }

    /// Whether `n` items stay within `max`; refuses the field (once) when they do not.
    fn within(&mut self, at: At, n: usize, max: usize) -> bool {
        if n > max {
            self.fail_at(at, format!("has {n} items; at most {max} are accepted"));
        }
        n <= max
    }

    fn apply(&mut self, at: At, v: &mut String, rule: impl FnOnce(&str) -> Result<String, String>) {
        match rule(v) {
            Ok(n) => *v = n,
            Err(reason) => self.fail_at(at, reason),
        }
    }

    fn text(&mut self, at: At, v: &mut String, max: usize) {
        if let Err(reason) = validate::text_in_place(v, max) {
            self.fail_at(at, reason);
        }
    }

    fn required_text(&mut self, at: At, v: &mut String, max: usize) {
        self.text(at, v, max);
        if v.is_empty() {
            self.fail_at(at, "is required");
        }
    }

    fn id(&mut self, at: At, v: &mut String) {
        self.required_text(at, v, MAX_ID);
    }

    fn email(&mut self, at: At, v: &mut String) {
        self.apply(at, v, validate::email);
    }

    fn money(&mut self, at: At, v: &mut String) {
        if !money::is_canonical(v) {
            self.apply(at, v, money::canonical);
        }
    }

    fn optional_money(&mut self, at: At, v: &mut String) {
        if v.trim().is_empty() {
            v.clear();
        } else {
            self.money(at, v);
        }
    }

    fn currency(&mut self, at: At, v: &mut String) {
        self.apply(at, v, |s| {
            let c = validate::currency_code(s)?;
            if c.is_empty() {
                Err("is required".into())
            } else {
                Ok(c)
            }
        });
    }

    fn time(&mut self, at: At, v: &mut String) {
        // Already canonical (UTC, whole seconds): check without re-formatting.
        if v.len() == 20 && v.ends_with('Z') && rfc3339(v).is_ok() {
            return;
        }
        self.apply(at, v, rfc3339);
    }

    fn url(&mut self, at: At, v: &mut String) {
        self.text(at, v, MAX_URL);
        if v.is_empty() {
            return;
        }
        match reqwest::Url::parse(v) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(_) => self.fail_at(at, "must be an http or https URL"),
            Err(e) => self.fail_at(at, format!("is not an absolute URL ({e})")),
        }
    }

    fn address(&mut self, at: At, a: &mut Option<pb::Address>) {
        if let Some(a) = a {
            for e in validate::address(a, &path(at)) {
                self.push(e);
            }
        }
    }

    fn non_negative(&mut self, at: At, v: i64) {
        if v < 0 {
            self.fail_at(at, "must not be negative");
        }
    }

    fn unique_ids<'a>(&mut self, at: At, ids: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, id) in ids.enumerate() {
            if !id.is_empty() && !seen.insert(id) {
                self.fail(
                    format!("{}[{i}].id", path(at)),
                    format!("duplicates id {}", validate::quoted(id)),
                );
            }
        }
    }

    fn customer_of(&mut self, at: At, c: &mut Option<pb::OrderCustomer>) {
        let Some(c) = c else {
            self.fail_at(at, "is required (id and email)");
            return;
        };
        let p = path(at);
        self.id((&p, "id"), &mut c.id);
        self.email((&p, "email"), &mut c.email);
        self.text((&p, "first_name"), &mut c.first_name, MAX_TEXT);
        self.text((&p, "last_name"), &mut c.last_name, MAX_TEXT);
        self.text((&p, "company"), &mut c.company, MAX_TEXT);
        self.address((&p, "address"), &mut c.address);
    }

    fn lines(&mut self, at: At, lines: &mut [pb::LineItem]) {
        if !self.within(at, lines.len(), limits::LINES) {
            return;
        }
        let parent = path(at);
        for (i, l) in lines.iter_mut().enumerate() {
            let p = format!("{parent}[{i}]");
            self.id((&p, "id"), &mut l.id);
            self.id((&p, "product_id"), &mut l.product_id);
            self.id((&p, "variant_id"), &mut l.variant_id);
            self.text((&p, "title"), &mut l.title, MAX_TEXT);
            self.text((&p, "sku"), &mut l.sku, MAX_TEXT);
            if l.quantity <= 0 {
                self.fail_at((&p, "quantity"), "must be at least 1");
            }
            self.money((&p, "price"), &mut l.price);
            self.optional_money((&p, "discount"), &mut l.discount);
        }
        self.unique_ids(at, lines.iter().map(|l| l.id.as_str()));
    }

    fn tracking(&mut self, at: At, t: &mut Option<pb::CampaignTracking>) {
        let Some(t) = t else { return };
        let p = path(at);
        self.text((&p, "campaign_id"), &mut t.campaign_id, MAX_ID);
        self.text((&p, "email_id"), &mut t.email_id, MAX_ID);
        self.text((&p, "tracking_code"), &mut t.tracking_code, MAX_TEXT);
        if !matches!(t.tracking_code.as_str(), "" | "prec") {
            self.fail_at(
                (&p, "tracking_code"),
                "must be 'prec' (the only mc_tc value Mailchimp defines) or empty",
            );
        }
        self.url((&p, "landing_site"), &mut t.landing_site);
        self.text((&p, "outreach_id"), &mut t.outreach_id, MAX_ID);
    }

    fn enum_value<E: TryFrom<i32>>(&mut self, at: At, v: i32, allow_unspecified: bool) {
        if E::try_from(v).is_err() || (v == 0 && !allow_unspecified) {
            self.fail_at(at, format!("{v} is not an allowed value"));
        }
    }
}

/// An RFC 3339 time, stored in UTC; empty means unset.
pub fn rfc3339(s: &str) -> Result<String, String> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let t = time::OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        let s = validate::quoted(s);
        format!("{s} is not an RFC 3339 time such as 2026-11-26T15:30:00Z")
    })?;
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| e.to_string())
}

fn product(c: &mut Check, p: &mut pb::Product) {
    c.id(("product", "id"), &mut p.id);
    c.required_text(("product", "title"), &mut p.title, MAX_TEXT);
    c.url(("product", "url"), &mut p.url);
    c.text(
        ("product", "description"),
        &mut p.description,
        MAX_DESCRIPTION,
    );
    c.text(("product", "vendor"), &mut p.vendor, MAX_TEXT);
    c.url(("product", "image_url"), &mut p.image_url);
    c.time(("product", "published_at"), &mut p.published_at);
    // The default variant's fields, validated as a variant's are.
    c.text(("product", "sku"), &mut p.sku, MAX_TEXT);
    c.optional_money(("product", "price"), &mut p.price);
    c.text(("product", "visibility"), &mut p.visibility, MAX_TEXT);
    let categories = c.within(
        ("product", "categories"),
        p.categories.len(),
        limits::CATEGORIES,
    );
    let images = c.within(("product", "images"), p.images.len(), limits::IMAGES);
    let variants = c.within(("product", "variants"), p.variants.len(), limits::VARIANTS);
    if !(categories && images && variants) {
        return;
    }
    for (i, cat) in p.categories.iter_mut().enumerate() {
        c.text(("product", &format!("categories[{i}]")), cat, MAX_TEXT);
    }
    let variant_ids: HashSet<String> = p.variants.iter().map(|v| v.id.trim().to_owned()).collect();
    for (i, img) in p.images.iter_mut().enumerate() {
        let path = format!("product.images[{i}]");
        c.id((&path, "id"), &mut img.id);
        c.url((&path, "url"), &mut img.url);
        if img.url.is_empty() {
            c.fail(format!("{path}.url"), "is required");
        }
        let n = img.variant_ids.len();
        if !c.within((&path, "variant_ids"), n, limits::VARIANTS) {
            continue;
        }
        for (j, v) in img.variant_ids.iter_mut().enumerate() {
            *v = v.trim().to_owned();
            if !variant_ids.contains(v.as_str()) {
                c.fail(
                    format!("{path}.variant_ids[{j}]"),
                    format!("no variant {} in this product", validate::quoted(v)),
                );
            }
        }
    }
    c.unique_ids(
        ("product", "images"),
        p.images.iter().map(|i| i.id.as_str()),
    );
    for (i, v) in p.variants.iter_mut().enumerate() {
        let path = format!("product.variants[{i}]");
        c.id((&path, "id"), &mut v.id);
        c.required_text((&path, "title"), &mut v.title, MAX_TEXT);
        c.text((&path, "sku"), &mut v.sku, MAX_TEXT);
        c.optional_money((&path, "price"), &mut v.price);
        c.url((&path, "url"), &mut v.url);
        c.url((&path, "image_url"), &mut v.image_url);
        c.text((&path, "visibility"), &mut v.visibility, MAX_TEXT);
    }
    c.unique_ids(
        ("product", "variants"),
        p.variants.iter().map(|v| v.id.as_str()),
    );
}

fn customer(c: &mut Check, x: &mut pb::Customer) {
    c.id(("customer", "id"), &mut x.id);
    c.email(("customer", "email"), &mut x.email);
    c.text(("customer", "first_name"), &mut x.first_name, MAX_TEXT);
    c.text(("customer", "last_name"), &mut x.last_name, MAX_TEXT);
    c.text(("customer", "company"), &mut x.company, MAX_TEXT);
    c.address(("customer", "address"), &mut x.address);
    c.text(("customer", "phone"), &mut x.phone, MAX_PHONE);
    c.apply(("customer", "birthday"), &mut x.birthday, birthday);
    if c.within(
        ("customer", "attributes"),
        x.attributes.len(),
        MAX_ATTRIBUTES,
    ) {
        let mut bad = Vec::new();
        for (key, value) in x.attributes.iter_mut() {
            if let Err(reason) = attribute_key(key) {
                bad.push((
                    format!("customer.attributes[{}]", validate::quoted(key)),
                    reason,
                ));
            } else if let Err(reason) = validate::text_in_place(value, MAX_TEXT) {
                bad.push((format!("customer.attributes.{key}"), reason));
            }
        }
        for (field, reason) in bad {
            c.fail(field, reason);
        }
    }
    if c.within(("customer", "groups"), x.groups.len(), MAX_GROUPS) {
        for (i, g) in x.groups.iter_mut().enumerate() {
            if let Err(reason) = validate::text_in_place(g, MAX_TEXT.min(100)) {
                c.fail(format!("customer.groups[{i}]"), reason);
            }
        }
    }
}

const MAX_GROUPS: usize = 20;

const MAX_PHONE: usize = 50;
const MAX_ATTRIBUTES: usize = 50;
const MAX_ATTRIBUTE_KEY: usize = 64;

/// A key of `Customer.attributes`: 1 to 64 characters from a-z, 0-9 and `_`.
pub fn attribute_key(key: &str) -> Result<(), String> {
    let ok = (1..=MAX_ATTRIBUTE_KEY).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "keys are 1 to {MAX_ATTRIBUTE_KEY} characters from a-z, 0-9 and _"
        ))
    }
}

/// A birthday as the shop has it: `YYYY-MM-DD`, or `MM-DD` without a year; empty for none.
fn birthday(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let parts: Vec<&str> = s.split('-').collect();
    let (month, day) = match parts.as_slice() {
        [y, m, d] if y.len() == 4 => (*m, *d),
        [m, d] => (*m, *d),
        _ => return Err("must be YYYY-MM-DD or MM-DD".into()),
    };
    let number = |p: &str| (p.len() == 2).then(|| p.parse::<u32>().ok()).flatten();
    match (number(month), number(day)) {
        (Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => Ok(s.to_owned()),
        _ => Err("must be YYYY-MM-DD or MM-DD".into()),
    }
}

/// A shipment's number and carrier.
const MAX_SHIPMENT: usize = 100;

fn order(c: &mut Check, o: &mut pb::Order) {
    c.id(("order", "id"), &mut o.id);
    c.customer_of(("order", "customer"), &mut o.customer);
    c.currency(("order", "currency_code"), &mut o.currency_code);
    c.money(("order", "order_total"), &mut o.order_total);
    c.optional_money(("order", "tax_total"), &mut o.tax_total);
    c.optional_money(("order", "shipping_total"), &mut o.shipping_total);
    c.optional_money(("order", "discount_total"), &mut o.discount_total);
    if o.lines.is_empty() {
        c.fail("order.lines", "an order needs at least one line");
    }
    c.lines(("order", "lines"), &mut o.lines);
    c.enum_value::<pb::PaymentStatus>(("order", "payment_status"), o.payment_status, true);
    c.enum_value::<pb::ShippingStatus>(("order", "shipping_status"), o.shipping_status, true);
    c.time(("order", "placed_at"), &mut o.placed_at);
    c.time(("order", "updated_at"), &mut o.updated_at);
    c.time(("order", "cancelled_at"), &mut o.cancelled_at);
    c.tracking(("order", "tracking"), &mut o.tracking);
    let promos = c.within(("order", "promos"), o.promos.len(), limits::PROMOS);
    for (i, p) in o.promos.iter_mut().enumerate().take_while(|_| promos) {
        let path = format!("order.promos[{i}]");
        c.required_text((&path, "code"), &mut p.code, MAX_ID);
        c.money((&path, "amount_discounted"), &mut p.amount_discounted);
        if !matches!(p.r#type.as_str(), "fixed" | "percent" | "") {
            c.fail(format!("{path}.type"), "must be 'fixed' or 'percent'");
        }
    }
    c.address(("order", "billing_address"), &mut o.billing_address);
    c.address(("order", "shipping_address"), &mut o.shipping_address);
    c.url(("order", "order_url"), &mut o.order_url);
    if let Some(s) = &mut o.shipment {
        c.text(
            ("order.shipment", "tracking_number"),
            &mut s.tracking_number,
            MAX_SHIPMENT,
        );
        c.text(
            ("order.shipment", "tracking_carrier"),
            &mut s.tracking_carrier,
            MAX_SHIPMENT,
        );
        c.url(("order.shipment", "tracking_url"), &mut s.tracking_url);
    }
    if !o.cart_id.is_empty() {
        c.id(("order", "cart_id"), &mut o.cart_id);
    }
}

fn cart(c: &mut Check, x: &mut pb::Cart) {
    c.id(("cart", "id"), &mut x.id);
    c.customer_of(("cart", "customer"), &mut x.customer);
    c.currency(("cart", "currency_code"), &mut x.currency_code);
    c.money(("cart", "order_total"), &mut x.order_total);
    c.optional_money(("cart", "tax_total"), &mut x.tax_total);
    c.lines(("cart", "lines"), &mut x.lines);
    c.url(("cart", "checkout_url"), &mut x.checkout_url);
    c.tracking(("cart", "tracking"), &mut x.tracking);
    c.time(("cart", "updated_at"), &mut x.updated_at);
}

fn coupon(c: &mut Check, x: &mut pb::Coupon) {
    c.id(("coupon", "id"), &mut x.id);
    c.required_text(("coupon", "code"), &mut x.code, MAX_ID);
    c.enum_value::<pb::CouponType>(("coupon", "type"), x.r#type, false);
    if x.r#type == pb::CouponType::FreeShipping as i32 {
        c.optional_money(("coupon", "value"), &mut x.value);
    } else {
        c.money(("coupon", "value"), &mut x.value);
        if x.r#type == pb::CouponType::Percent as i32
            && money::parse(&x.value).is_ok_and(|v| v > 100 * 10_000)
        {
            c.fail("coupon.value", "a percentage must be at most 100");
        }
    }
    c.text(("coupon", "comment"), &mut x.comment, MAX_TEXT);
    c.time(("coupon", "valid_from"), &mut x.valid_from);
    c.time(("coupon", "valid_until"), &mut x.valid_until);
    if !x.valid_from.is_empty() && !x.valid_until.is_empty() && x.valid_from > x.valid_until {
        c.fail("coupon.valid_until", "must not be before valid_from");
    }
    c.optional_money(("coupon", "total_min"), &mut x.total_min);
    c.optional_money(("coupon", "total_max"), &mut x.total_max);
    if let (Ok(min), Ok(max)) = (money::parse(&x.total_min), money::parse(&x.total_max)) {
        if min > max {
            c.fail("coupon.total_max", "must not be below total_min");
        }
    }
    c.non_negative(("coupon", "uses"), x.uses);
    c.non_negative(("coupon", "uses_limit"), x.uses_limit);
    c.non_negative(("coupon", "uses_limit_per_user"), x.uses_limit_per_user);
    let lists: [(&str, &mut Vec<String>); 5] = [
        ("coupon.product_ids", &mut x.product_ids),
        ("coupon.product_class_ids", &mut x.product_class_ids),
        ("coupon.membership_ids", &mut x.membership_ids),
        ("coupon.zone_ids", &mut x.zone_ids),
        ("coupon.category_ids", &mut x.category_ids),
    ];
    for (path, ids) in lists {
        if !c.within(("", path), ids.len(), limits::COUPON_IDS) {
            continue;
        }
        for (i, id) in ids.iter_mut().enumerate() {
            c.id(("", &format!("{path}[{i}]")), id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;
    use pb::record::Record as R;

    /// What each message parses to: the kind it is stored as, or the fields it is refused for.
    #[test]
    fn each_message_parses_to_a_change_or_names_its_fields() {
        let mut bad_email = testdata::customer(1);
        bad_email.email = "not an email".into();
        let mut no_lines = testdata::order(1);
        no_lines.lines.clear();
        let mut too_many_lines = testdata::order(1);
        too_many_lines.lines = vec![too_many_lines.lines[0].clone(); limits::LINES + 1];
        let mut no_id = testdata::product(1);
        no_id.id.clear();
        let unkinded = pb::RecordKey {
            kind: 0,
            id: "x".into(),
        };
        let table: Vec<(&str, Option<R>, Result<RecordKind, &str>)> = vec![
            ("empty", None, Err("record")),
            (
                "product",
                Some(R::Product(testdata::product(1))),
                Ok(RecordKind::Product),
            ),
            (
                "simple product",
                Some(R::Product(testdata::simple_product(1))),
                Ok(RecordKind::Product),
            ),
            (
                "customer",
                Some(R::Customer(testdata::customer(1))),
                Ok(RecordKind::Customer),
            ),
            (
                "order",
                Some(R::Order(testdata::order(1))),
                Ok(RecordKind::Order),
            ),
            (
                "cart",
                Some(R::Cart(testdata::cart(1))),
                Ok(RecordKind::Cart),
            ),
            (
                "coupon",
                Some(R::Coupon(testdata::coupon(1))),
                Ok(RecordKind::Coupon),
            ),
            (
                "product without id",
                Some(R::Product(no_id)),
                Err("product.id"),
            ),
            (
                "bad email",
                Some(R::Customer(bad_email)),
                Err("customer.email"),
            ),
            (
                "order without lines",
                Some(R::Order(no_lines)),
                Err("order.lines"),
            ),
            (
                "501 lines",
                Some(R::Order(too_many_lines)),
                Err("order.lines"),
            ),
            (
                "delete without kind",
                Some(R::Delete(unkinded)),
                Err("delete.kind"),
            ),
        ];
        for (name, record, expected) in table {
            let parsed = parse(pb::Record { record });
            match (parsed, expected) {
                (Ok(change), Ok(kind)) => assert_eq!(change.kind(), kind, "{name}"),
                (Err(refused), Err(field)) => assert!(
                    refused.errors.iter().any(|e| e.field == field),
                    "{name}: expected {field}, got {:?}",
                    refused.errors
                ),
                (got, want) => panic!("{name}: got {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn the_kind_table_is_in_the_enums_order_and_round_trips() {
        for (i, kind) in RecordKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
            assert_eq!(kind_from_pb(kind_to_pb(*kind) as i32), Some(*kind));
            assert_eq!(RecordKind::from_byte(kind.to_byte()), Some(*kind));
        }
        assert_eq!(kind_from_pb(0), None);
        let mut by_rank = RecordKind::ALL;
        by_rank.sort_by_key(|k| k.rank());
        assert_eq!(
            by_rank[0],
            RecordKind::Coupon,
            "coupons before the orders using them"
        );
        assert_eq!(by_rank[4], RecordKind::Cart);
    }
}
