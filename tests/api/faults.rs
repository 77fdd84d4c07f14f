//! Mailchimp's faults as the field has them: a 500 after the write happened (with SIGKILLs on
//! top), a storm of bare 403s, and a record that fails forever.

use crate::common;

use std::time::Duration;

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::sim::{SimConfig, SimHandle};
use mcsync::testdata;
use tokio_stream::StreamExt;

/// Entities (products, customers, orders) the simulator holds over all stores.
fn entities(sim: &SimHandle) -> u64 {
    sim.stats()
        .stores
        .values()
        .map(|c| c["products"] + c["customers"] + c["orders"])
        .sum()
}

/// 600 products, 200 customers and their 200 orders.
fn shop() -> Vec<pb::Record> {
    (0..600)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .chain((0..200).map(|i| testdata::record(R::Customer(testdata::customer(i)))))
        .chain((0..200).map(|i| testdata::record(R::Order(testdata::order(i)))))
        .collect()
}

/// A tenth of all requests and batch operations fail with 429, 500 or 503, and half of the
/// 500s and 503s on writes come after the write happened; the real binary is SIGKILLed three
/// times mid-upload. Every record ends in place and no create is ever sent twice.
#[tokio::test]
async fn writes_failed_after_the_fact_and_three_sigkills_never_repeat_a_create() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let sim = start_sim(SimConfig {
            latency: Duration::from_millis(5),
            batch_delay: Duration::from_millis(200),
            fault_after_write: 0.5,
            ..sim_config(3)
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let mut server = start_binary(dir.path(), &sim.base_url(), "info");
        let app = Remote::new(server.addr).await;
        ready_at(&app, &sim, false).await;
        app.records()
            .push_records(tokio_stream::iter(shop()))
            .await
            .unwrap();
        sim.set_fail_rate(0.1);
        let job_id = start_upload(&app, mode)
            .await
            .next()
            .await
            .unwrap()
            .unwrap()
            .job_id;
        for share in [0.0, 0.35, 0.65] {
            let target = (2000.0 * share) as u64;
            let busy = eventually(Duration::from_secs(90), || async {
                entities(&sim) > target
            })
            .await;
            assert!(busy, "{mode:?}: the upload moved past {target}");
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
            server = start_binary(dir.path(), &sim.base_url(), "info");
        }
        let app = Remote::new(server.addr).await;
        let job = watch_to_end(&app, &job_id).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );
        assert!(job.errors.is_empty(), "{mode:?}: {:?}", job.errors);
        let stats = sim.stats();
        for counts in stats.stores.values() {
            assert_eq!(
                (counts["products"], counts["customers"], counts["orders"]),
                (600, 200, 200),
                "{mode:?}"
            );
        }
        assert!(stats.faults_after_write > 0, "{mode:?}: faults injected");
        assert_eq!(
            stats.duplicate_creates, 0,
            "{mode:?}: {:?}",
            stats.duplicate_creates_by_kind
        );
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_storm_of_bare_403s_is_ridden_out_like_429s() {
    let config = SimConfig {
        fail_rate: 0.3,
        bare_403: 1.0,
        ..sim_config(3)
    };
    let app = spawn_app_with(config, 1).await;
    app.sim.set_fail_rate(0.0);
    ready(&app, true).await;
    small_shop(&app).await;
    app.sim.set_fail_rate(0.3);
    let (job, _) = upload_with(&app, pb::UploadMode::Direct).await;
    // Live sync may still be asking: its last answers settle before anything is compared.
    app.sim.set_fail_rate(0.0);
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    assert!(job.errors.is_empty(), "{:?}", job.errors);
    let stats = app.sim.stats();
    assert!(
        // About 25 expected; a storm all the same at a fifth of that.
        stats.rejected.get(&403).copied().unwrap_or(0) >= 5,
        "{stats:?}"
    );
    assert_eq!(
        stats.rejected.get(&429),
        None,
        "every rate limit was a bare 403"
    );
    for counts in stats.stores.values() {
        assert_eq!((counts["products"], counts["orders"]), (32, 10));
    }
    let counted = eventually(Duration::from_secs(10), || async {
        let metrics = app.metrics().await;
        sample(&metrics, "mcsync_mailchimp_throttled_total")
            == app.sim.stats().rejected.get(&403).map(|&n| n as f64)
    })
    .await;
    let metrics = app.metrics().await;
    assert!(counted, "every throttling answer is counted:\n{metrics}");
    let throttled = sample(&metrics, "mcsync_mailchimp_throttled_total").unwrap();
    let retries = sample(&metrics, "mcsync_mailchimp_retries_total").unwrap();
    assert!(retries >= throttled, "each was tried again:\n{metrics}");
    app.stop().await;
}

/// Product p20 (no order or cart names it) gets 500 on every write, however often it is tried: it is parked with its
/// reason, the job succeeds with everything else, live sync flows past it, and RetryFailed
/// sends it once Mailchimp takes it.
#[tokio::test]
async fn a_record_failing_with_5xx_forever_is_parked_and_nothing_stalls() {
    for mode in [pb::UploadMode::Direct, pb::UploadMode::Batch] {
        let app = spawn_app().await;
        ready(&app, true).await;
        small_shop(&app).await;
        app.sim.poison("p20");
        let (job, _) = upload_with(&app, mode).await;
        assert_eq!(
            job.state(),
            pb::JobState::Succeeded,
            "{mode:?}: {}",
            job.message
        );
        assert_eq!(
            job.errors.len(),
            2,
            "{mode:?}: one per store: {:?}",
            job.errors
        );
        for e in &job.errors {
            assert_eq!(
                (e.kind(), e.id.as_str(), e.status),
                (pb::RecordKind::Product, "p20", 500)
            );
            assert!(e.detail.contains("internal error"), "{}", e.detail);
        }
        let stores: Vec<String> = app.sim.stats().stores.keys().cloned().collect();
        for s in &stores {
            assert!(app.sim.resource(s, "products", "p20").is_none());
            assert!(app.sim.resource(s, "products", "p8").is_some());
        }

        // Live: a change to p20 is parked again; the records queued behind it go through.
        let mut p20 = testdata::product(20);
        p20.title = "Boot model 20, relaunched".into();
        app.records()
            .upsert(testdata::record(R::Product(p20)))
            .await
            .unwrap();
        let mut p8 = testdata::product(8);
        p8.title = "Boot model 8, relaunched".into();
        app.records()
            .upsert(testdata::record(R::Product(p8)))
            .await
            .unwrap();
        app.records()
            .upsert(testdata::record(R::Customer(testdata::customer(901))))
            .await
            .unwrap();
        let flowed = eventually(Duration::from_secs(20), || async {
            stores.iter().all(|s| {
                app.sim
                    .resource(s, "products", "p8")
                    .is_some_and(|p| p["title"] == "Boot model 8, relaunched")
                    && app.sim.resource(s, "customers", "c901").is_some()
            })
        })
        .await;
        assert!(flowed, "{mode:?}");
        let outbox_empty = eventually(Duration::from_secs(20), || async {
            let server = app.server.as_ref().unwrap();
            server.app.store().outbox_len().unwrap() == 0
        })
        .await;
        assert!(outbox_empty, "{mode:?}: p20 holds nothing up");

        // Mailchimp takes it again: RetryFailed sends it.
        app.sim.cure("p20");
        let retried = retry_failed(&app).await;
        assert_eq!((retried.retried, retried.succeeded), (2, 2), "{mode:?}");
        for s in &stores {
            let p20 = app.sim.resource(s, "products", "p20").expect("sent");
            assert_eq!(p20["title"], "Boot model 20, relaunched");
        }
        app.stop().await;
    }
}
