//! The merchant's merge-field map: checked against the audience when set, carried to members
//! as customers are uploaded and change, as PATCHes of the changed merge fields only, never of
//! a member's status; a value the field's type would refuse is left out and listed.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tonic::Code;

const SOON: Duration = Duration::from_secs(20);
const PATCH: &str = "PATCH /3.0/lists/{list_id}/members/{subscriber_hash}";

/// Two lists selected; the first has a TIER dropdown, POINTS number and COMPANY text besides
/// Mailchimp's defaults (FNAME, LNAME, ADDRESS, PHONE, BIRTHDAY).
async fn shop() -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    app.sim
        .add_merge_field(KEY_A, &lists[0], "TIER", "dropdown", &["Gold", "Silver"]);
    app.sim
        .add_merge_field(KEY_A, &lists[0], "POINTS", "number", &[]);
    app.sim
        .add_merge_field(KEY_A, &lists[0], "COMPANY", "text", &[]);
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    (app, lists)
}

fn map(list: &str, pairs: &[(&str, &str)]) -> pb::UpdateSettingsRequest {
    pb::UpdateSettingsRequest {
        merge_fields: Some(pb::MergeFieldMaps {
            audiences: vec![pb::MergeFieldMap {
                list_id: list.to_owned(),
                mappings: pairs
                    .iter()
                    .map(|(source, tag)| pb::MergeFieldMapping {
                        source: source.to_string(),
                        tag: tag.to_string(),
                    })
                    .collect(),
            }],
        }),
        ..Default::default()
    }
}

const MAP: [(&str, &str); 5] = [
    ("phone", "PHONE"),
    ("birthday", "BIRTHDAY"),
    ("address", "ADDRESS"),
    ("attributes.tier", "TIER"),
    ("attributes.points", "POINTS"),
];

fn customer(i: u64, tier: &str) -> pb::Customer {
    pb::Customer {
        phone: format!("555-010{i}"),
        birthday: "1990-07-04".into(),
        attributes: [("tier", tier), ("points", "12")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..testdata::customer(i)
    }
}

async fn upsert(app: &TestApp, c: pb::Customer) {
    app.records()
        .upsert(testdata::record(R::Customer(c)))
        .await
        .unwrap();
}

fn merge(app: &TestApp, list: &str, i: u64) -> serde_json::Value {
    app.sim
        .member(KEY_A, list, &testdata::customer(i).email)
        .map(|m| m["merge_fields"].clone())
        .unwrap_or_default()
}

async fn errors(app: &TestApp) -> Vec<pb::SyncError> {
    app.sync()
        .list_sync_errors(pb::ListSyncErrorsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .errors
}

#[tokio::test]
async fn a_map_is_checked_against_the_audiences_fields_when_it_is_set() {
    let (app, lists) = shop().await;
    let audience = audience(&app, &lists[0]).await;
    let tier = audience
        .merge_fields
        .iter()
        .find(|f| f.tag == "TIER")
        .unwrap();
    assert_eq!((tier.r#type.as_str(), tier.choices.len()), ("dropdown", 2));

    let bad = map(
        &lists[0],
        &[
            ("shoe_size", "PHONE"),
            ("first_name", "NOPE"),
            ("address", "PHONE"),
            ("phone", "PHONE"),
            ("company", "PHONE"),
        ],
    );
    let e = app.settings().update_settings(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&e),
        [
            "merge_fields.audiences[0].mappings[0].source",
            "merge_fields.audiences[0].mappings[1].tag",
            "merge_fields.audiences[0].mappings[2].tag",
            "merge_fields.audiences[0].mappings[4].tag"
        ]
    );
    let e = app
        .settings()
        .update_settings(map("nope", &[("phone", "PHONE")]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&e), ["merge_fields.audiences[0].list_id"]);
    let mut three = map(&lists[0], &[("phone", "PHONE")]);
    let maps = three.merge_fields.as_mut().unwrap();
    maps.audiences = vec![maps.audiences[0].clone(); 3];
    let e = app.settings().update_settings(three).await.unwrap_err();
    assert_eq!(
        violated_fields(&e),
        ["merge_fields.audiences"],
        "two lists are selected"
    );
    let unchanged = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(unchanged.merge_fields.is_empty());

    let set = app
        .settings()
        .update_settings(map(&lists[0], &MAP))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.merge_fields.len(), 1);
    assert_eq!(set.merge_fields[0].mappings[3].source, "attributes.tier");
    app.stop().await;
}

#[tokio::test]
async fn mapped_fields_reach_members_and_follow_the_customer_without_touching_a_status() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let (app, lists) = shop().await;
        // Customer 0 is a member already, and unsubscribed: the map must not change that.
        let email0 = testdata::customer(0).email;
        let path = format!("/lists/{}/members/{:x}", lists[0], md5::compute(&email0));
        let body = serde_json::json!({"email_address": email0, "status_if_new": "unsubscribed"});
        assert_eq!(app.sim_call("PUT", &path, body).await, 200);
        app.settings()
            .update_settings(map(&lists[0], &MAP))
            .await
            .unwrap();
        upsert(&app, customer(0, "Gold")).await;
        // A tier the dropdown does not have: left out, and listed; the rest goes through.
        upsert(&app, customer(1, "Bronze")).await;
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );

        let arrived = eventually(SOON, || async {
            merge(&app, &lists[0], 0)["TIER"] == "Gold"
                && merge(&app, &lists[0], 1)["POINTS"] == 12.0
        })
        .await;
        assert!(arrived, "{mode:?}: {}", merge(&app, &lists[0], 0));
        let m0 = merge(&app, &lists[0], 0);
        assert_eq!(m0["PHONE"], "555-0100");
        assert_eq!(m0["BIRTHDAY"], "07/04");
        assert_eq!(m0["POINTS"], 12.0);
        assert_eq!(
            m0["ADDRESS"]["city"],
            testdata::customer(0).address.unwrap().city
        );
        assert_eq!(
            app.sim.member_status(KEY_A, &lists[0], &email0).as_deref(),
            Some("unsubscribed"),
            "{mode:?}: a map never changes a status"
        );
        assert_eq!(merge(&app, &lists[0], 1)["TIER"], "", "left out");
        assert_eq!(
            merge(&app, &lists[0], 1)["BIRTHDAY"],
            "07/04",
            "the rest went through"
        );
        assert!(
            merge(&app, &lists[1], 0).get("TIER").is_none(),
            "the other audience has no map"
        );
        let listed = eventually(SOON, || async {
            errors(&app).await.iter().any(|e| {
                e.id == "c1"
                    && e.field_errors
                        .iter()
                        .any(|f| f.starts_with("merge_fields.TIER:"))
            })
        })
        .await;
        assert!(listed, "{mode:?}: {:?}", errors(&app).await);

        // The merchant changes PHONE by hand in Mailchimp; then the customer's tier changes in
        // the shop: one PATCH, with the tier only.
        let hand = serde_json::json!({"merge_fields": {"PHONE": "999"}});
        assert_eq!(app.sim_call("PATCH", &path, hand).await, 200);
        let patches = app.sim.stats().requests.get(PATCH).copied().unwrap_or(0);
        upsert(&app, customer(0, "Silver")).await;
        let followed = eventually(SOON, || async {
            merge(&app, &lists[0], 0)["TIER"] == "Silver"
        })
        .await;
        assert!(followed, "{mode:?}");
        assert_eq!(
            merge(&app, &lists[0], 0)["PHONE"],
            "999",
            "unchanged fields are not sent"
        );
        assert_eq!(
            app.sim.stats().requests.get(PATCH).copied().unwrap_or(0),
            patches + 1,
            "{mode:?}: one PATCH"
        );

        // The shop fixes customer 1's tier: the field goes, and the listing goes.
        upsert(&app, customer(1, "Silver")).await;
        let fixed = eventually(SOON, || async {
            merge(&app, &lists[0], 1)["TIER"] == "Silver"
                && !errors(&app).await.iter().any(|e| e.id == "c1")
        })
        .await;
        assert!(fixed, "{mode:?}: {:?}", errors(&app).await);
        nothing_unknown_or_invalid(&app.sim.stats(), "member PATCHes");
        app.stop().await;
    }
}

