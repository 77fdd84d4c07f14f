//! All sled access: trees, keys, encoding, transactions. Nothing else in mcsync touches sled.
//!
//! Trees:
//! - `settings`: one key, the [`Settings`] (with the API key: the data dir is created 0700).
//! - `audiences`: `<account id> 0x00 <list id>` → [`Audience`], so each account keeps its own.
//! - `accounts`: `<account id>` → [`AccountState`] (last refresh).
//!
//! - `records/<kind>` and `outbox`: the mirror of shop records and its change log ([`records`]).
//! - `synced`: `<store id> 0x00 <kind> <id>` → hash of the body Mailchimp last accepted.
//! - `jobs`, `cursors`, `mc_stores`: upload jobs and where they are ([`jobs`]); live sync's
//!   place in the outbox and which stores it feeds (`live`).
//! - `sync_errors`: records Mailchimp refused, until they go through ([`errors`]).
//! - `subscriptions`, `subscriptions_pending`: newsletter requests and those still to apply
//!   ([`subscriptions`]).
//! - `member_fields`, `member_fields_pending`: mapped merge fields owed to audience members
//!   ([`member_fields`]).
//! - `tagged`, `tag_segments`: what mcsync's tag rules tagged, and each tag's segment
//!   ([`tags`]).
//! - `placed_carts`: `<cart id>` → the order placed from it, written with the order
//!   ([`records`]); the cart links' secret lives in `settings` ([`cart_links`]).
//!
//! Every settings write is flushed before it returns: a caller that got `Ok` may acknowledge.
//! Record writes are flushed by the caller, once per group of requests.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::domain::{Audience, Settings, UnixTime};

pub mod backup;
mod cart_links;
pub mod errors;
pub mod format;
pub mod jobs;
mod live;
pub mod member_events;
pub mod member_fields;
pub mod oauth;
mod queued;
pub mod records;
pub mod sites;
pub mod subscriptions;
pub mod synced;
pub mod tags;

#[derive(Debug, thiserror::Error)]
/// Why sled could not do what was asked.
pub enum StoreError {
    #[error("storage error: {0}")]
    /// sled failed (I/O, a latched error).
    Sled(#[from] sled::Error),
    #[error("stored value under {key} is unreadable: {reason}")]
    /// A value does not decode: written by another version, or damaged.
    Corrupt {
        /// The key, printable.
        key: String,
        /// What the decoder said.
        reason: String,
    },
    #[error("the store is shutting down")]
    /// The writer has stopped (shutting down).
    Closed,
    /// Another process (a running mcsync) holds the data dir.
    #[error("{path} is in use (a running mcsync holds it): stop mcsync first")]
    InUse {
        /// The data dir.
        path: String,
    },
    /// A backup cannot be written or read.
    #[error("backup: {0}")]
    Backup(String),
    /// The data dir was written by a newer mcsync; nothing in it was changed.
    #[error(
        "the data dir has data format {found}, written by a newer mcsync (this one reads formats up to {supported}); nothing was changed: run that release, or restore a backup this one wrote"
    )]
    TooNew {
        /// The format the data dir says it has.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    #[error("cannot prepare data dir {path}: {reason}")]
    /// The data dir cannot be created or used.
    DataDir {
        /// The data dir.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
}

/// What mcsync knows about an account's audiences as a whole (the merchant's choices live in
/// [`Settings`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountState {
    /// When the account's audiences were last read.
    pub last_refreshed_at: Option<UnixTime>,
}

#[derive(Clone)]
/// mcsync's state in one sled database: settings, the mirror and its outbox, sync state, jobs, subscriptions. Cheap to clone.
pub struct Store {
    db: sled::Db,
    settings: sled::Tree,
    audiences: sled::Tree,
    accounts: sled::Tree,
    /// One tree per [`crate::domain::record::RecordKind`], in `RecordKind::ALL` order.
    records: Vec<sled::Tree>,
    /// Records per kind, counted once at open and kept by the writer: sled's `len()` walks a
    /// whole tree (every page of a million records through the cache) at each metrics scrape.
    record_counts: records::RecordCounts,
    outbox: sled::Tree,
    synced: sled::Tree,
    jobs: sled::Tree,
    cursors: sled::Tree,
    mc_stores: sled::Tree,
    sync_errors: sled::Tree,
    subscriptions: sled::Tree,
    subscriptions_pending: sled::Tree,
    member_fields: sled::Tree,
    member_fields_pending: sled::Tree,
    tagged: sled::Tree,
    tag_segments: sled::Tree,
    member_events: member_events::Trees,
    sites: sled::Tree,
    oauth_states: sled::Tree,
    /// `<cart id>` → the order placed from it ([`Store::placed_order`]), written with the order.
    placed_carts: sled::Tree,
    /// Serialises record writers; holds the next outbox sequence. Also counts the handles:
    /// sled keeps its lock on the data dir until the last one is dropped.
    writer: std::sync::Arc<std::sync::Mutex<u64>>,
    /// The test seam of [`Store::inject_write_failure`].
    write_fault: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// What opening did to an older data dir's format.
    upgraded: Option<format::Upgrade>,
}

