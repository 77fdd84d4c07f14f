//! The operations behind the RPCs: connect, settings, audiences, records, uploads, subscriptions;
//! and the live sync worker. Handlers parse and call these; these write durably, and talk to
//! Mailchimp through [`crate::mailchimp`] (requests that can wait go to background work).

pub mod feed;
mod live;
mod records;
mod refresh;
pub mod subscriptions;
pub mod upload;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify, watch};

use crate::domain::validate::quoted;
use crate::domain::{
    self, Account, ApiKey, Audience, Connection, ListUpdateInterval, Settings, SettingsUpdate,
    ValidationError,
};
use crate::mailchimp::{AccountClient, Mailchimp, MailchimpError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid argument")]
    Invalid(Vec<ValidationError>),
    #[error("no Mailchimp account is connected: call SettingsService/Connect first")]
    NotConnected,
    #[error(transparent)]
    Mailchimp(#[from] MailchimpError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A storage failure reported by the writer thread (shared by every request of a group):
    /// nothing of the request was saved.
    #[error("storage error: {0}")]
    Unsaved(std::sync::Arc<StoreError>),
    #[error(transparent)]
    NotFound(#[from] Missing),
    #[error(transparent)]
    Precondition(#[from] Unmet),
    /// Background work the call ran (RetryFailed) stopped: Mailchimp out of reach, a refused
    /// key, storage.
    #[error("retry stopped: {0}")]
    Stopped(#[from] crate::sync::Stop),
}

/// What a call named that does not exist.
#[derive(Debug, thiserror::Error)]
pub enum Missing {
    #[error("no job {}", quoted(.0))]
    Job(String),
    #[error("no {} with id {}", .kind.name(), quoted(.id))]
    Record {
        kind: crate::domain::record::RecordKind,
        id: String,
    },
    #[error("no store {} for this account", quoted(.0))]
    Store(String),
}

/// What must hold before a call can run, and does not.
#[derive(Debug, thiserror::Error)]
pub enum Unmet {
    #[error("e-commerce analytics is off (UpdateSettings ecommerce_analytics)")]
    AnalyticsOff,
    #[error(
        "the shop's URL and company name are needed for its Mailchimp stores (UpdateSettings shop)"
    )]
    ShopIdentity,
    #[error("no list is selected (ListService/SelectLists)")]
    NoListSelected,
    #[error("upload job {0} is running; retry when it ends")]
    JobRunning(String),
    #[error(
        "store '{store_id}' is fed: its list {list_id} is selected (SelectLists without it first)"
    )]
    StoreFed { store_id: String, list_id: String },
}

