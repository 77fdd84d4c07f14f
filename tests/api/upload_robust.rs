//! Uploads under stress: batch mode end to end, fault storms, a key revoked mid-job, and a
//! process killed with SIGKILL mid-upload.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::SimStats;
use mcsync::testdata;
use tokio_stream::StreamExt;

fn batch_ops(stats: &SimStats, method: &str) -> u64 {
    stats
        .batch_operations
        .iter()
        .filter(|(route, _)| route.starts_with(method))
        .map(|(_, n)| n)
        .sum()
}

/// The small shop in both stores, with `orders` of its ten orders.
fn every_store_has_the_small_shop(stats: &SimStats, orders: u64) {
    assert_eq!(stats.stores.len(), 2, "{:?}", stats.stores);
    for counts in stats.stores.values() {
        assert_eq!(counts["products"], 32, "{counts:?}");
        assert_eq!(counts["orders"], orders, "{counts:?}");
        assert_eq!(counts["carts"], 5, "{counts:?}");
        assert_eq!(counts["promo_codes"], 3, "{counts:?}");
        assert!(counts["customers"] >= 10, "{counts:?}");
    }
}

#[tokio::test]
async fn batch_mode_uploads_everything_settles_each_operation_and_lists_a_refused_one() {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    // Valid here, refused by Mailchimp (customer c1 with another email): refused in the results.
    app.records()
        .upsert(testdata::record(R::Order(
            testdata::order_with_a_foreign_email(2),
        )))
        .await
        .unwrap();
    let (job, _) = upload_with(&app, pb::UploadMode::Batch).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(job.mode(), pb::UploadMode::Batch);
    for p in &job.phases {
        assert_eq!(
            p.batched,
            p.kind() != pb::RecordKind::Coupon,
            "coupons go direct (a rule, then its code)"
        );
    }
    assert_eq!(job.errors.len(), 2, "one per store: {:?}", job.errors);
    let e = &job.errors[0];
    assert_eq!(
        (e.kind(), e.id.as_str(), e.status),
        (pb::RecordKind::Order, "100002", 400)
    );
    assert!(e.detail.contains("may not be changed"), "{}", e.detail);
    let failed: i64 = job.phases.iter().map(|p| p.failed).sum();
    assert_eq!(failed, 2);
    let listed = app
        .sync()
        .list_sync_errors(pb::ListSyncErrorsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 2);

    let stats = app.sim.stats();
    every_store_has_the_small_shop(&stats, 9); // all but the refused order
    assert_eq!(stats.duplicate_creates, 0);
    assert!(
        stats.count("POST /3.0/batches") >= 8,
        "a batch per store and phase"
    );
    assert_eq!(
        stats.count("POST /3.0/ecommerce/stores/{store_id}/orders"),
        0,
        "orders went through batches"
    );
    assert_eq!(batch_ops(&stats, "POST"), 2 * (30 + 10 + 5));
    assert_eq!(batch_ops(&stats, "PUT"), 2 * 10, "customers");

    // Unchanged but for the refused order: a batch of two operations (one per store), refused
    // again; nothing else is sent.
    let (job, _) = upload_with(&app, pb::UploadMode::Batch).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    let again = app.sim.stats();
    assert_eq!(batch_ops(&again, "POST") - batch_ops(&stats, "POST"), 2);
    assert_eq!(
        batch_ops(&again, "") - batch_ops(&stats, ""),
        2,
        "{:?}",
        again.batch_operations
    );
    app.stop().await;
}

