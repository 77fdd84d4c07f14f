//! One record to one store, idempotently, against the simulator: counted by its statistics.

use crate::common;

use common::*;
use mcsync::domain::record::RecordKind;
use mcsync::domain::{CouponUploadMode, ShopIdentity};
use mcsync::mailchimp::{Mailchimp, MailchimpConfig, MailchimpError, ecommerce};
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::{self, SimHandle};
use mcsync::store::Store;
use mcsync::sync::push::{PushError, Pushed, Target, push};
use mcsync::testdata;

struct Fixture {
    sim: SimHandle,
    store: Store,
    client: mcsync::mailchimp::AccountClient,
    _dir: tempfile::TempDir,
}

const STORE: &str = "xc_test";

async fn fixture() -> Fixture {
    let sim = sim::start(
        sim_config(1),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .unwrap();
    let mailchimp = Mailchimp::new(
        MailchimpConfig {
            base_url: Some(sim.base_url().parse().unwrap()),
            retry: fast_retries(),
            ..Default::default()
        },
        Default::default(),
    )
    .unwrap();
    let client = mailchimp.for_key(&mcsync::domain::ApiKey::parse(KEY_A).unwrap());
    let shop = ShopIdentity {
        shop_url: "https://shop.example.com".into(),
        company_name: "Acme".into(),
        ..Default::default()
    };
    let body = ecommerce::store_body(STORE, &sim.list_ids(KEY_A)[0], "Newsletter", &shop, false);
    client.create_store(STORE, &body).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        sim,
        store: Store::open(dir.path()).unwrap(),
        client,
        _dir: dir,
    }
}

impl Fixture {
    fn target(&self, coupon_mode: CouponUploadMode) -> Target<'_> {
        Target {
            client: &self.client,
            store_id: STORE,
            shop_url: "https://shop.example.com",
            coupon_mode,
            single_opt_in: false,
            consent: None,
            cart_links: None,
        }
    }

    async fn push(
        &self,
        kind: RecordKind,
        id: &str,
        record: Option<R>,
    ) -> Result<Pushed, PushError> {
        push(
            &self.store,
            &self.target(CouponUploadMode::All),
            kind,
            id,
            record.as_ref(),
        )
        .await
    }

    fn requests(&self) -> u64 {
        self.sim.stats().total()
    }
}

#[tokio::test]
async fn unchanged_sends_nothing_changed_updates_and_lost_state_never_duplicates() {
    let f = fixture().await;
    let product = R::Product(testdata::product(1));
    assert_eq!(
        f.push(RecordKind::Product, "p1", Some(product.clone()))
            .await
            .unwrap(),
        Pushed::Created
    );
    let before = f.requests();
    assert_eq!(
        f.push(RecordKind::Product, "p1", Some(product))
            .await
            .unwrap(),
        Pushed::Unchanged
    );
    assert_eq!(f.requests(), before, "no request for an unchanged record");

    let mut changed = testdata::product(1);
    changed.title = "Boot model 1, red".into();
    assert_eq!(
        f.push(RecordKind::Product, "p1", Some(R::Product(changed.clone())))
            .await
            .unwrap(),
        Pushed::Updated
    );
    let stats = f.sim.stats();
    assert_eq!(
        stats.count("PATCH /3.0/ecommerce/stores/{store_id}/products/{product_id}"),
        1
    );
    assert_eq!(
        stats.count("POST /3.0/ecommerce/stores/{store_id}/products"),
        1,
        "created once"
    );

    // mcsync's memory of what Mailchimp has is lost (a new data dir): "already exists" → update.
    f.store
        .clear_synced(STORE, RecordKind::Product, "p1")
        .unwrap();
    changed.title = "Boot model 1, blue".into();
    assert_eq!(
        f.push(RecordKind::Product, "p1", Some(R::Product(changed)))
            .await
            .unwrap(),
        Pushed::Updated
    );
    let stats = f.sim.stats();
    assert_eq!(stats.stores[STORE]["products"], 1);
    assert_eq!(
        stats.duplicate_creates, 1,
        "the one refused create, switched to an update"
    );
    f.sim.shutdown().await;
}

#[tokio::test]
async fn orders_follow_their_status_and_need_their_products() {
    let f = fixture().await;
    let order = testdata::order(1);
    let err = f
        .push(RecordKind::Order, &order.id, Some(R::Order(order.clone())))
        .await
        .unwrap_err();
    let PushError::Mailchimp(MailchimpError::Api(p)) = err else {
        panic!("{err:?}")
    };
    assert!(
        p.detail
            .contains("product with the provided ID does not exist"),
        "{p}"
    );
    assert_eq!(
        f.store
            .synced_hash(STORE, RecordKind::Order, &order.id)
            .unwrap(),
        None,
        "a refusal is not synced"
    );

    for line in &order.lines {
        let mut p = testdata::product(0);
        p.id = line.product_id.clone();
        p.variants[0].id = line.variant_id.clone();
        p.images.clear();
        f.push(RecordKind::Product, &p.id.clone(), Some(R::Product(p)))
            .await
            .unwrap();
    }
    assert_eq!(
        f.push(RecordKind::Order, &order.id, Some(R::Order(order.clone())))
            .await
            .unwrap(),
        Pushed::Created
    );
    let mut refunded = order.clone();
    refunded.payment_status = pb::PaymentStatus::Refunded as i32;
    assert_eq!(
        f.push(RecordKind::Order, &order.id, Some(R::Order(refunded)))
            .await
            .unwrap(),
        Pushed::Updated
    );
    let stats = f.sim.stats();
    assert_eq!(stats.stores[STORE]["orders"], 1);
    assert_eq!(stats.stores[STORE]["customers"], 1, "the order's customer");
    f.sim.shutdown().await;
}

