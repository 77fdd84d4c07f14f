//! Mailchimp talks back: webhooks registered per selected audience, deliveries stored durably
//! once and read by the shop (WatchMemberEvents, ListMemberEvents), and an unsubscribe from
//! Mailchimp binding every later sync.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, member_events_service_client::MemberEventsServiceClient};
use mcsync::testdata;
use tokio_stream::StreamExt;

type Events = MemberEventsServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

fn events(app: &TestApp) -> Events {
    MemberEventsServiceClient::with_interceptor(app.channel.clone(), Bearer(Some(TOKEN.into())))
}

async fn settings(app: &TestApp) -> pb::Settings {
    app.settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// Connects, selects two lists and points the webhooks at this server; waits until both
/// audiences have their hook. The lists.
async fn hooked(app: &TestApp) -> Vec<String> {
    let lists = ready(app, false).await;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            webhook_base_url: Some(format!("http://{}", app.addr())),
            ..Default::default()
        })
        .await
        .unwrap();
    let both = eventually(Duration::from_secs(20), || async {
        settings(app)
            .await
            .webhooks
            .unwrap_or_default()
            .audiences
            .len()
            == 2
    })
    .await;
    assert!(both, "{:?}", settings(app).await.webhooks);
    lists
}

async fn all_events(app: &TestApp) -> Vec<pb::MemberEvent> {
    events(app)
        .list_member_events(pb::ListMemberEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .events
}

fn http() -> reqwest::Client {
    mcsync::mailchimp::install_crypto_provider();
    reqwest::Client::new()
}

async fn post_form(url: &str, fields: &[(&str, &str)]) -> u16 {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn webhooks_follow_the_audience_selection_and_the_connection() {
    let app = spawn_app().await;
    let lists = ready(&app, false).await;
    let off = settings(&app).await.webhooks.unwrap();
    assert!(!off.enabled);
    assert!(off.problem.contains("webhook_base_url"), "{}", off.problem);
    assert!(app.sim.webhook_urls(KEY_A, &lists[0]).is_empty());

    let lists = hooked(&app).await;
    for list in &lists {
        let urls = app.sim.webhook_urls(KEY_A, list);
        assert_eq!(urls.len(), 1, "{urls:?}");
        assert!(urls[0].starts_with(&format!("http://{}/mailchimp/webhook/", app.addr())));
    }
    let on = settings(&app).await.webhooks.unwrap();
    assert!(on.enabled && on.problem.is_empty(), "{on:?}");
    let stats = app.sim.stats();
    nothing_unknown_or_invalid(&stats, "webhooks registered");
    // The secret is never shown.
    let secret = app.sim.webhook_urls(KEY_A, &lists[0])[0]
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(!format!("{on:?}").contains(&secret));

    // Unselecting an audience removes its hook; the other stays as it was.
    let kept = app.sim.webhook_urls(KEY_A, &lists[0]);
    app.lists()
        .select_lists(pb::SelectListsRequest {
            list_ids: vec![lists[0].clone()],
        })
        .await
        .unwrap();
    let removed = eventually(Duration::from_secs(20), || async {
        app.sim.webhook_urls(KEY_A, &lists[1]).is_empty()
    })
    .await;
    assert!(removed);
    assert_eq!(
        app.sim.webhook_urls(KEY_A, &lists[0]),
        kept,
        "nothing churns"
    );

    // A reset removes the rest, and the old URL is refused from then on.
    app.settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap();
    assert!(app.sim.webhook_urls(KEY_A, &lists[0]).is_empty());
    assert_eq!(post_form(&kept[0], &[("type", "cleaned")]).await, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_member_unsubscribed_in_mailchimp_reaches_a_watching_shop_and_survives_a_restart() {
    let mut app = spawn_app().await;
    let lists = hooked(&app).await;
    let mut watch = events(&app)
        .watch_member_events(pb::WatchMemberEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();

    app.sim
        .set_member_status(KEY_A, &lists[0], "Reader@Example.com", "unsubscribed");
    let event = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(event.sequence, 1);
    assert_eq!(event.r#type(), pb::MemberEventType::Unsubscribe);
    assert_eq!(
        (event.list_id.as_str(), event.email.as_str()),
        (lists[0].as_str(), "reader@example.com")
    );
    assert_eq!(event.action, "unsub");
    assert!(event.fired_at.is_some() && event.received_at.is_some());

    // A clean, stored before the shop reads it; then mcsync restarts.
    app.sim
        .set_member_status(KEY_A, &lists[1], "bounced@example.com", "cleaned");
    let stored = eventually(Duration::from_secs(20), || async {
        app.sim
            .deliveries()
            .iter()
            .filter(|d| d.status == 200)
            .count()
            == 2
    })
    .await;
    assert!(stored, "{:?}", app.sim.deliveries());
    drop(watch);
    app.restart().await;
    let after_restart = events(&app)
        .list_member_events(pb::ListMemberEventsRequest {
            after_sequence: 1,
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after_restart.last_sequence, 2);
    assert_eq!(after_restart.events.len(), 1);
    let cleaned = &after_restart.events[0];
    assert_eq!(cleaned.r#type(), pb::MemberEventType::Cleaned);
    assert_eq!(cleaned.reason, "hard");
    // A watcher resuming after 1 gets the clean, and only it.
    let mut resumed = events(&app)
        .watch_member_events(pb::WatchMemberEventsRequest { after_sequence: 1 })
        .await
        .unwrap()
        .into_inner();
    let next = resumed.next().await.unwrap().unwrap();
    assert_eq!(next.sequence, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_a_repeated_delivery_is_stored_once() {
    let app = spawn_app().await;
    let lists = hooked(&app).await;
    let url = app.sim.webhook_urls(KEY_A, &lists[0])[0].clone();
    let form = [
        ("type", "unsubscribe"),
        ("fired_at", "2026-12-01 10:00:00"),
        ("data[action]", "unsub"),
        ("data[reason]", "manual"),
        ("data[id]", "8a25ff1d98"),
        ("data[email]", "someone@example.com"),
        ("data[list_id]", lists[0].as_str()),
    ];
    let wrong = format!("http://{}/mailchimp/webhook/not-the-secret", app.addr());
    assert_eq!(post_form(&wrong, &form).await, 404);
    assert!(all_events(&app).await.is_empty(), "nothing stored");

    assert_eq!(post_form(&url, &form).await, 200);
    assert_eq!(
        post_form(&url, &form).await,
        200,
        "a repeat is answered 200 too"
    );
    assert_eq!(all_events(&app).await.len(), 1, "and stored once");

    // Mailchimp's URL check, an unreadable body, one too large.
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(post_form(&url, &[("data[email]", "x@y.z")]).await, 400);
    let big = "x".repeat(100 * 1024);
    assert_eq!(post_form(&url, &[("type", big.as_str())]).await, 413);
    assert_eq!(all_events(&app).await.len(), 1);

    // The operator's view of the same.
    let addr = app.addr();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mcsync"))
            .args([
                "events",
                "--server",
                &format!("http://{addr}"),
                "--token",
                TOKEN,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = text_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("unsubscribe")
            && text.contains("someone@example.com")
            && text.contains("action=unsub"),
        "{text}"
    );
    app.stop().await;
}

/// Single opt-in, a customer who accepts marketing: Mailchimp would subscribe the email with
/// `opt_in_status: true` if it were new to the audience. Mailchimp deleted the member after an
/// unsubscribe; the next upload sends the customer with `opt_in_status: false`, and the
/// member stays out. Under double opt-in no confirmation mail is queued either.
#[tokio::test]
async fn a_later_upload_never_subscribes_an_email_mailchimp_unsubscribed() {
    let app = spawn_app().await;
    let lists = hooked(&app).await;
    let url = app.sim.webhook_urls(KEY_A, &lists[0])[0].clone();
    let mut customer = testdata::customer(1);
    customer.accepts_marketing = true;
    let email = customer.email.clone();
    for list in &lists {
        let url = app.sim.webhook_urls(KEY_A, list)[0].clone();
        let deleted = [
            ("type", "unsubscribe"),
            ("fired_at", "2026-12-01 10:00:00"),
            ("data[action]", "delete"),
            ("data[email]", email.as_str()),
            ("data[list_id]", list.as_str()),
        ];
        assert_eq!(post_form(&url, &deleted).await, 200);
    }
    let _ = url;
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            single_opt_in: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    app.records()
        .push_records(tokio_stream::iter(vec![testdata::record(
            pb::record::Record::Customer(customer.clone()),
        )]))
        .await
        .unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    for list in &lists {
        let member = app.sim.member(KEY_A, list, &email);
        let status = member
            .as_ref()
            .and_then(|m| m["status"].as_str())
            .unwrap_or("none");
        assert_ne!(status, "subscribed", "{list}: {member:?}");
    }

    // Double opt-in: a consenting customer gets no confirmation mail either.
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            single_opt_in: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    customer.first_name = "Changed".into();
    app.records()
        .push_records(tokio_stream::iter(vec![testdata::record(
            pb::record::Record::Customer(customer),
        )]))
        .await
        .unwrap();
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let subs = app
        .subscriptions()
        .get_subscriptions(pb::GetSubscriptionsRequest {
            email: email.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        subs.lists.iter().all(|l| l.wanted.is_empty()),
        "no consent queued: {subs:?}"
    );
    // The shopper asking again at checkout is a new consent: it is taken.
    let asked = app
        .subscriptions()
        .subscribe(pb::SubscribeRequest {
            email: email.clone(),
            list_ids: vec![lists[0].clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asked.lists[0].wanted, "subscribed");
    app.stop().await;
}

/// A hook of mcsync's that is not the wanted one (here: someone changed its events in
/// Mailchimp) is replaced; a hook deleted in Mailchimp comes back at the next check.
#[tokio::test]
async fn a_stale_or_deleted_hook_is_put_right() {
    let app = spawn_app().await;
    let lists = hooked(&app).await;
    let list = &lists[0];
    let url = app.sim.webhook_urls(KEY_A, list)[0].clone();
    let api = |path: String| format!("{}{path}", app.sim.base_url());
    let hooks: serde_json::Value = http()
        .get(api(format!("/lists/{list}/webhooks")))
        .basic_auth("x", Some(KEY_A))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = hooks["webhooks"][0]["id"].as_str().unwrap().to_owned();
    let deleted = http()
        .delete(api(format!("/lists/{list}/webhooks/{id}")))
        .basic_auth("x", Some(KEY_A))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let changed = http()
        .post(api(format!("/lists/{list}/webhooks")))
        .basic_auth("x", Some(KEY_A))
        .json(&serde_json::json!({
            "url": url,
            "events": {"unsubscribe": true, "campaign": true},
            "sources": {"user": true},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());

    let checked = app
        .server
        .as_ref()
        .unwrap()
        .app
        .check_webhooks()
        .await
        .unwrap();
    assert!(checked.problem.is_empty(), "{checked:?}");
    let hooks: serde_json::Value = http()
        .get(api(format!("/lists/{list}/webhooks")))
        .basic_auth("x", Some(KEY_A))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hooks = hooks["webhooks"].as_array().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["events"]["campaign"], false);
    assert_eq!(hooks[0]["events"]["cleaned"], true);
    assert_eq!(hooks[0]["sources"]["api"], true);
    app.stop().await;
}
