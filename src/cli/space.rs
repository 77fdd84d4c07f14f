//! A full disk, survived without an operator. sled latches an I/O error: once a write failed
//! for want of space, every later one fails too, even after space returns, until the database
//! is opened again. So `mcsync serve`, while writes fail (health NOT_SERVING, writes refused
//! UNAVAILABLE), looks every second for room in the data dir; once there is room and the store
//! still cannot write, the process replaces itself (exec: the same pid, arguments and
//! environment) and opens the store afresh. What was acknowledged was on disk before its
//! answer, and jobs resume after a restart, so nothing is lost by it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;

/// Bytes a probe writes (and removes): room for the next writes, not just for one page.
const PROBE_BYTES: usize = 1024 * 1024;

/// Watches the store's health for the life of the process.
pub(super) fn reopen_when_space_returns(app: Arc<App>, data_dir: PathBuf) {
    tokio::spawn(async move {
        let mut health = app.store_health();
        loop {
            if health.wait_for(Option::is_some).await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if health.borrow().is_none() {
                    break; // a write succeeded: it was not latched
                }
                if !room(&data_dir) {
                    continue;
                }
                match app.store().probe_write() {
                    Ok(()) => break, // the next write clears the health
                    Err(e) => {
                        tracing::warn!(error = %e, "the disk has room again, but the store keeps its I/O error: restarting in place to open it afresh");
                        restart_in_place();
                        return;
                    }
                }
            }
        }
    });
}

/// Whether a megabyte can be written and synced in `dir` now.
fn room(dir: &Path) -> bool {
    let probe = dir.join(".space-probe");
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&[0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}

#[cfg(unix)]
fn restart_in_place() {
    use std::os::unix::process::CommandExt;
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .exec(),
        Err(e) => e,
    };
    tracing::error!(error = %error, "cannot restart in place: restart mcsync to write again");
}

#[cfg(not(unix))]
fn restart_in_place() {
    tracing::error!("restart mcsync to write again");
}
