//! The simulator's e-commerce API: stores and what lives in them. Bodies are checked against
//! the spec ([`super::schema`]); on top of that, the rules Mailchimp applies that a schema
//! cannot say (shared/mailchimp/API-NOTES.md): ids chosen by the client and unique ("already
//! exists"), one store domain per account, a store's list never changes, order and cart lines
//! only for existing products and variants, a customer's email never changes.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::model::{Doc, Store, now_iso};
use super::problem::SimError;
use super::schema;
use super::world::Account;

/// A request for one e-commerce operation.
pub struct Request<'a> {
    pub method: &'a str,
    /// The spec's template without `/3.0`, e.g. `/ecommerce/stores/{store_id}/products`.
    pub template: &'a str,
    pub params: &'a HashMap<String, String>,
    pub paging: (usize, usize),
    pub body: Option<Value>,
}

pub enum Answer {
    Json(Value),
    NoContent,
}

fn param<'a>(r: &'a Request, name: &str) -> &'a str {
    r.params.get(name).map(String::as_str).unwrap_or_default()
}

fn already_exists(account: &mut Account, what: &str) -> SimError {
    *account
        .duplicate_creates
        .entry(what.to_owned())
        .or_default() += 1;
    SimError::bad_request(
        "Invalid Resource",
        &format!("A {what} with the provided ID already exists in the account."),
    )
}

/// One page of a collection; only what the page shows is cloned (large stores are paged often).
fn page<'a, T: 'a>(
    all: impl ExactSizeIterator<Item = &'a T>,
    show: impl Fn(&T) -> Value,
    key: &str,
    (count, offset): (usize, usize),
    extra: Value,
) -> Value {
    let total = all.len();
    let page: Vec<Value> = all.skip(offset).take(count).map(show).collect();
    let mut out = json!({key: page, "total_items": total, "_links": []});
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    out
}

fn object(body: Option<Value>) -> Result<Map<String, Value>, SimError> {
    match body {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(SimError::schema(
            "body",
            "Schema describes object, other type found instead",
        )),
    }
}

fn id_of(m: &Map<String, Value>) -> String {
    m.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn stamp(m: &mut Map<String, Value>, created: bool) {
    let now = Value::String(now_iso());
    if created {
        m.insert("created_at".into(), now.clone());
    }
    m.insert("updated_at".into(), now);
}

/// Handles one operation on the account's stores.
pub fn handle(account: &mut Account, r: Request) -> Result<Answer, SimError> {
    // The path is resolved before the body is judged: a missing parent is 404 whatever the body.
    if let Some(store_id) = r.params.get("store_id") {
        let store = account
            .stores
            .get(store_id)
            .ok_or_else(SimError::not_found)?;
        let missing =
            |key: &str, map: &dyn Fn(&str) -> bool| r.params.get(key).is_some_and(|id| !map(id));
        if missing("promo_rule_id", &|id| store.promo_rules.contains_key(id))
            || (r.template.contains("/variants")
                && missing("product_id", &|id| store.products.contains_key(id)))
        {
            return Err(SimError::not_found());
        }
    }
    if let Some(body) = &r.body {
        let errors = schema::check(r.method, r.template, body);
        if !errors.is_empty() {
            let errors = errors
                .iter()
                .map(|(f, m)| (f.as_str(), m.clone()))
                .collect();
            return Err(SimError::invalid_resource(errors));
        }
    }
    let t = r
        .template
        .strip_prefix("/ecommerce/stores")
        .unwrap_or(r.template);
    match (r.method, t) {
        ("GET", "") => {
            let show = |s: &Store| Value::Object(s.body.clone());
            let stores = account.stores.values();
            Ok(Answer::Json(page(
                stores,
                show,
                "stores",
                r.paging,
                json!({}),
            )))
        }
        ("POST", "") => create_store(account, object(r.body)?),
        ("GET", "/{store_id}") => Ok(Answer::Json(Value::Object(
            store(account, &r)?.body.clone(),
        ))),
        ("PATCH", "/{store_id}") => patch_store(account, &r),
        ("DELETE", "/{store_id}") => {
            account
                .stores
                .remove(param(&r, "store_id"))
                .ok_or_else(SimError::not_found)?;
            Ok(Answer::NoContent)
        }
        _ => in_store(account, r, t),
    }
}

fn store<'a>(account: &'a Account, r: &Request) -> Result<&'a Store, SimError> {
    account
        .stores
        .get(param(r, "store_id"))
        .ok_or_else(SimError::not_found)
}

