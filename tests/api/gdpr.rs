//! GDPR marketing permissions: read from Mailchimp with the audiences, answered by the shopper
//! through Subscribe, sent on the member write, and kept as a consent record that outlives an
//! unsubscribe.

use crate::common;
use crate::subscriptions::{request, settled, shop};

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use tonic::Code;

/// Connected with two lists selected; the first has GDPR fields and one member (Mailchimp shows
/// permission ids only on members). Returns the lists and the first's permissions.
async fn gdpr_shop(single_opt_in: bool) -> (TestApp, Vec<String>, Vec<pb::MarketingPermission>) {
    let (app, lists) = shop(single_opt_in, pb::SubscriptionElementType::Checkbox).await;
    app.sim.enable_marketing_permissions(KEY_A, &lists[0]);
    let before = audience(&app, &lists[0]).await;
    assert!(
        before.marketing_permissions.is_empty() && !before.marketing_permissions_enabled,
        "known only after a refresh"
    );
    app.sim.add_contacts(KEY_A, &lists[0], 1);
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let gdpr = audience(&app, &lists[0]).await;
    assert!(gdpr.marketing_permissions_enabled);
    let texts: Vec<&str> = gdpr
        .marketing_permissions
        .iter()
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(
        texts,
        ["Email", "Direct Mail", "Customized Online Advertising"]
    );
    let plain = audience(&app, &lists[1]).await;
    assert!(!plain.marketing_permissions_enabled && plain.marketing_permissions.is_empty());
    (app, lists, gdpr.marketing_permissions)
}

fn answer(p: &pb::MarketingPermission, enabled: bool) -> pb::MarketingPermissionChoice {
    pb::MarketingPermissionChoice {
        marketing_permission_id: p.id.clone(),
        enabled,
    }
}

#[tokio::test]
async fn settings_show_each_selected_audiences_permissions() {
    let (app, lists, permissions) = gdpr_shop(true).await;
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    let by_list: Vec<(&str, bool, usize)> = settings
        .marketing_permissions
        .iter()
        .map(|a| (a.list_id.as_str(), a.enabled, a.permissions.len()))
        .collect();
    assert_eq!(
        by_list,
        [(lists[0].as_str(), true, 3), (lists[1].as_str(), false, 0)]
    );
    assert_eq!(settings.marketing_permissions[0].permissions, permissions);
    app.stop().await;
}

#[tokio::test]
async fn a_gdpr_subscription_sends_the_answers_and_keeps_its_consent_record_after_unsubscribe() {
    for single_opt_in in [true, false] {
        let (app, lists, permissions) = gdpr_shop(single_opt_in).await;
        let email = "eu.shopper@example.com";
        let mut r = request(email, &[&lists[0], &lists[1]]);
        r.marketing_permissions = vec![
            answer(&permissions[0], true),
            answer(&permissions[1], false),
        ];
        app.subscriptions().subscribe(r).await.unwrap();
        let now = settled(&app, email).await;

        let l0 = now.iter().find(|l| l.list_id == lists[0]).unwrap();
        assert_eq!(l0.state(), pb::SubscriptionState::Applied, "{l0:?}");
        let consent = l0.consent.as_ref().expect("a consent record");
        let given: Vec<(&str, &str, bool)> = consent
            .permissions
            .iter()
            .map(|p| {
                (
                    p.marketing_permission_id.as_str(),
                    p.text.as_str(),
                    p.enabled,
                )
            })
            .collect();
        assert_eq!(
            given,
            [
                (permissions[0].id.as_str(), "Email", true),
                (permissions[1].id.as_str(), "Direct Mail", false)
            ]
        );
        assert!(consent.given_at.as_ref().is_some_and(|t| t.seconds > 0));
        let l1 = now.iter().find(|l| l.list_id == lists[1]).unwrap();
        assert_eq!(l1.state(), pb::SubscriptionState::Applied);
        assert!(l1.consent.is_none(), "the plain audience has no record");

        let held = app.sim.member_permissions(KEY_A, &lists[0], email).unwrap();
        assert_eq!(held.get(&permissions[0].id), Some(&true));
        assert_eq!(held.get(&permissions[1].id), Some(&false));
        assert_eq!(held.get(&permissions[2].id), None, "not answered, not sent");

        // Unsubscribing ends the subscription, not the record of what was agreed.
        app.subscriptions()
            .unsubscribe(pb::UnsubscribeRequest {
                email: email.into(),
                list_ids: vec![lists[0].clone()],
            })
            .await
            .unwrap();
        let after = settled(&app, email).await;
        let l0 = after.iter().find(|l| l.list_id == lists[0]).unwrap();
        assert_eq!(
            (l0.wanted.as_str(), l0.status.as_str()),
            ("unsubscribed", "unsubscribed")
        );
        assert_eq!(l0.consent.as_ref(), Some(consent));
        nothing_unknown_or_invalid(&app.sim.stats(), "GDPR member writes");
        app.stop().await;
    }
}

