//! `mcsync backup` and `mcsync restore`: the data dir to one file and back, for moving hosts.
//! Run while mcsync is stopped (the data dir is locked while it runs). The API key is not in
//! the file: after a restore, connect again. A backup of an older data format is upgraded as
//! it is restored; one of a newer format is refused.

use std::path::PathBuf;

use clap::Args;

use crate::store::Store;

/// Where the data is, and the backup file.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The data dir to copy (mcsync must be stopped).
    #[arg(long, env = "MCSYNC_DATA_DIR", default_value = "mcsync-data")]
    data_dir: PathBuf,
    /// The backup file to write (created 0600; an existing file is not overwritten).
    #[arg(long)]
    out: PathBuf,
}

/// The backup file, and the new data dir to make from it.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The data dir to create (it must not hold a database yet).
    #[arg(long, env = "MCSYNC_DATA_DIR", default_value = "mcsync-data")]
    data_dir: PathBuf,
    /// The backup file to read.
    #[arg(long)]
    from: PathBuf,
}

pub(crate) fn backup(args: BackupArgs) -> Result<(), String> {
    if !args.data_dir.join("db").exists() {
        return Err(format!("{} holds no mcsync data", args.data_dir.display()));
    }
    let store = Store::open(&args.data_dir).map_err(|e| e.to_string())?;
    report_upgrade(store.upgraded());
    let file = crate::store::backup::create_private(&args.out).map_err(|e| e.to_string())?;
    let summary = store.backup(file).map_err(|e| {
        let _ = std::fs::remove_file(&args.out);
        e.to_string()
    })?;
    println!(
        "Backed up {} trees, {} entries, to {}. The API key is not in it: after a restore, connect again.",
        summary.trees,
        summary.entries,
        args.out.display()
    );
    Ok(())
}

pub(crate) fn restore(args: RestoreArgs) -> Result<(), String> {
    let file = std::fs::File::open(&args.from)
        .map_err(|e| format!("cannot read {}: {e}", args.from.display()))?;
    let (summary, upgraded) =
        Store::restore(&args.data_dir, std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
    report_upgrade(upgraded.as_ref());
    println!(
        "Restored {} trees, {} entries, into {}. Start mcsync on it and connect the Mailchimp account again.",
        summary.trees,
        summary.entries,
        args.data_dir.display()
    );
    Ok(())
}

/// What opening did to an older data dir, in the operator's words.
pub(crate) fn report_upgrade(upgraded: Option<&crate::store::format::Upgrade>) {
    if let Some(u) = upgraded {
        println!("{u}");
    }
}
