//! Upload jobs end to end: stores, phases, idempotence, progress, cancel, restart.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test]
async fn a_full_upload_of_a_small_shop_then_an_unchanged_one_that_sends_nothing() {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    let (job, messages) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert!(messages >= 2, "a first message and a final one");
    assert_eq!(job.percent, 100.0);
    assert!(job.errors.is_empty(), "{:?}", job.errors);

    let stats = app.sim.stats();
    assert_eq!(stats.stores.len(), 2, "one store per selected list");
    for (store_id, counts) in &stats.stores {
        assert_eq!(
            counts["products"], 32,
            "30 + the minimal product made for order 500's lines: {counts:?}"
        );
        assert_eq!(counts["orders"], 10);
        assert_eq!(counts["carts"], 5);
        assert_eq!(counts["promo_rules"], 3);
        assert_eq!(counts["promo_codes"], 3);
        assert!(counts["customers"] >= 10);
        let store = sim_store(&app, store_id).await;
        assert_eq!(store["is_syncing"], false);
        assert_eq!(store["platform"], "X-Cart");
        assert!(store["name"].as_str().unwrap().starts_with("Acme ("));
    }
    assert_eq!(stats.duplicate_creates, 0);

    let before = entity_requests(&app.sim.stats());
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert_eq!(
        entity_requests(&app.sim.stats()),
        before,
        "an unchanged upload sends no entity request"
    );
    let skipped: i64 = job.phases.iter().map(|p| p.skipped).sum();
    let done: i64 = job.phases.iter().map(|p| p.done).sum();
    assert_eq!(done, 0);
    assert!(skipped > 0);

    // After the upload the stores are live: one changed product reaches each store by itself,
    // as one update, and nothing else is sent; an upload then has nothing left to send.
    let before = app.sim.stats();
    let mut p = testdata::product(3);
    p.title = "Boot model 3, red".into();
    app.records()
        .upsert(testdata::record(R::Product(p)))
        .await
        .unwrap();
    let patch = "PATCH /3.0/ecommerce/stores/{store_id}/products/{product_id}";
    let patched = eventually(Duration::from_secs(10), || async {
        app.sim.stats().count(patch) - before.count(patch) == 2
    })
    .await;
    assert!(patched, "live sync sent the change");
    let after = app.sim.stats();
    assert_eq!(entity_requests(&after) - entity_requests(&before), 2);
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert_eq!(entity_requests(&app.sim.stats()), entity_requests(&after));

    // Deleted in the shop, deleted in Mailchimp.
    app.records()
        .delete(pb::RecordKey {
            kind: pb::RecordKind::Coupon as i32,
            id: "k1".into(),
        })
        .await
        .unwrap();
    let deleted = eventually(Duration::from_secs(10), || async {
        app.sim
            .stats()
            .stores
            .values()
            .all(|c| c["promo_rules"] == 2)
    })
    .await;
    assert!(deleted);
    app.stop().await;
}

#[tokio::test]
async fn without_abandoned_carts_no_cart_is_sent() {
    let app = spawn_app().await;
    ready(&app, false).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert!(app.sim.stats().stores.values().all(|c| c["carts"] == 0));
    assert!(job.phases.iter().all(|p| p.kind() != pb::RecordKind::Cart));
    app.stop().await;
}

