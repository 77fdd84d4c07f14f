//! Nothing acknowledged is lost, even when the server is killed with SIGKILL mid-stream.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use mcsync::proto::v1::{self as pb, store_data_service_client::StoreDataServiceClient};
use mcsync::testdata;

const CHUNK: u64 = 500;

fn client(channel: tonic::transport::Channel) -> Records {
    StoreDataServiceClient::with_interceptor(channel, Bearer(Some(TOKEN.into())))
}

#[tokio::test]
async fn a_server_killed_with_sigkill_mid_stream_still_holds_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let unreachable = "http://127.0.0.1:9/3.0";
    let mut server = start_binary(dir.path(), unreachable, "info");
    let mut records = client(channel(server.addr).await);

    // Push chunk after chunk, each its own PushRecords call, noting which were acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let pusher = {
        let acked = acked.clone();
        tokio::spawn(async move {
            for chunk in 0.. {
                let batch: Vec<_> = (chunk * CHUNK..(chunk + 1) * CHUNK)
                    .map(testdata::mixed)
                    .collect();
                match records.push_records(tokio_stream::iter(batch)).await {
                    Ok(s) => {
                        assert_eq!(s.into_inner().accepted, CHUNK as i64);
                        acked.lock().unwrap().push(chunk);
                    }
                    Err(_) => return,
                }
            }
        })
    };
    let enough = eventually(Duration::from_secs(60), || async {
        acked.lock().unwrap().len() >= 8
    })
    .await;
    assert!(enough, "the feed made progress");
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    tokio::time::timeout(Duration::from_secs(30), pusher)
        .await
        .unwrap()
        .unwrap();
    let acked = acked.lock().unwrap().clone();

    let server = start_binary(dir.path(), unreachable, "info");
    let mut records = client(channel(server.addr).await);
    for chunk in &acked {
        for i in chunk * CHUNK..(chunk + 1) * CHUNK {
            let expected = testdata::mixed(i);
            let (kind, id) = match expected.record.as_ref().unwrap() {
                pb::record::Record::Product(r) => (pb::RecordKind::Product, r.id.clone()),
                pb::record::Record::Customer(r) => (pb::RecordKind::Customer, r.id.clone()),
                pb::record::Record::Order(r) => (pb::RecordKind::Order, r.id.clone()),
                pb::record::Record::Cart(r) => (pb::RecordKind::Cart, r.id.clone()),
                pb::record::Record::Coupon(r) => (pb::RecordKind::Coupon, r.id.clone()),
                pb::record::Record::Delete(_) => unreachable!(),
            };
            let got = records
                .get_record(pb::RecordKey {
                    kind: kind as i32,
                    id,
                })
                .await
                .unwrap_or_else(|e| panic!("acknowledged record {i} lost: {e}"));
            assert_eq!(got.into_inner(), expected);
        }
    }
    // Records and outbox entries are written together: after the crash they still match.
    let c = records
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap()
        .into_inner();
    let stored: i64 = c.counts.iter().map(|k| k.count).sum();
    assert!(stored >= (acked.len() as u64 * CHUNK) as i64);
    assert_eq!(
        stored, c.outbox_pending,
        "every stored record has its outbox entry"
    );
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