impl From<crate::sync::reconcile::ReconcileError> for AppError {
    fn from(e: crate::sync::reconcile::ReconcileError) -> Self {
        match e {
            crate::sync::reconcile::ReconcileError::Mailchimp(e) => Self::Mailchimp(e),
            crate::sync::reconcile::ReconcileError::Store(e) => Self::Store(e),
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(vec![e])
    }
}

/// The connected account's audiences with the merchant's selection.
#[derive(Debug, Clone)]
pub struct AudienceView {
    pub account_id: String,
    pub lists: Vec<(Audience, bool)>,
    pub last_refreshed_at: Option<domain::UnixTime>,
    /// Stores of lists no longer selected: (list id, store id).
    pub detached: Vec<(String, String)>,
}

pub struct App {
    store: Store,
    feed: feed::Feed,
    writer: Option<std::thread::JoinHandle<()>>,
    mailchimp: Mailchimp,
    /// Serialises read-modify-write of the settings document.
    settings_lock: Mutex<()>,
    /// One refresh of the audiences at a time.
    refresh_lock: Mutex<()>,
    interval: watch::Sender<ListUpdateInterval>,
    /// Asks the background refresher for a refresh now (after connecting a new account).
    refresh_soon: Notify,
    /// The upload job running now.
    running: Mutex<Option<upload::Running>>,
    /// Wakes the live sync worker (shared with the writer thread, which rings it after each
    /// group commit that changed something).
    live_wake: Arc<Notify>,
    /// Held by live sync while it sends a window and by an upload job while it starts, so that
    /// the two never send the same records at once.
    live_gate: Mutex<()>,
}

impl App {
    pub fn new(store: Store, mailchimp: Mailchimp) -> Result<Arc<Self>, AppError> {
        let interval = store.settings()?.list_update_interval;
        let live_wake = Arc::new(Notify::new());
        let (feed, writer) = feed::Feed::start(store.clone(), live_wake.clone());
        Ok(Arc::new(Self {
            feed,
            writer: Some(writer),
            store,
            mailchimp,
            settings_lock: Mutex::new(()),
            refresh_lock: Mutex::new(()),
            interval: watch::Sender::new(interval),
            refresh_soon: Notify::new(),
            running: Mutex::new(None),
            live_wake,
            live_gate: Mutex::new(()),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits (a few seconds at most) for every other user of the app to let go, then stops the
    /// writer thread and flushes, so that the data dir is free for the next open.
    pub async fn close(self: Arc<Self>) {
        if let Some(job) = self.running.lock().await.take() {
            job.halt().await;
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut app = self;
        let inner = loop {
            match Arc::try_unwrap(app) {
                Ok(inner) => break inner,
                Err(shared) if tokio::time::Instant::now() < deadline => {
                    app = shared;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(shared) => {
                    tracing::warn!("still in use at shutdown; flushing without closing");
                    let _ = shared.store.flush().await;
                    return;
                }
            }
        };
        let App {
            store,
            feed,
            writer,
            ..
        } = inner;
        drop(feed);
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        // Aborted tasks drop their handles at their next poll; sled frees the data dir only
        // when the last handle goes, and a restart in the same process needs it free.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while store.other_handles() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if let Err(e) = store.flush().await {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    pub fn settings(&self) -> Result<Settings, AppError> {
        Ok(self.store.settings()?)
    }

    /// Validates the key's form, asks Mailchimp about it, and only then stores it.
    pub async fn connect(&self, raw_key: &str) -> Result<Settings, AppError> {
        let key = ApiKey::parse(raw_key)?;
        let client = self.mailchimp.for_key(&key);
        client.ping().await?;
        let wire = client.account().await?;
        let account = Account {
            id: wire.account_id,
            name: wire.account_name,
            email: wire.email,
            login_name: if wire.username.is_empty() {
                wire.login_id
            } else {
                wire.username
            },
        };
        if account.id.is_empty() {
            return Err(
                MailchimpError::Decode("GET / answered without an account_id".into()).into(),
            );
        }
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        settings.connection = Some(Connection {
            api_key: key,
            account,
            connected_at: domain::now(),
        });
        self.store.save_settings(&settings).await?;
        let account_id = settings.account_id().unwrap_or_default();
        tracing::info!(account_id, "connected to Mailchimp");
        if self
            .store
            .account_state(account_id)?
            .last_refreshed_at
            .is_none()
        {
            self.refresh_soon.notify_one();
        }
        Ok(settings)
    }

    pub async fn reset_connection(&self) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(old) = settings.connection.take() {
            self.store.save_settings(&settings).await?;
            tracing::info!(account_id = %old.account.id, "Mailchimp connection reset");
        }
        Ok(settings)
    }

    pub async fn update_settings(&self, update: SettingsUpdate) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(Some(list_id)) = &update.default_automation_list_id {
            check_default_list(&settings, list_id)?;
        }
        settings.apply(update);
        self.store.save_settings(&settings).await?;
        self.interval.send_if_modified(|current| {
            let changed = *current != settings.list_update_interval;
            *current = settings.list_update_interval;
            changed
        });
        Ok(settings)
    }

    pub fn audiences(&self) -> Result<AudienceView, AppError> {
        let settings = self.store.settings()?;
        let account_id = settings
            .account_id()
            .ok_or(AppError::NotConnected)?
            .to_owned();
        let selected = settings.choices().selected_lists;
        let mut lists: Vec<(Audience, bool)> = self
            .store
            .audiences(&account_id)?
            .into_iter()
            .map(|a| {
                let chosen = selected.contains(&a.id);
                (a, chosen)
            })
            .collect();
        lists.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let last_refreshed_at = self.store.account_state(&account_id)?.last_refreshed_at;
        let detached = self
            .store
            .mc_stores_of(&account_id)?
            .into_iter()
            .filter(|(list, _)| !selected.contains(list))
            .collect();
        Ok(AudienceView {
            account_id,
            lists,
            last_refreshed_at,
            detached,
        })
    }

    /// Reads every audience of the connected account from Mailchimp and records the result.
    pub async fn refresh_lists(&self) -> Result<AudienceView, AppError> {
        let (account_id, client) = self.connected_client()?;
        let _guard = self.refresh_lock.lock().await;
        let audiences = refresh::read_all(&client).await?;
        tracing::info!(
            account_id,
            audiences = audiences.len(),
            "audiences refreshed"
        );
        self.store
            .save_refresh(&account_id, audiences, domain::now())
            .await?;
        self.audiences()
    }

    /// The **Update** button: every id must be a known audience of the account, not removed.
    pub async fn select_lists(&self, ids: Vec<String>) -> Result<AudienceView, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        let account_id = settings
            .account_id()
            .ok_or(AppError::NotConnected)?
            .to_owned();
        let known = self.store.audiences(&account_id)?;
        let mut errors = Vec::new();
        let mut chosen = BTreeSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let field = format!("list_ids[{i}]");
            match known.iter().find(|a| a.id == id) {
                None => errors.push(ValidationError::new(
                    field,
                    format!("unknown list {} (refresh the lists?)", quoted(&id)),
                )),
                Some(a) if a.removed_at.is_some() => errors.push(ValidationError::new(
                    field,
                    format!("list '{id}' ({}) was removed from Mailchimp", a.name),
                )),
                Some(_) => {
                    chosen.insert(id);
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        settings.select_lists(chosen);
        self.store.save_settings(&settings).await?;
        drop(_guard);
        self.audiences()
    }

    fn connected_client(&self) -> Result<(String, AccountClient), AppError> {
        let settings = self.store.settings()?;
        let conn = settings.connection.as_ref().ok_or(AppError::NotConnected)?;
        Ok((
            conn.account.id.clone(),
            self.mailchimp.for_key(&conn.api_key),
        ))
    }

    pub fn interval_changes(&self) -> watch::Receiver<ListUpdateInterval> {
        self.interval.subscribe()
    }

    pub(crate) fn refresh_requested(&self) -> &Notify {
        &self.refresh_soon
    }
}

fn check_default_list(settings: &Settings, list_id: &str) -> Result<(), ValidationError> {
    let field = "default_automation_list_id";
    if settings.connection.is_none() {
        return Err(ValidationError::new(
            field,
            "no Mailchimp account is connected",
        ));
    }
    if !settings.choices().selected_lists.contains(list_id) {
        return Err(ValidationError::new(
            field,
            format!("list {} is not one of the selected lists", quoted(list_id)),
        ));
    }
    Ok(())
}
