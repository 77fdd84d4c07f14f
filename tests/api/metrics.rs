//! Prometheus metrics on the gRPC port, through the real binary: behind the same token, and
//! telling what happened (Mailchimp requests, gRPC calls, the job, the mirror, live sync).

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use mcsync::testdata;

async fn scrape(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    method: reqwest::Method,
) -> (u16, String, String) {
    mcsync::mailchimp::install_crypto_provider();
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let mut request = client.request(method, format!("http://{addr}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    let (status, content_type, text) = scrape(addr, Some(TOKEN), reqwest::Method::GET).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    text
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_are_scraped_on_the_grpc_port_behind_the_token_and_tell_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(sim_config(2)).await;
    let mut server = start_binary(dir.path(), &sim.base_url(), "info");
    let addr = server.addr;

    let (status, _, text) = scrape(addr, None, reqwest::Method::GET).await;
    assert_eq!(status, 401, "no token, no metrics: {text}");
    let (status, _, _) = scrape(addr, Some("not-the-token"), reqwest::Method::GET).await;
    assert_eq!(status, 401);
    let (status, _, _) = scrape(addr, Some(TOKEN), reqwest::Method::POST).await;
    assert_eq!(status, 405);

    let remote = Remote::new(addr).await;
    ready_at(&remote, &sim, true).await;
    small_shop(&remote).await;
    let refused = remote
        .records()
        .get_record(pb::RecordKey {
            kind: pb::RecordKind::Product as i32,
            id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let (job, _) = upload(&remote).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);

    let text = metrics(addr).await;
    for (series, expected) in [
        ("mcsync_mirror_records{kind=\"product\"}", 30.0),
        ("mcsync_mirror_records{kind=\"customer\"}", 10.0),
        ("mcsync_upload_job_state{state=\"succeeded\"}", 1.0),
        ("mcsync_upload_job_state{state=\"running\"}", 0.0),
        ("mcsync_upload_job_percent", 100.0),
        ("mcsync_mailchimp_connections_in_use", 0.0),
        ("mcsync_batch_operations_pending", 0.0),
        (
            "mcsync_grpc_requests_total{code=\"Ok\",method=\"/mcsync.v1.StoreDataService/PushRecords\"}",
            1.0,
        ),
        (
            "mcsync_grpc_requests_total{code=\"InvalidArgument\",method=\"/mcsync.v1.StoreDataService/GetRecord\"}",
            1.0,
        ),
        (
            "mcsync_grpc_requests_total{code=\"Ok\",method=\"/mcsync.v1.SyncService/UploadStoreData\"}",
            1.0,
        ),
    ] {
        assert_eq!(value(&text, series), expected, "{series}");
    }
    let total = value(&text, "mcsync_upload_job_records{outcome=\"total\"}");
    assert_eq!(
        total,
        f64::from(job.phases.iter().map(|p| p.total as i32).sum::<i32>())
    );
    let sent = sim.stats();
    let ok_requests: f64 = text
        .lines()
        .filter(|l| l.starts_with("mcsync_mailchimp_requests_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum();
    assert_eq!(
        ok_requests,
        sent.requests.values().sum::<u64>() as f64,
        "every request the simulator saw is counted once"
    );
    assert!(
        text.contains("operation=\"POST /ecommerce/stores/{id}/products\""),
        "operations are labelled without their ids:\n{text}"
    );

    // A change after the upload flows through live sync and is timed.
    let mut product = testdata::product(3);
    product.title = "Renamed".into();
    remote
        .records()
        .push_records(tokio_stream::iter(vec![testdata::record(
            pb::record::Record::Product(product),
        )]))
        .await
        .unwrap();
    let flowed = eventually(Duration::from_secs(20), || async {
        let text = metrics(addr).await;
        sample(&text, "mcsync_live_sync_latency_seconds_count").unwrap_or(0.0) >= 1.0
            && sample(&text, "mcsync_outbox_depth") == Some(0.0)
    })
    .await;
    assert!(flowed, "{}", metrics(addr).await);
    assert_eq!(
        value(&metrics(addr).await, "mcsync_outbox_oldest_age_seconds"),
        0.0
    );

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    sim.shutdown().await;
}
