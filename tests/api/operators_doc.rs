//! Every grpcurl recipe in docs/operators.md, run in order with the real grpcurl against a
//! server and simulator started here.

use crate::common;

use common::*;
use mcsync::domain::cart_link::CartLinks;

fn grpcurl_dir() -> String {
    let path = std::env::var("GRPCURL")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/grpcurl").into());
    std::path::Path::new(&path)
        .parent()
        .unwrap()
        .display()
        .to_string()
}

/// The `grpcurl` commands of the page's ```sh blocks, continuation lines joined.
fn recipes() -> Vec<String> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operators.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut current = String::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        if line.ends_with('\\') {
            current.push(' ');
            continue;
        }
        if current.trim_start().starts_with("grpcurl") {
            out.push(current.trim().to_owned());
        }
        current.clear();
    }
    out
}

#[tokio::test]
async fn every_recipe_in_the_operators_guide_works() {
    let app = crate::oauth::with_oauth().await;
    let recipes = recipes();
    assert!(recipes.len() >= 26, "found {} recipes", recipes.len());
    let services = [
        "SettingsService",
        "ListService",
        "StoreDataService",
        "SyncService",
        "SubscriptionService",
        "MemberEventsService",
        "Health",
    ];
    for s in services {
        assert!(recipes.iter().any(|r| r.contains(s)), "no recipe for {s}");
    }
    let list = app.sim.list_ids(KEY_A)[0].clone();
    let account = app.sim.account_id(KEY_A).unwrap();
    let path = format!(
        "{}:{}",
        grpcurl_dir(),
        std::env::var("PATH").unwrap_or_default()
    );
    let addr = app.addr().to_string();
    let core = app.server.as_ref().unwrap().app.clone();
    let mut outputs = Vec::new();
    for recipe in recipes {
        // The newest job, for the recipes that name one.
        let job = core
            .jobs()
            .unwrap()
            .first()
            .map(|j| j.job_id.clone())
            .unwrap_or_default();
        let store = core
            .store()
            .mc_store(&account, &list)
            .unwrap()
            .unwrap_or_default();
        // The token of the example cart's recovery link, as its email would carry it.
        let secret = core.store().cart_link_secret().unwrap();
        let cart_token = CartLinks::new(&secret, "").token(&store, "cart-7");
        let (path, addr, list) = (path.clone(), addr.clone(), list.clone());
        let output = tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("bash")
                .args(["-c", &recipe])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("PATH", &path)
                .env("ADDR", &addr)
                .env("TOKEN", TOKEN)
                .env("KEY", KEY_A)
                .env("LIST", &list)
                .env("JOB", &job)
                .env("STORE", &store)
                .env("CART_TOKEN", &cart_token)
                .output()
                .unwrap();
            let text = text_of(&out);
            assert!(out.status.success(), "recipe failed: {recipe}\n{text}");
            (recipe, text)
        })
        .await
        .unwrap();
        outputs.push(output);
    }
    drop(core);
    let find = |rpc: &str| &outputs.iter().find(|(r, _)| r.contains(rpc)).unwrap().1;
    assert!(find("Health/Check").contains("SERVING"));
    assert!(find("SettingsService/Connect").contains("cdef-us6"));
    assert!(find("ListService/ListLists").contains("Newsletter"));
    assert!(
        find("PushRecords").contains("\"accepted\": \"5\""),
        "{}",
        find("PushRecords")
    );
    assert!(find("GetRecord").contains("100001"));
    assert!(
        find("SyncService/UploadStoreData").contains("JOB_STATE_SUCCEEDED"),
        "{}",
        find("UploadStoreData")
    );
    assert!(find("SyncService/WatchJob").contains("JOB_STATE_SUCCEEDED"));
    assert!(
        find("SyncService/UpdateStoreData").contains("\"ok\": true"),
        "{}",
        find("UpdateStoreData")
    );
    assert!(
        find("\"dry_run\":true").contains("\"dryRun\": true"),
        "{}",
        find("\"dry_run\":true")
    );
    assert!(find("\"resync\":true").contains("JOB_STATE_SUCCEEDED"));
    assert!(
        find("SyncService/RemoveStore").contains("\"listId\""),
        "{}",
        find("SyncService/RemoveStore")
    );
    assert!(
        find("SyncService/AuditStores").contains("\"inSync\": true"),
        "{}",
        find("SyncService/AuditStores")
    );
    assert!(
        find("StoreDataService/RecoverCart").contains("urist@example.com"),
        "{}",
        find("StoreDataService/RecoverCart")
    );
    assert!(find("describe mcsync.v1.SettingsService").contains("Reset Mailchimp connection"));
    assert!(
        find("SettingsService/BeginOAuth").contains("/oauth2/authorize?response_type=code"),
        "{}",
        find("SettingsService/BeginOAuth")
    );
    assert!(
        find("SyncService/VerifySiteScript").contains("\"fragment\""),
        "{}",
        find("SyncService/VerifySiteScript")
    );
    assert!(
        find("MemberEventsService/ListMemberEvents").starts_with('{'),
        "{}",
        find("MemberEventsService/ListMemberEvents")
    );
    assert!(
        find("SubscriptionService/Subscribe").contains("\"wanted\": \"subscribed\""),
        "{}",
        find("SubscriptionService/Subscribe")
    );
    let settings = app.server.as_ref().unwrap().app.settings().unwrap();
    assert!(
        settings.abandoned_carts && settings.connection.is_none(),
        "the recipes took effect"
    );
    app.stop().await;
}
