//! The crash torture (issue 29): `mcsync serve` SIGKILLed at a random moment, round after
//! round, while a writer feeds it through PushRecords and Upsert, live sync runs and every few
//! rounds an upload (direct and batch in turn) is in flight; the simulator runs in its own
//! process with 5 % faults. After each restart every acknowledged write must read back; at
//! the end live sync must have delivered every acknowledged change, and a final upload must
//! send no create twice. Then a backlog of changes is pushed and mcsync killed once more, to
//! time a restart with that outbox.
//!
//!     cargo bench --bench torture                                   # 200 rounds, 1,000,000 records
//!     TORTURE_ROUNDS=20 TORTURE_RECORDS=100000 cargo bench --bench torture
//!     TORTURE_BACKLOG=100000 TORTURE_FAIL_RATE=0.05 TORTURE_SEED=7 ...
//!
//! Prints rounds, acknowledged writes, losses, repeated creates, uploads resumed, and the
//! restart time to SERVING (p50, max; and with the backlog).

#[path = "../tests/torture/harness.rs"]
mod harness;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let settings = harness::Settings {
        bin: env!("CARGO_BIN_EXE_mcsync").into(),
        rounds: env("TORTURE_ROUNDS", 200),
        records: env("TORTURE_RECORDS", 1_000_000),
        hot: env("TORTURE_HOT", 2_000),
        fail_rate: env("TORTURE_FAIL_RATE", 0.05),
        upload_every: env("TORTURE_UPLOAD_EVERY", 5),
        backlog: env("TORTURE_BACKLOG", 100_000),
        seed: env("TORTURE_SEED", 29),
    };
    println!("{settings:?}");
    let started = std::time::Instant::now();
    let report = harness::run(settings).await;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "rounds {}   acknowledged writes {}   lost {}   repeated creates {}   uploads resumed {}",
        report.rounds,
        report.acknowledged,
        report.lost.len(),
        report.repeated_creates,
        report.uploads_resumed
    );
    println!(
        "restart to SERVING after SIGKILL: p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        ms(report.restart_percentile(0.5)),
        ms(report.restart_percentile(0.9)),
        ms(report.restart_percentile(1.0)),
    );
    if let Some((took, outbox)) = report.backlog_restart {
        println!(
            "restart with {outbox} outbox entries waiting: {:.0} ms",
            ms(took)
        );
    }
    println!("in all {:.0} s", started.elapsed().as_secs_f64());
    for loss in report.lost.iter().take(20) {
        println!("LOST {loss}");
    }
    assert!(report.lost.is_empty());
    assert_eq!(report.repeated_creates, 0);
}
