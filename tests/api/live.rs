//! Live sync: after the first upload, every change the shop sends reaches Mailchimp by itself.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use serde_json::Value;

const SOON: Duration = Duration::from_secs(15);

/// A small shop uploaded to two stores (abandoned carts on): from here on, live.
async fn live_shop(time_scale: u32) -> (TestApp, Vec<String>) {
    let app = spawn_app_with(sim_config(3), time_scale).await;
    ready(&app, true).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let stores = app.sim.stats().stores.keys().cloned().collect();
    (app, stores)
}

async fn upsert(app: &TestApp, r: R) {
    app.records().upsert(testdata::record(r)).await.unwrap();
}

async fn delete(app: &TestApp, kind: pb::RecordKind, id: &str) {
    app.records()
        .delete(pb::RecordKey {
            kind: kind as i32,
            id: id.into(),
        })
        .await
        .unwrap();
}

/// Waits until `check` holds for the resource in every store.
async fn everywhere(
    app: &TestApp,
    stores: &[String],
    collection: &str,
    id: &str,
    check: impl Fn(Option<Value>) -> bool,
) -> bool {
    eventually(SOON, || async {
        stores
            .iter()
            .all(|s| check(app.sim.resource(s, collection, id)))
    })
    .await
}

async fn set_analytics(app: &TestApp, on: bool) {
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            ecommerce_analytics: Some(on),
            ..Default::default()
        })
        .await
        .unwrap();
}

fn outbox_len(app: &TestApp) -> usize {
    app.server
        .as_ref()
        .unwrap()
        .app
        .store()
        .outbox_len()
        .unwrap()
}

#[tokio::test]
async fn each_kind_reaches_every_store_by_itself() {
    let (app, stores) = live_shop(1).await;

    // A new product, a changed coupon, a new customer.
    let mut p = testdata::product(900);
    p.title = "Rain boot".into();
    upsert(&app, R::Product(p)).await;
    let mut k = testdata::coupon(0);
    k.comment = "Winter sale".into();
    upsert(&app, R::Coupon(k)).await;
    upsert(&app, R::Customer(testdata::customer(900))).await;
    assert!(
        everywhere(&app, &stores, "products", "p900", |p| p
            .is_some_and(|p| p["title"] == "Rain boot"))
        .await
    );
    assert!(
        everywhere(&app, &stores, "promo_rules", "k0", |r| r.is_some_and(|r| r
            ["description"]
            .as_str()
            .unwrap_or("")
            .contains("Winter sale")))
        .await
    );
    assert!(everywhere(&app, &stores, "customers", "c900", |c| c.is_some()).await);

    // A cart is created, then updated; the order placed from it deletes it.
    let mut cart = testdata::cart(900);
    upsert(&app, R::Cart(cart.clone())).await;
    assert!(everywhere(&app, &stores, "carts", "cart900", |c| c.is_some()).await);
    cart.order_total = "999.00".into();
    upsert(&app, R::Cart(cart)).await;
    assert!(
        everywhere(&app, &stores, "carts", "cart900", |c| c
            .is_some_and(|c| c["order_total"] == 999.0))
        .await
    );
    let mut order = testdata::order(900);
    order.cart_id = "cart900".into();
    order.lines.truncate(1); // p900 exists; p901 is made from the line
    upsert(&app, R::Order(order.clone())).await;
    assert!(everywhere(&app, &stores, "orders", "100900", |o| o.is_some()).await);
    assert!(
        everywhere(&app, &stores, "carts", "cart900", |c| c.is_none()).await,
        "the placed order's cart is gone"
    );

    // A status change updates the order; a cancel sets cancelled_at_foreign.
    order.payment_status = pb::PaymentStatus::Refunded as i32;
    upsert(&app, R::Order(order.clone())).await;
    assert!(
        everywhere(&app, &stores, "orders", "100900", |o| o
            .is_some_and(|o| o["financial_status"] == "refunded"))
        .await
    );
    order.cancelled_at = "2026-11-25T09:00:00Z".into();
    upsert(&app, R::Order(order)).await;
    assert!(
        everywhere(&app, &stores, "orders", "100900", |o| o
            .is_some_and(|o| o["cancelled_at_foreign"].is_string()))
        .await
    );

    // A cart that empties is deleted; a deleted product is deleted.
    let mut emptied = testdata::cart(1);
    emptied.lines.clear();
    upsert(&app, R::Cart(emptied)).await;
    assert!(everywhere(&app, &stores, "carts", "cart1", |c| c.is_none()).await);
    delete(&app, pb::RecordKind::Product, "p29").await;
    assert!(everywhere(&app, &stores, "products", "p29", |p| p.is_none()).await);

    assert_eq!(app.sim.stats().duplicate_creates, 0);
    assert!(
        eventually(SOON, || async { outbox_len(&app) == 0 }).await,
        "the outbox drains"
    );
    app.stop().await;
}

