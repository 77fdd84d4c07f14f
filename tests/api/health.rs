//! A degraded state that tells the truth: GetSyncStatus (and `mcsync status`) say why mcsync
//! cannot sync (a refused key at once, an outage once it has lasted) instead of failing.

use crate::common;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;

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

    let sim = std::mem::replace(
        &mut app.sim,
        mcsync::sim::start(
            sim_config(1),
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .unwrap(),
    );
    sim.shutdown().await;
    // Once the outage is older than the threshold (the unit test in mailchimp::health shows a
    // younger one is not reported).
    degraded(&app).await;
    tokio::time::sleep(UNREACHABLE_AFTER * 2).await;
    let reason = degraded(&app).await;
    assert!(reason.contains("unreachable"), "{reason}");
    app.stop().await;
}
