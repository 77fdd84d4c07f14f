//! A degraded state that tells the truth: GetSyncStatus (and `mcsync status`) say why mcsync
//! cannot sync (a refused key at once, an outage once it has lasted) instead of failing.

use crate::common;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use mcsync::testdata;

async fn degraded(app: &TestApp) -> String {
    app.sync()
        .get_sync_status(pb::GetSyncStatusRequest {})
        .await
        .expect("the status answers even when Mailchimp does not")
        .into_inner()
        .degraded
}

#[tokio::test]
async fn a_revoked_key_is_reported_as_degraded_with_mailchimps_reason() {
    let app = spawn_app().await;
    ready(&app, false).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert_eq!(degraded(&app).await, "", "healthy after an upload");

    app.sim.revoke_key(KEY_A);
    let reason = degraded(&app).await;
    assert!(reason.contains("refuses the API key"), "{reason}");
    assert!(
        reason.contains("401"),
        "Mailchimp's answer is named: {reason}"
    );
    app.stop().await;
}

#[tokio::test]
async fn mailchimp_out_of_reach_is_degraded_once_it_lasts() {
    let mut app = spawn_app().await;
    ready(&app, false).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);

    let sim = std::mem::replace(&mut app.sim, start_sim(sim_config(1)).await);
    sim.shutdown().await;
    // Once the outage is older than the threshold (the unit test in mailchimp::health shows a
    // younger one is not reported).
    degraded(&app).await;
    tokio::time::sleep(UNREACHABLE_AFTER * 2).await;
    let reason = degraded(&app).await;
    assert!(reason.contains("unreachable"), "{reason}");
    app.stop().await;
}

async fn overall(app: &TestApp, service: &str) -> i32 {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    HealthClient::new(app.channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// A store that cannot write (a full disk, through the store's seam): writes are refused as
/// UNAVAILABLE, gRPC health says NOT_SERVING overall and per service, GetSyncStatus says why;
/// once writes succeed again, all of it is back without a restart.
#[tokio::test]
async fn a_store_that_cannot_write_is_not_serving_until_a_write_succeeds() {
    use tonic_health::ServingStatus;
    let app = spawn_app().await;
    ready(&app, false).await;
    let serving = ServingStatus::Serving as i32;
    let not_serving = ServingStatus::NotServing as i32;
    assert_eq!(overall(&app, "").await, serving);

    let store = app.server.as_ref().unwrap().app.store().clone();
    store.inject_write_failure(true);
    let refused = app
        .records()
        .upsert(testdata::record(pb::record::Record::Product(
            testdata::product(1),
        )))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            overall(&app, "").await == not_serving
        })
        .await,
        "NOT_SERVING while the store cannot write"
    );
    assert_eq!(
        overall(&app, "mcsync.v1.StoreDataService").await,
        not_serving
    );
    let reason = degraded(&app).await;
    assert!(
        reason.contains("cannot write") && reason.contains("no space"),
        "{reason}"
    );

    store.inject_write_failure(false);
    app.records()
        .upsert(testdata::record(pb::record::Record::Product(
            testdata::product(1),
        )))
        .await
        .expect("written once the disk has room");
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            overall(&app, "").await == serving
        })
        .await,
        "SERVING again without a restart"
    );
    assert_eq!(degraded(&app).await, "");
    app.stop().await;
}