#[tokio::test]
async fn auto_mode_batches_only_large_phases() {
    let app = spawn_app().await;
    ready(&app, false).await;
    let products: Vec<_> = (0..mcsync::sync::upload::AUTO_BATCH_MIN as u64)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    let customers = (0..20).map(|i| testdata::record(R::Customer(testdata::customer(i))));
    let all: Vec<_> = products.into_iter().chain(customers).collect();
    app.records()
        .push_records(tokio_stream::iter(all))
        .await
        .unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(job.mode(), pb::UploadMode::Auto);
    for p in &job.phases {
        assert_eq!(p.batched, p.kind() == pb::RecordKind::Product, "{p:?}");
    }
    let stats = app.sim.stats();
    assert!(stats.stores.values().all(|c| c["products"] == 5_000));
    assert_eq!(
        stats.count("PUT /3.0/ecommerce/stores/{store_id}/customers/{customer_id}"),
        40
    );
    app.stop().await;
}

#[tokio::test]
async fn storms_of_429_500_and_503_are_ridden_out_in_both_modes() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let config = mcsync::sim::SimConfig {
            fail_rate: 0.25,
            ..sim_config(3)
        };
        let app = spawn_app_with(config, 1).await;
        ready(&app, true).await;
        small_shop(&app).await;
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );
        assert!(job.errors.is_empty(), "{mode:?}: {:?}", job.errors);
        let stats = app.sim.stats();
        every_store_has_the_small_shop(&stats, 10);
        for status in [429, 500, 503] {
            assert!(
                stats.rejected.get(&status).copied().unwrap_or(0) > 0,
                "{mode:?}: {status} injected"
            );
        }
        assert_eq!(stats.duplicate_creates, 0, "{mode:?}");
        for store_id in stats.stores.keys() {
            assert_eq!(sim_store(&app, store_id).await["is_syncing"], false);
        }
        app.stop().await;
    }
}