/// sled's page cache; its default (1 GiB) would dwarf the rest of the process (BENCHMARKS.md).
const CACHE_BYTES: u64 = 32 * 1024 * 1024;

const SETTINGS_KEY: &[u8] = b"settings";

impl Store {
    /// Opens (or creates) the database in `dir`; one process at a time.
    ///
    /// A data dir of an older format is upgraded first (see [`format`]); a newer one is
    /// refused ([`StoreError::TooNew`]) and left as it was.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::with_db(dir, open_db(dir)?)
    }

    /// [`Store::open`] on the data dir's database, already open.
    fn with_db(dir: &Path, db: sled::Db) -> Result<Self, StoreError> {
        let upgraded = format::open(dir, &db)?;
        let outbox = db.open_tree("outbox")?;
        let cursors = db.open_tree("cursors")?;
        // Consumed segments are dropped, so an empty outbox resumes after live sync's place.
        let next_seq =
            Self::next_outbox_sequence(&outbox)?.max(Self::live_cursor_in(&cursors)? + 1);
        let records = Self::open_record_trees(&db)?;
        Ok(Self {
            settings: db.open_tree("settings")?,
            audiences: db.open_tree("audiences")?,
            accounts: db.open_tree("accounts")?,
            record_counts: Self::count_record_trees(&records),
            records,
            writer: std::sync::Arc::new(std::sync::Mutex::new(next_seq)),
            write_fault: Default::default(),
            outbox,
            synced: db.open_tree("synced")?,
            jobs: db.open_tree("jobs")?,
            cursors,
            mc_stores: db.open_tree("mc_stores")?,
            sync_errors: db.open_tree("sync_errors")?,
            subscriptions: db.open_tree("subscriptions")?,
            subscriptions_pending: db.open_tree("subscriptions_pending")?,
            member_fields: db.open_tree("member_fields")?,
            member_fields_pending: db.open_tree("member_fields_pending")?,
            tagged: db.open_tree("tagged")?,
            tag_segments: db.open_tree("tag_segments")?,
            member_events: member_events::Trees::open(&db)?,
            sites: db.open_tree("connected_sites")?,
            oauth_states: db.open_tree("oauth_states")?,
            placed_carts: db.open_tree("placed_carts")?,
            db,
            upgraded,
        })
    }

    /// Writes and flushes one small value: whether the store can write now. After a full
    /// disk sled keeps its I/O error, so this fails until the database is opened again.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        self.db
            .open_tree("meta")?
            .insert("probe", &records::unix_ms().to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// What opening did to an older data dir's format, to report it.
    pub fn upgraded(&self) -> Option<&format::Upgrade> {
        self.upgraded.as_ref()
    }

    /// Waits until everything written so far is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// [`Store::flush`] for threads outside the async runtime.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// A seam for tests: while on, every write of shop records fails as on a full disk, so
    /// that what mcsync does then (refuses the write, reports NOT_SERVING, recovers once
    /// writes succeed again) can be shown without filling a disk.
    pub fn inject_write_failure(&self, on: bool) {
        self.write_fault
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    fn check_write_fault(&self) -> Result<(), StoreError> {
        if self.write_fault.load(std::sync::atomic::Ordering::SeqCst) {
            let full = std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            );
            return Err(StoreError::Sled(sled::Error::Io(full)));
        }
        Ok(())
    }

    /// The settings document (X-Cart's defaults before the first save).
    pub fn settings(&self) -> Result<Settings, StoreError> {
        match self.settings.get(SETTINGS_KEY)? {
            Some(bytes) => decode(SETTINGS_KEY, &bytes),
            None => Ok(Settings::default()),
        }
    }

    /// Saves the settings document, durably.
    pub async fn save_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        self.settings.insert(SETTINGS_KEY, encode(settings))?;
        self.flush().await
    }

    /// What mcsync knows of an account's audiences as a whole.
    pub fn account_state(&self, account_id: &str) -> Result<AccountState, StoreError> {
        match self.accounts.get(account_id)? {
            Some(bytes) => decode(account_id.as_bytes(), &bytes),
            None => Ok(AccountState::default()),
        }
    }

    /// The account's audiences ordered by list id, removed ones included.
    pub fn audiences(&self, account_id: &str) -> Result<Vec<Audience>, StoreError> {
        self.audiences
            .scan_prefix(audience_prefix(account_id))
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// Records a complete read of the account's audiences in one transaction: the ones seen are
    /// replaced, the ones no longer seen are marked removed (once, keeping when), none deleted.
    pub async fn save_refresh(
        &self,
        account_id: &str,
        seen: Vec<Audience>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let mut known: HashMap<String, Audience> = self
            .audiences(account_id)?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect();
        let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(known.len().max(seen.len()));
        for mut audience in seen {
            known.remove(&audience.id);
            audience.removed_at = None;
            writes.push((audience_key(account_id, &audience.id), encode(&audience)));
        }
        for (_, mut gone) in known {
            if gone.removed_at.is_none() {
                gone.removed_at = Some(now);
                writes.push((audience_key(account_id, &gone.id), encode(&gone)));
            }
        }
        let mut state = self.account_state(account_id)?;
        state.last_refreshed_at = Some(now);
        let state = encode(&state);

        (&self.audiences, &self.accounts)
            .transaction(|(audiences, accounts)| {
                for (k, v) in &writes {
                    audiences.insert(k.as_slice(), v.as_slice())?;
                }
                accounts.insert(account_id.as_bytes(), state.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => StoreError::Sled(e),
                TransactionError::Abort(()) => unreachable!("the transaction never aborts"),
            })?;
        self.flush().await
    }
}

fn audience_prefix(account_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account_id.len() + 1);
    k.extend_from_slice(account_id.as_bytes());
    k.push(0);
    k
}

