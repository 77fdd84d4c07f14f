//! Every request is exactly what its Mailchimp operation takes: no field the operation's schema
//! lacks and no body it refuses, direct, in batches and live. Products without variants keep
//! their price, SKU and stock; a line naming a variant Mailchimp lacks gets it made first.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::SimStats;
use mcsync::testdata;
use serde_json::Value;

const SOON: Duration = Duration::from_secs(20);

/// The small shop and three products without variants, uploaded in `mode`.
async fn uploaded_shop(mode: pb::UploadMode) -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    for i in 0..3 {
        upsert(&app, R::Product(testdata::simple_product(i))).await;
    }
    let (job, _) = upload_with(&app, mode).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert!(job.errors.is_empty(), "{:?}", job.errors);
    let stores = app.sim.stats().stores.keys().cloned().collect();
    (app, stores)
}

async fn upsert(app: &TestApp, r: R) {
    app.records().upsert(testdata::record(r)).await.unwrap();
}

fn outbox_len(app: &TestApp) -> usize {
    let server = app.server.as_ref().unwrap();
    server.app.store().outbox_len().unwrap()
}

/// The variant `vid` of product `pid` in `store`.
fn variant(app: &TestApp, store: &str, pid: &str, vid: &str) -> Option<Value> {
    let product = app.sim.resource(store, "products", pid)?;
    product["variants"]
        .as_array()?
        .iter()
        .find(|v| v["id"] == vid)
        .cloned()
}

async fn everywhere(stores: &[String], check: impl Fn(&str) -> bool) -> bool {
    eventually(SOON, || async { stores.iter().all(|s| check(s)) }).await
}

#[tokio::test]
async fn no_body_carries_a_field_its_operation_lacks_direct_batched_or_live() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let (app, stores) = uploaded_shop(mode).await;
        let stats = app.sim.stats();
        if mode == pb::UploadMode::Batch {
            assert!(
                stats.batch_operations.len() >= 4,
                "{:?}",
                stats.batch_operations
            );
        }
        nothing_unknown_or_invalid(&stats, &format!("{mode:?} upload"));

        // One live change of each kind.
        let mut p = testdata::product(3);
        p.title = "Boot model 3, waxed".into();
        upsert(&app, R::Product(p)).await;
        let mut c = testdata::customer(3);
        c.last_name = "Renamed".into();
        upsert(&app, R::Customer(c)).await;
        let mut o = testdata::order(3);
        o.shipping_status = pb::ShippingStatus::Delivered as i32;
        upsert(&app, R::Order(o)).await;
        let mut cart = testdata::cart(3);
        cart.lines[0].quantity = 7;
        upsert(&app, R::Cart(cart)).await;
        let mut k = testdata::coupon(1);
        k.value = "20.00".into();
        upsert(&app, R::Coupon(k)).await;

        let arrived = everywhere(&stores, |s| {
            let cart = app.sim.resource(s, "carts", "cart3");
            cart.is_some_and(|c| c["lines"][0]["quantity"] == 7)
                && app
                    .sim
                    .resource(s, "customers", "c3")
                    .is_some_and(|c| c["last_name"] == "Renamed")
        })
        .await;
        assert!(arrived, "{mode:?}");
        assert!(eventually(SOON, || async { outbox_len(&app) == 0 }).await);
        let stats = app.sim.stats();
        for route in [
            "PATCH /3.0/ecommerce/stores/{store_id}/products/{product_id}",
            "PATCH /3.0/ecommerce/stores/{store_id}/orders/{order_id}",
            "PATCH /3.0/ecommerce/stores/{store_id}/carts/{cart_id}",
            "PATCH /3.0/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}",
            "PATCH /3.0/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes/{promo_code_id}",
        ] {
            assert!(stats.count(route) >= 2, "{mode:?}: live sent {route}");
        }
        nothing_unknown_or_invalid(&stats, &format!("{mode:?} live"));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_product_without_variants_keeps_its_price_sku_and_stock() {
    let (app, stores) = uploaded_shop(pb::UploadMode::Direct).await;
    for s in &stores {
        let dv = variant(&app, s, "sp1", "sp1_dv").expect("the default variant");
        assert_eq!(dv["price"].as_f64(), Some(5.0), "{dv}");
        assert_eq!(dv["sku"], "POLISH-1");
        assert_eq!(dv["inventory_quantity"], 1);
        assert_eq!(dv["visibility"], "visible");
    }
    // Sold out and dearer: the change reaches the default variant.
    let mut p = testdata::simple_product(1);
    p.inventory_quantity = 0;
    p.price = "6.50".into();
    upsert(&app, R::Product(p)).await;
    let changed = everywhere(&stores, |s| {
        variant(&app, s, "sp1", "sp1_dv")
            .is_some_and(|v| v["inventory_quantity"] == 0 && v["price"].as_f64() == Some(6.5))
    })
    .await;
    assert!(changed);
    app.stop().await;
}