fn create_store(account: &mut Account, mut body: Map<String, Value>) -> Result<Answer, SimError> {
    let id = id_of(&body);
    if account.stores.contains_key(&id) {
        return Err(already_exists(account, "store"));
    }
    let list_id = body
        .get("list_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if account.list(list_id).is_err() {
        return Err(SimError::invalid_resource(vec![(
            "list_id",
            format!("The list '{list_id}' does not exist."),
        )]));
    }
    check_domain(account, &id, &body)?;
    body.entry("platform").or_insert(json!(""));
    body.entry("is_syncing").or_insert(json!(false));
    stamp(&mut body, true);
    account.stores.insert(
        id,
        Store {
            body: body.clone(),
            ..Store::default()
        },
    );
    Ok(Answer::Json(Value::Object(body)))
}

fn check_domain(account: &Account, id: &str, body: &Map<String, Value>) -> Result<(), SimError> {
    let Some(domain) = body
        .get("domain")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    else {
        return Ok(());
    };
    let taken = account.stores.values().any(|s| {
        id_of(&s.body) != id && s.body.get("domain").and_then(Value::as_str) == Some(domain)
    });
    if taken {
        return Err(SimError::bad_request(
            "Invalid Resource",
            &format!("A store with the domain '{domain}' already exists in the account."),
        ));
    }
    Ok(())
}

fn patch_store(account: &mut Account, r: &Request) -> Result<Answer, SimError> {
    let id = param(r, "store_id").to_owned();
    let patch = object(r.body.clone())?;
    store(account, r)?;
    for immutable in ["id", "list_id"] {
        let current = account.stores[&id].body.get(immutable).cloned();
        if patch
            .get(immutable)
            .is_some_and(|v| Some(v) != current.as_ref())
        {
            return Err(SimError::invalid_resource(vec![(
                immutable,
                format!("The {immutable} of a store cannot be changed."),
            )]));
        }
    }
    check_domain(account, &id, &patch)?;
    let s = account.stores.get_mut(&id).expect("checked above");
    s.body.extend(patch);
    stamp(&mut s.body, false);
    Ok(Answer::Json(Value::Object(s.body.clone())))
}

/// Which collection of a store a template is about, and the name of its id parameter.
fn collection(t: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let segment = t.trim_start_matches("/{store_id}/").split('/').next()?;
    Some(match segment {
        "products" => ("products", "product_id", "product"),
        "customers" => ("customers", "customer_id", "customer"),
        "orders" => ("orders", "order_id", "order"),
        "carts" => ("carts", "cart_id", "cart"),
        "promo-rules" => ("promo_rules", "promo_rule_id", "promo rule"),
        _ => return None,
    })
}