fn audience_key(account_id: &str, list_id: &str) -> Vec<u8> {
    let mut k = audience_prefix(account_id);
    k.extend_from_slice(list_id.as_bytes());
    k
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("domain types always serialize")
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        reason: e.to_string(),
    })
}

/// A protobuf message stored under `key` (printable, for the error): bytes that do not
/// decode are `Corrupt`.
fn decode_message<M: prost::Message + Default>(
    key: impl std::fmt::Display,
    bytes: &[u8],
) -> Result<M, StoreError> {
    M::decode(bytes).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// The data dir's sled database, opened (or created) as every mcsync opens it.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    prepare_dir(dir)?;
    sled::Config::new()
        .path(dir.join("db"))
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(|e| in_use(dir, e))
}

/// sled reports a data dir another process holds only in its I/O error's text ("could not
/// acquire lock"); this is the one place that reads it.
fn in_use(dir: &Path, e: sled::Error) -> StoreError {
    match &e {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::InUse {
                path: dir.display().to_string(),
            }
        }
        _ => e.into(),
    }
}

/// Creates the data dir readable by its owner only: it holds the API key.
fn prepare_dir(dir: &Path) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| StoreError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    }
    Ok(())
}

/// `N` bytes from the operating system's secure randomness, for the secrets the store keeps.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .expect("the operating system gives randomness");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(id: &str) -> Audience {
        Audience {
            id: id.into(),
            name: format!("List {id}"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn refresh_marks_vanished_audiences_removed_and_keeps_accounts_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .save_refresh("acc1", vec![audience("a"), audience("b")], 100)
            .await
            .unwrap();
        store
            .save_refresh("acc2", vec![audience("z")], 100)
            .await
            .unwrap();
        store
            .save_refresh("acc1", vec![audience("b")], 200)
            .await
            .unwrap();
        store
            .save_refresh("acc1", vec![audience("b")], 300)
            .await
            .unwrap();

        let lists = store.audiences("acc1").unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(
            lists[0].removed_at,
            Some(200),
            "removed once, at the refresh that missed it"
        );
        assert_eq!(lists[1].removed_at, None);
        assert_eq!(store.audiences("acc2").unwrap().len(), 1);
        assert_eq!(
            store.account_state("acc1").unwrap().last_refreshed_at,
            Some(300)
        );
    }

    #[tokio::test]
    async fn settings_and_audiences_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let s = Settings {
                abandoned_carts: true,
                ..Default::default()
            };
            store.save_settings(&s).await.unwrap();
            store
                .save_refresh("acc", vec![audience("x")], 7)
                .await
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.settings().unwrap().abandoned_carts);
        assert_eq!(
            store.account_state("acc").unwrap().last_refreshed_at,
            Some(7)
        );
        assert_eq!(store.audiences("acc").unwrap()[0].id, "x");
    }
}
