//! ListService end to end: refresh with paging and details, removed audiences, selection, the
//! periodic refresh, and account switching.

use crate::common;

use std::time::Duration;

use common::*;
use mcsync::proto::v1::{
    self as pb, ListListsRequest, RefreshListsRequest, SelectListsRequest, UpdateSettingsRequest,
};
use tonic::Code;

fn ids(r: &pb::ListListsResponse) -> Vec<String> {
    let mut v: Vec<String> = r.lists.iter().map(|l| l.id.clone()).collect();
    v.sort();
    v
}

fn selected(r: &pb::ListListsResponse) -> Vec<String> {
    let mut v: Vec<String> = r
        .lists
        .iter()
        .filter(|l| l.selected)
        .map(|l| l.id.clone())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn list_calls_need_a_connection() {
    let app = spawn_app().await;
    let err = app
        .lists()
        .list_lists(ListListsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = app
        .lists()
        .select_lists(SelectListsRequest { list_ids: vec![] })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    app.stop().await;
}

#[tokio::test]
async fn refresh_reads_all_1500_audiences_in_pages_with_groups_and_segments() {
    let app = spawn_app_with(sim_config(1500), 1).await;
    app.connect(KEY_A).await;
    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.lists.len(), 1500);
    assert_eq!(r.account_id, app.sim.account_id(KEY_A).unwrap());
    assert!(r.last_refreshed_at.is_some());
    let mut expected = app.sim.list_ids(KEY_A);
    expected.sort();
    assert_eq!(ids(&r), expected);

    let stats = app.sim.stats();
    assert!(
        stats.count("GET /3.0/lists") >= 2,
        "1,500 audiences take two pages of 1,000"
    );
    assert!(
        stats.max_in_flight <= 10,
        "never more than 10 requests in flight: {}",
        stats.max_in_flight
    );
    assert_eq!(stats.rejected.get(&429), None);

    for list in &r.lists {
        assert!(!list.name.is_empty());
        assert!(!list.removed && !list.selected);
        assert_eq!(list.interest_categories.len(), 2, "{}", list.id);
        let interests: usize = list
            .interest_categories
            .iter()
            .map(|c| c.interests.len())
            .sum();
        assert_eq!(interests, 5);
        assert_eq!(list.segments.len(), 2);
        assert_eq!(list.member_count, list.stats.as_ref().unwrap().member_count);
    }
    let first = r.lists.iter().find(|l| l.name == "Newsletter").unwrap();
    let cat = &first.interest_categories[0];
    assert_eq!(
        (cat.title.as_str(), cat.r#type.as_str()),
        ("Interests", "checkboxes")
    );
    assert_eq!(
        cat.interests
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["Shoes", "Bags", "Accessories"]
    );
    assert_eq!(first.segments[0].name, "Recent buyers");

    let cached = app
        .lists()
        .list_lists(ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cached, r, "ListLists answers from the cache");
    app.stop().await;
}

#[tokio::test]
async fn an_audience_removed_in_mailchimp_is_marked_removed_not_forgotten() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let gone = r.lists[0].id.clone();
    app.lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![gone.clone()],
        })
        .await
        .unwrap();
    assert!(app.sim.remove_list(KEY_A, &gone));
    let added = app.sim.add_list(KEY_A, "Spring sale");

    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.lists.len(), 4);
    let removed = r.lists.iter().find(|l| l.id == gone).unwrap();
    assert!(removed.removed && removed.removed_at.is_some());
    assert!(
        removed.selected,
        "the merchant's choice is still shown, beside the removal"
    );
    assert!(r.lists.iter().any(|l| l.id == added && !l.removed));

    let err = app
        .lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![gone.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("removed"), "{}", err.message());
    assert_eq!(violated_fields(&err), ["list_ids[0]"]);
    app.stop().await;
}

