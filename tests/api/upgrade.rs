//! Upgrades keep a merchant's data: a backup written by an earlier release, committed under
//! tests/fixtures, restores with this build and is upgraded in place to its format, with every
//! record, the settings, the sync state and the outbox; a data dir of a newer format is refused
//! and left as it was.

use crate::common;

use std::path::{Path, PathBuf};

use common::shop::*;
use common::*;
use mcsync::domain::record::RecordKind;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::store::Store;
use mcsync::testdata;

/// The backup `mcsync backup` wrote before data formats had versions (the release of
/// 2026-12-04, commit 0b7d0a4's parent): made by [`write_the_unversioned_fixture`].
fn unversioned_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-unversioned.backup")
}

/// Makes the fixture (run by hand, with the release whose format it keeps):
/// `cargo test --test api -- upgrade::write_the_unversioned_fixture --ignored`.
/// Two audiences selected with the shop's identity, a small shop uploaded, then analytics off
/// and five products changed, so that five changes wait in the outbox.
#[tokio::test]
#[ignore = "writes tests/fixtures; run by hand when a data format changes"]
async fn write_the_unversioned_fixture() {
    let mut app = spawn_app().await;
    ready(&app, true).await;
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            ecommerce_analytics: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let changed: Vec<pb::Record> = (0..5)
        .map(|i| {
            let mut p = testdata::product(i);
            p.title = format!("Renamed {i}");
            testdata::record(R::Product(p))
        })
        .collect();
    push_all(&app, changed).await;
    // The data dir outlives the app (its TempDir would be removed with it).
    let kept = std::mem::replace(&mut app.data_dir, tempfile::tempdir().unwrap());
    let data = app.config.data_dir.clone();
    app.stop().await;
    let store = open_when_free(&data).await;
    let file = std::fs::File::create(unversioned_fixture()).unwrap();
    let summary = store.backup(file).unwrap();
    assert!(summary.entries > 100, "{summary:?}");
    drop(kept);
}

fn mcsync(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcsync"))
        .args(args)
        .env_remove("MCSYNC_DATA_DIR")
        .output()
        .unwrap();
    (out.status.success(), text_of(&out))
}

#[tokio::test]
async fn the_unversioned_fixture_restores_upgraded_with_its_records_settings_sync_state_and_outbox()
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, text) = mcsync(&[
        "restore".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--from".as_ref(),
        unversioned_fixture().as_os_str(),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("Upgraded the data format (from before versions) to 1"),
        "{text}"
    );
    let copies: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("before-format-1-")
        })
        .collect();
    assert_eq!(copies.len(), 1, "a copy is kept before the upgrade");

    let sim = start_sim(sim_config(3)).await;
    let mut server = start_binary(&data, &sim.base_url(), "info");
    let remote = Remote::new(server.addr).await;
    let counts = remote
        .records()
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap()
        .into_inner();
    let per_kind: Vec<i64> = counts.counts.iter().map(|c| c.count).collect();
    assert_eq!(per_kind, [30, 10, 10, 5, 3], "{counts:?}");
    assert_eq!(counts.outbox_pending, 5, "the changes still to send");
    let renamed = remote
        .records()
        .get_record(pb::RecordKey {
            kind: pb::RecordKind::Product as i32,
            id: "p0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(R::Product(p0)) = renamed.record else {
        panic!("a product: {renamed:?}");
    };
    assert_eq!(p0.title, "Renamed 0");

    let settings = remote
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!settings.ecommerce_analytics && settings.abandoned_carts);
    assert_eq!(settings.shop.as_ref().unwrap().company_name, "Acme");
    assert!(
        !settings.connection.is_some_and(|c| c.connected),
        "no key travels in a backup"
    );

    // The sync state: the job, and what each store was last sent (GetSyncStatus answers only
    // with analytics on, and this shop turned them off).
    let jobs = remote
        .sync()
        .list_jobs(pb::ListJobsRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].state(), pb::JobState::Succeeded);
    let stores: Vec<String> = jobs[0]
        .reconciliations
        .iter()
        .map(|r| r.store_id.clone())
        .collect();
    assert_eq!(stores.len(), 2, "the two audiences' stores: {:?}", jobs[0]);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let store = open_when_free(&data).await;
    for id in &stores {
        let sent = store.synced_ids(id, RecordKind::Product).unwrap();
        // The shop's 30, and the 2 made from order 500's lines (products the mirror lacked).
        assert_eq!(sent.len(), 32, "store {id}");
        let orders = store.synced_ids(id, RecordKind::Order).unwrap();
        assert!(!orders.is_empty(), "store {id}");
    }
}

#[tokio::test]
async fn a_data_dir_or_backup_of_a_newer_format_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = Store::open(&data).unwrap();
        drop(store);
        let db = open_when_free_db(&data).await;
        db.open_tree("meta")
            .unwrap()
            .insert("format", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let (ok, text) = mcsync(&[
        "serve".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
    ]);
    assert!(!ok);
    assert!(
        text.contains("data format 99, written by a newer mcsync")
            && text.contains("nothing was changed"),
        "{text}"
    );
    let db = sled::open(data.join("db")).unwrap();
    let format = db
        .open_tree("meta")
        .unwrap()
        .get("format")
        .unwrap()
        .unwrap();
    assert_eq!(format.as_ref(), 99u32.to_be_bytes());
    drop(db);

    // A backup that says format 99: refused before the data dir is made.
    let file = dir.path().join("newer.backup");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut gz, b"mcsync-backup-2\n").unwrap();
    std::io::Write::write_all(&mut gz, &99u32.to_be_bytes()).unwrap();
    std::io::Write::write_all(&mut gz, &[0]).unwrap();
    gz.finish().unwrap();
    let restored = dir.path().join("restored");
    let (ok, text) = mcsync(&[
        "restore".as_ref(),
        "--data-dir".as_ref(),
        restored.as_os_str(),
        "--from".as_ref(),
        file.as_os_str(),
    ]);
    assert!(!ok && text.contains("newer mcsync"), "{text}");
    assert!(!restored.exists());
}

async fn open_when_free_db(dir: &Path) -> sled::Db {
    for _ in 0..50 {
        match sled::open(dir.join("db")) {
            Ok(db) => return db,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("{} stays locked", dir.display());
}

async fn open_when_free(dir: &Path) -> Store {
    for _ in 0..50 {
        match Store::open(dir) {
            Err(mcsync::store::StoreError::InUse { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            opened => return opened.unwrap(),
        }
    }
    panic!("{} stays locked", dir.display());
}