#[tokio::test]
async fn a_line_naming_a_variant_mailchimp_lacks_gets_it_made_from_the_line() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app().await;
        ready(&app, true).await;
        small_shop(&app).await;
        upsert(&app, R::Order(testdata::order_with_a_missing_variant(4))).await;
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        assert!(job.errors.is_empty(), "{mode:?}: {:?}", job.errors);
        let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
        let line = &testdata::order_with_a_missing_variant(4).lines[0];
        for s in &stores {
            let v = variant(&app, s, "p4", "p4-missing").expect("made from the line");
            assert_eq!(v["title"], line.title.as_str(), "{v}");
            assert_eq!(v["sku"], line.sku.as_str(), "{v}");
            assert_eq!(v["price"].as_f64(), Some(129.9), "{v}");
            assert!(app.sim.resource(s, "orders", "100004").is_some());
        }

        // Live too: a new order naming another unknown variant goes through.
        upsert(&app, R::Order(testdata::order_with_a_missing_variant(20))).await;
        let placed = everywhere(&stores, |s| {
            app.sim.resource(s, "orders", "100020").is_some()
                && variant(&app, s, "p20", "p20-missing").is_some()
        })
        .await;
        assert!(placed, "{mode:?}");
        nothing_unknown_or_invalid(&app.sim.stats(), &format!("{mode:?}"));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_customers_new_email_reaches_mailchimp_in_batch_mode_as_in_direct_mode() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let (app, stores) = uploaded_shop(mode).await;
        // Live sync cannot send the change (Mailchimp fails on c3 for a while), so the
        // upload is what sends it.
        app.sim.poison("c3");
        let mut c = testdata::customer(3);
        c.email = "urist.new@example.com".into();
        upsert(&app, R::Customer(c)).await;
        let parked = eventually(SOON, || async {
            let errors = app
                .sync()
                .list_sync_errors(pb::ListSyncErrorsRequest::default())
                .await
                .unwrap()
                .into_inner();
            errors.total == 2
        })
        .await;
        assert!(parked, "{mode:?}");
        app.sim.cure("c3");
        let put = "PUT /3.0/ecommerce/stores/{store_id}/customers/{customer_id}";
        let batched = |s: &SimStats| s.batch_operations.get(put).copied().unwrap_or(0);
        let before = batched(&app.sim.stats());
        let (job, _) = upload_with(&app, mode).await;
        if mode == pb::UploadMode::Batch {
            assert_eq!(
                batched(&app.sim.stats()) - before,
                2,
                "sent in the batch first"
            );
        }
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        assert!(
            job.errors.is_empty(),
            "{mode:?}: not a refusal: {:?}",
            job.errors
        );
        for s in &stores {
            let c = app.sim.resource(s, "customers", "c3").unwrap();
            assert_eq!(c["email_address"], "urist.new@example.com", "{mode:?}");
        }
        app.stop().await;
    }
}

