//! Where a store's records live in Mailchimp's API, as typed requests: the rest of mcsync says
//! "update product 7 of store s" and never spells a URL path, so that the direct client and a
//! batch operation send the very same request.

use reqwest::Method;

/// An e-commerce collection of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// `products`: products and their variants.
    Products,
    /// `customers`.
    Customers,
    /// `orders`.
    Orders,
    /// `carts`.
    Carts,
    /// `promo-rules`, where coupons live (each with its codes).
    PromoRules,
}

impl Collection {
    pub(super) fn path(self) -> &'static str {
        match self {
            Collection::Products => "products",
            Collection::Customers => "customers",
            Collection::Orders => "orders",
            Collection::Carts => "carts",
            Collection::PromoRules => "promo-rules",
        }
    }

    /// The array a page of the collection holds its items in.
    pub(super) fn field(self) -> &'static str {
        match self {
            Collection::PromoRules => "promo_rules",
            other => other.path(),
        }
    }
}

/// What a request does to a record, which decides how it may be retried and how a batch's
/// answer to it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `POST` to the collection: never sent twice after an ambiguous answer.
    Create,
    /// `PATCH` of one record.
    Update,
    /// `PUT` of one record: Mailchimp's upsert (customers, variants).
    Upsert,
    /// `DELETE` of one record.
    Delete,
}

impl Verb {
    pub(super) fn method(self) -> Method {
        match self {
            Verb::Create => Method::POST,
            Verb::Update => Method::PATCH,
            Verb::Upsert => Method::PUT,
            Verb::Delete => Method::DELETE,
        }
    }

    /// The method's name, as a batch operation spells it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Verb::Create => "POST",
            Verb::Update => "PATCH",
            Verb::Upsert => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

/// One request on a store's records, for [`AccountClient::execute`](super::AccountClient::execute)
/// or a batch operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(super) verb: Verb,
    /// Relative to the API root.
    pub(super) path: String,
}

impl Request {
    /// What the request does, which decides its retries and how a batch's answer is read.
    pub fn verb(&self) -> Verb {
        self.verb
    }

    /// The path, relative to the API root (for logs and tests; requests are sent by
    /// [`AccountClient::execute`](super::AccountClient::execute)).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The records of one collection of a store, or the promo codes of one promo rule.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    store_id: &'a str,
    of: Of<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Of<'a> {
    Collection(Collection),
    PromoCodes { rule_id: &'a str },
}

impl<'a> Records<'a> {
    /// A store's collection.
    pub fn new(store_id: &'a str, collection: Collection) -> Self {
        Self {
            store_id,
            of: Of::Collection(collection),
        }
    }

    /// A promo rule's codes (a coupon is a rule with one code).
    pub fn promo_codes(store_id: &'a str, rule_id: &'a str) -> Self {
        Self {
            store_id,
            of: Of::PromoCodes { rule_id },
        }
    }

    pub(super) fn path(&self) -> String {
        let store = store_path(self.store_id);
        match self.of {
            Of::Collection(c) => format!("{store}/{}", c.path()),
            Of::PromoCodes { rule_id } => {
                format!("{store}/promo-rules/{}/promo-codes", seg(rule_id))
            }
        }
    }

    fn item(&self, id: &str) -> String {
        format!("{}/{}", self.path(), seg(id))
    }

    /// `POST` to the collection: a new record.
    pub fn create(&self) -> Request {
        Request {
            verb: Verb::Create,
            path: self.path(),
        }
    }

    /// `PATCH` of record `id`.
    pub fn update(&self, id: &str) -> Request {
        self.on(Verb::Update, id)
    }

    /// `PUT` of record `id`: Mailchimp's upsert.
    pub fn upsert(&self, id: &str) -> Request {
        self.on(Verb::Upsert, id)
    }

    /// `DELETE` of record `id`.
    pub fn delete(&self, id: &str) -> Request {
        self.on(Verb::Delete, id)
    }

    fn on(&self, verb: Verb, id: &str) -> Request {
        Request {
            verb,
            path: self.item(id),
        }
    }
}

/// A product's variant: `PUT` makes or replaces it, `DELETE` removes it.
pub fn variant(store_id: &str, product_id: &str, variant_id: &str, verb: Verb) -> Request {
    Request {
        verb,
        path: format!(
            "{}/{}/variants/{}",
            Records::new(store_id, Collection::Products).path(),
            seg(product_id),
            seg(variant_id)
        ),
    }
}

pub(super) const STORES: &str = "/ecommerce/stores";

pub(super) fn store_path(store_id: &str) -> String {
    format!("{STORES}/{}", seg(store_id))
}

/// Percent-encodes one path segment; Mailchimp ids are usually safe, shop-chosen ids may not be.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_built_from_percent_encoded_segments() {
        let products = Records::new("s 1", Collection::Products);
        assert_eq!(products.create().path, "/ecommerce/stores/s%201/products");
        assert_eq!(
            products.update("a/b").path,
            "/ecommerce/stores/s%201/products/a%2Fb"
        );
        let codes = Records::promo_codes("s", "r");
        assert_eq!(
            codes.upsert("c").path,
            "/ecommerce/stores/s/promo-rules/r/promo-codes/c"
        );
        assert_eq!(
            variant("s", "p", "v", Verb::Delete).path,
            "/ecommerce/stores/s/products/p/variants/v"
        );
        assert_eq!(products.delete("x").verb().method(), Method::DELETE);
    }
}