fn in_store(account: &mut Account, r: Request, t: &str) -> Result<Answer, SimError> {
    let store_id = param(&r, "store_id").to_owned();
    if !account.stores.contains_key(&store_id) {
        return Err(SimError::not_found());
    }
    if t.contains("/variants") {
        return variants(account, &store_id, r);
    }
    if t.contains("/promo-codes") {
        return promo_codes(account, &store_id, r);
    }
    let (key, id_param, what) = collection(t).ok_or_else(SimError::not_found)?;
    let one = t.ends_with('}');
    let id = param(&r, id_param).to_owned();
    match (r.method, one) {
        ("GET", false) => {
            let all = items(account, &store_id, key).values();
            Ok(Answer::Json(page(
                all,
                Doc::value,
                key,
                r.paging,
                json!({"store_id": store_id}),
            )))
        }
        ("GET", true) => {
            let item = items(account, &store_id, key)
                .get(&id)
                .ok_or_else(SimError::not_found)?;
            Ok(Answer::Json(item.value()))
        }
        ("DELETE", true) => {
            items_mut(account, &store_id, key)
                .remove(&id)
                .ok_or_else(SimError::not_found)?;
            if key == "promo_rules" {
                account
                    .stores
                    .get_mut(&store_id)
                    .expect("checked")
                    .promo_codes
                    .remove(&id);
            }
            Ok(Answer::NoContent)
        }
        ("POST", false) => {
            let body = object(r.body)?;
            let id = id_of(&body);
            if items(account, &store_id, key).contains_key(&id) {
                return Err(already_exists(account, what));
            }
            write(account, &store_id, key, id, body, true)
        }
        ("PUT", true) => {
            let body = object(r.body)?;
            let exists = items(account, &store_id, key).contains_key(&id);
            write(account, &store_id, key, id, body, !exists)
        }
        ("PATCH", true) => {
            let patch = object(r.body)?;
            let mut merged = items(account, &store_id, key)
                .get(&id)
                .ok_or_else(SimError::not_found)?
                .map();
            if key == "products" {
                merge_variants(&mut merged, &patch);
            }
            let mut patch = patch;
            if matches!(key, "orders" | "carts") {
                match_lines(&merged, &mut patch);
            }
            for (k, v) in patch {
                if !(key == "products" && k == "variants") {
                    merged.insert(k, v);
                }
            }
            write(account, &store_id, key, id, merged, false)
        }
        _ => Err(method_not_allowed()),
    }
}

fn method_not_allowed() -> SimError {
    SimError::new(
        405,
        "Method Not Allowed",
        "The requested method and resource are not compatible.",
    )
}

fn items<'a>(account: &'a Account, store_id: &str, key: &str) -> &'a BTreeMap<String, Doc> {
    account.stores[store_id].collection(key)
}

fn items_mut<'a>(
    account: &'a mut Account,
    store_id: &str,
    key: &str,
) -> &'a mut BTreeMap<String, Doc> {
    let s = account
        .stores
        .get_mut(store_id)
        .expect("the caller checked the store");
    match key {
        "products" => &mut s.products,
        "customers" => &mut s.customers,
        "orders" => &mut s.orders,
        "carts" => &mut s.carts,
        _ => &mut s.promo_rules,
    }
}

/// Checks what a schema cannot, then stores the resource.
fn write(
    account: &mut Account,
    store_id: &str,
    key: &str,
    id: String,
    mut body: Map<String, Value>,
    created: bool,
) -> Result<Answer, SimError> {
    match key {
        "products"
            if body
                .get("variants")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty) =>
        {
            return Err(SimError::invalid_resource(vec![(
                "variants",
                "A product needs at least one variant.".into(),
            )]));
        }
        "customers" => check_customer_email(&account.stores[store_id], &id, &body)?,
        "orders" | "carts" => {
            check_lines(&account.stores[store_id], &body)?;
            upsert_embedded_customer(account, store_id, &body)?;
        }
        _ => {}
    }
    body.insert("id".into(), Value::String(id.clone()));
    stamp(&mut body, created);
    if key == "customers" {
        join_audience(account, store_id, &body);
    }
    items_mut(account, store_id, key).insert(id, Doc::new(&body));
    Ok(Answer::Json(Value::Object(body)))
}

fn check_customer_email(
    store: &Store,
    id: &str,
    body: &Map<String, Value>,
) -> Result<(), SimError> {
    let (Some(existing), Some(new)) = (
        store.customers.get(id).map(Doc::map),
        body.get("email_address").and_then(Value::as_str),
    ) else {
        return Ok(());
    };
    if existing
        .get("email_address")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.eq_ignore_ascii_case(new))
    {
        return Err(SimError::bad_request(
            "Invalid Resource",
            "An email address may not be changed",
        ));
    }
    Ok(())
}

