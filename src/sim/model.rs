//! The simulator's shared state types, which the route handlers, the e-commerce resources,
//! the batches and the accounts all use (and which use none of them): a store and its
//! resources, a batch, the e-commerce paths served, paging, Mailchimp's timestamps.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::problem::SimError;

/// A resource as Mailchimp would return it, kept as compact JSON text: parsed, a document
/// takes about ten times the memory, and a store of a million orders would not fit.
#[derive(Debug, Clone)]
pub struct Doc(Box<str>);

impl Doc {
    pub fn new(resource: &Map<String, Value>) -> Self {
        Self(
            serde_json::to_string(resource)
                .expect("a JSON map serialises")
                .into_boxed_str(),
        )
    }

    /// The resource, parsed.
    pub fn map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0).expect("a document the simulator wrote")
    }

    /// The resource as a JSON value.
    pub fn value(&self) -> Value {
        Value::Object(self.map())
    }
}

/// One store and its resources, each kept as the JSON Mailchimp would return.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub body: Map<String, Value>,
    pub products: BTreeMap<String, Doc>,
    pub customers: BTreeMap<String, Doc>,
    pub orders: BTreeMap<String, Doc>,
    pub carts: BTreeMap<String, Doc>,
    pub promo_rules: BTreeMap<String, Doc>,
    pub promo_codes: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
}

impl Store {
    /// Resources per kind, for `/__sim/stats`.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let codes: usize = self.promo_codes.values().map(BTreeMap::len).sum();
        [
            ("products", self.products.len()),
            ("customers", self.customers.len()),
            ("orders", self.orders.len()),
            ("carts", self.carts.len()),
            ("promo_rules", self.promo_rules.len()),
            ("promo_codes", codes),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_owned(), n as u64))
        .collect()
    }

    /// A collection by its key (`products`, `customers`, `orders`, `carts`; anything else is the
    /// promo rules).
    pub fn collection(&self, key: &str) -> &BTreeMap<String, Doc> {
        match key {
            "products" => &self.products,
            "customers" => &self.customers,
            "orders" => &self.orders,
            "carts" => &self.carts,
            _ => &self.promo_rules,
        }
    }

    pub(super) fn has_variant(&self, product: &str, variant: &str) -> bool {
        self.products
            .get(product)
            .map(Doc::map)
            .as_ref()
            .and_then(|p| p.get("variants"))
            .and_then(Value::as_array)
            .is_some_and(|vs| {
                vs.iter()
                    .any(|v| v.get("id").and_then(Value::as_str) == Some(variant))
            })
    }
}

/// The e-commerce paths the simulator serves, as the spec writes them.
pub const ECOMMERCE: &[&str] = &[
    "/ecommerce/stores",
    "/ecommerce/stores/{store_id}",
    "/ecommerce/stores/{store_id}/products",
    "/ecommerce/stores/{store_id}/products/{product_id}",
    "/ecommerce/stores/{store_id}/products/{product_id}/variants",
    "/ecommerce/stores/{store_id}/products/{product_id}/variants/{variant_id}",
    "/ecommerce/stores/{store_id}/customers",
    "/ecommerce/stores/{store_id}/customers/{customer_id}",
    "/ecommerce/stores/{store_id}/orders",
    "/ecommerce/stores/{store_id}/orders/{order_id}",
    "/ecommerce/stores/{store_id}/carts",
    "/ecommerce/stores/{store_id}/carts/{cart_id}",
    "/ecommerce/stores/{store_id}/promo-rules",
    "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}",
    "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes",
    "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes/{promo_code_id}",
];

#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    pub(super) status: &'static str,
    pub(super) total: usize,
    pub(super) finished: usize,
    pub(super) errored: usize,
    pub(super) submitted_at: String,
    pub(super) completed_at: Option<String>,
    pub(super) response_body_url: Option<String>,
}

impl Batch {
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "total_operations": self.total,
            "finished_operations": self.finished,
            "errored_operations": self.errored,
            "submitted_at": self.submitted_at,
            "completed_at": self.completed_at.clone().unwrap_or_default(),
            "response_body_url": self.response_body_url.clone().unwrap_or_default(),
            "_links": [],
        })
    }

    pub(super) fn unfinished(&self) -> bool {
        self.status != "finished"
    }
}

/// The time now as Mailchimp writes it.
pub fn now_iso() -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_default()
}

/// count (1..=1000, default 10) and offset (default 0), as every Mailchimp collection takes them.
pub(super) fn paging(q: &HashMap<String, String>) -> Result<(usize, usize), SimError> {
    let int = |name: &str, default: usize| -> Result<usize, SimError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<usize>().map_err(|_| {
                SimError::schema(
                    name,
                    &format!("Schema describes integer, \"{v}\" found instead"),
                )
            }),
        }
    };
    let count = int("count", 10)?;
    if !(1..=1000).contains(&count) {
        return Err(SimError::schema(
            "count",
            "The count must be between 1 and 1000.",
        ));
    }
    Ok((count, int("offset", 0)?))
}
