//! StoreDataService end to end: round trips, validation with field paths, the bulk stream and
//! its summary, change detection and the outbox, durability across restarts.

use crate::common;

use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tonic::Code;

fn key(kind: pb::RecordKind, id: &str) -> pb::RecordKey {
    pb::RecordKey {
        kind: kind as i32,
        id: id.into(),
    }
}

async fn counts(app: &TestApp) -> (i64, i64) {
    let c = app
        .records()
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap()
        .into_inner();
    (c.counts.iter().map(|k| k.count).sum(), c.outbox_pending)
}

async fn push(app: &TestApp, records: Vec<pb::Record>) -> pb::PushSummary {
    app.records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn each_kind_round_trips_with_every_field() {
    let app = spawn_app().await;
    let cases = [
        (
            pb::RecordKind::Product,
            "p1",
            R::Product(testdata::product(1)),
        ),
        (
            pb::RecordKind::Customer,
            "c1",
            R::Customer(testdata::customer(1)),
        ),
        (
            pb::RecordKind::Order,
            "100001",
            R::Order(testdata::order(1)),
        ),
        (pb::RecordKind::Cart, "cart1", R::Cart(testdata::cart(1))),
        (pb::RecordKind::Coupon, "k1", R::Coupon(testdata::coupon(1))),
    ];
    for (kind, id, record) in cases {
        let sent = testdata::record(record);
        let r = app
            .records()
            .upsert(sent.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(r.changed);
        let got = app
            .records()
            .get_record(key(kind, id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, sent, "{kind:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn values_are_normalised_so_equal_records_are_equal() {
    let app = spawn_app().await;
    let mut order = testdata::order(2);
    order.order_total = "264.8".into();
    order.currency_code = "usd".into();
    order.placed_at = "2026-11-20T12:00:00+02:00".into();
    order.customer.as_mut().unwrap().email = "customer2@EXAMPLE.com".into();
    app.records()
        .upsert(testdata::record(R::Order(order)))
        .await
        .unwrap();
    let got = app
        .records()
        .get_record(key(pb::RecordKind::Order, "100002"))
        .await
        .unwrap()
        .into_inner();
    let Some(R::Order(got)) = got.record else {
        panic!()
    };
    assert_eq!(got.order_total, "264.80");
    assert_eq!(got.currency_code, "USD");
    assert_eq!(got.placed_at, "2026-11-20T10:00:00Z");
    assert_eq!(got.customer.unwrap().email, "customer2@example.com");
    // The canonical form of the same order is no change at all.
    let r = app
        .records()
        .upsert(testdata::record(R::Order(testdata::order(2))))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.changed);
    app.stop().await;
}

/// Every rule, each breaking one field of an otherwise valid record.
fn broken_records() -> Vec<(pb::Record, &'static str)> {
    use testdata::*;
    let p = |f: fn(&mut pb::Product)| {
        let mut x = product(1);
        f(&mut x);
        record(R::Product(x))
    };
    let c = |f: fn(&mut pb::Customer)| {
        let mut x = customer(1);
        f(&mut x);
        record(R::Customer(x))
    };
    let o = |f: fn(&mut pb::Order)| {
        let mut x = order(1);
        f(&mut x);
        record(R::Order(x))
    };
    let k = |f: fn(&mut pb::Cart)| {
        let mut x = cart(1);
        f(&mut x);
        record(R::Cart(x))
    };
    let q = |f: fn(&mut pb::Coupon)| {
        let mut x = coupon(1);
        f(&mut x);
        record(R::Coupon(x))
    };
    vec![
        (pb::Record { record: None }, "record"),
        (p(|x| x.id = String::new()), "product.id"),
        (p(|x| x.id = "x".repeat(51)), "product.id"),
        (p(|x| x.title = " ".into()), "product.title"),
        (p(|x| x.url = "not a url".into()), "product.url"),
        (
            p(|x| x.published_at = "yesterday".into()),
            "product.published_at",
        ),
        (
            p(|x| x.variants[1].price = "-1.00".into()),
            "product.variants[1].price",
        ),
        (
            p(|x| x.variants[1].id = x.variants[0].id.clone()),
            "product.variants[1].id",
        ),
        (
            p(|x| x.variants[0].title = String::new()),
            "product.variants[0].title",
        ),
        (
            p(|x| x.images[0].variant_ids = vec!["nope".into()]),
            "product.images[0].variant_ids[0]",
        ),
        (c(|x| x.email = "not-an-email".into()), "customer.email"),
        (c(|x| x.email = String::new()), "customer.email"),
        (p(|x| x.price = "12.345678".into()), "product.price"),
        (p(|x| x.sku = "x".repeat(5_000)), "product.sku"),
        (
            c(|x| x.address.as_mut().unwrap().country_code = "USA".into()),
            "customer.address.country_code",
        ),
        (o(|x| x.customer = None), "order.customer"),
        (
            o(|x| x.customer.as_mut().unwrap().email = "x@".into()),
            "order.customer.email",
        ),
        (
            o(|x| x.currency_code = "DOLLARS".into()),
            "order.currency_code",
        ),
        (
            o(|x| x.currency_code = String::new()),
            "order.currency_code",
        ),
        (
            o(|x| x.order_total = "1,000.00".into()),
            "order.order_total",
        ),
        (o(|x| x.order_total = "-5".into()), "order.order_total"),
        (o(|x| x.lines.clear()), "order.lines"),
        (o(|x| x.lines[1].quantity = 0), "order.lines[1].quantity"),
        (
            o(|x| x.lines[1].id = x.lines[0].id.clone()),
            "order.lines[1].id",
        ),
        (
            o(|x| x.lines[0].product_id = String::new()),
            "order.lines[0].product_id",
        ),
        (
            o(|x| x.lines[0].price = "abc".into()),
            "order.lines[0].price",
        ),
        (o(|x| x.payment_status = 99), "order.payment_status"),
        (
            o(|x| x.placed_at = "2026-13-01T00:00:00Z".into()),
            "order.placed_at",
        ),
        (
            o(|x| x.promos[0].r#type = "bogus".into()),
            "order.promos[0].type",
        ),
        (
            o(|x| x.tracking.as_mut().unwrap().landing_site = "ftp://x".into()),
            "order.tracking.landing_site",
        ),
        (
            k(|x| x.customer.as_mut().unwrap().email = String::new()),
            "cart.customer.email",
        ),
        (k(|x| x.checkout_url = "cart".into()), "cart.checkout_url"),
        (k(|x| x.lines[0].quantity = -2), "cart.lines[0].quantity"),
        (q(|x| x.code = "C".repeat(51)), "coupon.code"),
        (q(|x| x.r#type = 0), "coupon.type"),
        (q(|x| x.value = "150".into()), "coupon.value"),
        (
            q(|x| x.valid_until = "2026-10-01T00:00:00Z".into()),
            "coupon.valid_until",
        ),
        (q(|x| x.total_max = "10.00".into()), "coupon.total_max"),
        (q(|x| x.uses_limit = -1), "coupon.uses_limit"),
        (
            q(|x| x.category_ids = vec![String::new()]),
            "coupon.category_ids[0]",
        ),
        (
            record(R::Delete(pb::RecordKey {
                kind: 0,
                id: "x".into(),
            })),
            "delete.kind",
        ),
        (
            record(R::Delete(pb::RecordKey {
                kind: 1,
                id: String::new(),
            })),
            "delete.id",
        ),
    ]
}

#[tokio::test]
async fn each_validation_rule_rejects_with_a_clear_field_path() {
    let app = spawn_app().await;
    for (record, field) in broken_records() {
        let err = app.records().upsert(record).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}");
        assert_eq!(violated_fields(&err), [field], "{}", err.message());
        assert!(err.message().starts_with(field), "{}", err.message());
    }
    assert_eq!(counts(&app).await, (0, 0), "nothing stored");
    app.stop().await;
}

#[tokio::test]
async fn a_stream_with_one_percent_bad_records_accepts_the_rest_and_reports_each_bad_one() {
    let app = spawn_app().await;
    let bad = broken_records();
    let mut records = Vec::new();
    let mut expected_bad = Vec::new();
    for i in 0..5_000u64 {
        if i % 100 == 42 {
            let (r, field) = bad[(i / 100) as usize % bad.len()].clone();
            expected_bad.push((i as i64, field));
            records.push(r);
        } else {
            records.push(testdata::mixed(i));
        }
    }
    let s = push(&app, records).await;
    assert_eq!(s.accepted, 4_950);
    assert_eq!(s.rejected, 50);
    assert_eq!(s.unchanged, 0);
    let got: Vec<(i64, &str)> = s
        .rejections
        .iter()
        .map(|r| (r.index, r.field.as_str()))
        .collect();
    assert_eq!(got, expected_bad);
    assert!(s.rejections.iter().all(|r| !r.reason.is_empty()));
    let with_id = s
        .rejections
        .iter()
        .find(|r| r.field == "order.lines[1].quantity")
        .unwrap();
    assert_eq!(
        (with_id.kind(), with_id.id.as_str()),
        (pb::RecordKind::Order, "100001")
    );
    assert_eq!(counts(&app).await, (4_950, 4_950));
    app.stop().await;
}

#[tokio::test]
async fn identical_records_are_unchanged_and_add_nothing_to_the_outbox() {
    let app = spawn_app().await;
    let records: Vec<_> = (0..2_000).map(testdata::mixed).collect();
    let first = push(&app, records.clone()).await;
    assert_eq!((first.accepted, first.unchanged), (2_000, 0));
    let second = push(&app, records).await;
    assert_eq!((second.accepted, second.unchanged), (0, 2_000));
    assert_eq!(counts(&app).await, (2_000, 2_000));
    app.stop().await;
}

#[tokio::test]
async fn a_changed_record_adds_exactly_one_outbox_entry() {
    let app = spawn_app().await;
    app.records()
        .upsert(testdata::record(R::Product(testdata::product(7))))
        .await
        .unwrap();
    assert_eq!(counts(&app).await, (1, 1));
    let mut changed = testdata::product(7);
    changed.title = "Boot model 7, now red".into();
    let r = app
        .records()
        .upsert(testdata::record(R::Product(changed)))
        .await
        .unwrap()
        .into_inner();
    assert!(r.changed);
    assert_eq!(counts(&app).await, (1, 2));
    let outbox = app
        .server
        .as_ref()
        .unwrap()
        .app
        .store()
        .outbox_head(10)
        .unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox[0].sequence < outbox[1].sequence);
    assert_eq!(outbox[1].id, "p7");
    app.stop().await;
}

#[tokio::test]
async fn deletes_in_a_stream_and_of_unknown_ids_are_reported_without_failing() {
    let app = spawn_app().await;
    let del = |kind: pb::RecordKind, id: &str| testdata::record(R::Delete(key(kind, id)));
    let s = push(
        &app,
        vec![
            testdata::record(R::Coupon(testdata::coupon(1))),
            del(pb::RecordKind::Coupon, "k1"),
            del(pb::RecordKind::Order, "no-such-order"),
            testdata::record(R::Customer(testdata::customer(1))),
        ],
    )
    .await;
    assert_eq!((s.accepted, s.deleted, s.rejected), (2, 1, 0));
    assert_eq!(s.not_found, [key(pb::RecordKind::Order, "no-such-order")]);
    assert_eq!(
        counts(&app).await,
        (1, 3),
        "create, delete and create are three changes"
    );

    let err = app
        .records()
        .delete(key(pb::RecordKind::Coupon, "k1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.records()
        .delete(key(pb::RecordKind::Customer, "c1"))
        .await
        .unwrap();
    let err = app
        .records()
        .get_record(key(pb::RecordKind::Customer, "c1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn records_survive_a_restart() {
    let mut app = spawn_app().await;
    push(&app, (0..3_000).map(testdata::mixed).collect()).await;
    let before = counts(&app).await;
    app.restart().await;
    assert_eq!(counts(&app).await, before);
    let got = app
        .records()
        .get_record(key(pb::RecordKind::Order, "100001"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, testdata::mixed(1));
    app.stop().await;
}

#[tokio::test]
async fn the_feed_needs_the_token() {
    let app = spawn_app().await;
    let mut client = mcsync::proto::v1::store_data_service_client::StoreDataServiceClient::new(
        app.channel.clone(),
    );
    let err = client
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    app.stop().await;
}
