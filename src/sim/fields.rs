//! `fields=` and `exclude_fields=`, as Mailchimp applies them to every GET: comma-separated
//! dotted paths (`products.id,products.variants.id,total_items`), walked through arrays.

use std::collections::BTreeMap;

use serde_json::Value;

/// Paths as a tree: `a.b,a.c,d` → {a: {b, c}, d}. An empty subtree keeps the whole value.
#[derive(Default, Debug)]
struct Tree(BTreeMap<String, Tree>);

fn tree(paths: &str) -> Tree {
    let mut t = Tree::default();
    for path in paths.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut node = &mut t;
        for part in path.split('.') {
            node = node.0.entry(part.to_owned()).or_default();
        }
    }
    t
}

/// Keeps only `fields` of `v`.
pub fn keep(v: &Value, fields: &str) -> Value {
    keep_tree(v, &tree(fields))
}

fn keep_tree(v: &Value, t: &Tree) -> Value {
    if t.0.is_empty() {
        return v.clone();
    }
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| keep_tree(i, t)).collect()),
        Value::Object(m) => Value::Object(
            t.0.iter()
                .filter_map(|(k, sub)| m.get(k).map(|x| (k.clone(), keep_tree(x, sub))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Drops `fields` from `v`.
pub fn exclude(v: &Value, fields: &str) -> Value {
    let mut out = v.clone();
    drop_tree(&mut out, &tree(fields));
    out
}

fn drop_tree(v: &mut Value, t: &Tree) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| drop_tree(i, t)),
        Value::Object(m) => {
            for (k, sub) in &t.0 {
                if sub.0.is_empty() {
                    m.remove(k);
                } else if let Some(x) = m.get_mut(k) {
                    drop_tree(x, sub);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_and_drops_dotted_paths_through_arrays() {
        let page = json!({"products": [{"id": "p1", "title": "Boot", "variants": [{"id": "v1", "price": 1}]}],
            "total_items": 1, "_links": []});
        assert_eq!(
            keep(&page, "products.id,products.variants.id,total_items"),
            json!({"products": [{"id": "p1", "variants": [{"id": "v1"}]}], "total_items": 1})
        );
        assert_eq!(
            exclude(&page, "_links,products.variants"),
            json!({"products": [{"id": "p1", "title": "Boot"}], "total_items": 1})
        );
    }
}
