//! `mcsync backup` and `mcsync restore` through the real binary: a stopped server's data moves
//! to a new data dir, without the API key; a running server's data dir is refused.

use crate::common;

use std::process::Command;

use common::shop::*;
use common::*;
use mcsync::proto::v1 as pb;
use mcsync::testdata;

fn mcsync(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcsync"))
        .args(args)
        .env_remove("MCSYNC_DATA_DIR")
        .output()
        .unwrap();
    (out.status.success(), text_of(&out))
}

async fn counts(remote: &Remote) -> Vec<pb::KindCount> {
    remote
        .records()
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap()
        .into_inner()
        .counts
}

#[tokio::test]
async fn a_stopped_servers_data_moves_to_a_new_data_dir_without_the_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(sim_config(3)).await;
    let (data, restored, file) = (
        dir.path().join("data"),
        dir.path().join("restored"),
        dir.path().join("mcsync.backup"),
    );
    let mut server = start_binary(&data, &sim.base_url(), "info");
    let remote = Remote::new(server.addr).await;
    let selected = ready_at(&remote, &sim, true).await;
    // Webhooks on: their URL's secret exists, and must not travel in the backup.
    remote
        .settings()
        .update_settings(pb::UpdateSettingsRequest {
            webhook_base_url: Some(format!("http://{}", server.addr)),
            // Cart recovery links on: their secret exists, and must not travel either.
            cart_recovery_url: Some(
                "https://shop.example.com/cart.php?target=mailchimp_cart".into(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let hooked = eventually(std::time::Duration::from_secs(20), || async {
        !sim.webhook_urls(KEY_A, &selected[0]).is_empty()
    })
    .await;
    assert!(hooked);
    let hook_url = sim.webhook_urls(KEY_A, &selected[0])[0].clone();
    let hook_secret = hook_url.rsplit('/').next().unwrap().to_owned();
    let records: Vec<_> = (0..200).map(testdata::mixed).collect();
    remote
        .records()
        .push_records(tokio_stream::iter(records))
        .await
        .unwrap();
    let before = counts(&remote).await;

    let backup = |data: &std::path::Path, file: &std::path::Path| {
        let (data, file) = (data.as_os_str().to_owned(), file.as_os_str().to_owned());
        move || {
            mcsync(&[
                "backup".as_ref(),
                "--data-dir".as_ref(),
                &data,
                "--out".as_ref(),
                &file,
            ])
        }
    };
    let (ok, text) = tokio::task::spawn_blocking(backup(&data, &file))
        .await
        .unwrap();
    assert!(!ok && text.contains("stop mcsync first"), "{text}");
    assert!(!file.exists(), "nothing written for a running server");

    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(server.child.wait().unwrap().success());

    let link_secret = mcsync::store::Store::open(&data)
        .unwrap()
        .cart_link_secret()
        .unwrap();
    let (ok, text) = tokio::task::spawn_blocking(backup(&data, &file))
        .await
        .unwrap();
    assert!(ok, "{text}");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap()),
        &mut plain,
    )
    .unwrap();
    let secret = &KEY_A.as_bytes()[..32];
    assert!(
        !plain.windows(secret.len()).any(|w| w == secret),
        "the API key is not in the backup"
    );
    assert!(
        !plain
            .windows(hook_secret.len())
            .any(|w| w == hook_secret.as_bytes()),
        "nor the webhooks' secret"
    );
    assert!(
        !plain
            .windows(link_secret.len())
            .any(|w| w == link_secret.as_slice()),
        "nor the secret of cart recovery links"
    );

    let restore = {
        let (restored, file) = (restored.clone(), file.clone());
        move || {
            mcsync(&[
                "restore".as_ref(),
                "--data-dir".as_ref(),
                restored.as_os_str(),
                "--from".as_ref(),
                file.as_os_str(),
            ])
        }
    };
    let (ok, text) = tokio::task::spawn_blocking(restore.clone()).await.unwrap();
    assert!(ok, "{text}");
    let (ok, text) = tokio::task::spawn_blocking(restore).await.unwrap();
    assert!(!ok && text.contains("already holds"), "{text}");
    let fresh = mcsync::store::Store::open(&restored)
        .unwrap()
        .cart_link_secret()
        .unwrap();
    assert_ne!(
        fresh, link_secret,
        "a restored mcsync signs links with a new secret"
    );

    let mut server = start_binary(&restored, &sim.base_url(), "info");
    let remote = Remote::new(server.addr).await;
    assert_eq!(counts(&remote).await, before, "every record came along");
    let settings = remote
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(
        !settings.connection.unwrap_or_default().connected,
        "connect again after a restore"
    );
    assert!(settings.abandoned_carts);
    assert_eq!(settings.shop.unwrap().company_name, "Acme");
    remote.connect(KEY_A).await;
    let lists = remote
        .lists()
        .list_lists(pb::ListListsRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut chosen: Vec<_> = lists
        .lists
        .iter()
        .filter(|l| l.selected)
        .map(|l| l.id.clone())
        .collect();
    chosen.sort();
    let mut selected = selected;
    selected.sort();
    assert_eq!(chosen, selected, "the account's choices came along");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    sim.shutdown().await;
}
