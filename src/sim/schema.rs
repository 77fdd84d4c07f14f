//! Request-body validation against Mailchimp's OpenAPI spec itself (the vendored copy), so that
//! the simulator refuses what the spec refuses, and every request mcsync sends is checked
//! against the contract. Covers the keywords the spec's request schemas use: `$ref`, `type`,
//! `required`, `properties`, `items`, `enum`, `maxLength`, `format: date-time`.

use std::sync::OnceLock;

use serde_json::Value;

static SPEC: OnceLock<Value> = OnceLock::new();

fn spec() -> &'static Value {
    SPEC.get_or_init(|| {
        serde_json::from_str(include_str!("../../spec/mailchimp-marketing-openapi.json"))
            .expect("the vendored spec is valid JSON")
    })
}

/// Whether the spec has this operation (method on path template, without `/3.0`).
pub fn has_operation(method: &str, template: &str) -> bool {
    spec()
        .get("paths")
        .and_then(|p| p.get(template))
        .and_then(|p| p.get(method.to_lowercase()))
        .is_some()
}

/// The request-body schema of an operation, by the spec's path template (without `/3.0`).
fn request_schema(method: &str, template: &str) -> Option<&'static Value> {
    let op = spec()
        .get("paths")?
        .get(template)?
        .get(method.to_lowercase())?;
    op.pointer("/requestBody/content/application~1json/schema")
}

fn resolve(schema: &'static Value) -> &'static Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => spec().pointer(&r[1..]).map(resolve).unwrap_or(&Value::Null),
        None => schema,
    }
}

/// Limits Mailchimp enforces that the spec does not state (shared/mailchimp/API-NOTES.md):
/// (path template, top-level field, maximum characters).
const LIMITS_BEYOND_THE_SPEC: &[(&str, &str, usize)] = &[
    ("/ecommerce/stores/{store_id}/promo-rules", "id", 50),
    (
        "/ecommerce/stores/{store_id}/promo-rules",
        "description",
        255,
    ),
    (
        "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}",
        "description",
        255,
    ),
    (
        "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes",
        "id",
        50,
    ),
    (
        "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes",
        "code",
        50,
    ),
    (
        "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes/{promo_code_id}",
        "code",
        50,
    ),
];

/// Field errors (path, message) of `body` against the operation's schema; empty when valid or
/// when the spec has no body schema for the operation.
pub fn check(method: &str, template: &str, body: &Value) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if let Some(schema) = request_schema(method, template) {
        walk(resolve(schema), body, "", &mut errors);
    }
    for (t, field, max) in LIMITS_BEYOND_THE_SPEC {
        if *t == template {
            if let Some(s) = body.get(field).and_then(Value::as_str) {
                if s.chars().count() > *max {
                    errors.push((
                        (*field).to_owned(),
                        format!(
                            "String is too long ({} chars), maximum {max}",
                            s.chars().count()
                        ),
                    ));
                }
            }
        }
    }
    for (m, t, array, field) in REQUIRED_BEYOND_THE_SPEC {
        if *m == method && *t == template {
            let items = body.get(array).and_then(Value::as_array);
            for (i, item) in items.into_iter().flatten().enumerate() {
                if item
                    .get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push((
                        format!("{array}.{i}.{field}"),
                        "This value should not be blank.".into(),
                    ));
                }
            }
        }
    }
    errors
}

/// Item fields Mailchimp requires that the spec's schema omits (API-NOTES.md, "Spec quirks"):
/// it matches an order's or a cart's lines by id on update, so a PATCH line without one is
/// refused, named as Mailchimp names it (`lines.0.id`). (method, path template, array, field.)
const REQUIRED_BEYOND_THE_SPEC: &[(&str, &str, &str, &str)] = &[
    (
        "PATCH",
        "/ecommerce/stores/{store_id}/orders/{order_id}",
        "lines",
        "id",
    ),
    (
        "PATCH",
        "/ecommerce/stores/{store_id}/carts/{cart_id}",
        "lines",
        "id",
    ),
];

/// Fields the spec leaves out but Mailchimp needs (API-NOTES.md, "Spec quirks"): (method, path
/// template, field path with `[]` for any array index).
const QUIRKS: &[(&str, &str, &str)] = &[
    (
        "PATCH",
        "/ecommerce/stores/{store_id}/products/{product_id}",
        "variants[].id",
    ),
    (
        "PATCH",
        "/ecommerce/stores/{store_id}/orders/{order_id}",
        "lines[].id",
    ),
    (
        "PATCH",
        "/ecommerce/stores/{store_id}/carts/{cart_id}",
        "lines[].id",
    ),
];

/// The fields of `body` that the operation's schema does not define (dotted paths, `[i]` for
/// array items); Mailchimp ignores them at best, so a careful client sends none.
pub fn unknown_fields(method: &str, template: &str, body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schema) = request_schema(method, template) {
        extra(resolve(schema), body, "", &mut out);
    }
    out.retain(|field| {
        let generic = strip_indexes(field);
        !QUIRKS
            .iter()
            .any(|(m, t, f)| *m == method && *t == template && *f == generic)
    });
    out
}

