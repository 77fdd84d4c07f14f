//! The JSON feed on the gRPC port: NDJSON PushRecords, JSON Upsert and the NDJSON export,
//! through the same validation, caps and durability as the gRPC feed; and `mcsync push` and
//! `mcsync export` round-tripping a mirror.

use crate::common;

use std::time::Duration;

use common::*;
use mcsync::domain::record::{kind_to_pb, parse};
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

fn http() -> reqwest::Client {
    mcsync::mailchimp::install_crypto_provider();
    reqwest::Client::new()
}

fn ndjson(records: &[pb::Record]) -> String {
    records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect()
}

/// POSTs `body` to the NDJSON push; the HTTP status and the JSON answer.
async fn push_json(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = http()
        .post(format!("http://{}/v1/records:push", app.addr()))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn upsert_json(app: &TestApp, body: &str) -> (u16, Value) {
    let response = http()
        .post(format!("http://{}/v1/records:upsert", app.addr()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn key_of(record: &pb::Record) -> pb::RecordKey {
    let change = parse(record.clone()).unwrap();
    pb::RecordKey {
        kind: kind_to_pb(change.kind()) as i32,
        id: change.id().to_owned(),
    }
}

async fn stored(app: &TestApp, id: &str) -> Option<pb::Record> {
    let key = pb::RecordKey {
        kind: pb::RecordKind::Product as i32,
        id: id.into(),
    };
    app.records()
        .get_record(key)
        .await
        .ok()
        .map(|r| r.into_inner())
}

fn product_line(id: &str) -> String {
    json!({"product": {"id": id, "title": format!("Mug {id}"), "price": "9.50"}}).to_string()
}

#[tokio::test]
async fn every_kind_fed_as_json_is_stored_as_push_records_would_store_it() {
    let app = spawn_app().await;
    let mut records: Vec<pb::Record> = (0..40).map(testdata::mixed).collect();
    records.push(testdata::record(R::Product(testdata::simple_product(900))));
    let (status, summary) = push_json(&app, TOKEN, ndjson(&records)).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["accepted"], 41, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    for record in &records {
        let back = app.records().get_record(key_of(record)).await.unwrap();
        assert_eq!(&back.into_inner(), record);
    }
    // The same records through gRPC change nothing: the JSON path stored them byte-equal.
    let again = app
        .records()
        .push_records(tokio_stream::iter(records.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.accepted, again.unchanged), (0, 41), "{again:?}");

    let delete = json!({"delete": {"kind": "RECORD_KIND_PRODUCT", "id": "sp900"}}).to_string();
    let (status, summary) = push_json(&app, TOKEN, format!("{delete}\n{delete}\n")).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (&summary["deleted"], &summary["not_found_count"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(summary["not_found"][0]["id"], "sp900", "{summary}");
    app.stop().await;
}

#[tokio::test]
async fn rejections_name_their_line_field_and_reason() {
    let app = spawn_app().await;
    let no_title = json!({"product": {"id": "p2", "title": ""}}).to_string();
    let body = format!(
        "{}\n\n{no_title}\n{}\n",
        product_line("p1"),
        product_line("p3")
    );
    let (status, summary) = push_json(&app, TOKEN, body).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(2), &json!(1))
    );
    let rejection = &summary["rejections"][0];
    assert_eq!(rejection["line"], 3, "the blank line counts: {summary}");
    assert_eq!(rejection["field"], "product.title");
    assert_eq!(rejection["kind"], "RECORD_KIND_PRODUCT");
    assert_eq!(rejection["id"], "p2");
    assert!(!rejection["reason"].as_str().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_line_is_refused_by_line_and_field_and_the_lines_before_it_are_kept() {
    let app = spawn_app().await;
    let wrong_type = json!({"product": {"id": "p3", "title": "Mug", "price": 9.5}}).to_string();
    let body = format!(
        "{}\n{}\n{wrong_type}\n{}\n",
        product_line("p1"),
        product_line("p2"),
        product_line("p4")
    );
    let (status, answer) = push_json(&app, TOKEN, body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "INVALID_ARGUMENT");
    assert_eq!(answer["line"], 3, "{answer}");
    assert_eq!(answer["field"], "product.price", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("line 3"),
        "{answer}"
    );
    assert_eq!(answer["summary"]["accepted"], 2, "{answer}");
    assert!(stored(&app, "p1").await.is_some() && stored(&app, "p2").await.is_some());
    assert!(stored(&app, "p3").await.is_none() && stored(&app, "p4").await.is_none());

    // Not JSON at all: the line is named, with no field.
    let (status, answer) = push_json(&app, TOKEN, "{\"product\": {\"id\": \"p5\",,}}\n").await;
    assert_eq!(
        (status, &answer["line"], &answer["field"]),
        (400, &json!(1), &json!(""))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_token_or_content_type_is_refused_before_anything_is_read() {
    let app = spawn_app().await;
    let (status, answer) = push_json(&app, "not-the-token", product_line("p1") + "\n").await;
    assert_eq!((status, &answer["code"]), (401, &json!("UNAUTHENTICATED")));
    let response = http()
        .post(format!("http://{}/v1/records:push", app.addr()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(product_line("p1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert!(stored(&app, "p1").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_line_is_refused_at_its_line_as_the_grpc_message_limit_refuses_it() {
    let limits = mcsync::server::Limits {
        max_message_bytes: 4096,
        ..Default::default()
    };
    let app = spawn_app_limited(sim_config(1), 1, limits).await;
    let long = json!({"product": {"id": "p2", "title": "Mug", "description": "x".repeat(5000)}});
    let body = format!("{}\n{long}\n{}\n", product_line("p1"), product_line("p3"));
    let (status, answer) = push_json(&app, TOKEN, body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["line"], 2, "{answer}");
    assert_eq!(answer["summary"]["accepted"], 1, "{answer}");
    assert!(stored(&app, "p1").await.is_some());
    assert!(stored(&app, "p2").await.is_none() && stored(&app, "p3").await.is_none());

    let (status, _) = upsert_json(&app, &long.to_string()).await;
    assert_eq!(status, 413);
    app.stop().await;
}

#[tokio::test]
async fn a_stream_cut_mid_line_keeps_every_complete_line_before_the_cut() {
    let app = spawn_app().await;
    // The body ends inside its last line: that line is malformed, and named.
    let cut = format!(
        "{}\n{}\n{{\"product\":{{\"id\":\"p3\",\"ti",
        product_line("p1"),
        product_line("p2")
    );
    let (status, answer) = push_json(&app, TOKEN, cut.clone()).await;
    assert_eq!((status, &answer["line"]), (400, &json!(3)), "{answer}");
    assert_eq!(answer["summary"]["accepted"], 2, "{answer}");

    // The connection drops inside a chunk: nothing answers, and the complete lines are kept.
    let mut tcp = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    let lines = format!(
        "{}\n{}\n{{\"product\":{{\"id\":\"p6\"",
        product_line("p4"),
        product_line("p5")
    );
    let head = format!(
        "POST /v1/records:push HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{lines}",
        lines.len() + 100
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(tcp);
    assert!(
        eventually(Duration::from_secs(10), || async {
            stored(&app, "p4").await.is_some() && stored(&app, "p5").await.is_some()
        })
        .await
    );
    assert!(stored(&app, "p6").await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn upsert_json_answers_as_upsert_does() {
    let app = spawn_app().await;
    let line = product_line("p1");
    assert_eq!(
        upsert_json(&app, &line).await,
        (200, json!({"changed": true}))
    );
    assert_eq!(
        upsert_json(&app, &line).await,
        (200, json!({"changed": false}))
    );

    let (status, answer) = upsert_json(&app, &json!({"product": {"id": "p2"}}).to_string()).await;
    assert_eq!(
        (status, &answer["code"]),
        (400, &json!("INVALID_ARGUMENT")),
        "{answer}"
    );
    assert_eq!(
        answer["field_violations"][0]["field"], "product.title",
        "{answer}"
    );

    let (status, answer) = upsert_json(&app, r#"{"product": {"id": "p2", "title": 7}}"#).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["field_violations"][0]["field"], "product.title",
        "{answer}"
    );

    let delete = json!({"delete": {"kind": "RECORD_KIND_PRODUCT", "id": "nope"}}).to_string();
    let (status, answer) = upsert_json(&app, &delete).await;
    assert_eq!(
        (status, &answer["code"]),
        (404, &json!("NOT_FOUND")),
        "{answer}"
    );
    app.stop().await;
}

#[tokio::test]
async fn push_and_export_round_trip_a_mirror_through_the_terminal() {
    let from = spawn_app().await;
    let records: Vec<pb::Record> = (0..2_500).map(testdata::mixed).collect();
    common::shop::push_all(&from, records).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mirror.ndjson");
    let out = crate::cli::mcsync(&from, TOKEN, &["export", "-o", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text_of(&out));
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(exported.lines().count(), 2_500);
    // Dependencies first: every product and customer comes before the first order.
    let first_order = exported
        .lines()
        .position(|l| l.starts_with("{\"order\""))
        .unwrap();
    assert!(
        exported
            .lines()
            .skip(first_order)
            .all(|l| !l.starts_with("{\"product\""))
    );

    let to = spawn_app().await;
    let out = crate::cli::mcsync(&to, TOKEN, &["push", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text_of(&out));
    assert!(
        text_of(&out).contains("accepted 2500,"),
        "{}",
        text_of(&out)
    );
    let again = dir.path().join("again.ndjson");
    let out = crate::cli::mcsync(&to, TOKEN, &["export", "-o", again.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text_of(&out));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), exported);

    let products = crate::cli::mcsync(&to, TOKEN, &["export", "--kind", "product"]).await;
    let lines = String::from_utf8(products.stdout).unwrap();
    assert_eq!(lines.lines().count(), 500);

    // A record refused by the push makes the command fail, naming it.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, json!({"product": {"id": "px"}}).to_string() + "\n").unwrap();
    let out = crate::cli::mcsync(&to, TOKEN, &["push", bad.to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(
        text_of(&out).contains("line 1: RECORD_KIND_PRODUCT \"px\": product.title"),
        "{}",
        text_of(&out)
    );
    from.stop().await;
    to.stop().await;
}