#[tokio::test]
async fn answers_are_checked_against_the_audiences_and_nothing_is_queued_when_one_is_wrong() {
    let (app, lists, permissions) = gdpr_shop(true).await;
    let email = "checked@example.com";
    let refused = |r: pb::SubscribeRequest| {
        let app = &app;
        async move {
            let e = app.subscriptions().subscribe(r).await.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
            (violated_fields(&e), e.message().to_owned())
        }
    };

    let mut unknown = request(email, &[&lists[0]]);
    unknown.marketing_permissions = vec![
        answer(&permissions[0], true),
        pb::MarketingPermissionChoice {
            marketing_permission_id: "nope".into(),
            enabled: true,
        },
    ];
    let (fields, message) = refused(unknown).await;
    assert_eq!(fields, ["marketing_permissions[1].marketing_permission_id"]);
    assert!(message.contains("'nope'"), "{message}");

    let mut twice = request(email, &[&lists[0]]);
    twice.marketing_permissions = vec![
        answer(&permissions[0], true),
        answer(&permissions[0], false),
    ];
    let (fields, message) = refused(twice).await;
    assert_eq!(fields, ["marketing_permissions[1].marketing_permission_id"]);
    assert!(message.contains("twice"), "{message}");

    let mut flood = request(email, &[&lists[0]]);
    flood.marketing_permissions = vec![answer(&permissions[0], true); 51];
    let (fields, message) = refused(flood).await;
    assert_eq!(fields, ["marketing_permissions"]);
    assert!(message.contains("at most 50"), "{message}");

    // The permissions of an audience not subscribed to, or answers to a plain audience.
    let mut plain = request(email, &[&lists[1]]);
    plain.marketing_permissions = vec![answer(&permissions[0], true)];
    let (fields, message) = refused(plain).await;
    assert_eq!(fields, ["marketing_permissions[0].marketing_permission_id"]);
    assert!(
        message.contains("no GDPR marketing permissions"),
        "{message}"
    );

    let nothing = app
        .subscriptions()
        .get_subscriptions(pb::GetSubscriptionsRequest {
            email: email.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        nothing.lists.iter().all(|l| l.wanted.is_empty()),
        "{nothing:?}"
    );
    assert_eq!(app.sim.member_status(KEY_A, &lists[0], email), None);
    app.stop().await;
}

/// What the simulator refuses, as Mailchimp would: a permission the audience does not have.
#[tokio::test]
async fn the_simulator_refuses_a_permission_the_audience_does_not_have() {
    let (app, lists, permissions) = gdpr_shop(true).await;
    let email = "direct@example.com";
    let path = format!("/lists/{}/members/{:x}", lists[0], md5::compute(email));
    let body = |id: &str| {
        serde_json::json!({"email_address": email, "status_if_new": "subscribed",
            "marketing_permissions": [{"marketing_permission_id": id, "enabled": true}]})
    };
    assert_eq!(app.sim_call("PUT", &path, body("nope")).await, 400);
    assert_eq!(
        app.sim_call("PUT", &path, body(&permissions[2].id)).await,
        200
    );
    let plain = format!("/lists/{}/members/{:x}", lists[1], md5::compute(email));
    assert_eq!(
        app.sim_call("PUT", &plain, body(&permissions[2].id)).await,
        400,
        "an audience without GDPR fields"
    );
    app.stop().await;
}
