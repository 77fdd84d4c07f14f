//! Every request mcsync sends must validate against Mailchimp's OpenAPI spec
//! (spec/mailchimp-marketing-openapi.json, a copy of shared/mailchimp/marketing-openapi.json).
//! The simulator names its routes with the spec's templates, so its statistics say exactly which
//! operations a workflow used.

use crate::common;

use common::*;
use mcsync::proto::v1 as pb;
use serde_json::Value;

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/spec/mailchimp-marketing-openapi.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("the vendored spec")).unwrap()
}

/// The spec's parameter names for an operation, resolving `$ref`s.
fn query_params(spec: &Value, op: &Value) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p.get("$ref").and_then(Value::as_str) {
            Some(r) => spec.pointer(&r[1..]).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        })
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn every_operation_the_connect_and_refresh_flow_uses_is_in_the_spec() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let spec = spec();
    let stats = app.sim.stats();
    assert!(stats.requests.len() >= 5, "{stats:?}");
    for route in stats.requests.keys() {
        let (method, template) = route.split_once(' ').unwrap();
        let path = template.strip_prefix("/3.0").unwrap();
        let path = if path.is_empty() { "/" } else { path };
        let op = &spec["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{route} is not an operation of the spec");
        if template.ends_with("/lists")
            || template.ends_with("-categories")
            || template.ends_with("/interests")
            || template.ends_with("/segments")
        {
            let params = query_params(&spec, op);
            for p in ["count", "offset"] {
                assert!(
                    params.iter().any(|x| x == p),
                    "{route} does not take '{p}': {params:?}"
                );
            }
        }
    }
    app.stop().await;
}

#[test]
fn every_route_the_simulator_serves_is_in_the_spec() {
    let spec = spec();
    // routes.rs names its routes "/3.0/...", and serves the e-commerce templates model.rs
    // lists (without the prefix), for direct requests and batch operations alike.
    let routes = include_str!("../../src/sim/routes.rs");
    let ecommerce = include_str!("../../src/sim/model.rs")
        .lines()
        .filter(|l| l.trim().starts_with("\"/ecommerce"))
        .map(|l| l.replacen("\"/ecommerce", "\"/3.0/ecommerce", 1));
    let mut checked = 0;
    for line in routes.lines().map(str::to_owned).chain(ecommerce) {
        let line = line.trim();
        let Some(start) = line.find("\"/3.0") else {
            continue;
        };
        let rest = &line[start + 1..];
        let template = &rest[..rest.find('"').unwrap()];
        if template == "/3.0{template}" {
            continue;
        }
        let path = template.strip_prefix("/3.0").unwrap();
        let path = if path.is_empty() { "/" } else { path };
        assert!(
            spec["paths"][path].is_object(),
            "{template} is not a path of the spec"
        );
        checked += 1;
    }
    assert!(checked >= 26, "found the routes ({checked})");
}
