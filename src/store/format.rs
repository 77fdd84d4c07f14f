//! The data dir's format version, and the upgrades from older ones.
//!
//! The version lives in the `meta` tree, so that it travels in every backup. A newer mcsync
//! opens an older data dir and upgrades it in place, step by step, each step safe to run again
//! (a crash mid-way reruns it), after a complete copy of the dir in the old format. An older
//! mcsync refuses a newer data dir and changes nothing.

use std::path::{Path, PathBuf};

use super::StoreError;

/// The format this build writes. Raise it with a new [`STEPS`] entry (and a fixture of the
/// format before it under tests/fixtures).
pub const CURRENT: u32 = 1;

const TREE: &str = "meta";
const KEY: &[u8] = b"format";

/// One upgrade step: it brings a data dir of format `to - 1` to `to`.
struct Step {
    to: u32,
    what: &'static str,
    run: fn(&sled::Db) -> Result<(), StoreError>,
}

/// Every step, oldest first. Format 1 is the layout of the releases before versions were kept:
/// such a dir only needs its version written.
const STEPS: &[Step] = &[Step {
    to: 1,
    what: "the version written (the data dir predates format versions)",
    run: nothing_to_change,
}];

fn nothing_to_change(_: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

/// What opening a data dir did to its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The format found; `None` for a data dir from before versions were kept.
    pub from: Option<u32>,
    /// The format now ([`CURRENT`]).
    pub to: u32,
    /// What each step did.
    pub steps: Vec<&'static str>,
    /// The copy of the data dir taken before the first step.
    pub backup: PathBuf,
}

impl std::fmt::Display for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = self
            .from
            .map_or_else(|| "from before versions".to_owned(), |v| v.to_string());
        write!(
            f,
            "Upgraded the data format ({from}) to {}: {}. A copy of the data dir as it was: {}",
            self.to,
            self.steps.join("; "),
            self.backup.display()
        )
    }
}

/// The format a database says it has; `None` when it predates versions.
pub fn version(db: &sled::Db) -> Result<Option<u32>, StoreError> {
    let Some(v) = db.open_tree(TREE)?.get(KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
        key: "meta/format".into(),
        reason: format!("{} bytes, not 4", v.len()),
    })?;
    Ok(Some(u32::from_be_bytes(bytes)))
}

/// Writes the format version; `None` removes it (a restored backup from before versions).
pub(super) fn set_version(db: &sled::Db, version: Option<u32>) -> Result<(), StoreError> {
    let tree = db.open_tree(TREE)?;
    match version {
        Some(v) => tree.insert(KEY, &v.to_be_bytes())?,
        None => tree.remove(KEY)?,
    };
    db.flush()?;
    Ok(())
}

/// Brings `db` to [`CURRENT`]: refuses a newer format, stamps a new database, upgrades an
/// older one (after a copy of it in `dir`). Returns what it did to an older one.
pub(super) fn open(dir: &Path, db: &sled::Db) -> Result<Option<Upgrade>, StoreError> {
    let found = version(db)?;
    match found {
        Some(v) if v > CURRENT => {
            return Err(StoreError::TooNew {
                found: v,
                supported: CURRENT,
            });
        }
        Some(CURRENT) => return Ok(None),
        None if is_new(db) => {
            set_version(db, Some(CURRENT))?;
            return Ok(None);
        }
        _ => {}
    }
    let from = found;
    let backup = dir.join(format!(
        "before-format-{CURRENT}-{}.backup",
        super::records::unix_ms() / 1000
    ));
    let file = super::backup::create_private(&backup)?;
    super::backup::write(db, &file, super::backup::Scope::Everything)?;
    // On disk before the first step changes anything.
    file.sync_all().map_err(super::backup::io)?;
    let mut steps = Vec::new();
    for step in STEPS.iter().filter(|s| from.is_none_or(|v| s.to > v)) {
        (step.run)(db)?;
        set_version(db, Some(step.to))?;
        steps.push(step.what);
    }
    Ok(Some(Upgrade {
        from,
        to: CURRENT,
        steps,
        backup,
    }))
}

/// A database nothing has been written to: no tree but sled's default one and `meta`.
fn is_new(db: &sled::Db) -> bool {
    db.is_empty()
        && db
            .tree_names()
            .iter()
            .all(|n| n.as_ref() == b"__sled__default" || n.as_ref() == TREE.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// `open` again once sled's flusher lets go of the closed database (a moment after the
    /// last handle is dropped; InUse under a loaded CI run), a second at most.
    fn again<T>(open: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        for _ in 0..100 {
            match open() {
                Err(StoreError::InUse { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => return other,
            }
        }
        open()
    }

    #[test]
    fn a_new_data_dir_gets_the_current_format_and_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(version(&store.db).unwrap(), Some(CURRENT));
        assert!(store.upgraded().is_none());
    }

    #[test]
    fn an_unversioned_data_dir_is_copied_then_upgraded_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.settings.insert("k", "v").unwrap();
            set_version(&store.db, None).unwrap();
        }
        let store = again(|| Store::open(dir.path())).unwrap();
        let upgrade = store.upgraded().cloned().expect("upgraded");
        assert_eq!((upgrade.from, upgrade.to), (None, CURRENT));
        assert!(upgrade.backup.starts_with(dir.path()) && upgrade.backup.exists());
        assert!(
            upgrade.to_string().contains("from before versions"),
            "{upgrade}"
        );
        assert_eq!(version(&store.db).unwrap(), Some(CURRENT));
        drop(store);
        // A second open (after a crash mid-way, the steps run again) finds nothing to do.
        assert!(
            again(|| Store::open(dir.path()))
                .unwrap()
                .upgraded()
                .is_none()
        );
    }

    #[test]
    fn a_newer_data_dir_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.settings.insert("k", "v").unwrap();
            set_version(&store.db, Some(CURRENT + 1)).unwrap();
        }
        let refused = again(|| Store::open(dir.path())).err().expect("refused");
        assert!(matches!(refused, StoreError::TooNew { found, .. } if found == CURRENT + 1));
        assert!(refused.to_string().contains("newer mcsync"), "{refused}");
        let db = again(|| crate::store::open_db(dir.path())).unwrap();
        assert_eq!(version(&db).unwrap(), Some(CURRENT + 1));
        assert_eq!(db.open_tree("settings").unwrap().len(), 1);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no copy was made"
        );
    }
}
