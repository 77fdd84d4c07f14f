//! Adversarial input: the worst single request that fits the message limit, against a separate
//! `mcsync serve` process whose memory is measured alone. The request is an order with as many
//! empty lines as 1 MiB holds (two bytes each, about 520,000 of them): decoding it builds every
//! line before validation can count them.
//!
//!     cargo bench --bench adversarial
//!
//! Prints the server's idle RSS, its peak (VmHWM) after one such request and after 50 at once,
//! and the status each got (INVALID_ARGUMENT is the goal: the cap on lines refuses it).

mod common;

use std::time::Instant;

use common::{TOKEN, rss_mib, serve_binary};
use mcsync::proto::v1::{self as pb, store_data_service_client::StoreDataServiceClient};

/// An order of empty lines, as large as the default message limit allows.
fn worst_request() -> pb::Record {
    use prost::Message;
    let budget = 1024 * 1024 - 64;
    let lines = budget / 2;
    let order = pb::Order {
        id: "o1".into(),
        lines: vec![pb::LineItem::default(); lines],
        ..Default::default()
    };
    let record = pb::Record {
        record: Some(pb::record::Record::Order(order)),
    };
    assert!(record.encoded_len() <= 1024 * 1024, "fits the limit");
    record
}

async fn client(addr: &str) -> StoreDataServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    StoreDataServiceClient::new(channel).max_encoding_message_size(2 * 1024 * 1024)
}

async fn send(addr: String, record: pb::Record) -> tonic::Code {
    let mut c = client(&addr).await;
    let mut req = tonic::Request::new(record);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    match c.upsert(req).await {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = serve_binary(dir.path(), None);
    let pid = server.id();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let idle = rss_mib(pid, "VmRSS:");
    let record = worst_request();

    let started = Instant::now();
    let one = send(addr.clone(), record.clone()).await;
    let after_one = rss_mib(pid, "VmHWM:");
    let one_took = started.elapsed();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(tokio::spawn(send(addr.clone(), record.clone())));
    }
    let mut codes = std::collections::BTreeMap::new();
    for t in tasks {
        *codes.entry(format!("{:?}", t.await.unwrap())).or_insert(0) += 1;
    }
    let after_fifty = rss_mib(pid, "VmHWM:");
    println!("adversarial: an order of 524,256 empty lines (1 MiB), against mcsync serve");
    println!("  idle RSS:                  {idle} MiB");
    println!(
        "  one request:   answered {one:?} in {:.2} s; peak RSS {after_one} MiB (+{} MiB)",
        one_took.as_secs_f64(),
        after_one.saturating_sub(idle)
    );
    println!(
        "  50 at once:    answered {codes:?} in {:.2} s; peak RSS {after_fifty} MiB (+{} MiB)",
        started.elapsed().as_secs_f64(),
        after_fifty.saturating_sub(idle)
    );
    let _ = server.kill();
    let _ = server.wait();
}