/// A field path with its array indexes generalised (`lines[3].id` → `lines[].id`).
pub(super) fn strip_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut skipping = false;
    for ch in path.chars() {
        match ch {
            '[' => {
                skipping = true;
                out.push_str("[]");
            }
            ']' => skipping = false,
            c if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

fn extra(schema: &'static Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(schema);
    match value {
        Value::Object(obj) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            let open = schema
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false));
            for (name, v) in obj {
                match props.get(name) {
                    Some(sub) => extra(sub, v, &join(path, name), out),
                    None if !open => out.push(join(path, name)),
                    None => {}
                }
            }
        }
        Value::Array(arr) => {
            if let Some(items) = schema.get("items") {
                for (i, v) in arr.iter().enumerate() {
                    extra(items, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn walk(schema: &'static Value, value: &Value, path: &str, errors: &mut Vec<(String, String)>) {
    let schema = resolve(schema);
    let field = if path.is_empty() { "body" } else { path };
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            errors.push((
                field.to_owned(),
                format!("Schema describes {t}, {} found instead", kind(value)),
            ));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let names: Vec<String> = allowed
                .iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
                .collect();
            errors.push((
                field.to_owned(),
                format!("Value must be one of: {}", names.join(", ")),
            ));
        }
    }
    if let (Some(max), Some(s)) = (
        schema.get("maxLength").and_then(Value::as_u64),
        value.as_str(),
    ) {
        if s.chars().count() as u64 > max {
            errors.push((
                field.to_owned(),
                format!(
                    "String is too long ({} chars), maximum {max}",
                    s.chars().count()
                ),
            ));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        if let Some(s) = value.as_str() {
            if !s.is_empty()
                && time::OffsetDateTime::parse(
                    s,
                    &time::format_description::well_known::Iso8601::DEFAULT,
                )
                .is_err()
            {
                errors.push((
                    field.to_owned(),
                    "Value must be an ISO 8601 date-time".into(),
                ));
            }
        }
    }
    if let Some(obj) = value.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = req.as_str() {
                if obj.get(name).is_none_or(Value::is_null) {
                    errors.push((join(path, name), "This value should not be blank.".into()));
                }
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                if let Some(v) = obj.get(name).filter(|v| !v.is_null()) {
                    walk(sub, v, &join(path, name), errors);
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            walk(items, v, &format!("{field}[{i}]"), errors);
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_a_schema_lacks_are_listed() {
        let customer = json!({"id": "c", "email_address": "a@b.co", "opt_in_status": false,
            "orders_count": 3, "address": {"city": "X", "planet": "Mars"}});
        assert_eq!(
            unknown_fields(
                "PUT",
                "/ecommerce/stores/{store_id}/customers/{customer_id}",
                &customer
            ),
            ["address.planet", "orders_count"]
        );
        let patch = json!({"id": "o1", "lines": [{"id": "l1", "product_id": "p", "quantity": 1}]});
        assert_eq!(
            unknown_fields(
                "PATCH",
                "/ecommerce/stores/{store_id}/orders/{order_id}",
                &patch
            ),
            ["id"],
            "a line's id is the spec quirk of API-NOTES.md"
        );
        let product = json!({"title": "t", "variants": [{"id": "v", "title": "t"}]});
        assert!(
            unknown_fields(
                "PATCH",
                "/ecommerce/stores/{store_id}/products/{product_id}",
                &product
            )
            .is_empty(),
            "the spec quirk of API-NOTES.md"
        );
    }

    #[test]
    fn an_order_or_cart_patch_line_without_its_id_is_refused_by_name() {
        for template in [
            "/ecommerce/stores/{store_id}/orders/{order_id}",
            "/ecommerce/stores/{store_id}/carts/{cart_id}",
        ] {
            let patch = json!({"lines": [
                {"id": "l1", "product_id": "p", "product_variant_id": "v", "quantity": 1, "price": 1},
                {"product_id": "p", "product_variant_id": "v", "quantity": 2, "price": 1},
            ]});
            let errors = check("PATCH", template, &patch);
            let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(fields, ["lines.1.id"], "{template}");
            let mut named = patch.clone();
            named["lines"][1]["id"] = json!("l2");
            assert!(check("PATCH", template, &named).is_empty(), "{template}");
            assert!(check("PATCH", template, &json!({"order_total": 3})).is_empty());
        }
    }

    #[test]
    fn store_create_needs_its_required_fields() {
        let errors = check("POST", "/ecommerce/stores", &json!({"id": "s1"}));
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["currency_code", "list_id", "name"]);
        assert!(
            check(
                "POST",
                "/ecommerce/stores",
                &json!({"id": "s1", "list_id": "l", "name": "n", "currency_code": "USD"})
            )
            .is_empty()
        );
    }

    #[test]
    fn nested_types_lengths_and_enums_are_checked() {
        let order = json!({
            "id": "o1", "customer": {"id": "c1"}, "currency_code": "USD", "order_total": "12",
            "lines": [{"id": "l1", "product_id": "p", "product_variant_id": "v", "quantity": 1.5, "price": 1}],
            "processed_at_foreign": "yesterday"
        });
        let errors = check("POST", "/ecommerce/stores/{store_id}/orders", &order);
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"order_total"), "{errors:?}");
        assert!(fields.contains(&"lines[0].quantity"), "{errors:?}");
        assert!(fields.contains(&"processed_at_foreign"), "{errors:?}");
        let rule = json!({"id": "r", "description": "d", "amount": 0.1, "type": "bogus", "target": "total"});
        let errors = check("POST", "/ecommerce/stores/{store_id}/promo-rules", &rule);
        assert_eq!(errors[0].0, "type");
        let long = json!({"id": "x".repeat(51), "description": "d", "amount": 0.1, "type": "fixed", "target": "total"});
        assert_eq!(
            check("POST", "/ecommerce/stores/{store_id}/promo-rules", &long)[0].0,
            "id",
            "API-NOTES: ids ≤ 50"
        );
        let customer =
            json!({"id": "c".repeat(51), "email_address": "a@b.co", "opt_in_status": false});
        assert_eq!(
            check(
                "PUT",
                "/ecommerce/stores/{store_id}/customers/{customer_id}",
                &customer
            )[0]
            .0,
            "id",
            "the spec: ≤ 50"
        );
    }
}
