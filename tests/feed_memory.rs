//! A 100,000-record stream runs in bounded memory: the server never holds the stream.
//! Alone in its file, so that no other test shares the process whose memory is measured.

mod common;

use common::*;
use mcsync::testdata;

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_100000_record_stream_runs_in_bounded_memory() {
    let app = spawn_app().await;
    // Warm up: the first batches size sled's buffers and tonic's.
    let warm: Vec<_> = (0..5_000).map(|i| testdata::mixed(1_000_000 + i)).collect();
    app.records()
        .push_records(tokio_stream::iter(warm))
        .await
        .unwrap();
    let before = rss_kib("VmRSS:");

    // Generated lazily, so the client side holds only what is in flight.
    let stream = tokio_stream::iter((0..100_000).map(testdata::mixed));
    let summary = app
        .records()
        .push_records(stream)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.accepted, 100_000);

    let peak = rss_kib("VmHWM:");
    let growth_mib = peak.saturating_sub(before) / 1024;
    // The stream is ~70 MiB of records (~3x that decoded); holding it would blow far past
    // this. sled's page cache is capped at 32 MiB.
    assert!(
        growth_mib < 120,
        "memory grew by {growth_mib} MiB while streaming"
    );
    println!(
        "peak RSS growth: {growth_mib} MiB (before {} MiB)",
        before / 1024
    );
    app.stop().await;
}
