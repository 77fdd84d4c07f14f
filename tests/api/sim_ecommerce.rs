//! The simulator's e-commerce API over HTTP: the spec's validation plus Mailchimp's own rules.

use crate::common;

use common::*;
use mcsync::sim::{self, SimHandle};
use serde_json::{Value, json};

struct Api {
    sim: SimHandle,
    http: reqwest::Client,
}

impl Api {
    async fn start() -> Self {
        Self::start_with(sim_config(2)).await
    }

    async fn start_with(config: mcsync::sim::SimConfig) -> Self {
        mcsync::mailchimp::install_crypto_provider();
        let sim = sim::start(
            config,
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .unwrap();
        Api {
            sim,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.sim.base_url());
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .basic_auth("x", Some(KEY_A));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// mcsync's own Mailchimp client, on the demo account.
    fn client(&self) -> mcsync::mailchimp::AccountClient {
        let mc = mcsync::mailchimp::Mailchimp::new(
            mcsync::mailchimp::MailchimpConfig {
                base_url: Some(self.sim.base_url().parse().unwrap()),
                ..Default::default()
            },
            Default::default(),
        )
        .unwrap();
        mc.for_key(&mcsync::domain::ApiKey::parse(KEY_A).unwrap())
    }

    async fn store(&self, id: &str, domain: &str) -> (u16, Value) {
        let list = &self.sim.list_ids(KEY_A)[0];
        let body = json!({"id": id, "list_id": list, "name": "Acme (Newsletter)", "currency_code": "USD", "domain": domain, "is_syncing": true});
        self.call("POST", "/ecommerce/stores", Some(body)).await
    }
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

fn product(id: &str) -> Value {
    json!({"id": id, "title": format!("Boot {id}"), "variants": [{"id": format!("{id}-42"), "title": "42", "price": 129.9}]})
}

#[tokio::test]
async fn stores_are_validated_unique_by_id_and_domain_and_keep_their_list() {
    let api = Api::start().await;
    let (status, body) = api
        .call("POST", "/ecommerce/stores", Some(json!({"id": "s1"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(fields(&body), ["currency_code", "list_id", "name"]);

    let (status, body) = api
        .call(
            "POST",
            "/ecommerce/stores",
            Some(json!({"id": "s1", "list_id": "nope", "name": "n", "currency_code": "USD"})),
        )
        .await;
    assert_eq!((status, fields(&body)), (400, vec!["list_id".to_string()]));

    let (status, store) = api.store("s1", "shop.example.com").await;
    assert_eq!(status, 200, "{store}");
    assert_eq!(store["is_syncing"], true);
    let (status, body) = api.store("s1", "other.example.com").await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("already exists"));
    let (status, body) = api.store("s2", "shop.example.com").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("domain 'shop.example.com' already exists"),
        "{body}"
    );

    let (status, _) = api
        .call(
            "PATCH",
            "/ecommerce/stores/s1",
            Some(json!({"list_id": "other"})),
        )
        .await;
    assert_eq!(status, 400, "a store's list never changes");
    let (status, patched) = api
        .call(
            "PATCH",
            "/ecommerce/stores/s1",
            Some(json!({"is_syncing": false})),
        )
        .await;
    assert_eq!((status, patched["is_syncing"].clone()), (200, json!(false)));

    let (_, page) = api
        .call("GET", "/ecommerce/stores?count=10&offset=0", None)
        .await;
    assert_eq!(page["total_items"], 1);
    assert_eq!(api.sim.stats().duplicate_creates, 1);
    api.sim.shutdown().await;
}

#[tokio::test]
async fn products_need_a_variant_refuse_duplicates_and_patch_variants_by_id() {
    let api = Api::start().await;
    api.store("s1", "shop.example.com").await;
    let base = "/ecommerce/stores/s1/products";
    let (status, body) = api
        .call(
            "POST",
            base,
            Some(json!({"id": "p1", "title": "Boot", "variants": []})),
        )
        .await;
    assert_eq!((status, fields(&body)), (400, vec!["variants".to_string()]));
    assert_eq!(api.call("POST", base, Some(product("p1"))).await.0, 200);
    let (status, body) = api.call("POST", base, Some(product("p1"))).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["detail"],
        "A product with the provided ID already exists in the account."
    );

    let patch = json!({"title": "Boot, red", "variants": [{"id": "p1-42", "price": 99.0}, {"id": "p1-43", "title": "43"}]});
    let (status, p) = api.call("PATCH", &format!("{base}/p1"), Some(patch)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["title"], "Boot, red");
    assert_eq!(p["variants"].as_array().unwrap().len(), 2);
    assert_eq!(
        p["variants"][0]["title"], "42",
        "unnamed fields of a variant stay"
    );
    assert_eq!(p["variants"][0]["price"], 99.0);

    let (status, _) = api
        .call(
            "PUT",
            &format!("{base}/p1/variants/p1-44"),
            Some(json!({"id": "p1-44", "title": "44"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, variants) = api.call("GET", &format!("{base}/p1/variants"), None).await;
    assert_eq!(variants["total_items"], 3);

    let (status, _) = api.call("DELETE", &format!("{base}/p1"), None).await;
    assert_eq!(status, 204);
    assert_eq!(api.call("GET", &format!("{base}/p1"), None).await.0, 404);
    api.sim.shutdown().await;
}

#[tokio::test]
async fn orders_need_existing_products_and_customers_keep_their_email() {
    let api = Api::start().await;
    api.store("s1", "shop.example.com").await;
    let order = |product: &str, email: Option<&str>| {
        let mut customer = json!({"id": "c1"});
        if let Some(e) = email {
            customer["email_address"] = json!(e);
        }
        json!({"id": "o1", "customer": customer, "currency_code": "USD", "order_total": 129.9, "financial_status": "paid",
               "processed_at_foreign": "2026-11-20T10:00:00+00:00",
               "lines": [{"id": "l1", "product_id": product, "product_variant_id": format!("{product}-42"), "quantity": 1, "price": 129.9}]})
    };
    let (status, body) = api
        .call(
            "POST",
            "/ecommerce/stores/s1/orders",
            Some(order("p1", Some("a@example.com"))),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["detail"],
        "A product with the provided ID does not exist in the account for this list."
    );

    api.call("POST", "/ecommerce/stores/s1/products", Some(product("p1")))
        .await;
    let (status, body) = api
        .call(
            "POST",
            "/ecommerce/stores/s1/orders",
            Some(order("p1", None)),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (400, vec!["customer.email_address".to_string()]),
        "a new customer needs an email"
    );
    let (status, body) = api
        .call(
            "POST",
            "/ecommerce/stores/s1/orders",
            Some(order("p1", Some("a@example.com"))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, customer) = api
        .call("GET", "/ecommerce/stores/s1/customers/c1", None)
        .await;
    assert_eq!(
        (status, customer["email_address"].clone()),
        (200, json!("a@example.com")),
        "created by the order"
    );

    let changed = json!({"id": "c1", "email_address": "b@example.com", "opt_in_status": false});
    let (status, body) = api
        .call("PUT", "/ecommerce/stores/s1/customers/c1", Some(changed))
        .await;
    assert_eq!(
        (status, body["detail"].clone()),
        (400, json!("An email address may not be changed"))
    );

    let (status, body) = api
        .call(
            "POST",
            "/ecommerce/stores/s1/orders",
            Some(order("p1", Some("a@example.com"))),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = api
        .call(
            "PATCH",
            "/ecommerce/stores/s1/orders/o1",
            Some(json!({"fulfillment_status": "shipped"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        api.call(
            "PUT",
            "/ecommerce/stores/s1/orders/o1",
            Some(order("p1", None))
        )
        .await
        .0,
        405,
        "orders have no PUT"
    );

    let counts = &api.sim.stats().stores["s1"];
    assert_eq!(
        (counts["products"], counts["customers"], counts["orders"]),
        (1, 1, 1)
    );
    assert_eq!(
        api.sim
            .stats()
            .count("POST /3.0/ecommerce/stores/{store_id}/orders"),
        4
    );
    api.sim.shutdown().await;
}

#[tokio::test]
async fn promo_rules_and_codes() {
    let api = Api::start().await;
    api.store("s1", "shop.example.com").await;
    let rules = "/ecommerce/stores/s1/promo-rules";
    let rule = json!({"id": "r1", "description": "Autumn sale", "amount": 0.15, "type": "percentage", "target": "total",
                      "starts_at": "2026-11-01T00:00:00+00:00"});
    let (status, body) = api.call("POST", rules, Some(json!({"id": "r1", "description": "d", "amount": 1, "type": "bogus", "target": "total"}))).await;
    assert_eq!((status, fields(&body)), (400, vec!["type".to_string()]));
    assert_eq!(api.call("POST", rules, Some(rule)).await.0, 200);
    let codes = format!("{rules}/r1/promo-codes");
    let code = json!({"id": "k1", "code": "SAVE15", "redemption_url": "https://shop.example.com"});
    assert_eq!(api.call("POST", &codes, Some(code.clone())).await.0, 200);
    let (status, body) = api.call("POST", &codes, Some(code)).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().contains("already exists"));
    let (status, c) = api
        .call(
            "PATCH",
            &format!("{codes}/k1"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!((status, c["enabled"].clone()), (200, json!(false)));
    assert_eq!(
        api.call(
            "POST",
            "/ecommerce/stores/s1/promo-rules/none/promo-codes",
            Some(json!({}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        api.call("DELETE", &format!("{rules}/r1"), None).await.0,
        204
    );
    assert_eq!(
        api.sim.stats().stores["s1"]["promo_codes"],
        0,
        "codes go with their rule"
    );
    api.sim.shutdown().await;
}

#[tokio::test]
async fn batches_run_in_the_background_and_publish_a_gzipped_tar_of_results() {
    use mcsync::mailchimp::{BatchBody, BatchOperation, Bodies, Collection, Records, Request};
    let api = Api::start().await;
    api.store("s1", "shop.example.com").await;
    let client = api.client();
    let op = |request: Request, body: Option<Value>, id: &str| {
        BatchOperation::new(&request, body.as_ref(), id.into())
    };
    let products = Records::new("s1", Collection::Products);
    let ops = vec![
        op(products.create(), Some(product("p1")), "create p1"),
        op(products.create(), Some(product("p1")), "again p1"),
        op(products.create(), Some(json!({"id": "p2"})), "bad p2"),
        op(
            products.update("p1"),
            Some(json!({"title": "Boot"})),
            "patch p1",
        ),
        op(products.delete("nope"), None, "delete nope"),
        op(products.create(), Some(json!(["not an object"])), "array"),
    ];
    let mut body = BatchBody::new().unwrap();
    for op in &ops {
        body.push(op).unwrap();
    }
    let batch = client.submit_batch(&body.finish().unwrap()).await.unwrap();
    assert_eq!(batch.status, "pending", "accepted before anything ran");
    assert_eq!(batch.total_operations, 6);
    let done = loop {
        let b = client.batch(&batch.id).await.unwrap();
        if b.is_finished() {
            break b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!((done.finished_operations, done.errored_operations), (6, 4));
    let results = client
        .batch_results(&done.response_body_url, Bodies::All)
        .await
        .unwrap();
    let by_id: std::collections::HashMap<_, _> = results
        .iter()
        .map(|r| (r.operation_id.as_str(), r))
        .collect();
    assert_eq!(by_id["create p1"].status_code, 200);
    let created: Value = serde_json::from_str(&by_id["create p1"].response).unwrap();
    assert_eq!(created["id"], "p1", "the response is the body, as a string");
    assert_eq!(by_id["again p1"].status_code, 400);
    assert!(by_id["again p1"].response.contains("already exists"));
    assert_eq!(by_id["bad p2"].status_code, 400);
    let problem: Value = serde_json::from_str(&by_id["bad p2"].response).unwrap();
    assert_eq!(fields(&problem), ["title", "variants"]);
    assert_eq!(by_id["patch p1"].status_code, 200);
    assert_eq!(by_id["delete nope"].status_code, 404);
    assert_eq!(by_id["array"].status_code, 400);
    // What settling reads: every status, and the bodies of failures only.
    let failed_only = client
        .batch_results(&done.response_body_url, Bodies::Failed)
        .await
        .unwrap();
    assert_eq!(failed_only.len(), 6);
    for r in &failed_only {
        let whole = &by_id[r.operation_id.as_str()];
        assert_eq!(r.status_code, whole.status_code);
        if r.status_code < 300 {
            assert!(r.response.is_empty(), "{r:?}");
        } else {
            assert_eq!(r.response, whole.response);
        }
    }

    let stats = api.sim.stats();
    assert_eq!(stats.stores["s1"]["products"], 1);
    assert_eq!(stats.duplicate_creates_by_kind["product"], 1);
    assert_eq!(
        stats.batch_operations["POST /3.0/ecommerce/stores/{store_id}/products"],
        4
    );
    assert_eq!(stats.count("POST /3.0/batches"), 1);

    // A batch must say what to do.
    let (status, body) = api
        .call(
            "POST",
            "/batches",
            Some(json!({"operations": [{"path": "/ping"}]})),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (400, vec!["operations[0].method".to_string()])
    );
}

#[tokio::test]
async fn more_than_500_unfinished_batches_are_refused() {
    mcsync::mailchimp::install_crypto_provider();
    // Batches queue for a minute here, so every one posted stays unfinished.
    let sim = sim::start(
        mcsync::sim::SimConfig {
            batch_delay: std::time::Duration::from_secs(60),
            ..sim_config(1)
        },
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let body = json!({"operations": [{"method": "GET", "path": "/ecommerce/stores"}]});
    let mut statuses = Vec::new();
    for _ in 0..501 {
        let r = http
            .post(format!("{}/batches", sim.base_url()))
            .basic_auth("x", Some(KEY_A))
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..500].iter().all(|s| *s == 200));
    assert_eq!(statuses[500], 429);
    assert_eq!(sim.stats().max_unfinished_batches, 500);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_batch_takes_its_time_per_operation_and_shows_its_progress_meanwhile() {
    let api = Api::start_with(mcsync::sim::SimConfig {
        // A second per 100 operations: polls see it partway, even on a loaded machine.
        batch_op_cost: std::time::Duration::from_millis(10),
        batch_delay: std::time::Duration::ZERO,
        ..sim_config(1)
    })
    .await;
    let ops: Vec<Value> = (0..300)
        .map(|_| json!({"method": "GET", "path": "/ecommerce/stores"}))
        .collect();
    let started = std::time::Instant::now();
    let (_, batch) = api
        .call("POST", "/batches", Some(json!({ "operations": ops })))
        .await;
    let path = format!("/batches/{}", batch["id"].as_str().unwrap());
    let mut partway = Vec::new();
    loop {
        let (_, b) = api.call("GET", &path, None).await;
        if b["status"] == "finished" {
            assert_eq!(b["finished_operations"], 300);
            break;
        }
        let n = b["finished_operations"].as_u64().unwrap();
        if b["status"] == "started" && n > 0 {
            partway.push(n);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "300 operations at 10 ms each: {:?}",
        started.elapsed()
    );
    assert!(
        partway.iter().any(|n| *n < 300),
        "seen running with some operations done and some not: {partway:?}"
    );
    assert_eq!(api.sim.stats().max_unfinished_batches, 1);
    api.sim.shutdown().await;
}

#[tokio::test]
async fn a_large_collections_ids_are_read_a_page_each_and_come_back_whole_in_order() {
    use mcsync::mailchimp::Collection;
    let api = Api::start().await;
    api.store("s1", "shop.example.com").await;
    let ops: Vec<Value> = (0..2_500)
        .map(|i| {
            let body = product(&format!("p{i:05}")).to_string();
            json!({"method": "POST", "path": "/ecommerce/stores/s1/products", "body": body})
        })
        .collect();
    let (_, batch) = api
        .call("POST", "/batches", Some(json!({ "operations": ops })))
        .await;
    let path = format!("/batches/{}", batch["id"].as_str().unwrap());
    while api.call("GET", &path, None).await.1["status"] != "finished" {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let client = api.client();
    let before = api
        .sim
        .stats()
        .count("GET /3.0/ecommerce/stores/{store_id}/products");
    let held = client.held("s1", Collection::Products).await.unwrap();
    let ids: Vec<String> = held.iter().map(|h| h.id.clone()).collect();
    let expected: Vec<String> = (0..2_500).map(|i| format!("p{i:05}")).collect();
    assert_eq!(ids, expected);
    assert!(held.iter().all(|h| h.variants.len() == 1));
    let reads = api
        .sim
        .stats()
        .count("GET /3.0/ecommerce/stores/{store_id}/products")
        - before;
    assert_eq!(reads, 3, "1,000 ids a read");
    api.sim.shutdown().await;
}
