//! A disk that fills up for real (a small tmpfs, where the test may mount one): health goes
//! NOT_SERVING and writes are refused UNAVAILABLE; nothing acknowledged is lost; once space
//! returns, mcsync writes again by itself (sled keeps its I/O error, so the process restarts
//! in place, on the same address). Where no tmpfs can be mounted (not root), the test says so
//! and skips.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use mcsync::proto::v1::{self as pb, record::Record as R};
use mcsync::testdata;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A tmpfs of `mib` MiB at `dir`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, mib: u32) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Self(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

async fn serving(addr: &str) -> bool {
    let Ok(channel) = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
    else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == 1)
}

fn products(from: u64, n: u64) -> Vec<pb::Record> {
    (from..from + n)
        .map(|i| testdata::record(R::Product(testdata::product(i))))
        .collect()
}

#[tokio::test]
async fn a_full_disk_refuses_writes_keeps_what_was_acknowledged_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).unwrap();
    let _tmpfs = match Tmpfs::mount(&mount, 24) {
        Ok(t) => t,
        Err(why) => {
            eprintln!("SKIPPED: a real full disk needs a tmpfs this test can mount ({why})");
            return;
        }
    };
    let port = common::browser::free_port();
    let addr = format!("127.0.0.1:{port}");
    let sim = start_sim(sim_config(1)).await;
    let mut server = Command::new(env!("CARGO_BIN_EXE_mcsync"))
        .args([
            "serve",
            "--listen",
            &addr,
            "--mailchimp-url",
            &sim.base_url(),
        ])
        .arg("--data-dir")
        .arg(mount.join("data"))
        .env("MCSYNC_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || serving(&addr)).await);
    let remote = Remote::new(addr.parse().unwrap()).await;
    common::shop::push_all(&remote, products(0, 500)).await;

    // Fill the disk to the last 4 KiB.
    let mut filler = std::fs::File::create(mount.join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.flush();
    drop(filler);

    let refused = remote
        .records()
        .push_records(tokio_stream::iter(products(1_000, 5_000)))
        .await
        .expect_err("nothing more fits");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(!serving(&addr).await, "NOT_SERVING while the disk is full");

    std::fs::remove_file(mount.join("filler")).unwrap();
    assert!(
        eventually(Duration::from_secs(30), || serving(&addr)).await,
        "SERVING again, by itself"
    );
    let remote = Remote::new(addr.parse().unwrap()).await;
    let counts = remote
        .records()
        .count_records(pb::CountRecordsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        counts.counts[0].count, 500,
        "every acknowledged product, and none refused"
    );
    common::shop::push_all(&remote, products(1_000, 500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
}