fn check_lines(store: &Store, body: &Map<String, Value>) -> Result<(), SimError> {
    for line in body
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let product = line
            .get("product_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let variant = line
            .get("product_variant_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !store.products.contains_key(product) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "A product with the provided ID does not exist in the account for this list.",
            ));
        }
        if !store.has_variant(product, variant) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "A product variant with the provided ID does not exist in the account for this list.",
            ));
        }
    }
    Ok(())
}

/// An order or cart names its customer; Mailchimp creates the customer when it is new (which
/// needs an email) and refuses an email change for an existing one.
fn upsert_embedded_customer(
    account: &mut Account,
    store_id: &str,
    body: &Map<String, Value>,
) -> Result<(), SimError> {
    let Some(Value::Object(c)) = body.get("customer") else {
        return Ok(());
    };
    let id = id_of(c);
    let store = account
        .stores
        .get_mut(store_id)
        .expect("the caller checked the store");
    check_customer_email(store, &id, c)?;
    if let std::collections::btree_map::Entry::Vacant(slot) = store.customers.entry(id) {
        if c.get("email_address")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(SimError::invalid_resource(vec![(
                "customer.email_address",
                "An email address is required to create a new customer.".into(),
            )]));
        }
        let mut customer = c.clone();
        customer.entry("opt_in_status").or_insert(json!(false));
        stamp(&mut customer, true);
        slot.insert(Doc::new(&customer));
        join_audience(account, store_id, &customer);
    }
    Ok(())
}

