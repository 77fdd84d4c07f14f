//! Consent is the merchant's choice. Under double opt-in the e-commerce sync never subscribes
//! anyone: customers, and the customers inside orders and carts, go with `opt_in_status: false`,
//! and a customer who accepts marketing is asked once (a `pending` member, a confirmation mail).
//! Under single opt-in `opt_in_status: true` subscribes such a customer. In both modes an
//! existing member's status is never changed.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;

const SOON: Duration = Duration::from_secs(20);

/// c0..c9 (the even ones accept marketing), and the shoppers of order 100600 and cart700, who
/// never made an account.
const CUSTOMERS: [&str; 12] = [
    "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c600", "c700",
];

fn email(i: u64) -> String {
    testdata::customer(i).email
}

/// The small shop, an order and a cart by guests, and two members the audiences already have:
/// customer 0 unsubscribed from the first list, customer 2 subscribed to the second.
async fn shop(single_opt_in: bool) -> (TestApp, Vec<String>) {
    let app = spawn_app().await;
    let lists = ready(&app, true).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            single_opt_in: Some(single_opt_in),
            ..Default::default()
        })
        .await
        .unwrap();
    app.sim
        .set_member_status(KEY_A, &lists[0], &email(0), "unsubscribed");
    app.sim
        .set_member_status(KEY_A, &lists[1], &email(2), "subscribed");
    small_shop(&app).await;
    for r in [R::Order(testdata::order(600)), R::Cart(testdata::cart(700))] {
        app.records().upsert(testdata::record(r)).await.unwrap();
    }
    (app, lists)
}

fn status(app: &TestApp, list: &str, email: &str) -> String {
    app.sim
        .member_status(KEY_A, list, email)
        .unwrap_or_else(|| "(not a member)".into())
}

/// `opt_in_status` of every customer, in every store, as Mailchimp holds it.
fn opt_in_statuses(app: &TestApp) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for store in app.sim.stats().stores.keys() {
        for id in CUSTOMERS {
            let c = app.sim.resource(store, "customers", id);
            let c = c.unwrap_or_else(|| panic!("{id} is in store {store}"));
            out.push((id.to_owned(), c["opt_in_status"].clone()));
        }
    }
    out
}

async fn subscriptions(app: &TestApp, email: &str) -> Vec<pb::ListSubscription> {
    app.subscriptions()
        .get_subscriptions(pb::GetSubscriptionsRequest {
            email: email.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .lists
}

async fn upload_ok(app: &TestApp, mode: pb::UploadMode) {
    let (job, _) = upload_with(app, mode).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert!(job.errors.is_empty(), "{:?}", job.errors);
}

#[tokio::test]
async fn double_opt_in_asks_each_consenting_customer_once_and_subscribes_nobody() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let (app, lists) = shop(false).await;
        upload_ok(&app, mode).await;

        for (id, opt_in) in opt_in_statuses(&app) {
            assert_eq!(opt_in, false, "{mode:?}: {id} is sent without consent");
        }
        // Asked: customers 2, 4, 6, 8 in the first list; 0, 4, 6, 8 in the second.
        let asked = |list: &str, i: u64| status(&app, list, &email(i)) == "pending";
        let all_asked = eventually(SOON, || async {
            [2, 4, 6, 8].iter().all(|&i| asked(&lists[0], i))
                && [0, 4, 6, 8].iter().all(|&i| asked(&lists[1], i))
        })
        .await;
        assert!(
            all_asked,
            "{mode:?}: {}",
            status(&app, &lists[0], &email(4))
        );
        assert_eq!(app.sim.stats().confirmation_mails, 8, "{mode:?}");
        // Members already there are left as they are.
        assert_eq!(status(&app, &lists[0], &email(0)), "unsubscribed");
        assert_eq!(status(&app, &lists[1], &email(2)), "subscribed");
        // Those who did not consent, and guests, are transactional contacts only.
        for e in [email(1), email(7), "customer600@example.com".into()] {
            for list in &lists {
                assert_eq!(status(&app, list, &e), "transactional", "{mode:?}: {e}");
            }
        }
        assert_eq!(
            status(&app, &lists[0], "customer700@example.com"),
            "transactional"
        );

        // The request is visible like any subscription.
        let subs = subscriptions(&app, &email(4)).await;
        let settled = eventually(SOON, || async {
            subscriptions(&app, &email(4))
                .await
                .iter()
                .all(|s| s.state() != pb::SubscriptionState::Queued)
        })
        .await;
        assert!(settled, "{subs:?}");
        let subs = subscriptions(&app, &email(4)).await;
        assert_eq!(subs.len(), 2, "{subs:?}");
        for s in &subs {
            assert_eq!(
                (s.wanted.as_str(), s.state(), s.status.as_str()),
                ("consented", pb::SubscriptionState::Applied, "pending"),
                "{s:?}"
            );
        }

        // Asked once: the merchant's audience moves on, and nothing asks again, neither a
        // second upload nor a live change of the customer.
        app.sim
            .set_member_status(KEY_A, &lists[0], &email(4), "unsubscribed");
        upload_ok(&app, mode).await;
        let arrived = rename_customer_live(&app, 4).await;
        assert!(arrived, "{mode:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.sim.stats().confirmation_mails, 8, "{mode:?}");
        assert_eq!(status(&app, &lists[0], &email(4)), "unsubscribed");
        app.stop().await;
    }
}

#[tokio::test]
async fn single_opt_in_subscribes_new_consenting_customers_and_changes_no_member() {
    let (app, lists) = shop(true).await;
    upload_ok(&app, pb::UploadMode::Direct).await;
    for (id, opt_in) in opt_in_statuses(&app) {
        let consented = ["c0", "c2", "c4", "c6", "c8"].contains(&id.as_str());
        assert_eq!(opt_in, consented, "{id}");
    }
    for list in &lists {
        assert_eq!(status(&app, list, &email(4)), "subscribed");
        assert_eq!(status(&app, list, &email(5)), "transactional");
        assert_eq!(
            status(&app, list, "customer600@example.com"),
            "transactional"
        );
    }
    assert_eq!(status(&app, &lists[0], &email(0)), "unsubscribed");
    assert_eq!(status(&app, &lists[1], &email(2)), "subscribed");
    assert_eq!(app.sim.stats().confirmation_mails, 0);
    let subs = subscriptions(&app, &email(4)).await;
    assert!(
        subs.iter().all(|s| s.wanted.is_empty()),
        "nothing to ask: {subs:?}"
    );
    app.stop().await;
}