#[tokio::test]
async fn changes_coalesce_per_record_and_the_last_one_wins() {
    let (app, stores) = live_shop(1).await;
    // Analytics off holds live sync: five changes queue up.
    set_analytics(&app, false).await;
    let before = app.sim.stats();
    for n in 1..=5 {
        let mut p = testdata::product(4);
        p.title = format!("Boot model 4, version {n}");
        upsert(&app, R::Product(p)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let patch = "PATCH /3.0/ecommerce/stores/{store_id}/products/{product_id}";
    assert_eq!(
        app.sim.stats().count(patch),
        before.count(patch),
        "nothing sent while off"
    );
    assert_eq!(outbox_len(&app), 5);

    set_analytics(&app, true).await;
    assert!(
        everywhere(&app, &stores, "products", "p4", |p| p
            .is_some_and(|p| p["title"] == "Boot model 4, version 5"))
        .await
    );
    assert!(eventually(SOON, || async { outbox_len(&app) == 0 }).await);
    assert_eq!(
        app.sim.stats().count(patch) - before.count(patch),
        2,
        "five changes, one update per store"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_record_is_parked_while_the_others_flow() {
    let (app, stores) = live_shop(1).await;
    upsert(&app, R::Order(testdata::order_with_a_foreign_email(13))).await;
    let mut p = testdata::product(6);
    p.title = "Boot model 6, green".into();
    upsert(&app, R::Product(p)).await;
    upsert(&app, R::Customer(testdata::customer(901))).await;
    assert!(
        everywhere(&app, &stores, "products", "p6", |p| p
            .is_some_and(|p| p["title"] == "Boot model 6, green"))
        .await
    );
    assert!(everywhere(&app, &stores, "customers", "c901", |c| c.is_some()).await);
    let parked = eventually(SOON, || async {
        let listed = app
            .sync()
            .list_sync_errors(pb::ListSyncErrorsRequest::default())
            .await
            .unwrap()
            .into_inner();
        listed.total == 2
            && listed
                .errors
                .iter()
                .all(|e| e.id == "100013" && e.detail.contains("may not be changed"))
    })
    .await;
    assert!(parked, "one per store, with Mailchimp's reason");
    assert!(
        eventually(SOON, || async { outbox_len(&app) == 0 }).await,
        "it does not hold the outbox"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_hour_without_mailchimp_then_the_backlog_drains_with_nothing_lost() {
    // Time runs 1,800 times faster for the worker: its backoff climbs to its one-minute cap and
    // stays there for the two seconds (an hour) Mailchimp answers nothing but faults.
    let (app, stores) = live_shop(1800).await;
    app.sim.set_fail_rate(1.0);
    for i in 0..40 {
        let mut p = testdata::product(i % 30);
        p.title = format!("Boot model {}, outage edition", i % 30);
        upsert(&app, R::Product(p)).await;
        upsert(&app, R::Customer(testdata::customer(1000 + i))).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(outbox_len(&app) > 0, "kept while Mailchimp is away");
    app.sim.set_fail_rate(0.0);
    for i in 0..30 {
        let title = format!("Boot model {i}, outage edition");
        assert!(
            everywhere(&app, &stores, "products", &format!("p{i}"), |p| p
                .is_some_and(|p| p["title"] == title.as_str()))
            .await
        );
    }
    for i in 0..40 {
        assert!(
            everywhere(&app, &stores, "customers", &format!("c{}", 1000 + i), |c| c
                .is_some())
            .await
        );
    }
    assert!(eventually(SOON, || async { outbox_len(&app) == 0 }).await);
    assert_eq!(app.sim.stats().duplicate_creates, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_restart_with_a_full_outbox_loses_nothing() {
    let (mut app, stores) = live_shop(1).await;
    set_analytics(&app, false).await;
    for i in 0..20 {
        upsert(&app, R::Product(testdata::product(2000 + i))).await;
    }
    assert_eq!(outbox_len(&app), 20);
    app.restart().await;
    assert_eq!(outbox_len(&app), 20, "durable");
    set_analytics(&app, true).await;
    for i in 0..20 {
        assert!(
            everywhere(&app, &stores, "products", &format!("p{}", 2000 + i), |p| p
                .is_some())
            .await
        );
    }
    assert!(eventually(SOON, || async { outbox_len(&app) == 0 }).await);
    app.stop().await;
}

#[tokio::test]
async fn live_sync_waits_while_an_upload_runs() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(20),
        ..sim_config(3)
    };
    let app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    small_shop(&app).await;
    upload(&app).await;
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    let more: Vec<_> = (100..500)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    // Queued before the second upload starts: the upload covers them; live sync must not race it.
    app.records()
        .push_records(tokio_stream::iter(more))
        .await
        .unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    let stats = app.sim.stats();
    assert!(
        stats.stores.values().all(|c| c["products"] == 432),
        "{:?}",
        stats.stores
    );
    assert_eq!(stats.duplicate_creates, 0, "never both at once");
    // After the job the worker is back: a change flows.
    let mut p = testdata::product(7);
    p.title = "after the job".into();
    upsert(&app, R::Product(p)).await;
    assert!(
        everywhere(&app, &stores, "products", "p7", |p| p
            .is_some_and(|p| p["title"] == "after the job"))
        .await
    );
    app.stop().await;
}

#[tokio::test]
async fn a_customer_whose_email_changed_is_recreated_and_keeps_its_orders() {
    let (app, stores) = live_shop(1).await;
    let mut c = testdata::customer(4);
    c.email = "urist.new@example.com".into();
    upsert(&app, R::Customer(c)).await;
    assert!(
        everywhere(&app, &stores, "customers", "c4", |c| c
            .is_some_and(|c| c["email_address"] == "urist.new@example.com"))
        .await
    );
    for s in &stores {
        let order = app
            .sim
            .resource(s, "orders", "100004")
            .expect("the order stays");
        assert_eq!(order["customer"]["id"], "c4");
    }
    let listed = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 0);
    app.stop().await;
}

/// A coupon with nothing beyond code, amount and dates: what "matching promo rules" uploads.
fn plain_coupon(i: u64) -> pb::Coupon {
    pb::Coupon {
        total_min: String::new(),
        total_max: String::new(),
        uses_limit: 0,
        uses_limit_per_user: 0,
        product_ids: Vec::new(),
        product_class_ids: Vec::new(),
        membership_ids: Vec::new(),
        zone_ids: Vec::new(),
        category_ids: Vec::new(),
        ..testdata::coupon(i)
    }
}

#[tokio::test]
async fn coupons_follow_the_matching_mode_as_they_start_and_stop_matching() {
    let (app, stores) = live_shop(1).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            coupon_upload_mode: Some(pb::CouponUploadMode::MatchingPromoRules as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    // k7 has conditions Mailchimp's rules cannot hold: not sent.
    upsert(&app, R::Coupon(testdata::coupon(7))).await;
    upsert(&app, R::Product(testdata::product(901))).await;
    assert!(everywhere(&app, &stores, "products", "p901", |p| p.is_some()).await);
    assert!(
        stores
            .iter()
            .all(|s| app.sim.resource(s, "promo_rules", "k7").is_none())
    );
    // It starts matching: created.
    upsert(&app, R::Coupon(plain_coupon(7))).await;
    assert!(everywhere(&app, &stores, "promo_rules", "k7", |r| r.is_some()).await);
    // It stops matching: deleted from Mailchimp.
    upsert(&app, R::Coupon(testdata::coupon(7))).await;
    assert!(everywhere(&app, &stores, "promo_rules", "k7", |r| r.is_none()).await);
    app.stop().await;
}

#[tokio::test]
async fn a_record_created_and_deleted_before_the_worker_looks_never_reaches_mailchimp() {
    let (app, stores) = live_shop(1).await;
    set_analytics(&app, false).await;
    let before = app.sim.stats();
    upsert(&app, R::Product(testdata::product(950))).await;
    delete(&app, pb::RecordKind::Product, "p950").await;
    // And the other way round for one Mailchimp has: deleted, then back, changed.
    delete(&app, pb::RecordKind::Product, "p8").await;
    let mut back = testdata::product(8);
    back.title = "Boot model 8, back".into();
    upsert(&app, R::Product(back)).await;
    set_analytics(&app, true).await;
    assert!(
        everywhere(&app, &stores, "products", "p8", |p| p
            .is_some_and(|p| p["title"] == "Boot model 8, back"))
        .await
    );
    assert!(eventually(SOON, || async { outbox_len(&app) == 0 }).await);
    let after = app.sim.stats();
    let products = "/ecommerce/stores/{store_id}/products";
    assert_eq!(
        after.count(&format!("POST /3.0{products}")),
        before.count(&format!("POST /3.0{products}")),
        "p950 was never sent"
    );
    assert_eq!(
        after.count(&format!("DELETE /3.0{products}/{{product_id}}")),
        before.count(&format!("DELETE /3.0{products}/{{product_id}}")),
        "neither p950 (Mailchimp never had it) nor p8 (its last state is what counts) was deleted"
    );
    assert!(
        stores
            .iter()
            .all(|s| app.sim.resource(s, "products", "p950").is_none())
    );
    app.stop().await;
}
