//! Tag rules: each rule's tag kept on exactly the members its condition holds for, after an
//! upload and as orders arrive and customers change group; in bulk; a hand-made tag untouched;
//! a removed rule's tag taken off what mcsync tagged.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R, tag_condition::Kind};
use mcsync::testdata;
use tonic::Code;

const SOON: Duration = Duration::from_secs(30);
const BULK: &str = "POST /3.0/lists/{list_id}/segments/{segment_id}";
const ONE_BY_ONE: &str = "POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags";

fn rule(tag: &str, kind: Kind) -> pb::TagRule {
    pb::TagRule {
        tag: tag.into(),
        condition: Some(pb::TagCondition { kind: Some(kind) }),
    }
}

fn rules(with_wholesale: bool) -> pb::UpdateSettingsRequest {
    let cond = |kind| pb::TagCondition { kind: Some(kind) };
    let mut rules = vec![
        rule("Buyers", Kind::OrdersAtLeast(1)),
        rule(
            "Boots 3",
            Kind::Bought(pb::ProductsBought {
                product_ids: vec!["p3".into()],
                variant_ids: Vec::new(),
            }),
        ),
        rule(
            "Lapsed big spenders",
            Kind::AllOf(pb::TagConditions {
                conditions: vec![
                    cond(Kind::TotalSpentAtLeast("200".into())),
                    cond(Kind::LastOrderOlderThanDays(1)),
                ],
            }),
        ),
    ];
    if with_wholesale {
        rules.push(rule("Wholesale", Kind::InGroup("wholesale".into())));
    }
    pb::UpdateSettingsRequest {
        tag_rules: Some(pb::TagRules { rules }),
        ..Default::default()
    }
}

fn customer(i: u64, wholesale: bool) -> pb::Customer {
    pb::Customer {
        groups: if wholesale {
            vec!["wholesale".into()]
        } else {
            Vec::new()
        },
        ..testdata::customer(i)
    }
}

/// Ten customers (0 and 1 wholesale), orders by customers 0 to 4.
async fn shop_records(app: &TestApp) {
    let mut records: Vec<pb::Record> = (0..10)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect();
    records.extend((0..10).map(|i| testdata::record(R::Customer(customer(i, i < 2)))));
    records.extend((0..5).map(|i| testdata::record(R::Order(testdata::order(i)))));
    push_all(app, records).await;
}

fn tags(app: &TestApp, list: &str, i: u64) -> Vec<String> {
    let mut t = app
        .sim
        .member_tags(KEY_A, list, &testdata::customer(i).email);
    t.sort();
    t
}

/// Who has `tag` in `list`, by customer number.
fn tagged(app: &TestApp, list: &str, tag: &str) -> Vec<u64> {
    (0..10)
        .filter(|i| tags(app, list, *i).iter().any(|t| t == tag))
        .collect()
}

async fn until(app: &TestApp, list: &str, tag: &str, want: &[u64]) {
    let ok = eventually(SOON, || async { tagged(app, list, tag) == want }).await;
    assert!(ok, "{tag}: {:?}, wanted {want:?}", tagged(app, list, tag));
}