#[tokio::test]
async fn select_saves_the_set_and_an_unknown_id_changes_nothing() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let all = ids(&r);
    let r = app
        .lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![all[0].clone(), all[2].clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(selected(&r), [all[0].clone(), all[2].clone()]);

    let err = app
        .lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![all[1].clone(), "does-not-exist".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("does-not-exist"));
    assert_eq!(violated_fields(&err), ["list_ids[1]"]);
    let r = app
        .lists()
        .list_lists(ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(selected(&r), [all[0].clone(), all[2].clone()], "unchanged");

    let r = app
        .lists()
        .select_lists(SelectListsRequest { list_ids: vec![] })
        .await
        .unwrap()
        .into_inner();
    assert!(selected(&r).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_default_automation_list_must_be_selected_and_follows_the_selection() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let all = ids(&r);
    let set_default = |id: &str| UpdateSettingsRequest {
        default_automation_list_id: Some(id.into()),
        ..Default::default()
    };

    let err = app
        .settings()
        .update_settings(set_default(&all[0]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "not selected yet");

    app.lists()
        .select_lists(SelectListsRequest {
            list_ids: all[..2].to_vec(),
        })
        .await
        .unwrap();
    let s = app
        .settings()
        .update_settings(set_default(&all[0]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.default_automation_list_id, all[0]);

    app.lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![all[1].clone()],
        })
        .await
        .unwrap();
    let s = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.default_automation_list_id, "",
        "deselecting the default list clears it"
    );

    app.settings()
        .update_settings(set_default(&all[1]))
        .await
        .unwrap();
    let s = app
        .settings()
        .update_settings(set_default(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.default_automation_list_id, "", "empty clears it");
    app.stop().await;
}

#[tokio::test]
async fn another_account_never_sees_the_first_ones_audiences_and_reconnecting_brings_them_back() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let a = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let a_ids = ids(&a);
    app.lists()
        .select_lists(SelectListsRequest {
            list_ids: vec![a_ids[1].clone()],
        })
        .await
        .unwrap();
    app.settings()
        .update_settings(UpdateSettingsRequest {
            default_automation_list_id: Some(a_ids[1].clone()),
            ..Default::default()
        })
        .await
        .unwrap();

    app.settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap();
    app.connect(KEY_B).await;
    let b = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_ne!(b.account_id, a.account_id);
    assert!(
        ids(&b).iter().all(|id| !a_ids.contains(id)),
        "no audience of A shown for B"
    );
    assert!(selected(&b).is_empty(), "A's selection is not B's");
    let s = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.default_automation_list_id, "");

    app.settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap();
    app.connect(KEY_A).await;
    let again = app
        .lists()
        .list_lists(ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&again), a_ids);
    assert_eq!(selected(&again), [a_ids[1].clone()]);
    let s = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.default_automation_list_id, a_ids[1]);
    app.stop().await;
}

#[tokio::test]
async fn connecting_a_new_account_loads_its_audiences_in_the_background() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let loaded = eventually(Duration::from_secs(10), || async {
        app.lists()
            .list_lists(ListListsRequest {})
            .await
            .map(|r| r.into_inner().lists.len() == 3)
            .unwrap_or(false)
    })
    .await;
    assert!(loaded);
    app.stop().await;
}

/// With time sped up 600×, "1 minute" is 100 ms.
#[tokio::test]
async fn the_list_update_interval_drives_a_background_refresh_that_never_stops() {
    let app = spawn_app_with(sim_config(2), 600).await;
    app.connect(KEY_A).await;
    app.lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap();
    let interval = |i: pb::ListUpdateInterval| UpdateSettingsRequest {
        list_update_interval: Some(i as i32),
        ..Default::default()
    };

    app.settings()
        .update_settings(interval(pb::ListUpdateInterval::ListUpdateInterval1Minute))
        .await
        .unwrap();
    let new_list = app.sim.add_list(KEY_A, "Found by the timer");
    let found = eventually(Duration::from_secs(10), || async {
        let r = app
            .lists()
            .list_lists(ListListsRequest {})
            .await
            .unwrap()
            .into_inner();
        r.lists.iter().any(|l| l.id == new_list)
    })
    .await;
    assert!(found, "the periodic refresh picked up the new audience");

    app.settings()
        .update_settings(interval(pb::ListUpdateInterval::Never))
        .await
        .unwrap();
    // A refresh already under way may finish; after that, nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = app.sim.stats().count("GET /3.0/lists");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.sim.stats().count("GET /3.0/lists"),
        before,
        "NEVER stops the refresh"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_connection_the_periodic_refresh_does_nothing() {
    let app = spawn_app_with(sim_config(2), 600).await;
    app.settings()
        .update_settings(UpdateSettingsRequest {
            list_update_interval: Some(pb::ListUpdateInterval::ListUpdateInterval1Minute as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.sim.stats().total(), 0);
    app.stop().await;
}

#[tokio::test]
async fn refresh_keeps_to_ten_connections_and_rides_out_faults() {
    let config = mcsync::sim::SimConfig {
        latency: Duration::from_millis(5),
        fail_rate: 0.2,
        ..sim_config(40)
    };
    let app = spawn_app_with(config, 1).await;
    app.connect(KEY_A).await;
    let r = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.lists.len(), 40);
    let stats = app.sim.stats();
    let faults: u64 = [429, 500, 503]
        .iter()
        .map(|s| stats.rejected.get(s).unwrap_or(&0))
        .sum();
    assert!(faults > 0, "the simulator injected faults: {stats:?}");
    assert!(stats.max_in_flight <= 10, "{}", stats.max_in_flight);
    assert_eq!(stats.over_connection_limit, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_failed_refresh_leaves_the_cache_as_it_was() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let before = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap()
        .into_inner();
    // The key is revoked in Mailchimp: the next refresh is refused.
    app.sim.revoke_key(KEY_A);
    let err = app
        .lists()
        .refresh_lists(RefreshListsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let after = app
        .lists()
        .list_lists(ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before, after);
    app.stop().await;
}
