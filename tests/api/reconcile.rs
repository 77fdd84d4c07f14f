//! Mailchimp is the truth: "Upload store data" reads what each store really holds first, and
//! repairs any desync, in both modes: records deleted in Mailchimp come back, orphans go, a
//! deleted store is rebuilt whole; a resync sends everything again without one create.

use crate::common;

use std::collections::BTreeMap;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::SimStats;
use serde_json::json;

const MODES: [pb::UploadMode; 2] = [pb::UploadMode::Direct, pb::UploadMode::Batch];

type Counts = BTreeMap<String, BTreeMap<String, u64>>;

/// The small shop uploaded in `mode`, and what each store holds then.
async fn uploaded(mode: pb::UploadMode) -> (TestApp, Vec<String>, Counts) {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    let job = upload_ok(&app, mode).await;
    assert_eq!(job.reconciliations.len(), 2, "one per store");
    let stats = app.sim.stats();
    let stores = stats.stores.keys().cloned().collect();
    (app, stores, stats.stores)
}

async fn upload_ok(app: &TestApp, mode: pb::UploadMode) -> pb::JobProgress {
    let (job, _) = upload_with(app, mode).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert!(job.errors.is_empty(), "{mode:?}: {:?}", job.errors);
    job
}

async fn call(app: &TestApp, method: &str, path: &str, body: serde_json::Value, status: u16) {
    assert_eq!(
        app.sim_call(method, path, body).await,
        status,
        "{method} {path}"
    );
}

/// Every store's sync status.
async fn stores_status(app: &TestApp) -> Vec<pb::StoreStatus> {
    let status = app
        .sync()
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await;
    status.unwrap().into_inner().stores
}

/// Every record parked in ListSyncErrors.
async fn sync_errors(app: &TestApp) -> pb::ListSyncErrorsResponse {
    let req = pb::ListSyncErrorsRequest::default();
    app.sync().list_sync_errors(req).await.unwrap().into_inner()
}

async fn jobs(app: &TestApp) -> Vec<pb::JobProgress> {
    let listed = app.sync().list_jobs(pb::ListJobsRequest {}).await;
    listed.unwrap().into_inner().jobs
}

/// Deletes a resource through Mailchimp's API, behind mcsync's back.
async fn delete_in_mailchimp(app: &TestApp, path: &str) {
    call(app, "DELETE", path, json!({}), 204).await;
}

fn creates(stats: &SimStats) -> u64 {
    stats
        .requests
        .iter()
        .chain(&stats.batch_operations)
        .filter(|(route, _)| route.starts_with("POST /3.0/ecommerce/stores/{store_id}/"))
        .map(|(_, n)| n)
        .sum()
}

