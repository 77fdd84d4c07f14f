//! Cart recovery links: with a recovery page set, every cart reaches Mailchimp with a link that
//! rebuilds it on any device (RecoverCart), and says so plainly when the cart was bought,
//! deleted, or the link is not the shop's.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;

const PAGE: &str = "https://shop.example.com/cart.php?target=mailchimp_cart";
const SOON: Duration = Duration::from_secs(20);

async fn set_page(app: &TestApp, page: &str) {
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            cart_recovery_url: Some(page.into()),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The `checkout_url` Mailchimp holds for a cart, in a store.
fn link_in_mailchimp(app: &TestApp, store: &str, cart: &str) -> Option<String> {
    let cart = app.sim.resource(store, "carts", cart)?;
    cart["checkout_url"].as_str().map(str::to_owned)
}

fn token_of(link: &str) -> String {
    let url: reqwest::Url = link.parse().unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "mcsync_cart")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no token in {link}"))
}

async fn recover(app: &TestApp, token: &str) -> Result<pb::RecoverCartResponse, tonic::Status> {
    app.records()
        .recover_cart(pb::RecoverCartRequest {
            token: token.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_link_from_mailchimps_copy_of_a_cart_rebuilds_it_until_it_is_bought_or_gone() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app().await;
        ready(&app, true).await;
        set_page(&app, PAGE).await;
        small_shop(&app).await;
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
        assert_eq!(stores.len(), 2);

        // The link is the page, its own query kept, plus one parameter; short enough for mail.
        let link = link_in_mailchimp(&app, &stores[0], "cart3").unwrap();
        assert!(
            link.starts_with(&format!("{PAGE}&mcsync_cart=")),
            "{mode:?}: {link}"
        );
        assert!(link.len() < 200, "{mode:?}: {} characters", link.len());
        let token = token_of(&link);
        assert!(
            !token.contains("cart3") && !token.contains('@'),
            "no data in clear"
        );

        let recovered = recover(&app, &token).await.unwrap();
        assert_eq!(recovered.store_id, stores[0], "{mode:?}");
        let cart = recovered.cart.unwrap();
        let shop = testdata::cart(3);
        assert_eq!(cart.id, "cart3");
        assert_eq!(cart.currency_code, "USD");
        assert_eq!(
            cart.lines, shop.lines,
            "product and variant ids, quantities, prices"
        );
        let customer = cart.customer.unwrap();
        let sent = shop.customer.unwrap();
        assert_eq!((customer.id, customer.email), (sent.id, sent.email));
        // Each store's email carries its own link to the same cart.
        let other = token_of(&link_in_mailchimp(&app, &stores[1], "cart3").unwrap());
        assert_ne!(other, token);
        assert_eq!(recover(&app, &other).await.unwrap().store_id, stores[1]);

        // Tampered, truncated or made up: one answer that does not say what was wrong.
        let mut tampered = token.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let mut answers = Vec::new();
        for bad in [
            tampered.as_str(),
            &token[..token.len() - 3],
            "not-a-token",
            "",
        ] {
            answers.push(recover(&app, bad).await.unwrap_err());
        }
        for refused in &answers {
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
            assert_eq!(violated_fields(refused), ["token"]);
            assert_eq!(
                refused.message(),
                answers[0].message(),
                "the same words for all"
            );
        }

        // Bought: the order names the cart.
        let mut order = testdata::order(3);
        order.cart_id = "cart3".into();
        app.records()
            .upsert(testdata::record(R::Order(order.clone())))
            .await
            .unwrap();
        let placed = recover(&app, &token).await.unwrap_err();
        assert_eq!(placed.code(), tonic::Code::FailedPrecondition);
        assert!(placed.message().contains(&order.id), "{placed:?}");
        // Still so once the shop deletes the cart.
        app.records()
            .delete(pb::RecordKey {
                kind: pb::RecordKind::Cart as i32,
                id: "cart3".into(),
            })
            .await
            .unwrap();
        let placed = recover(&app, &token).await.unwrap_err();
        assert_eq!(placed.code(), tonic::Code::FailedPrecondition);

        // Deleted, never bought.
        let link4 = link_in_mailchimp(&app, &stores[0], "cart4").unwrap();
        app.records()
            .delete(pb::RecordKey {
                kind: pb::RecordKind::Cart as i32,
                id: "cart4".into(),
            })
            .await
            .unwrap();
        let gone = recover(&app, &token_of(&link4)).await.unwrap_err();
        assert_eq!(gone.code(), tonic::Code::NotFound, "{gone:?}");
        assert!(gone.message().contains("cart4"), "{gone:?}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_new_recovery_page_reaches_every_live_cart_and_a_reset_voids_old_links() {
    let app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    let shop_url = testdata::cart(1).checkout_url;
    assert_eq!(
        link_in_mailchimp(&app, &stores[0], "cart1").unwrap(),
        shop_url
    );

    // No upload pressed: live sync re-sends every cart with its link.
    set_page(&app, PAGE).await;
    let carts = ["cart0", "cart1", "cart2", "cart3", "cart4"];
    let linked = eventually(SOON, || async {
        stores.iter().all(|s| {
            carts
                .iter()
                .all(|c| link_in_mailchimp(&app, s, c).is_some_and(|l| l.starts_with(PAGE)))
        })
    })
    .await;
    assert!(linked, "every live cart has its link");
    let stats = app.sim.stats();
    assert!(stats.count("PATCH /3.0/ecommerce/stores/{store_id}/carts/{cart_id}") >= 10);
    nothing_unknown_or_invalid(&stats, "links re-sent");
    let before = token_of(&link_in_mailchimp(&app, &stores[0], "cart1").unwrap());
    assert!(recover(&app, &before).await.is_ok());

    // Another page: the links follow.
    let moved = "https://shop.example.com/restore-cart";
    set_page(&app, moved).await;
    let followed = eventually(SOON, || async {
        link_in_mailchimp(&app, &stores[1], "cart4")
            .is_some_and(|l| l.starts_with(&format!("{moved}?mcsync_cart=")))
    })
    .await;
    assert!(followed);

    // A reset makes a new secret: links mailed before it are refused, and once connected
    // again the carts carry links that work.
    app.settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap();
    let void = recover(&app, &before).await.unwrap_err();
    assert_eq!(void.code(), tonic::Code::InvalidArgument);
    app.connect(KEY_A).await;
    let renewed = eventually(SOON, || async {
        let token = token_of(&link_in_mailchimp(&app, &stores[0], "cart1").unwrap());
        token != before && recover(&app, &token).await.is_ok()
    })
    .await;
    assert!(renewed, "live carts carry links of the new secret");

    // A fragment would hide the token from the page's server.
    let refused = app
        .settings()
        .update_settings(pb::UpdateSettingsRequest {
            cart_recovery_url: Some("https://shop.example.com/cart#restore".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["cart_recovery_url"]);
    app.stop().await;
}

#[tokio::test]
async fn an_operator_sets_the_page_and_reads_a_link_from_the_terminal() {
    let app = spawn_app().await;
    ready(&app, true).await;
    let set = crate::cli::mcsync(
        &app,
        TOKEN,
        &["settings", "set", "--cart-recovery-url", PAGE],
    )
    .await;
    assert!(set.status.success(), "{}", text_of(&set));
    let shown = text_of(&crate::cli::mcsync(&app, TOKEN, &["settings", "get"]).await);
    assert!(
        shown.contains(&format!("Cart recovery page:          {PAGE}")),
        "{shown}"
    );
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
    let link = link_in_mailchimp(&app, &stores[0], "cart2").unwrap();

    let out = crate::cli::mcsync(&app, TOKEN, &["cart", &link]).await;
    let shown = text_of(&out);
    assert!(out.status.success(), "{shown}");
    let email = testdata::cart(2).customer.unwrap().email;
    assert!(
        shown.contains("Cart cart2") && shown.contains(&email),
        "{shown}"
    );
    assert!(shown.contains("p2 / p2-42"), "its lines: {shown}");

    let out = crate::cli::mcsync(&app, TOKEN, &["cart", "made-up"]).await;
    assert!(!out.status.success());
    assert!(
        text_of(&out).contains("token: is not a valid cart link"),
        "{}",
        text_of(&out)
    );
    app.stop().await;
}