/// Campaign attribution and shipping reach Mailchimp's order: the tracking code, the outreach
/// (the campaign when no other is named), the landing site, and the shipment's number, carrier
/// and URL. A tracking code Mailchimp does not define is refused naming the field.
#[tokio::test]
async fn an_order_carries_its_attribution_and_its_shipment() {
    let (app, stores) = uploaded_shop(pb::UploadMode::Direct).await;
    for s in &stores {
        let shipped = app.sim.resource(s, "orders", "100001").unwrap();
        assert_eq!(shipped["tracking_code"], "prec");
        assert_eq!(shipped["outreach"]["id"], "839488a60b");
        assert_eq!(shipped["tracking_carrier"], "UPS");
        assert_eq!(shipped["tracking_number"], "1Z999AA10000000001");
        assert!(
            shipped["tracking_url"]
                .as_str()
                .unwrap()
                .starts_with("https://www.ups.com/")
        );
        assert!(shipped["landing_site"].as_str().unwrap().contains("mc_cid"));
        let not_yet = app.sim.resource(s, "orders", "100002").unwrap();
        assert!(not_yet.get("tracking_number").is_none(), "{not_yet}");
    }
    // The shipment added later reaches Mailchimp by live sync.
    let mut o = testdata::order(2);
    o.shipment = Some(pb::Shipment {
        tracking_number: "JJD000390007".into(),
        tracking_carrier: "DHL".into(),
        tracking_url: String::new(),
    });
    upsert(&app, R::Order(o)).await;
    let shipped = everywhere(&stores, |s| {
        app.sim
            .resource(s, "orders", "100002")
            .is_some_and(|o| o["tracking_carrier"] == "DHL")
    })
    .await;
    assert!(shipped);
    nothing_unknown_or_invalid(&app.sim.stats(), "orders with tracking");

    let mut bad = testdata::order(9);
    bad.tracking.as_mut().unwrap().tracking_code = "tc123".into();
    let refused = app
        .records()
        .upsert(testdata::record(R::Order(bad)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["order.tracking.tracking_code"]);
    app.stop().await;
}

/// The update-first path: an order and a cart whose create got a 500 are "maybe there", so
/// RetryFailed sends each as a PATCH first. Mailchimp refuses PATCH lines without their ids
/// (API-NOTES.md, "Spec quirks"); mcsync sends them, so the PATCH's 404 leads to the create
/// and both arrive with their lines, direct and batched.
#[tokio::test]
async fn order_and_cart_patches_name_their_lines_so_the_update_first_path_lands() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app().await;
        ready(&app, true).await;
        small_shop(&app).await;
        app.sim.poison("100004");
        app.sim.poison("cart2");
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        assert_eq!(job.errors.len(), 4, "{mode:?}: {:?}", job.errors);
        app.sim.cure("100004");
        app.sim.cure("cart2");
        retry_failed(&app).await;
        let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
        let line_ids = |s: &str, kind: &str, id: &str| -> Option<Vec<String>> {
            let r = app.sim.resource(s, kind, id)?;
            Some(
                r["lines"]
                    .as_array()?
                    .iter()
                    .map(|l| l["id"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            )
        };
        let arrived = everywhere(&stores, |s| {
            line_ids(s, "orders", "100004").is_some_and(|l| l == ["l0", "l1"])
                && line_ids(s, "carts", "cart2").is_some_and(|l| l == ["l0", "l1"])
        })
        .await;
        assert!(arrived, "{mode:?}: both arrived with their lines");
        let stats = app.sim.stats();
        for route in [
            "PATCH /3.0/ecommerce/stores/{store_id}/orders/{order_id}",
            "PATCH /3.0/ecommerce/stores/{store_id}/carts/{cart_id}",
        ] {
            assert!(stats.count(route) >= 2, "{mode:?}: update first: {route}");
        }
        nothing_unknown_or_invalid(&stats, &format!("{mode:?} update first"));
        assert_eq!(stats.duplicate_creates, 0);
        app.stop().await;
    }
}

/// What a real Mailchimp answers a PATCH whose line lacks its id: 400 naming `lines.N.id`.
#[tokio::test]
async fn the_simulator_refuses_a_line_patch_without_line_ids_as_mailchimp_does() {
    let (app, stores) = uploaded_shop(pb::UploadMode::Direct).await;
    let order = format!("/ecommerce/stores/{}/orders/100001", stores[0]);
    let line = serde_json::json!({"product_id": "p1", "product_variant_id": "p1-42",
        "quantity": 5, "price": 129.9});
    let refused = app
        .sim_call("PATCH", &order, serde_json::json!({"lines": [line]}))
        .await;
    assert_eq!(refused, 400);
    let mut named = line.clone();
    named["id"] = "l0".into();
    let taken = app
        .sim_call("PATCH", &order, serde_json::json!({"lines": [named]}))
        .await;
    assert_eq!(taken, 200);
    let held = app.sim.resource(&stores[0], "orders", "100001").unwrap();
    assert_eq!(held["lines"][0]["quantity"], 5);
    assert_eq!(held["lines"][0]["id"], "l0");
    app.stop().await;
}