fn variant_ids(app: &TestApp, store: &str, product: &str) -> Vec<String> {
    let p = app.sim.resource(store, "products", product).unwrap();
    let ids = p["variants"].as_array().unwrap().iter();
    ids.map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn records_deleted_in_mailchimp_come_back_with_the_next_upload() {
    for mode in MODES {
        let (app, stores, before) = uploaded(mode).await;
        for s in &stores {
            let base = format!("/ecommerce/stores/{s}");
            for path in [
                "products/p3",
                "orders/100004",
                "customers/c5",
                "carts/cart2",
            ] {
                delete_in_mailchimp(&app, &format!("{base}/{path}")).await;
            }
            let variant = format!("{base}/products/p6/variants/p6-43");
            delete_in_mailchimp(&app, &variant).await;
        }
        let job = upload_ok(&app, mode).await;
        assert_eq!(
            app.sim.stats().stores,
            before,
            "{mode:?}: every record is back"
        );
        for s in &stores {
            assert!(variant_ids(&app, s, "p6").contains(&"p6-43".to_owned()));
        }
        for r in &job.reconciliations {
            assert_eq!(
                (r.missing_in_mailchimp, r.variants_missing, r.orphans),
                (4, 1, 0),
                "{mode:?}: {r:?}"
            );
            assert!(!r.store_recreated);
            assert!(r.reads >= 5, "{r:?}");
        }
        for s in &stores_status(&app).await {
            let last = s.last_reconciliation.as_ref().expect("kept for the status");
            assert_eq!(last.missing_in_mailchimp, 4);
        }

        // Intact now: the next upload only reads.
        let writes = entity_requests(&app.sim.stats());
        let job = upload_ok(&app, mode).await;
        assert_eq!(entity_requests(&app.sim.stats()), writes, "{mode:?}");
        assert!(
            job.reconciliations
                .iter()
                .all(|r| r.missing_in_mailchimp == 0)
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn orphans_in_mailchimp_are_deleted_and_guest_customers_kept() {
    for mode in MODES {
        let (app, stores, before) = uploaded(mode).await;
        for s in &stores {
            let base = format!("/ecommerce/stores/{s}");
            let product = json!({"id": "ghost", "title": "Left by another integration",
                "variants": [{"id": "ghost-1", "title": "One"}]});
            call(&app, "POST", &format!("{base}/products"), product, 200).await;
            let order = json!({"id": "ghost-order", "currency_code": "USD", "order_total": 1,
                "customer": {"id": "c1", "email_address": "customer1@example.com", "opt_in_status": false},
                "lines": [{"id": "l1", "product_id": "p1", "product_variant_id": "p1-42", "quantity": 1, "price": 1}]});
            call(&app, "POST", &format!("{base}/orders"), order, 200).await;
            let rule = json!({"id": "ghost-rule", "description": "Old sale", "amount": 5,
                "type": "fixed", "target": "total"});
            call(&app, "POST", &format!("{base}/promo-rules"), rule, 200).await;
            let variant = json!({"id": "p7-99", "title": "Size 99"});
            let path = format!("{base}/products/p7/variants/p7-99");
            call(&app, "PUT", &path, variant, 200).await;
        }
        let job = upload_ok(&app, mode).await;
        for r in &job.reconciliations {
            assert_eq!((r.orphans, r.variants_deleted), (3, 1), "{mode:?}: {r:?}");
        }
        assert_eq!(app.sim.stats().stores, before, "{mode:?}: orphans gone");
        for s in &stores {
            assert!(app.sim.resource(s, "products", "ghost").is_none());
            assert!(!variant_ids(&app, s, "p7").contains(&"p7-99".to_owned()));
            // Order 100500's customer is not a shop customer, but the shop's order names it.
            assert!(app.sim.resource(s, "customers", "c500").is_some());
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_store_deleted_in_mailchimp_is_rebuilt_whole() {
    for mode in MODES {
        let (app, stores, before) = uploaded(mode).await;
        delete_in_mailchimp(&app, &format!("/ecommerce/stores/{}", stores[0])).await;
        let job = upload_ok(&app, mode).await;
        assert_eq!(app.sim.stats().stores, before, "{mode:?}: rebuilt whole");
        let rebuilt = &job.reconciliations[0];
        assert_eq!(rebuilt.store_id, stores[0]);
        assert!(rebuilt.store_recreated, "{rebuilt:?}");
        assert!(rebuilt.missing_in_mailchimp >= 50, "{rebuilt:?}");
        assert!(!job.reconciliations[1].store_recreated);
        assert_eq!(job.reconciliations[1].missing_in_mailchimp, 0);
        assert_eq!(app.sim.stats().duplicate_creates, 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_resync_sends_every_record_again_and_never_a_create() {
    for mode in MODES {
        let (app, _, before) = uploaded(mode).await;
        let stats = app.sim.stats();
        let (creates_before, writes_before) = (creates(&stats), entity_requests(&stats));
        let ops_before: u64 = stats.batch_operations.values().sum();
        let mut stream = app
            .sync()
            .upload_store_data(pb::UploadRequest {
                mode: mode as i32,
                resync: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut last = None;
        while let Some(m) = tokio_stream::StreamExt::next(&mut stream).await {
            last = Some(m.unwrap());
        }
        let job = last.unwrap();
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        assert!(job.resync && job.errors.is_empty(), "{:?}", job.errors);
        let stats = app.sim.stats();
        assert_eq!(creates(&stats), creates_before, "{mode:?}: no create");
        let ops: u64 = stats.batch_operations.values().sum();
        let sent = entity_requests(&stats) - writes_before + ops - ops_before;
        assert!(sent >= 2 * 50, "{mode:?}: every record sent again ({sent})");
        assert_eq!(stats.stores, before);
        assert_eq!(stats.duplicate_creates, 0);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_store_deleted_while_live_heals_by_itself_with_the_changes_made_meanwhile() {
    for mode in MODES {
        let (app, stores, before) = uploaded(mode).await;
        delete_in_mailchimp(&app, &format!("/ecommerce/stores/{}", stores[0])).await;
        let mut p = mcsync::testdata::product(3);
        p.title = "Boot model 3, relaunched".into();
        for r in [R::Product(p), R::Customer(mcsync::testdata::customer(901))] {
            app.records()
                .upsert(mcsync::testdata::record(r))
                .await
                .unwrap();
        }
        let healed = eventually(std::time::Duration::from_secs(30), || async {
            stores.iter().all(|s| {
                app.sim
                    .resource(s, "products", "p3")
                    .is_some_and(|p| p["title"] == "Boot model 3, relaunched")
                    && app.sim.resource(s, "customers", "c901").is_some()
            })
        })
        .await;
        assert!(healed, "{mode:?}");
        let jobs = jobs(&app).await;
        let repair = &jobs[0];
        assert!(repair.trigger.starts_with("repair"), "{repair:?}");
        let repair = watch_to_end(&app, &repair.job_id).await;
        assert_eq!(
            repair.state(),
            pb::JobState::Succeeded,
            "{}",
            repair.message
        );
        assert_eq!(repair.mode(), mode, "in the mode of the last job");
        let rebuilt = &repair.reconciliations[0];
        assert!(rebuilt.store_recreated, "{rebuilt:?}");
        let stats = app.sim.stats();
        for s in &stores {
            let mut expected = before[s].clone();
            *expected.get_mut("customers").unwrap() += 1;
            assert_eq!(stats.stores[s], expected, "{mode:?}: {s} whole again");
        }
        let stores = stores_status(&app).await;
        assert!(stores.iter().all(|s| s.lost_reason.is_empty()));
        let errors = sync_errors(&app).await;
        assert_eq!(errors.total, 0, "{:?}", errors.errors);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_sends_no_write() {
    for mode in MODES {
        let (app, stores, _) = uploaded(mode).await;
        for s in &stores {
            let base = format!("/ecommerce/stores/{s}");
            for path in ["products/p3", "orders/100004", "products/p6/variants/p6-43"] {
                delete_in_mailchimp(&app, &format!("{base}/{path}")).await;
            }
            let ghost =
                json!({"id": "ghost", "title": "Ghost", "variants": [{"id": "g", "title": "G"}]});
            call(&app, "POST", &format!("{base}/products"), ghost, 200).await;
        }
        let jobs_before = jobs(&app).await.len();
        // The consent the upload queued is applied in the background: let it finish, so
        // that every write seen from here on would be the dry run's.
        let settled = eventually(std::time::Duration::from_secs(20), || async {
            let server = app.server.as_ref().unwrap();
            server
                .app
                .store()
                .pending_subscriptions(1)
                .unwrap()
                .is_empty()
        })
        .await;
        assert!(settled, "{mode:?}: the consent queue drains");
        let before = app.sim.stats();
        let mut stream = app
            .sync()
            .upload_store_data(pb::UploadRequest {
                mode: mode as i32,
                dry_run: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let plan = stream.message().await.unwrap().expect("one message");
        assert!(stream.message().await.unwrap().is_none(), "only one");
        assert!(plan.dry_run && plan.job_id.is_empty(), "{plan:?}");

        let after = app.sim.stats();
        let writes = |s: &SimStats| {
            let direct: u64 = s
                .requests
                .iter()
                .filter(|(route, _)| !route.starts_with("GET"))
                .map(|(_, n)| n)
                .sum();
            direct + s.batch_operations.values().sum::<u64>()
        };
        assert_eq!(writes(&after), writes(&before), "{mode:?}: no write");
        assert_eq!(jobs(&app).await.len(), jobs_before, "not a job");
        for s in &stores {
            assert_eq!(sim_store(&app, s).await["is_syncing"], false);
        }
        let phase = |store: &str, kind: pb::RecordKind| {
            let found = plan
                .plan
                .iter()
                .find(|p| p.store_id == store && p.kind() == kind);
            let p = found.unwrap();
            (p.creates, p.updates, p.deletes, p.unchanged)
        };
        for s in &stores {
            // p3 again, p6 with its lost variant, the ghost away, the other 28 as they are.
            assert_eq!(phase(s, pb::RecordKind::Product), (1, 1, 1, 28), "{mode:?}");
            assert_eq!(phase(s, pb::RecordKind::Order), (1, 0, 0, 9), "{mode:?}");
            assert_eq!(
                phase(s, pb::RecordKind::Customer),
                (0, 0, 0, 10),
                "{mode:?}"
            );
        }
        for r in &plan.reconciliations {
            let counts = (r.missing_in_mailchimp, r.orphans, r.variants_missing);
            assert_eq!(counts, (2, 1, 1), "{r:?}");
        }

        // The upload then does just that.
        let job = upload_ok(&app, mode).await;
        let done: i64 = job.phases.iter().map(|p| p.done).sum();
        assert_eq!(done, 2 * 4, "{mode:?}: {:?}", job.phases);
        app.stop().await;
    }
}

#[tokio::test]
async fn an_unselected_lists_store_is_detached_and_removed_only_when_asked() {
    let (app, _, _) = uploaded(pb::UploadMode::Direct).await;
    let stores = stores_status(&app).await;
    let (kept, dropped) = (&stores[0], &stores[1]);
    let selected = app
        .lists()
        .select_lists(pb::SelectListsRequest {
            list_ids: vec![kept.list_id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    let detached = &selected.detached_stores;
    assert_eq!(detached.len(), 1, "SelectLists says so: {detached:?}");
    assert_eq!(
        (&detached[0].store_id, &detached[0].list_id),
        (&dropped.store_id, &dropped.list_id)
    );

    // Not fed any more, and not removed silently.
    let mut p = mcsync::testdata::product(4);
    p.title = "Boot model 4, only where fed".into();
    app.records()
        .upsert(mcsync::testdata::record(R::Product(p)))
        .await
        .unwrap();
    let fed = eventually(std::time::Duration::from_secs(20), || async {
        let p = app.sim.resource(&kept.store_id, "products", "p4").unwrap();
        p["title"] == "Boot model 4, only where fed"
    })
    .await;
    assert!(fed);
    let p4 = app
        .sim
        .resource(&dropped.store_id, "products", "p4")
        .unwrap();
    assert_eq!(p4["title"], "Boot model 4");
    let stores = stores_status(&app).await;
    assert_eq!(stores.len(), 2);
    assert!(!stores[0].detached && stores[1].detached, "{stores:?}");

    // Removed when asked; never a fed store.
    let remove = |store_id: &str| {
        let req = pb::RemoveStoreRequest {
            store_id: store_id.into(),
        };
        let mut sync = app.sync();
        async move { sync.remove_store(req).await }
    };
    let fed = remove(&kept.store_id).await.unwrap_err();
    assert_eq!(fed.code(), tonic::Code::FailedPrecondition, "{fed:?}");
    let removed = remove(&dropped.store_id).await.unwrap().into_inner();
    assert_eq!(removed.list_id, dropped.list_id);
    assert!(sim_store(&app, &dropped.store_id).await.get("id").is_none());
    assert!(!app.sim.stats().stores.contains_key(&dropped.store_id));
    let again = remove(&dropped.store_id).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::NotFound);
    let lists = app.lists().list_lists(pb::ListListsRequest {}).await;
    assert!(lists.unwrap().into_inner().detached_stores.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn carts_leave_mailchimp_when_abandoned_carts_are_turned_off() {
    for mode in MODES {
        let (app, stores, _) = uploaded(mode).await;
        assert!(
            stores
                .iter()
                .all(|s| app.sim.stats().stores[s]["carts"] == 5)
        );
        app.settings()
            .update_settings(pb::UpdateSettingsRequest {
                abandoned_carts: Some(false),
                ..Default::default()
            })
            .await
            .unwrap();
        let gone = eventually(std::time::Duration::from_secs(20), || async {
            let stats = app.sim.stats();
            stores.iter().all(|s| stats.stores[s]["carts"] == 0)
        })
        .await;
        assert!(gone, "{mode:?}: {:?}", app.sim.stats().stores);
        let job = upload_ok(&app, mode).await;
        assert!(job.phases.iter().all(|p| p.kind() != pb::RecordKind::Cart));
        let stats = app.sim.stats();
        assert!(stores.iter().all(|s| stats.stores[s]["carts"] == 0));
        app.stop().await;
    }
}

#[tokio::test]
async fn a_record_deleted_in_mailchimp_is_created_again_by_its_next_live_change() {
    let (app, stores, _) = uploaded(pb::UploadMode::Direct).await;
    for s in &stores {
        let path = format!("/ecommerce/stores/{s}/products/p8");
        delete_in_mailchimp(&app, &path).await;
    }
    let mut p = mcsync::testdata::product(8);
    p.title = "Boot model 8, back".into();
    app.records()
        .upsert(mcsync::testdata::record(R::Product(p)))
        .await
        .unwrap();
    let back = eventually(std::time::Duration::from_secs(20), || async {
        stores.iter().all(|s| {
            let p = app.sim.resource(s, "products", "p8");
            p.is_some_and(|p| p["title"] == "Boot model 8, back")
        })
    })
    .await;
    assert!(back, "created again, not parked");
    assert_eq!(sync_errors(&app).await.total, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_store_of_several_pages_is_compared_whole() {
    let app = spawn_app().await;
    ready(&app, false).await;
    push_products(&app, 0..2_500).await;
    upload_ok(&app, pb::UploadMode::Batch).await;
    let before = app.sim.stats().stores;
    for s in before.keys() {
        let base = format!("/ecommerce/stores/{s}/products");
        // One on each of the three pages of ids.
        for p in ["p7", "p1500", "p2499"] {
            delete_in_mailchimp(&app, &format!("{base}/{p}")).await;
        }
        let ghost = json!({"id": "ghost", "title": "Left by another integration",
            "variants": [{"id": "ghost-1", "title": "One"}]});
        call(&app, "POST", &base, ghost, 200).await;
    }

    let job = upload_ok(&app, pb::UploadMode::Direct).await;
    for r in &job.reconciliations {
        assert_eq!((r.missing_in_mailchimp, r.orphans), (3, 1), "{r:?}");
        assert!(
            r.reads >= 3 + 3,
            "three pages of products and the other kinds: {r:?}"
        );
    }
    assert_eq!(
        app.sim.stats().stores,
        before,
        "the three are back, the orphan gone"
    );
    app.stop().await;
}
