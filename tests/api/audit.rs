//! The self-audit that needs no button: on its schedule, each live store is checked against
//! what Mailchimp holds, writing nothing; drift made in Mailchimp (records deleted by hand, a
//! promo code removed) is repaired by the reconciled upload it starts.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use mcsync::sim::SimStats;

const SOON: Duration = Duration::from_secs(30);

/// Requests that change something in Mailchimp, direct or in batches.
fn writes(stats: &SimStats) -> u64 {
    let direct: u64 = stats
        .requests
        .iter()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(_, n)| n)
        .sum();
    direct + stats.batch_operations.values().sum::<u64>()
}

async fn status(app: &TestApp) -> pb::SyncStatus {
    app.sync()
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// The last audit of every store, once each is newer than `after` and any repair has ended.
async fn audited_after(app: &TestApp, after: i64) -> Vec<pb::Audit> {
    let seen = std::sync::Mutex::new(Vec::new());
    let done = eventually(SOON, || async {
        let last: Vec<pb::Audit> = status(app)
            .await
            .stores
            .into_iter()
            .filter_map(|s| s.last_audit)
            .collect();
        *seen.lock().unwrap() = last.clone();
        last.len() == 2
            && last.iter().all(|a| {
                a.at.as_ref().is_some_and(|t| t.seconds >= after)
                    && a.repair_state != pb::JobState::Running as i32
            })
    })
    .await;
    let last = seen.into_inner().unwrap();
    assert!(done, "both stores audited: {last:?}");
    last
}

fn code_path(store: &str, coupon: &str) -> String {
    format!("/ecommerce/stores/{store}/promo-rules/{coupon}/promo-codes/{coupon}")
}

#[tokio::test]
async fn drift_made_in_mailchimp_is_found_and_repaired_with_no_upload_pressed() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app().await;
        ready(&app, true).await;
        small_shop(&app).await;
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
        let s = &stores[0];

        // By hand in Mailchimp: a product, an order and a promo code (its rule stays).
        for path in [
            format!("/ecommerce/stores/{s}/products/p7"),
            format!("/ecommerce/stores/{s}/orders/100002"),
            code_path(s, "k1"),
        ] {
            assert_eq!(
                app.sim_call("DELETE", &path, serde_json::json!({})).await,
                204
            );
        }
        assert!(app.sim.resource(s, "promo_rules", "k1").is_some());

        let before = mcsync::domain::now();
        app.server.as_ref().unwrap().app.request_audit();
        let audits = audited_after(&app, before).await;
        let drifted = audits
            .iter()
            .find(|a| a.found.as_ref().unwrap().store_id == *s)
            .unwrap();
        let found = drifted.found.clone().unwrap();
        assert!(!drifted.in_sync, "{mode:?}: {drifted:?}");
        assert_eq!(found.missing_in_mailchimp, 2, "{mode:?}: {found:?}");
        assert_eq!(found.promo_codes_missing, 1, "{mode:?}: {found:?}");
        assert!(drifted.records_checked >= 50, "{drifted:?}");
        assert_eq!(
            drifted.repair_state,
            pb::JobState::Succeeded as i32,
            "{drifted:?}"
        );
        let other = audits
            .iter()
            .find(|a| a.found.as_ref().unwrap().store_id != *s)
            .unwrap();
        assert!(other.in_sync, "the untouched store: {other:?}");

        // The repair: a job of the last job's mode, started by the audit, that put it back.
        let repair = app
            .sync()
            .get_job(pb::GetJobRequest {
                job_id: drifted.repair_job_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(repair.trigger.starts_with("audit: "), "{}", repair.trigger);
        assert!(
            repair.trigger.contains("2 missing in mailchimp"),
            "{}",
            repair.trigger
        );
        assert_eq!(repair.mode(), mode);
        assert!(app.sim.resource(s, "products", "p7").is_some());
        assert!(app.sim.resource(s, "orders", "100002").is_some());
        assert_eq!(
            app.sim_call("GET", &code_path(s, "k1"), serde_json::json!({}))
                .await,
            200
        );
        let stats = app.sim.stats();
        assert_eq!(stats.duplicate_creates, 0);
        nothing_unknown_or_invalid(&stats, &format!("{mode:?} repair"));

        let shown = text_of(&crate::cli::mcsync(&app, TOKEN, &["status"]).await);
        assert!(
            shown.contains("missing 2") && shown.contains("codes 1; repaired"),
            "{shown}"
        );
        let metrics = app.metrics().await;
        assert_eq!(
            sample(&metrics, "mcsync_store_audits_total{result=\"drift\"}"),
            Some(1.0),
            "{metrics}"
        );
        assert_eq!(
            sample(
                &metrics,
                "mcsync_audit_findings_total{found=\"promo_codes_missing\"}"
            ),
            Some(1.0)
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn an_audit_of_stores_in_sync_only_reads() {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    // Live sync and the upload's last word settled: nothing else is on the way.
    let quiet = eventually(SOON, || async {
        let before = writes(&app.sim.stats());
        tokio::task::yield_now().await;
        status(&app).await.stores.iter().all(|s| !s.is_syncing)
            && before == writes(&app.sim.stats())
    })
    .await;
    assert!(quiet);
    let before = app.sim.stats();

    // The operator's "now", the same audit the schedule runs.
    let audits = app
        .sync()
        .audit_stores(pb::AuditStoresRequest {})
        .await
        .unwrap()
        .into_inner()
        .audits;
    assert_eq!(audits.len(), 2);
    for a in &audits {
        assert!(a.in_sync && a.error.is_empty(), "{a:?}");
        assert!(a.repair_job_id.is_empty());
        let found = a.found.as_ref().unwrap();
        // Products, customers, orders, carts and promo rules, one page each, and the codes of
        // the three coupons.
        assert!(found.reads <= 10, "{found:?}");
    }
    let after = app.sim.stats();
    assert_eq!(
        writes(&after),
        writes(&before),
        "nothing written to Mailchimp"
    );
    assert!(after.total() > before.total(), "it read");
    let jobs = app
        .sync()
        .list_jobs(pb::ListJobsRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 1, "no repair job");
    let kept = status(&app).await;
    assert!(
        kept.stores
            .iter()
            .all(|s| s.last_audit.as_ref().is_some_and(|a| a.in_sync))
    );

    // From the terminal: the same audit, and the status that keeps it.
    let out = crate::cli::mcsync(&app, TOKEN, &["audit"]).await;
    let shown = text_of(&out);
    assert!(out.status.success(), "{shown}");
    assert_eq!(
        shown.matches("records checked: in sync").count(),
        2,
        "{shown}"
    );
    let shown = text_of(&crate::cli::mcsync(&app, TOKEN, &["status"]).await);
    assert_eq!(shown.matches("Last audit:").count(), 2, "{shown}");
    assert_eq!(writes(&app.sim.stats()), writes(&before));
    app.stop().await;
}

#[tokio::test]
async fn the_audit_interval_is_a_setting_daily_by_default() {
    let app = spawn_app().await;
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        settings.audit_interval(),
        pb::ListUpdateInterval::ListUpdateInterval1Day
    );
    let changed = app
        .settings()
        .update_settings(pb::UpdateSettingsRequest {
            audit_interval: Some(pb::ListUpdateInterval::ListUpdateInterval1Week as i32),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        changed.audit_interval(),
        pb::ListUpdateInterval::ListUpdateInterval1Week
    );
    let refused = app
        .settings()
        .update_settings(pb::UpdateSettingsRequest {
            audit_interval: Some(99),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["audit_interval"]);
    app.stop().await;
}