/// A revoked key (401) or a suspended account (403 "User Disabled") is not retried: the job
/// fails at once with Mailchimp's reason.
#[tokio::test]
async fn a_key_revoked_or_an_account_suspended_mid_job_fails_it_with_a_clear_reason() {
    for (suspend, reason, status) in [
        (false, "API Key Invalid", 401),
        (true, "User Disabled", 403),
    ] {
        let config = mcsync::sim::SimConfig {
            latency: Duration::from_millis(10),
            ..sim_config(3)
        };
        let app = spawn_app_with(config, 1).await;
        ready(&app, false).await;
        push_products(&app, 0..600).await;
        let stream = start_upload(&app, pb::UploadMode::Direct).await;
        assert!(products_arrived(&app.sim, 50).await);
        if suspend {
            app.sim.disable_key(KEY_A);
        } else {
            app.sim.revoke_key(KEY_A);
        }
        let job = last_message(stream).await;
        assert_eq!(job.state(), pb::JobState::Failed);
        assert!(job.message.contains(reason), "{}", job.message);
        let sent: i64 = job.phases.iter().map(|p| p.done).sum();
        assert!(sent < 1200, "it stopped: {sent} of 1,200 sent");
        let refused = app.sim.stats().rejected.get(&status).copied().unwrap_or(0);
        assert!(refused <= 20, "not retried: {refused} answers {status}");
        assert!(
            job.errors.is_empty(),
            "a refused key is not a refused record"
        );
        let stored = app
            .sync()
            .get_job(pb::GetJobRequest {
                job_id: job.job_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(stored.state(), pb::JobState::Failed);
        app.stop().await;
    }
}

/// The real binary, killed with SIGKILL while it uploads, resumes the job on restart and
/// completes it: every record in every store, no create sent twice, `is_syncing` back to false.
#[tokio::test]
async fn sigkill_mid_upload_then_restart_completes_without_duplicate_creates() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let sim = start_sim(mcsync::sim::SimConfig {
            latency: Duration::from_millis(5),
            batch_delay: Duration::from_millis(300),
            ..sim_config(3)
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let mut server = start_binary(dir.path(), &sim.base_url(), "info");
        let app = Remote::new(server.addr).await;
        ready_at(&app, &sim, false).await;
        let records: Vec<_> = (0..800)
            .map(|i| testdata::record(R::Product(testdata::product(i))))
            .chain((0..200).map(|i| testdata::record(R::Order(testdata::order(i)))))
            .collect();
        app.records()
            .push_records(tokio_stream::iter(records))
            .await
            .unwrap();
        let mut stream = app
            .sync()
            .upload_store_data(pb::UploadRequest {
                mode: mode as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let job_id = stream.next().await.unwrap().unwrap().job_id;
        let busy = eventually(Duration::from_secs(60), || async {
            let s = sim.stats();
            s.stores.values().map(|c| c["products"]).sum::<u64>() >= 300
        })
        .await;
        assert!(busy, "{mode:?}: the upload made progress");
        server.child.kill().unwrap(); // SIGKILL, mid-upload
        server.child.wait().unwrap();
        drop(stream);

        let server = start_binary(dir.path(), &sim.base_url(), "info");
        let app = Remote::new(server.addr).await;
        let job = watch_to_end(&app, &job_id).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );
        let stats = sim.stats();
        for counts in stats.stores.values() {
            assert_eq!(
                (counts["products"], counts["orders"]),
                (800, 200),
                "{mode:?}"
            );
        }
        assert_eq!(
            stats.duplicate_creates, 0,
            "{mode:?}: {:?}",
            stats.duplicate_creates_by_kind
        );
        for store_id in stats.stores.keys() {
            assert_eq!(
                sim_store_at(&sim, store_id).await["is_syncing"],
                false,
                "{mode:?}"
            );
        }
        let mut server = server;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn is_syncing_is_true_during_a_job_and_cleared_after_a_failure_once_mailchimp_is_back() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(10),
        ..sim_config(3)
    };
    let app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    push_products(&app, 0..600).await;
    let stream = start_upload(&app, pb::UploadMode::Direct).await;
    assert!(products_arrived(&app.sim, 50).await);
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    for s in &stores {
        assert_eq!(
            sim_store(&app, s).await["is_syncing"],
            true,
            "true while the job runs"
        );
    }
    // Mailchimp goes away: the job fails, and cannot clear the flag just then.
    app.sim.set_fail_rate(1.0);
    let job = last_message(stream).await;
    assert_eq!(job.state(), pb::JobState::Failed);
    assert!(!job.message.is_empty());
    assert!(sim_store(&app, &stores[0]).await["is_syncing"] == true);
    // Back: the flag is cleared without another job.
    app.sim.set_fail_rate(0.0);
    let cleared = eventually(Duration::from_secs(15), || async {
        let mut all = true;
        for s in &stores {
            all &= sim_store(&app, s).await["is_syncing"] == false;
        }
        all
    })
    .await;
    assert!(
        cleared,
        "is_syncing=false reached Mailchimp once it answered again"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_job_that_cannot_resume_after_a_restart_fails_and_its_stores_stop_syncing() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(10),
        ..sim_config(3)
    };
    let mut app = spawn_app_with(config, 1).await;
    ready(&app, false).await;
    push_products(&app, 0..600).await;
    let stream = start_upload(&app, pb::UploadMode::Direct).await;
    assert!(products_arrived(&app.sim, 50).await);
    drop(stream);
    // The merchant turns e-commerce analytics off; the process restarts mid-job.
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            ecommerce_analytics: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let job_id = app
        .sync()
        .list_jobs(pb::ListJobsRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs[0]
        .job_id
        .clone();
    app.restart().await;
    let job = app
        .sync()
        .get_job(pb::GetJobRequest { job_id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.state(), pb::JobState::Failed);
    assert!(job.message.contains("could not resume"), "{}", job.message);
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    let cleared = eventually(Duration::from_secs(15), || async {
        let mut all = true;
        for s in &stores {
            all &= sim_store(&app, s).await["is_syncing"] == false;
        }
        all
    })
    .await;
    assert!(cleared, "is_syncing=false reached Mailchimp without a job");
    app.stop().await;
}
