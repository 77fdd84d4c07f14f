//! The storefront script: each store's connected site is read or made with the store, shown
//! in GetSettings, and checked on the storefront by Mailchimp on request.

use crate::common;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;

#[tokio::test]
async fn each_store_gets_its_site_script_and_mailchimp_checks_the_storefront_for_it() {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    let before = app
        .sync()
        .verify_site_script(pb::VerifySiteScriptRequest {})
        .await
        .unwrap_err();
    assert_eq!(before.code(), tonic::Code::FailedPrecondition, "{before:?}");

    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.site_scripts.len(), 2, "one per selected audience");
    for (site, list) in settings.site_scripts.iter().zip(&lists) {
        assert_eq!(&site.list_id, list);
        assert!(site.fragment.contains("<script") && site.fragment.contains(&site.url));
        assert!(!site.verified);
    }
    let stats = app.sim.stats();
    assert_eq!(stats.count("POST /3.0/connected-sites"), 2);
    nothing_unknown_or_invalid(&stats, "connected sites made");

    // A second upload reads the sites; none is made twice.
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded);
    assert_eq!(app.sim.stats().count("POST /3.0/connected-sites"), 2);

    // shop.example.com does not print the script (nor answer): Mailchimp says so, per store.
    let checked = app
        .sync()
        .verify_site_script(pb::VerifySiteScriptRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.sites.len(), 2);
    for site in &checked.sites {
        assert!(!site.verified);
        assert!(site.problem.contains("not found"), "{}", site.problem);
    }
    app.stop().await;
}
