//! Input is hostile until bounded: every repeated field of a record has a cap checked before
//! any per-item work, errors are listed up to a cap and counted beyond it, a client's value is
//! never echoed whole, messages beyond the size limit are refused undecoded, and a silent
//! PushRecords stream is ended.

use crate::common;

use std::time::Duration;

use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tonic::Code;

fn order_with_lines(n: usize) -> pb::Record {
    let mut o = testdata::order(1);
    o.lines = vec![pb::LineItem::default(); n];
    testdata::record(R::Order(o))
}

#[tokio::test]
async fn a_repeated_field_over_its_cap_is_refused_by_name_with_a_short_message() {
    let app = spawn_app().await;
    // 200,000 empty lines: 400 KB, under the message limit.
    let err = app
        .records()
        .upsert(order_with_lines(200_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["order.lines"]);
    assert!(err.message().contains("at most 500"), "{}", err.message());
    assert!(err.message().len() < 1_100);

    let mut p = testdata::product(1);
    p.categories = vec!["Boots".into(); 101];
    let err = app
        .records()
        .upsert(testdata::record(R::Product(p)))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["product.categories"]);
    let mut k = testdata::coupon(1);
    k.zone_ids = vec!["us".into(); 1_001];
    let err = app
        .records()
        .upsert(testdata::record(R::Coupon(k)))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["coupon.zone_ids"]);
    // Within the caps, as before.
    app.records().upsert(order_with_lines(0)).await.unwrap_err();
    app.records()
        .upsert(testdata::record(R::Order(testdata::order(1))))
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_the_server_stays_well() {
    let app = spawn_app().await;
    // 1,000,000 empty lines: 2 MB, over the 1 MiB limit.
    let err = app
        .records()
        .upsert(order_with_lines(1_000_000))
        .await
        .unwrap_err();
    assert_ne!(err.code(), Code::Ok);
    assert!(err.message().len() < 1_100, "{}", err.message());
    let counted = app
        .records()
        .count_records(pb::CountRecordsRequest {})
        .await;
    assert!(counted.is_ok(), "the server still answers");
    app.stop().await;
}

#[tokio::test]
async fn a_record_lists_twenty_errors_and_a_push_a_hundred_rejections_with_full_counts() {
    let app = spawn_app().await;
    let mut p = testdata::product(1);
    p.categories = vec!["x".repeat(300); 50];
    let err = app
        .records()
        .upsert(testdata::record(R::Product(p)))
        .await
        .unwrap_err();
    let fields = violated_fields(&err);
    assert_eq!(fields.len(), 21, "{fields:?}");
    assert_eq!(fields[20], "record");
    assert!(err.message().contains("(and 16 more)"), "{}", err.message());

    // 300 bad records: every one counted, the first 100 field errors listed.
    let bad: Vec<_> = (0..300)
        .map(|i| {
            let mut o = testdata::order(i);
            o.order_total = format!("about {}", "9".repeat(10_000));
            testdata::record(R::Order(o))
        })
        .collect();
    let summary = app
        .records()
        .push_records(tokio_stream::iter(bad))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.rejected, 300);
    assert_eq!(summary.rejections.len(), 100);
    for r in &summary.rejections {
        assert!(
            r.reason.len() < 200,
            "a client's value is clipped: {}",
            r.reason
        );
    }
    // Deletes of unknown records: all counted, 100 listed.
    let deletes: Vec<_> = (0..150)
        .map(|i| pb::Record {
            record: Some(R::Delete(pb::RecordKey {
                kind: pb::RecordKind::Product as i32,
                id: format!("nothing-{i}"),
            })),
        })
        .collect();
    let summary = app
        .records()
        .push_records(tokio_stream::iter(deletes))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (summary.not_found_count, summary.not_found.len()),
        (150, 100)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_silent_push_stream_is_ended_and_keeps_what_it_sent() {
    let limits = mcsync::server::Limits {
        stream_idle: Duration::from_millis(300),
        ..Default::default()
    };
    let app = spawn_app_limited(sim_config(3), 1, limits).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(testdata::record(R::Product(testdata::product(1))))
        .await
        .unwrap();
    let mut records = app.records();
    let call = records.push_records(tokio_stream::wrappers::ReceiverStream::new(rx));
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("ended by the server")
        .unwrap_err();
    drop(tx);
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    let kept = app
        .records()
        .get_record(pb::RecordKey {
            kind: pb::RecordKind::Product as i32,
            id: "p1".into(),
        })
        .await;
    assert!(kept.is_ok(), "what came before is stored");
    app.stop().await;
}

/// `--max-connections`: a client holding idle connections cannot take the server's last one;
/// the next connection waits until one closes, then is served.
#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let limits = mcsync::server::Limits {
        max_connections: 2,
        ..Default::default()
    };
    // The test's own client holds the first connection.
    let app = spawn_app_limited(sim_config(1), 1, limits).await;
    let idle = tokio::net::TcpStream::connect(app.addr()).await.unwrap();

    let addr = app.addr();
    let third = tokio::spawn(async move {
        let remote = Remote::new(addr).await;
        remote
            .settings()
            .get_settings(pb::GetSettingsRequest {})
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "a third connection waits while two are open"
    );
    app.settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .expect("the open connections are served");

    drop(idle);
    let served = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("served once a connection closed");
    served.unwrap().unwrap();
    app.stop().await;
}

/// Mailchimp's `total_items` is not trusted as a bound: a collection that claims a trillion
/// items and then ends is read with a handful of requests, not a task per claimed page.
#[tokio::test]
async fn a_collection_claiming_more_than_it_holds_is_read_to_its_real_end() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    mcsync::mailchimp::install_crypto_provider();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let app = axum::Router::new().route(
        "/3.0/ecommerce/stores",
        axum::routing::get(
            move |q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                counter.fetch_add(1, Ordering::SeqCst);
                let first = q.get("offset").is_none_or(|o| o == "0");
                let stores: Vec<_> = (0..if first { 1000 } else { 0 })
                    .map(|i| serde_json::json!({"id": format!("s{i}"), "list_id": "l", "domain": "d"}))
                    .collect();
                async move {
                    axum::Json(serde_json::json!({"stores": stores, "total_items": 1_000_000_000_000u64}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mc = mcsync::mailchimp::Mailchimp::new(
        mcsync::mailchimp::MailchimpConfig {
            base_url: Some(format!("http://{addr}/3.0").parse().unwrap()),
            ..Default::default()
        },
        Default::default(),
    )
    .unwrap();
    let client = mc.for_key(&mcsync::domain::ApiKey::parse(KEY_A).unwrap());
    let found = tokio::time::timeout(
        Duration::from_secs(10),
        client.find_store("other-list", "https://shop.example.com"),
    )
    .await
    .expect("read to the real end, quickly")
    .unwrap();
    assert_eq!(found, None);
    let asked = asked.load(Ordering::SeqCst);
    assert!(asked <= 11, "the first page and at most ten more: {asked}");
}
