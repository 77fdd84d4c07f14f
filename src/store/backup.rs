//! Backup and restore of the whole database, so that a merchant can move hosts: every tree,
//! copied while no server holds the data dir (sled's lock guarantees it), so the copy is
//! consistent. No secret goes into a backup: not the API key or OAuth token (the restored
//! mcsync asks for a Connect, and finds the account's choices, stores and sync state as they
//! were), not the webhooks' URL secret (a new one is made, and the hooks are registered again
//! under it), not the secret of cart recovery links (a new one is made: links mailed before
//! the move stop working), not a begun OAuth connection.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::format::{self, Upgrade};
use super::{SETTINGS_KEY, Store, StoreError, decode, encode};
use crate::domain::Settings;

/// The first backups, from before data formats had versions.
const MAGIC_1: &[u8] = b"mcsync-backup-1\n";
/// Since data formats have versions: the magic, then the data format (u32, big-endian; 0 for
/// a data dir from before versions).
const MAGIC_2: &[u8] = b"mcsync-backup-2\n";
const TREE: u8 = 1;
const ENTRY: u8 = 2;
const END: u8 = 0;

/// What a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Trees copied.
    pub trees: u64,
    /// Keys copied, in all trees.
    pub entries: u64,
}

/// What a backup leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// The file leaves the host: no secret, no begun OAuth connection.
    WithoutSecrets,
    /// The copy an upgrade keeps beside the data (0600 in the 0700 data dir): all of it.
    Everything,
}

impl Store {
    /// Writes every tree to `out`, gzipped, with the settings' connection (the API key) left
    /// out.
    pub fn backup(&self, out: impl Write) -> Result<BackupSummary, StoreError> {
        write(&self.db, out, Scope::WithoutSecrets)
    }

    /// Makes a new data dir `dir` from a backup, of this format or an older one (then
    /// upgraded, as [`Store::open`] upgrades); a backup of a newer format is refused before
    /// anything is written. A dir that already holds a database is refused: a restore never
    /// mixes with or overwrites live state.
    pub fn restore(
        dir: &Path,
        input: impl Read,
    ) -> Result<(BackupSummary, Option<Upgrade>), StoreError> {
        if dir.join("db").exists() {
            return Err(StoreError::Backup(format!(
                "{} already holds a database; restore into a new data dir",
                dir.display()
            )));
        }
        let mut gz = GzDecoder::new(input);
        let data_format = read_header(&mut gz)?;
        if let Some(found) = data_format.filter(|v| *v > format::CURRENT) {
            return Err(StoreError::TooNew {
                found,
                supported: format::CURRENT,
            });
        }
        let db = super::open_db(dir)?;
        let summary = read_entries(&db, &mut gz)?;
        // The entries are as the backup's format has them: say so, and let open upgrade them.
        format::set_version(&db, data_format)?;
        let store = Store::with_db(dir, db)?;
        Ok((summary, store.upgraded.clone()))
    }
}

/// Writes every tree of `db` to `out`, gzipped, with its data format.
pub(super) fn write(
    db: &sled::Db,
    out: impl Write,
    scope: Scope,
) -> Result<BackupSummary, StoreError> {
    let mut gz = GzEncoder::new(std::io::BufWriter::new(out), Compression::default());
    let mut summary = BackupSummary::default();
    gz.write_all(MAGIC_2).map_err(io)?;
    let data_format = format::version(db)?.unwrap_or(0);
    gz.write_all(&data_format.to_be_bytes()).map_err(io)?;
    let secrets = scope == Scope::WithoutSecrets;
    for name in db.tree_names() {
        if secrets && name == b"oauth_states" {
            continue;
        }
        let tree = db.open_tree(&name)?;
        write_chunk(&mut gz, TREE, &name, None)?;
        summary.trees += 1;
        for entry in tree.iter() {
            let (key, value) = entry?;
            if secrets
                && ((name == b"webhooks" && key == super::member_events::SECRET_KEY)
                    || (name == b"settings" && key == super::cart_links::SECRET_KEY))
            {
                continue;
            }
            let value = if secrets && name == b"settings" && key == SETTINGS_KEY {
                let mut settings: Settings = decode(&key, &value)?;
                settings.connection = None;
                encode(&settings).into()
            } else {
                value
            };
            write_chunk(&mut gz, ENTRY, &key, Some(&value))?;
            summary.entries += 1;
        }
    }
    gz.write_all(&[END]).map_err(io)?;
    gz.finish().map_err(io)?.flush().map_err(io)?;
    Ok(summary)
}

/// The data format a backup's header names: `None` for one from before versions.
fn read_header(gz: &mut impl Read) -> Result<Option<u32>, StoreError> {
    let mut magic = vec![0; MAGIC_2.len()];
    gz.read_exact(&mut magic)
        .map_err(|_| StoreError::Backup("not an mcsync backup".into()))?;
    if magic == MAGIC_1 {
        return Ok(None);
    }
    if magic != MAGIC_2 {
        return Err(StoreError::Backup("not an mcsync backup".into()));
    }
    let mut version = [0u8; 4];
    gz.read_exact(&mut version).map_err(io)?;
    Ok(Some(u32::from_be_bytes(version)).filter(|v| *v != 0))
}

fn read_entries(db: &sled::Db, gz: &mut impl Read) -> Result<BackupSummary, StoreError> {
    let mut summary = BackupSummary::default();
    let mut tree: Option<sled::Tree> = None;
    loop {
        let mut tag = [0u8];
        gz.read_exact(&mut tag).map_err(io)?;
        match tag[0] {
            END => break,
            TREE => {
                tree = Some(db.open_tree(read_bytes(gz)?)?);
                summary.trees += 1;
            }
            ENTRY => {
                let key = read_bytes(gz)?;
                let value = read_bytes(gz)?;
                let Some(tree) = &tree else {
                    return Err(StoreError::Backup("an entry before any tree".into()));
                };
                tree.insert(key, value)?;
                summary.entries += 1;
            }
            other => return Err(StoreError::Backup(format!("unknown chunk {other}"))),
        }
    }
    db.flush()?;
    Ok(summary)
}

/// A new file readable by its owner only (0600); an existing file is never overwritten.
pub fn create_private(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| StoreError::Backup(format!("cannot create {}: {e}", path.display())))
}

fn write_chunk(
    out: &mut impl Write,
    tag: u8,
    first: &[u8],
    second: Option<&[u8]>,
) -> Result<(), StoreError> {
    out.write_all(&[tag]).map_err(io)?;
    for bytes in std::iter::once(first).chain(second) {
        out.write_all(&(bytes.len() as u32).to_le_bytes())
            .map_err(io)?;
        out.write_all(bytes).map_err(io)?;
    }
    Ok(())
}

fn read_bytes(input: &mut impl Read) -> Result<Vec<u8>, StoreError> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(io)?;
    let len = u32::from_le_bytes(len) as usize;
    // A damaged length must not make us allocate gigabytes before the read fails.
    let mut bytes = Vec::with_capacity(len.min(1 << 20));
    input.take(len as u64).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() != len {
        return Err(StoreError::Backup("the backup ends early".into()));
    }
    Ok(bytes)
}

pub(super) fn io(e: std::io::Error) -> StoreError {
    StoreError::Backup(e.to_string())
}