#[tokio::test]
async fn customers_are_upserted_and_deletes_reach_mailchimp() {
    let f = fixture().await;
    let c = R::Customer(testdata::customer(3));
    assert_eq!(
        f.push(RecordKind::Customer, "c3", Some(c.clone()))
            .await
            .unwrap(),
        Pushed::Created
    );
    assert_eq!(
        f.push(RecordKind::Customer, "c3", Some(c)).await.unwrap(),
        Pushed::Unchanged
    );
    assert_eq!(
        f.push(RecordKind::Customer, "c3", None).await.unwrap(),
        Pushed::Deleted
    );
    assert_eq!(
        f.push(RecordKind::Customer, "c3", None).await.unwrap(),
        Pushed::Skipped,
        "already gone"
    );
    assert_eq!(f.sim.stats().stores[STORE]["customers"], 0);
    f.sim.shutdown().await;
}

#[tokio::test]
async fn coupons_follow_the_upload_mode_and_leave_when_they_stop_matching() {
    let f = fixture().await;
    let coupon = testdata::coupon(1); // has conditions beyond Mailchimp's promo rules
    let record = R::Coupon(coupon.clone());
    let matching = f.target(CouponUploadMode::MatchingPromoRules);
    assert_eq!(
        push(&f.store, &matching, RecordKind::Coupon, "k1", Some(&record))
            .await
            .unwrap(),
        Pushed::Skipped
    );
    assert_eq!(f.sim.stats().stores[STORE]["promo_rules"], 0);

    assert_eq!(
        f.push(RecordKind::Coupon, "k1", Some(record.clone()))
            .await
            .unwrap(),
        Pushed::Created
    );
    let counts = &f.sim.stats().stores[STORE];
    assert_eq!((counts["promo_rules"], counts["promo_codes"]), (1, 1));

    // The merchant switches to "only matching": the coupon no longer qualifies and leaves.
    assert_eq!(
        push(&f.store, &matching, RecordKind::Coupon, "k1", Some(&record))
            .await
            .unwrap(),
        Pushed::Deleted
    );
    let counts = &f.sim.stats().stores[STORE];
    assert_eq!((counts["promo_rules"], counts["promo_codes"]), (0, 0));
    f.sim.shutdown().await;
}

#[tokio::test]
async fn a_batch_plans_one_request_and_leaves_the_rest_to_the_direct_path() {
    use mcsync::mailchimp::Verb;
    use mcsync::sync::push::{Plan, plan};
    let f = fixture().await;
    let t = f.target(CouponUploadMode::All);
    let product = R::Product(testdata::product(1));
    let planned = |r: &R, kind, id: &str| plan(&f.store, &t, kind, id, r, false).unwrap();
    match planned(&product, RecordKind::Product, "p1") {
        Plan::Send(p) => assert_eq!(
            (p.request.verb(), p.request.path()),
            (Verb::Create, "/ecommerce/stores/xc_test/products")
        ),
        _ => panic!("a new product is one create"),
    }
    f.push(RecordKind::Product, "p1", Some(product.clone()))
        .await
        .unwrap();
    assert!(matches!(
        planned(&product, RecordKind::Product, "p1"),
        Plan::Unchanged
    ));
    f.push(
        RecordKind::Product,
        "p2",
        Some(R::Product(testdata::product(2))),
    )
    .await
    .unwrap();

    // An emptied cart is a delete; an order placed from a cart Mailchimp has also deletes it.
    let mut cart = testdata::cart(1);
    cart.lines.truncate(1);
    f.push(RecordKind::Cart, "cart1", Some(R::Cart(cart.clone())))
        .await
        .unwrap();
    cart.lines.clear();
    assert!(matches!(
        planned(&R::Cart(cart), RecordKind::Cart, "cart1"),
        Plan::Direct
    ));
    let mut order = testdata::order(1);
    order.cart_id = "cart1".into();
    assert!(matches!(
        planned(&R::Order(order.clone()), RecordKind::Order, "100001"),
        Plan::Direct
    ));
    order.cart_id = "a-cart-mailchimp-never-had".into();
    assert!(matches!(
        planned(&R::Order(order), RecordKind::Order, "100001"),
        Plan::Send(_)
    ));
    assert!(matches!(
        planned(&R::Coupon(testdata::coupon(1)), RecordKind::Coupon, "k1"),
        Plan::Direct
    ));
}