/// A map set after the upload reaches the members already there: every customer is pushed
/// again, and only its merge fields are sent.
#[tokio::test]
async fn a_map_set_later_reaches_the_members_already_synced() {
    let (app, lists) = shop().await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let before = app.sim.stats();
    app.settings()
        .update_settings(map(&lists[0], &[("company", "COMPANY")]))
        .await
        .unwrap();
    let arrived = eventually(SOON, || async {
        (0..10).all(|i| merge(&app, &lists[0], i)["COMPANY"] == "Freddie's Jokes")
    })
    .await;
    assert!(arrived, "{}", merge(&app, &lists[0], 0));
    let after = app.sim.stats();
    assert_eq!(
        entity_requests(&after),
        entity_requests(&before),
        "no customer is sent again"
    );
    assert_eq!(
        after.requests.get(PATCH).copied().unwrap_or(0),
        10,
        "one PATCH per member"
    );
    app.stop().await;
}

/// A subscription's names go to the tags the map gives them.
#[tokio::test]
async fn a_subscription_sends_the_names_to_the_mapped_tags() {
    let (app, lists) = shop().await;
    app.sim
        .add_merge_field(KEY_A, &lists[0], "FIRST", "text", &[]);
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    app.settings()
        .update_settings(map(&lists[0], &[("first_name", "FIRST")]))
        .await
        .unwrap();
    let email = "named@example.com";
    app.subscriptions()
        .subscribe(pb::SubscribeRequest {
            email: email.into(),
            list_ids: vec![lists[0].clone()],
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let arrived = eventually(SOON, || async {
        app.sim
            .member(KEY_A, &lists[0], email)
            .is_some_and(|m| m["merge_fields"]["FIRST"] == "Ada")
    })
    .await;
    assert!(arrived);
    let m = app.sim.member(KEY_A, &lists[0], email).unwrap();
    assert_eq!(m["merge_fields"]["FNAME"], "", "the map moved it");
    assert_eq!(
        m["merge_fields"]["LNAME"], "Lovelace",
        "unmapped: as before"
    );
    app.stop().await;
}
