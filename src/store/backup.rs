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

use super::{SETTINGS_KEY, Store, StoreError, decode, encode};
use crate::domain::Settings;

const MAGIC: &[u8] = b"mcsync-backup-1\n";
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

impl Store {
    /// Writes every tree to `out`, gzipped, with the settings' connection (the API key) left
    /// out.
    pub fn backup(&self, out: impl Write) -> Result<BackupSummary, StoreError> {
        let mut gz = GzEncoder::new(out, Compression::default());
        let mut summary = BackupSummary::default();
        gz.write_all(MAGIC).map_err(io)?;
        for name in self.db.tree_names() {
            if name == b"oauth_states" {
                continue;
            }
            let tree = self.db.open_tree(&name)?;
            write_chunk(&mut gz, TREE, &name, None)?;
            summary.trees += 1;
            for entry in tree.iter() {
                let (key, value) = entry?;
                if (name == b"webhooks" && key == super::member_events::SECRET_KEY)
                    || (name == b"settings" && key == super::cart_links::SECRET_KEY)
                {
                    continue;
                }
                let value = if name == b"settings" && key == SETTINGS_KEY {
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

    /// Makes a new data dir `dir` from a backup. A dir that already holds a database is
    /// refused: a restore never mixes with or overwrites live state.
    pub fn restore(dir: &Path, input: impl Read) -> Result<BackupSummary, StoreError> {
        if dir.join("db").exists() {
            return Err(StoreError::Backup(format!(
                "{} already holds a database; restore into a new data dir",
                dir.display()
            )));
        }
        let store = Store::open(dir)?;
        let mut gz = GzDecoder::new(input);
        let mut magic = vec![0; MAGIC.len()];
        gz.read_exact(&mut magic).map_err(io)?;
        if magic != MAGIC {
            return Err(StoreError::Backup("not an mcsync backup".into()));
        }
        let mut summary = BackupSummary::default();
        let mut tree: Option<sled::Tree> = None;
        loop {
            let mut tag = [0u8];
            gz.read_exact(&mut tag).map_err(io)?;
            match tag[0] {
                END => break,
                TREE => {
                    tree = Some(store.db.open_tree(read_bytes(&mut gz)?)?);
                    summary.trees += 1;
                }
                ENTRY => {
                    let key = read_bytes(&mut gz)?;
                    let value = read_bytes(&mut gz)?;
                    let Some(tree) = &tree else {
                        return Err(StoreError::Backup("an entry before any tree".into()));
                    };
                    tree.insert(key, value)?;
                    summary.entries += 1;
                }
                other => return Err(StoreError::Backup(format!("unknown chunk {other}"))),
            }
        }
        store.db.flush()?;
        Ok(summary)
    }
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

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backup(e.to_string())
}
