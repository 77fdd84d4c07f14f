//! The crash torture, short: ten SIGKILLs of a small shop's mcsync at random moments while a
//! writer feeds it and live sync (and every third round an upload) runs against a simulator
//! with 5 % faults. `cargo bench --bench torture` runs the long one (BENCHMARKS.md).

#[path = "../torture/harness.rs"]
mod harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sigkills_under_faults_lose_nothing_acknowledged_and_send_no_create_twice() {
    let report = harness::run(harness::Settings {
        bin: env!("CARGO_BIN_EXE_mcsync").into(),
        rounds: 10,
        records: 600,
        hot: 100,
        fail_rate: 0.05,
        upload_every: 3,
        backlog: 2_000,
        seed: 29,
    })
    .await;
    assert!(report.lost.is_empty(), "lost: {:#?}", report.lost);
    assert_eq!(report.repeated_creates, 0, "{:?}", report.repeated_by_kind);
    assert_eq!(report.rounds, 10);
    assert!(report.acknowledged > 0);
    assert_eq!(
        report.uploads_resumed, 3,
        "each upload in flight at a kill ends, resumed"
    );
}