/// What Mailchimp does with a customer's email: one new to the store's audience becomes a
/// member (`opt_in_status` true: subscribed, else transactional); an existing member's status
/// never changes (shared/mailchimp/API-NOTES.md).
fn join_audience(account: &mut Account, store_id: &str, customer: &Map<String, Value>) {
    let list_id = account.stores[store_id]
        .body
        .get("list_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let email = customer
        .get("email_address")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let opt_in = customer.get("opt_in_status") == Some(&json!(true));
    // A new member gets the customer's names as FNAME and LNAME.
    let mut names = Map::new();
    for (field, tag) in [("first_name", "FNAME"), ("last_name", "LNAME")] {
        if let Some(Value::String(v)) = customer.get(field) {
            names.insert(tag.into(), json!(v));
        }
    }
    if let (Ok(list), false) = (account.list_mut(&list_id), email.is_empty()) {
        list.join_as_customer_named(email, opt_in, names);
    }
}

/// A PATCH of an order's or a cart's lines (each with its id: [`schema::check`] refuses one
/// without, as Mailchimp does): a line that names an existing id updates that line, whose
/// fields the PATCH does not send are kept; the PATCH's lines become the resource's lines.
fn match_lines(existing: &Map<String, Value>, patch: &mut Map<String, Value>) {
    let (Some(Value::Array(old)), Some(Value::Array(lines))) =
        (existing.get("lines"), patch.get_mut("lines"))
    else {
        return;
    };
    for line in lines.iter_mut() {
        let before = old.iter().find(|l| l.get("id") == line.get("id"));
        if let (Some(Value::Object(before)), Some(l)) = (before, line.as_object_mut()) {
            for (k, v) in before {
                l.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

/// A PATCH of a product updates the variants it names and keeps the others.
fn merge_variants(product: &mut Map<String, Value>, patch: &Map<String, Value>) {
    let Some(new) = patch.get("variants").and_then(Value::as_array) else {
        return;
    };
    let variants = product.entry("variants").or_insert(json!([]));
    let Some(list) = variants.as_array_mut() else {
        return;
    };
    for v in new {
        let id = v.get("id").and_then(Value::as_str);
        match list
            .iter_mut()
            .find(|x| x.get("id").and_then(Value::as_str) == id)
        {
            Some(existing) => {
                if let (Some(e), Some(n)) = (existing.as_object_mut(), v.as_object()) {
                    e.extend(n.clone());
                }
            }
            None => list.push(v.clone()),
        }
    }
}

fn variants(account: &mut Account, store_id: &str, r: Request) -> Result<Answer, SimError> {
    let product_id = param(&r, "product_id").to_owned();
    let variant_id = param(&r, "variant_id").to_owned();
    let store = account.stores.get_mut(store_id).expect("checked");
    let mut product = store
        .products
        .get(&product_id)
        .ok_or_else(SimError::not_found)?
        .map();
    let list = product
        .entry("variants")
        .or_insert(json!([]))
        .as_array_mut()
        .expect("variants are an array");
    let pos = list
        .iter()
        .position(|v| v.get("id").and_then(Value::as_str) == Some(variant_id.as_str()));
    let answer = match (r.method, r.template.ends_with("{variant_id}")) {
        ("GET", false) => {
            return Ok(Answer::Json(page(
                list.iter(),
                Value::clone,
                "variants",
                r.paging,
                json!({"store_id": store_id, "product_id": product_id}),
            )));
        }
        ("GET", true) => {
            return Ok(Answer::Json(
                list.get(pos.ok_or_else(SimError::not_found)?)
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
        ("PUT", true) | ("PATCH", true) => {
            let mut body = object(r.body)?;
            body.insert("id".into(), Value::String(variant_id));
            match pos {
                Some(i) => {
                    if let Some(e) = list[i].as_object_mut() {
                        e.extend(body);
                    }
                    Answer::Json(list[i].clone())
                }
                None if r.method == "PUT" => {
                    list.push(Value::Object(body.clone()));
                    Answer::Json(Value::Object(body))
                }
                None => return Err(SimError::not_found()),
            }
        }
        ("DELETE", true) => {
            list.remove(pos.ok_or_else(SimError::not_found)?);
            Answer::NoContent
        }
        _ => return Err(method_not_allowed()),
    };
    store.products.insert(product_id, Doc::new(&product));
    Ok(answer)
}

fn promo_codes(account: &mut Account, store_id: &str, r: Request) -> Result<Answer, SimError> {
    let rule_id = param(&r, "promo_rule_id").to_owned();
    let code_id = param(&r, "promo_code_id").to_owned();
    if !account.stores[store_id].promo_rules.contains_key(&rule_id) {
        return Err(SimError::not_found());
    }
    let one = r.template.ends_with("{promo_code_id}");
    if r.method == "POST" && !one {
        let body = object(r.body.clone())?;
        let exists = account.stores[store_id]
            .promo_codes
            .get(&rule_id)
            .is_some_and(|c| c.contains_key(&id_of(&body)));
        if exists {
            return Err(already_exists(account, "promo code"));
        }
    }
    let codes = account
        .stores
        .get_mut(store_id)
        .expect("checked")
        .promo_codes
        .entry(rule_id.clone())
        .or_default();
    match (r.method, one) {
        ("GET", false) => Ok(Answer::Json(page(
            codes.values(),
            |c| Value::Object(c.clone()),
            "promo_codes",
            r.paging,
            json!({"store_id": store_id}),
        ))),
        ("GET", true) => Ok(Answer::Json(Value::Object(
            codes.get(&code_id).ok_or_else(SimError::not_found)?.clone(),
        ))),
        ("POST", false) => {
            let mut body = object(r.body)?;
            body.entry("usage_count").or_insert(json!(0));
            body.entry("enabled").or_insert(json!(true));
            stamp(&mut body, true);
            codes.insert(id_of(&body), body.clone());
            Ok(Answer::Json(Value::Object(body)))
        }
        ("PATCH", true) => {
            let code = codes.get_mut(&code_id).ok_or_else(SimError::not_found)?;
            code.extend(object(r.body)?);
            stamp(code, false);
            Ok(Answer::Json(Value::Object(code.clone())))
        }
        ("DELETE", true) => {
            codes.remove(&code_id).ok_or_else(SimError::not_found)?;
            Ok(Answer::NoContent)
        }
        _ => Err(method_not_allowed()),
    }
}
