//! Newsletter subscriptions: the merchant's opt-in rules, applied to Mailchimp in the
//! background; and nothing else mcsync does ever changes a member's status.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use mcsync::testdata;
use tonic::Code;

const SOON: Duration = Duration::from_secs(15);

/// Connected, two lists selected, the given opt-in rules.
pub(crate) async fn shop(
    single_opt_in: bool,
    element: pb::SubscriptionElementType,
) -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            single_opt_in: Some(single_opt_in),
            subscription_element_type: Some(element as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    (app, lists)
}

pub(crate) fn request(email: &str, lists: &[&String]) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        email: email.into(),
        list_ids: lists.iter().map(|l| l.to_string()).collect(),
        first_name: "Urist".into(),
        last_name: "McVankab".into(),
        ..Default::default()
    }
}

/// Waits until every list of the email is settled (applied or refused) and returns them.
pub(crate) async fn settled(app: &TestApp, email: &str) -> Vec<pb::ListSubscription> {
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let lists = app
            .subscriptions()
            .get_subscriptions(pb::GetSubscriptionsRequest {
                email: email.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .lists;
        if lists
            .iter()
            .all(|l| l.state() != pb::SubscriptionState::Queued)
        {
            return lists;
        }
        assert!(tokio::time::Instant::now() < deadline, "settled: {lists:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status(app: &TestApp, list: &str, email: &str) -> Option<String> {
    app.sim.member_status(KEY_A, list, email)
}

#[tokio::test]
async fn single_opt_in_subscribes_with_merge_fields_and_interests() {
    let (app, lists) = shop(true, pb::SubscriptionElementType::Checkbox).await;
    let audiences = app
        .lists()
        .list_lists(pb::ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = audiences.lists.iter().find(|a| a.id == lists[0]).unwrap();
    let interest = first.interest_categories[0].interests[0].id.clone();
    let mut r = request("urist@example.com", &[&lists[0]]);
    r.interest_ids = vec![interest.clone()];
    let answer = app.subscriptions().subscribe(r).await.unwrap().into_inner();
    let l0 = answer.lists.iter().find(|l| l.list_id == lists[0]).unwrap();
    assert_eq!(
        (l0.wanted.as_str(), l0.status.as_str()),
        ("subscribed", "subscribed")
    );
    assert_eq!(
        l0.state(),
        pb::SubscriptionState::Queued,
        "acknowledged once stored"
    );

    let now = settled(&app, "urist@example.com").await;
    let l0 = now.iter().find(|l| l.list_id == lists[0]).unwrap();
    assert_eq!(
        (l0.state(), l0.status.as_str()),
        (pb::SubscriptionState::Applied, "subscribed")
    );
    let other = now.iter().find(|l| l.list_id == lists[1]).unwrap();
    assert_eq!(
        other.state(),
        pb::SubscriptionState::Unspecified,
        "checkbox: others untouched"
    );
    let member = app
        .sim
        .member(KEY_A, &lists[0], "urist@example.com")
        .unwrap();
    assert_eq!(member["status"], "subscribed");
    assert_eq!(member["merge_fields"]["FNAME"], "Urist");
    assert_eq!(member["merge_fields"]["LNAME"], "McVankab");
    assert_eq!(member["interests"][&interest], true);
    assert_eq!(status(&app, &lists[1], "urist@example.com"), None);
    app.stop().await;
}

#[tokio::test]
async fn double_opt_in_leaves_members_pending_and_mails_a_confirmation_but_never_downgrades() {
    let (app, lists) = shop(false, pb::SubscriptionElementType::Checkbox).await;
    let before = app.sim.stats().confirmation_mails;
    app.subscriptions()
        .subscribe(request("new@example.com", &[&lists[0], &lists[1]]))
        .await
        .unwrap();
    settled(&app, "new@example.com").await;
    assert_eq!(
        status(&app, &lists[0], "new@example.com").as_deref(),
        Some("pending")
    );
    assert_eq!(
        status(&app, &lists[1], "new@example.com").as_deref(),
        Some("pending")
    );
    assert_eq!(app.sim.stats().confirmation_mails - before, 2);

    // Already subscribed: stays subscribed, no confirmation mail.
    app.sim
        .set_member_status(KEY_A, &lists[0], "loyal@example.com", "subscribed");
    let before = app.sim.stats().confirmation_mails;
    app.subscriptions()
        .subscribe(request("loyal@example.com", &[&lists[0]]))
        .await
        .unwrap();
    let now = settled(&app, "loyal@example.com").await;
    assert_eq!(
        now.iter().find(|l| l.list_id == lists[0]).unwrap().status,
        "subscribed"
    );
    assert_eq!(
        status(&app, &lists[0], "loyal@example.com").as_deref(),
        Some("subscribed")
    );
    assert_eq!(app.sim.stats().confirmation_mails, before);

    // Unsubscribed earlier: only a confirmation brings them back, even with single opt-in.
    app.sim
        .set_member_status(KEY_A, &lists[1], "gone@example.com", "unsubscribed");
    app.subscriptions()
        .subscribe(request("gone@example.com", &[&lists[1]]))
        .await
        .unwrap();
    let now = settled(&app, "gone@example.com").await;
    let l1 = now.iter().find(|l| l.list_id == lists[1]).unwrap();
    assert_eq!(
        (l1.state(), l1.status.as_str()),
        (pb::SubscriptionState::Applied, "pending")
    );

    // A cleaned address is refused by Mailchimp, and the answer says so.
    app.sim
        .set_member_status(KEY_A, &lists[0], "bounced@example.com", "cleaned");
    app.subscriptions()
        .subscribe(request("bounced@example.com", &[&lists[0]]))
        .await
        .unwrap();
    let now = settled(&app, "bounced@example.com").await;
    let l0 = now.iter().find(|l| l.list_id == lists[0]).unwrap();
    assert_eq!(l0.state(), pb::SubscriptionState::Refused);
    assert!(l0.error.contains("compliance state"), "{}", l0.error);
    assert_eq!(
        status(&app, &lists[0], "bounced@example.com").as_deref(),
        Some("cleaned")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_select_box_takes_one_list_and_switching_unsubscribes_from_the_other() {
    let (app, lists) = shop(true, pb::SubscriptionElementType::Select).await;
    let err = app
        .subscriptions()
        .subscribe(request("pick@example.com", &[&lists[0], &lists[1]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["list_ids"]);

    app.subscriptions()
        .subscribe(request("pick@example.com", &[&lists[0]]))
        .await
        .unwrap();
    settled(&app, "pick@example.com").await;
    assert_eq!(
        status(&app, &lists[0], "pick@example.com").as_deref(),
        Some("subscribed")
    );
    assert_eq!(
        status(&app, &lists[1], "pick@example.com"),
        None,
        "not made a member elsewhere"
    );

    app.subscriptions()
        .subscribe(request("pick@example.com", &[&lists[1]]))
        .await
        .unwrap();
    let now = settled(&app, "pick@example.com").await;
    assert_eq!(
        status(&app, &lists[1], "pick@example.com").as_deref(),
        Some("subscribed")
    );
    assert_eq!(
        status(&app, &lists[0], "pick@example.com").as_deref(),
        Some("unsubscribed")
    );
    let l0 = now.iter().find(|l| l.list_id == lists[0]).unwrap();
    assert_eq!(
        (l0.wanted.as_str(), l0.status.as_str()),
        ("unsubscribed", "unsubscribed")
    );

    // None picked: out of every list.
    app.subscriptions()
        .subscribe(request("pick@example.com", &[]))
        .await
        .unwrap();
    settled(&app, "pick@example.com").await;
    assert_eq!(
        status(&app, &lists[1], "pick@example.com").as_deref(),
        Some("unsubscribed")
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_name_their_field() {
    let (app, lists) = shop(true, pb::SubscriptionElementType::Checkbox).await;
    let not_selected = app.sim.list_ids(KEY_A)[2].clone();
    let mut r = request("not an email", &[&lists[0], &not_selected]);
    r.interest_ids = vec!["nope".into()];
    let err = app.subscriptions().subscribe(r).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&err),
        ["email", "list_ids[1]", "interest_ids[0]"]
    );

    // A list removed from Mailchimp is refused too.
    app.sim.remove_list(KEY_A, &lists[1]);
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let err = app
        .subscriptions()
        .subscribe(request("a@example.com", &[&lists[1]]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["list_ids[0]"]);

    app.settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap();
    let err = app
        .subscriptions()
        .subscribe(request("a@example.com", &[&lists[0]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn unsubscribe_leaves_the_lists_and_never_makes_a_member() {
    let (app, lists) = shop(true, pb::SubscriptionElementType::Checkbox).await;
    app.subscriptions()
        .subscribe(request("both@example.com", &[&lists[0], &lists[1]]))
        .await
        .unwrap();
    settled(&app, "both@example.com").await;
    app.subscriptions()
        .unsubscribe(pb::UnsubscribeRequest {
            email: "both@example.com".into(),
            list_ids: Vec::new(),
        })
        .await
        .unwrap();
    settled(&app, "both@example.com").await;
    assert_eq!(
        status(&app, &lists[0], "both@example.com").as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(
        status(&app, &lists[1], "both@example.com").as_deref(),
        Some("unsubscribed")
    );

    app.subscriptions()
        .unsubscribe(pb::UnsubscribeRequest {
            email: "stranger@example.com".into(),
            list_ids: vec![lists[0].clone()],
        })
        .await
        .unwrap();
    let now = settled(&app, "stranger@example.com").await;
    assert_eq!(now[0].state(), pb::SubscriptionState::Applied);
    assert_eq!(status(&app, &lists[0], "stranger@example.com"), None);
    app.stop().await;
}

#[tokio::test]
async fn a_request_made_while_mailchimp_is_away_is_applied_when_it_is_back() {
    let (app, lists) = shop(true, pb::SubscriptionElementType::Checkbox).await;
    app.sim.set_fail_rate(1.0);
    app.subscriptions()
        .subscribe(request("patient@example.com", &[&lists[0]]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(&app, &lists[0], "patient@example.com"), None);
    app.sim.set_fail_rate(0.0);
    // The worker's backoff after the outage is a few seconds at most here.
    let applied = eventually(Duration::from_secs(30), || async {
        status(&app, &lists[0], "patient@example.com").as_deref() == Some("subscribed")
    })
    .await;
    assert!(applied);
    app.stop().await;
}

#[tokio::test]
async fn uploads_and_live_sync_never_change_a_members_status() {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    // Members as the merchant's audience already has them.
    let c = |i: u64| testdata::customer(i).email;
    app.sim
        .set_member_status(KEY_A, &lists[0], &c(0), "unsubscribed"); // accepts marketing
    app.sim
        .set_member_status(KEY_A, &lists[0], &c(2), "pending"); // accepts marketing
    app.sim
        .set_member_status(KEY_A, &lists[0], &c(3), "subscribed"); // does not
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert_eq!(
        status(&app, &lists[0], &c(0)).as_deref(),
        Some("unsubscribed")
    );
    assert_eq!(status(&app, &lists[0], &c(2)).as_deref(), Some("pending"));
    assert_eq!(
        status(&app, &lists[0], &c(3)).as_deref(),
        Some("subscribed")
    );
    // New to the audience: accepts marketing → pending (double opt-in asks first), else
    // transactional.
    let asked = eventually(SOON, || async {
        status(&app, &lists[0], &c(4)).as_deref() == Some("pending")
    })
    .await;
    assert!(asked, "{:?}", status(&app, &lists[0], &c(4)));
    assert_eq!(
        status(&app, &lists[0], &c(5)).as_deref(),
        Some("transactional")
    );

    // Live sync of a changed customer changes nothing either.
    let arrived = rename_customer_live(&app, 0).await;
    assert!(arrived);
    assert_eq!(
        status(&app, &lists[0], &c(0)).as_deref(),
        Some("unsubscribed")
    );
    app.stop().await;
}

/// An audience whose merchant made PHONE required: Mailchimp refuses a member write without it
/// ("Your merge fields were invalid."), unless the write says `skip_merge_validation`. The
/// shop's form does not ask for a phone, and mcsync's member writes never let an audience's
/// required fields block a subscription or a consent request.
#[tokio::test]
async fn a_required_merge_field_never_blocks_a_subscription() {
    for single in [true, false] {
        let (app, lists) = shop(single, pb::SubscriptionElementType::Checkbox).await;
        app.sim.require_merge_field(KEY_A, &lists[0], "PHONE");
        let email = "phoneless@example.com";
        let hash = format!("{:x}", md5::compute(email));
        let path = format!("/lists/{}/members/{hash}", lists[0]);
        let bare = serde_json::json!({"email_address": email, "status_if_new": "pending"});
        assert_eq!(
            app.sim_call("PUT", &path, bare.clone()).await,
            400,
            "what Mailchimp refuses"
        );

        app.subscriptions()
            .subscribe(request(email, &[&lists[0]]))
            .await
            .unwrap();
        let now = settled(&app, email).await;
        let l0 = now.iter().find(|l| l.list_id == lists[0]).unwrap();
        let wanted = if single { "subscribed" } else { "pending" };
        assert_eq!(
            (l0.state(), l0.status.as_str(), l0.error.as_str()),
            (pb::SubscriptionState::Applied, wanted, ""),
            "single opt-in {single}"
        );
        assert_eq!(status(&app, &lists[0], email).as_deref(), Some(wanted));
        app.stop().await;
    }
}
