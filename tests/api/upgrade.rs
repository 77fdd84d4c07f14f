//! Upgrades keep a merchant's data: a backup written by an earlier release, committed under
//! tests/fixtures, restores with this build and is upgraded in place to its format, with every
//! record, the settings, the sync state and the outbox; a data dir of a newer format is refused
//! and left as it was.

use crate::common;

use std::path::{Path, PathBuf};

use common::shop::*;
use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::store::Store;
use mcsync::testdata;

/// The backup `mcsync backup` wrote before data formats had versions (commit 3f0e... of
/// 2026-12-04): made by [`write_the_unversioned_fixture`].
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