#[tokio::test]
async fn preconditions_are_named() {
    let app = spawn_app().await;
    let err = app
        .sync()
        .upload_store_data(pb::UploadRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("connected"), "{}", err.message());
    ready(&app, false).await;
    app.lists()
        .select_lists(pb::SelectListsRequest { list_ids: vec![] })
        .await
        .unwrap();
    let err = app
        .sync()
        .upload_store_data(pb::UploadRequest::default())
        .await
        .unwrap_err();
    assert!(
        err.message().contains("no list is selected"),
        "{}",
        err.message()
    );
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            ecommerce_analytics: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = app
        .sync()
        .upload_store_data(pb::UploadRequest::default())
        .await
        .unwrap_err();
    assert!(
        err.message().contains("analytics is off"),
        "{}",
        err.message()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_record_mailchimp_refuses_is_listed_and_the_rest_flows() {
    let app = spawn_app().await;
    ready(&app, false).await;
    small_shop(&app).await;
    // Valid here, refused by Mailchimp: the order gives customer c1 another email.
    app.records()
        .upsert(testdata::record(R::Order(
            testdata::order_with_a_foreign_email(4),
        )))
        .await
        .unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert_eq!(job.errors.len(), 2, "one per store: {:?}", job.errors);
    let e = &job.errors[0];
    assert_eq!(
        (e.kind(), e.id.as_str(), e.status),
        (pb::RecordKind::Order, "100004", 400)
    );
    assert!(e.detail.contains("may not be changed"), "{}", e.detail);
    let failed: i64 = job.phases.iter().map(|p| p.failed).sum();
    assert_eq!(failed, 2);
    assert!(
        app.sim.stats().stores.values().all(|c| c["orders"] == 9),
        "every other order went through"
    );

    // Listed until they go through, counted in the sync status.
    let listed = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest {
            page_size: 1,
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((listed.total, listed.errors.len()), (2, 1), "paged");
    assert_eq!(listed.errors[0].id, "100004");
    assert_eq!(listed.errors[0].attempts, 1);
    let status = app
        .sync()
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.stores.len(), 2);
    for store in &status.stores {
        assert!(!store.is_syncing);
        let orders = store
            .kinds
            .iter()
            .find(|k| k.kind() == pb::RecordKind::Order)
            .unwrap();
        assert_eq!((orders.in_mirror, orders.failed), (10, 1));
        let products = store
            .kinds
            .iter()
            .find(|k| k.kind() == pb::RecordKind::Product)
            .unwrap();
        assert_eq!((products.in_mirror, products.pending), (30, 0));
    }
    assert!(status.last_job.is_some());

    // Refused again without a fix; then the merchant deletes the old customer in Mailchimp and
    // the retry goes through.
    let again = retry_failed(&app).await;
    assert_eq!((again.retried, again.succeeded, again.failed), (2, 0, 2));
    let listed = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.errors[0].attempts, 2);

    // Mailchimp down: the retry says so as an outage, not as a precondition the shop must fix.
    app.sim.set_fail_rate(1.0);
    let down = app
        .sync()
        .retry_failed(pb::RetryFailedRequest {})
        .await
        .unwrap_err();
    assert!(
        matches!(down.code(), Code::Unavailable | Code::ResourceExhausted),
        "{down:?}"
    );
    app.sim.set_fail_rate(0.0);

    for store_id in app.sim.stats().stores.keys() {
        let status = app
            .sim_call(
                "DELETE",
                &format!("/ecommerce/stores/{store_id}/customers/c1"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 204);
    }
    let fixed = retry_failed(&app).await;
    assert_eq!((fixed.retried, fixed.succeeded, fixed.failed), (2, 2, 0));
    let listed = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 0);
    let err = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest {
            page_size: 5000,
            offset: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["page_size"]);
    app.stop().await;
}

#[tokio::test]
async fn two_watchers_one_leaving_and_a_cancel_that_clears_is_syncing() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(20),
        ..sim_config(3)
    };
    let app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    push_products(&app, 0..400).await;

    let mut first = start_upload(&app, pb::UploadMode::Auto).await;
    let job_id = first.next().await.unwrap().unwrap().job_id;
    let mut joined = start_upload(&app, pb::UploadMode::Auto).await;
    assert_eq!(
        joined.next().await.unwrap().unwrap().job_id,
        job_id,
        "a second upload joins the running job"
    );
    drop(first); // one watcher leaves; the job goes on
    let mut watcher = app
        .sync()
        .watch_job(pb::WatchJobRequest {
            job_id: job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let progressed = watcher.next().await.unwrap().unwrap();
    assert_eq!(progressed.state(), pb::JobState::Running);

    let cancelled = app
        .sync()
        .cancel_job(pb::CancelJobRequest {
            job_id: job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state(), pb::JobState::Cancelled);
    let mut last = None;
    while let Some(m) = watcher.next().await {
        last = Some(m.unwrap());
    }
    assert_eq!(
        last.unwrap().state(),
        pb::JobState::Cancelled,
        "the watcher saw the end"
    );
    for store_id in app.sim.stats().stores.keys() {
        assert_eq!(
            sim_store(&app, store_id).await["is_syncing"],
            false,
            "cleared after a cancel"
        );
    }
    let listed = app
        .sync()
        .list_jobs(pb::ListJobsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs[0].job_id, job_id);
    app.stop().await;
}

#[tokio::test]
async fn a_job_interrupted_by_a_restart_resumes_and_completes_without_duplicates() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(10),
        ..sim_config(3)
    };
    let mut app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    push_products(&app, 0..600).await;
    let mut stream = start_upload(&app, pb::UploadMode::Auto).await;
    let job_id = stream.next().await.unwrap().unwrap().job_id;
    assert!(products_arrived(&app.sim, 100).await);
    drop(stream);
    app.restart().await;

    let watcher = app
        .sync()
        .watch_job(pb::WatchJobRequest {
            job_id: job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let job = last_message(watcher).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let stats = app.sim.stats();
    assert!(
        stats.stores.values().all(|c| c["products"] == 600),
        "{:?}",
        stats.stores
    );
    assert_eq!(
        stats.duplicate_creates, 0,
        "what was in flight is sent again as an update, never a second create"
    );
    for store_id in stats.stores.keys() {
        assert_eq!(sim_store(&app, store_id).await["is_syncing"], false);
    }
    app.stop().await;
}

#[tokio::test]
async fn update_store_data_patches_every_store() {
    let app = spawn_app().await;
    ready(&app, false).await;
    let r = app
        .sync()
        .update_store_data(pb::UpdateStoreDataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        r.stores.iter().all(|s| !s.ok && s.error.contains("upload")),
        "no stores yet: {r:?}"
    );
    upload(&app).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            shop: Some(pb::ShopIdentityUpdate {
                company_name: Some("Acme Boots".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let r = app
        .sync()
        .update_store_data(pb::UpdateStoreDataRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.stores.len(), 2);
    for s in &r.stores {
        assert!(s.ok, "{s:?}");
        assert!(
            sim_store(&app, &s.store_id).await["name"]
                .as_str()
                .unwrap()
                .starts_with("Acme Boots (")
        );
    }
    app.stop().await;
}

/// Direct phases run at once: a product Mailchimp keeps failing (retried for seconds) holds
/// back no customer, while an order still goes only once its customer and its products are done.
#[tokio::test]
async fn a_slow_product_holds_back_no_customer_and_orders_follow_what_they_name() {
    let app = slow_retrying_app().await;
    ready(&app, false).await;
    small_shop(&app).await;
    // Named by no order: it only slows its own phase down.
    app.sim.poison("p29");
    let mut writes = app.sim.watch_writes();
    let (job, products_ended) = upload_direct_noting(&app, pb::RecordKind::Product).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(job.errors.len(), 2, "p29 in each store: {:?}", job.errors);

    let seen = received(&mut writes);
    let customers: Vec<_> = seen
        .iter()
        .filter(|w| collection(w) == "customers")
        .collect();
    assert_eq!(customers.len(), 20, "10 customers in 2 stores");
    assert!(
        customers
            .iter()
            .all(|w| w.at + Duration::from_secs(1) < products_ended),
        "every customer reached Mailchimp while p29 was still being retried"
    );

    let done_at = |kind: &str, store: &str, id: &str| {
        seen.iter()
            .find(|w| collection(w) == kind && w.store_id == store && w.id == id)
            .map(|w| w.at)
    };
    let orders: Vec<_> = seen.iter().filter(|w| collection(w) == "orders").collect();
    assert_eq!(orders.len(), 20, "10 orders in 2 stores");
    for o in orders {
        let i: u64 = o.id.parse::<u64>().unwrap() - 100_000;
        let order = testdata::order(i);
        let customer = &order.customer.unwrap().id;
        if i >= 10 {
            // A customer the shop did not send: Mailchimp makes it from the order.
            assert!(done_at("customers", &o.store_id, customer).is_none());
            continue;
        }
        let customer_at = done_at("customers", &o.store_id, customer)
            .unwrap_or_else(|| panic!("order {} went without its customer", o.id));
        assert!(
            customer_at < o.at,
            "order {} before customer {customer}",
            o.id
        );
        for line in &order.lines {
            let product_at = done_at("products", &o.store_id, &line.product_id)
                .unwrap_or_else(|| panic!("order {} went without {}", o.id, line.product_id));
            assert!(
                product_at < o.at,
                "order {} before {}",
                o.id,
                line.product_id
            );
        }
    }
}

/// An order held back until its customer is done holds back no order after it.
#[tokio::test]
async fn an_order_waiting_for_its_customer_holds_back_no_later_order() {
    let app = slow_retrying_app().await;
    ready(&app, false).await;
    let mut records: Vec<pb::Record> = (0..=10)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    records.extend((0..10).map(|i| testdata::record(R::Customer(testdata::customer(i)))));
    // "o1" comes first and names c9, the last customer; "o2" names c0, the first.
    for (id, i) in [("o1", 9), ("o2", 0)] {
        let mut o = testdata::order(i);
        o.id = id.into();
        records.push(testdata::record(R::Order(o)));
    }
    app.records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap();
    app.sim.poison("c9");
    let mut writes = app.sim.watch_writes();
    let (job, customers_ended) = upload_direct_noting(&app, pb::RecordKind::Customer).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(job.errors.len(), 2, "c9 in each store: {:?}", job.errors);
    let seen = received(&mut writes);
    let orders = |id: &str| -> Vec<_> {
        seen.iter()
            .filter(|w| collection(w) == "orders" && w.id == id)
            .map(|w| w.at)
            .collect()
    };
    assert_eq!(orders("o1").len(), 2, "o1 went once c9 was done with");
    let o2 = orders("o2");
    assert_eq!(o2.len(), 2);
    // c9 is retried for over 3 s: o2 went long before that, not as the customers ended.
    assert!(
        o2.iter()
            .all(|at| *at + Duration::from_secs(1) < customers_ended),
        "o2 did not wait for c9, which o1 before it waited for"
    );
}

/// A product made from an order's line is the order's, not one the shop deleted: the product
/// phase, ending while that product's create is still being retried, leaves it alone.
#[tokio::test]
async fn the_product_phase_never_deletes_a_product_an_order_line_is_making() {
    let app = slow_retrying_app().await;
    ready(&app, false).await;
    // Order 500 names p500 and p501, which the shop does not list; its turn comes once p5 is
    // done, while the 200 "z" products keep the product phase busy for a while after.
    let mut records: Vec<pb::Record> = (0..10)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    records.extend((0..200).map(|i| {
        let mut p = testdata::product(i);
        p.id = format!("z{i:03}");
        testdata::record(R::Product(p))
    }));
    records.push(testdata::record(R::Order(testdata::order(500))));
    app.records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap();
    // p500's create fails for seconds, so it is still being retried when the phase ends.
    app.sim.poison("p500");
    let (job, _) = upload_with(&app, pb::UploadMode::Direct).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(
        job.errors.len(),
        2,
        "order 500 in each store: {:?}",
        job.errors
    );
    let stats = app.sim.stats();
    let deletes: Vec<_> = stats
        .requests
        .keys()
        .filter(|route| route.starts_with("DELETE") && route.contains("/products"))
        .collect();
    assert!(deletes.is_empty(), "no product was deleted: {deletes:?}");

    app.sim.cure("p500");
    let retried = retry_failed(&app).await;
    assert_eq!((retried.retried, retried.succeeded), (2, 2));
    for s in app.sim.stats().stores.keys() {
        assert!(app.sim.resource(s, "orders", "100500").is_some());
        assert!(app.sim.resource(s, "products", "p500").is_some());
    }
    app.stop().await;
}

/// A server whose retries take seconds, so that what waits on a failing record visibly waits.
async fn slow_retrying_app() -> TestApp {
    let mut app = spawn_app().await;
    app.config.mailchimp.retry = mcsync::mailchimp::RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
    };
    app.restart().await;
    app
}

/// A direct upload to its end: its last message, and when every phase of `kind` had ended.
async fn upload_direct_noting(
    app: &TestApp,
    kind: pb::RecordKind,
) -> (pb::JobProgress, std::time::Instant) {
    let mut stream = app
        .sync()
        .upload_store_data(pb::UploadRequest {
            mode: pb::UploadMode::Direct as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ended = None;
    let mut last = None;
    while let Some(m) = stream.next().await {
        let m = m.unwrap();
        let all_ended = m
            .phases
            .iter()
            .filter(|p| p.kind() == kind)
            .all(|p| p.done + p.skipped + p.failed == p.total);
        if all_ended && !m.phases.is_empty() && ended.is_none() {
            ended = Some(std::time::Instant::now());
        }
        last = Some(m);
    }
    (last.unwrap(), ended.expect("the phases end"))
}

/// The writes the simulator has told of so far.
fn received(
    writes: &mut tokio::sync::mpsc::UnboundedReceiver<mcsync::sim::Write>,
) -> Vec<mcsync::sim::Write> {
    let mut seen = Vec::new();
    while let Ok(w) = writes.try_recv() {
        seen.push(w);
    }
    seen
}

/// The collection a write went to, e.g. "customers" (created with POST, or upserted with PUT).
fn collection(w: &mcsync::sim::Write) -> String {
    w.template
        .split('/')
        .skip_while(|s| *s != "{store_id}")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// Found by the crash torture: orders that name the same product the mirror lacks, sent
/// side by side in direct mode, each made that product, and Mailchimp refused the second
/// create ("already exists"). The product is made once.
#[tokio::test]
async fn orders_naming_the_same_missing_product_make_it_once() {
    let app = spawn_app().await;
    ready(&app, false).await;
    // Order i names products p{i} and p{i+1}: each product is named by two orders.
    let orders = (0..60)
        .map(|i| testdata::record(R::Order(testdata::order(i))))
        .collect();
    push_all(&app, orders).await;
    let (job, _) = upload_with(&app, pb::UploadMode::Direct).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let stats = app.sim.stats();
    assert_eq!(
        stats.duplicate_creates, 0,
        "{:?}",
        stats.duplicate_creates_by_kind
    );
    app.stop().await;
}
