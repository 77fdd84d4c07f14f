//! A 100,000-record stream runs in bounded memory: the server never holds the stream.
//! The server runs as its own process, so that its memory is measured alone, whatever else
//! the test binary runs at the same time.

use crate::common::*;
use mcsync::testdata;

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_100000_record_stream_runs_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_binary(dir.path(), "http://127.0.0.1:9/3.0", "info");
    let remote = Remote::new(server.addr).await;
    let pid = server.child.id();
    // Warm up: the first batches size sled's buffers and tonic's.
    let warm: Vec<_> = (0..5_000).map(|i| testdata::mixed(1_000_000 + i)).collect();
    remote
        .records()
        .push_records(tokio_stream::iter(warm))
        .await
        .unwrap();
    let before = rss_kib(pid, "VmRSS:");

    // Generated lazily, so the client side holds only what is in flight.
    let stream = tokio_stream::iter((0..100_000).map(testdata::mixed));
    let summary = remote
        .records()
        .push_records(stream)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.accepted, 100_000);

    let peak = rss_kib(pid, "VmHWM:");
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
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