#[tokio::test]
async fn tag_rules_follow_the_shop_and_leave_hand_made_tags_alone() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app_with(sim_config(3), 5).await;
        let lists = ready(&app, false).await;
        shop_records(&app).await;
        app.settings().update_settings(rules(true)).await.unwrap();

        // The dry run says who would gain each tag, before anything is sent.
        let plan = dry_run(&app, pb::UploadMode::Auto).await;
        let gains: Vec<(String, i64, i64)> = plan
            .tag_rules
            .iter()
            .filter(|t| t.list_id == lists[0])
            .map(|t| (t.tag.clone(), t.gain, t.lose))
            .collect();
        assert_eq!(
            gains,
            [
                ("Buyers".into(), 5, 0),
                ("Boots 3".into(), 2, 0),
                ("Lapsed big spenders".into(), 5, 0),
                ("Wholesale".into(), 2, 0)
            ],
            "{mode:?}"
        );

        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );
        for list in &lists {
            until(&app, list, "Buyers", &[0, 1, 2, 3, 4]).await;
            until(&app, list, "Boots 3", &[2, 3]).await;
            until(&app, list, "Lapsed big spenders", &[0, 1, 2, 3, 4]).await;
            until(&app, list, "Wholesale", &[0, 1]).await;
        }
        let stats = app.sim.stats();
        assert!(
            stats.requests.get(BULK).copied().unwrap_or(0) > 0,
            "in bulk"
        );
        assert_eq!(
            stats.requests.get(ONE_BY_ONE),
            None,
            "never one member at a time"
        );

        // The merchant tags by hand: one under a rule's name, one of their own.
        for (i, names) in [(9, vec!["Buyers", "Hand"]), (0, vec!["Hand"])] {
            let email = testdata::customer(i).email;
            let path = format!(
                "/lists/{}/members/{:x}/tags",
                lists[0],
                md5::compute(&email)
            );
            let tags: Vec<_> = names
                .iter()
                .map(|n| serde_json::json!({"name": n, "status": "active"}))
                .collect();
            assert_eq!(
                app.sim_call("POST", &path, serde_json::json!({"tags": tags}))
                    .await,
                204
            );
        }

        // Customer 1 leaves the wholesale group; customer 8 orders.
        app.records()
            .upsert(testdata::record(R::Customer(customer(1, false))))
            .await
            .unwrap();
        app.records()
            .upsert(testdata::record(R::Order(testdata::order(8))))
            .await
            .unwrap();
        until(&app, &lists[0], "Wholesale", &[0]).await;
        until(&app, &lists[0], "Buyers", &[0, 1, 2, 3, 4, 8, 9]).await;
        until(&app, &lists[1], "Buyers", &[0, 1, 2, 3, 4, 8]).await;

        // The Wholesale rule goes: its tag comes off what mcsync tagged.
        app.settings().update_settings(rules(false)).await.unwrap();
        until(&app, &lists[0], "Wholesale", &[]).await;
        until(&app, &lists[1], "Wholesale", &[]).await;
        assert_eq!(
            tags(&app, &lists[0], 0),
            ["Buyers", "Hand", "Lapsed big spenders"],
            "{mode:?}"
        );
        assert_eq!(
            tags(&app, &lists[0], 9),
            ["Buyers", "Hand"],
            "hand-made tags stay"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn rules_are_checked_where_they_are_wrong() {
    let app = spawn_app().await;
    ready(&app, false).await;
    let bad = pb::UpdateSettingsRequest {
        tag_rules: Some(pb::TagRules {
            rules: vec![
                rule("", Kind::OrdersAtLeast(0)),
                rule("VIP", Kind::TotalSpentAtLeast("lots".into())),
                pb::TagRule {
                    tag: "vip".into(),
                    condition: None,
                },
            ],
        }),
        ..Default::default()
    };
    let e = app.settings().update_settings(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&e),
        [
            "tag_rules.rules[0].tag",
            "tag_rules.rules[0].condition",
            "tag_rules.rules[1].condition",
            "tag_rules.rules[2].tag",
            "tag_rules.rules[2].condition"
        ]
    );
    let settings = app
        .settings()
        .update_settings(rules(true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(settings.tag_rules.len(), 4);
    assert_eq!(
        settings.tag_rules[..2],
        rules(true).tag_rules.unwrap().rules[..2]
    );
    let Some(Kind::AllOf(all)) = settings.tag_rules[2].condition.clone().unwrap().kind else {
        panic!("all of");
    };
    assert_eq!(
        all.conditions[0].kind,
        Some(Kind::TotalSpentAtLeast("200.00".into())),
        "amounts read back canonical"
    );
    app.stop().await;
}

/// A rule whose tag Mailchimp refuses (the name of a saved segment) stays out; the other rules
/// and live sync go on.
#[tokio::test]
async fn a_refused_tag_holds_up_neither_the_other_rules_nor_live_sync() {
    let app = spawn_app_with(sim_config(3), 5).await;
    let lists = ready(&app, false).await;
    shop_records(&app).await;
    let rules = pb::UpdateSettingsRequest {
        tag_rules: Some(pb::TagRules {
            rules: vec![
                rule("Recent buyers", Kind::OrdersAtLeast(1)),
                rule("Buyers", Kind::OrdersAtLeast(1)),
            ],
        }),
        ..Default::default()
    };
    app.settings().update_settings(rules).await.unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    until(&app, &lists[0], "Buyers", &[0, 1, 2, 3, 4]).await;
    assert!(tagged(&app, &lists[0], "Recent buyers").is_empty());
    app.records()
        .upsert(testdata::record(R::Order(testdata::order(8))))
        .await
        .unwrap();
    until(&app, &lists[0], "Buyers", &[0, 1, 2, 3, 4, 8]).await;
    let store = app.sim.stats().stores.keys().next().cloned().unwrap();
    assert!(app.sim.resource(&store, "orders", "100008").is_some());
    app.stop().await;
}
