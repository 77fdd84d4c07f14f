//! The use-cases behind the RPCs: connect and settings, audiences, records (the feed), jobs and
//! sync status, subscriptions. Handlers parse and call these; these write durably, and leave
//! what can wait to the workers of [`crate::sync`], which they start and stop.

pub mod feed;
mod records;
pub mod subscriptions;
pub mod upload;

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify};

use crate::domain::validate::quoted;
use crate::domain::{
    self, Account, ApiKey, Audience, Connection, Settings, SettingsUpdate, ValidationError,
};
use crate::mailchimp::{AccountClient, Mailchimp, MailchimpError};
use crate::store::{Store, StoreError};
use crate::sync::jobs::Jobs;
use crate::sync::live_sync::LiveSync;
use crate::sync::workers::Workers;
use crate::sync::{RefreshError, Refresher};

#[derive(Debug, thiserror::Error)]
/// Why a use-case failed; mapped to a gRPC status in one place (`server::status`).
pub enum AppError {
    #[error("invalid argument")]
    /// The request's own fields are wrong: every field error, each naming its field.
    Invalid(Vec<ValidationError>),
    #[error("no Mailchimp account is connected: call SettingsService/Connect first")]
    /// The call needs a connected Mailchimp account.
    NotConnected,
    #[error(transparent)]
    /// Mailchimp refused, failed or could not be reached.
    Mailchimp(#[from] MailchimpError),
    #[error(transparent)]
    /// Reading or writing sled failed.
    Store(#[from] StoreError),
    /// A storage failure reported by the writer thread (shared by every request of a group):
    /// nothing of the request was saved.
    #[error("storage error: {0}")]
    Unsaved(std::sync::Arc<StoreError>),
    #[error(transparent)]
    /// What the call named does not exist.
    NotFound(#[from] Missing),
    #[error(transparent)]
    /// The call cannot run in the current state.
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
    /// An upload job.
    Job(String),
    #[error("no {} with id {}", .kind.name(), quoted(.id))]
    /// A record of the mirror.
    Record {
        /// Its kind.
        kind: crate::domain::record::RecordKind,
        /// Its id.
        id: String,
    },
    #[error("no store {} for this account", quoted(.0))]
    /// A Mailchimp store of the connected account.
    Store(String),
}

/// What must hold before a call can run, and does not.
#[derive(Debug, thiserror::Error)]
pub enum Unmet {
    #[error("e-commerce analytics is off (UpdateSettings ecommerce_analytics)")]
    /// E-commerce analytics is off.
    AnalyticsOff,
    #[error(
        "the shop's URL and company name are needed for its Mailchimp stores (UpdateSettings shop)"
    )]
    /// The shop's URL or company name is missing.
    ShopIdentity,
    #[error("no list is selected (ListService/SelectLists)")]
    /// No audience is selected.
    NoListSelected,
    #[error("upload job {0} is running; retry when it ends")]
    /// Another job is running (its id).
    JobRunning(String),
    #[error(
        "store '{store_id}' is fed: its list {list_id} is selected (SelectLists without it first)"
    )]
    /// The store's list is still selected, so the store is still fed.
    StoreFed {
        /// The store.
        store_id: String,
        /// Its list, still selected.
        list_id: String,
    },
}

impl From<crate::sync::reconcile::ReconcileError> for AppError {
    fn from(e: crate::sync::reconcile::ReconcileError) -> Self {
        match e {
            crate::sync::reconcile::ReconcileError::Mailchimp(e) => Self::Mailchimp(e),
            crate::sync::reconcile::ReconcileError::Store(e) => Self::Store(e),
        }
    }
}

impl From<RefreshError> for AppError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::NotConnected => Self::NotConnected,
            RefreshError::Mailchimp(e) => Self::Mailchimp(e),
            RefreshError::Store(e) => Self::Store(e),
        }
    }
}

impl From<crate::sync::context::NotReady> for AppError {
    fn from(e: crate::sync::context::NotReady) -> Self {
        use crate::sync::context::NotReady;
        match e {
            NotReady::AnalyticsOff => Unmet::AnalyticsOff.into(),
            NotReady::NotConnected => Self::NotConnected,
            NotReady::ShopIdentity => Unmet::ShopIdentity.into(),
            NotReady::NoListSelected => Unmet::NoListSelected.into(),
            NotReady::Store(e) => Self::Store(e),
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
    /// The connected account.
    pub account_id: String,
    /// Every audience, sorted by name, with whether the merchant selected it.
    pub lists: Vec<(Audience, bool)>,
    /// When the audiences were last read from Mailchimp.
    pub last_refreshed_at: Option<domain::UnixTime>,
    /// Stores of lists no longer selected: (list id, store id).
    pub detached: Vec<(String, String)>,
}

/// The use-cases behind the RPCs. Each concern keeps its own state: the settings document
/// its lock, the audiences their [`Refresher`], uploads their [`Jobs`], the feed its writer
/// thread; background work runs as [`Workers`].
pub struct App {
    store: Store,
    feed: feed::Feed,
    mailchimp: Arc<Mailchimp>,
    /// Serialises read-modify-write of the settings document.
    settings_lock: Mutex<()>,
    refresher: Arc<Refresher>,
    jobs: Arc<Jobs>,
    /// Wakes the live sync worker (shared with the writer thread, which rings it after each
    /// group commit that changed something).
    live_wake: Arc<Notify>,
    workers: Mutex<Option<Workers>>,
}

impl App {
    /// Opens the use-cases on a store and a Mailchimp client, and starts the writer thread (the workers start with [`Self::start_background`]).
    pub fn new(store: Store, mailchimp: Mailchimp) -> Result<Arc<Self>, AppError> {
        let mailchimp = Arc::new(mailchimp);
        let live_wake = Arc::new(Notify::new());
        let feed = feed::Feed::start(store.clone(), live_wake.clone());
        Ok(Arc::new(Self {
            feed,
            refresher: Arc::new(Refresher::new(store.clone(), mailchimp.clone())?),
            jobs: Arc::new(Jobs::new(store.clone(), mailchimp.clone())),
            store,
            mailchimp,
            settings_lock: Mutex::new(()),
            live_wake,
            workers: Mutex::new(None),
        }))
    }

    /// The sled store, for operators and tests that look inside.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Resumes the upload job a restart interrupted, then starts the background workers
    /// (audience refresh, live sync). `time_scale` divides their timers (tests).
    pub async fn start_background(&self, time_scale: u32) {
        if let Err(e) = self.jobs.resume().await {
            tracing::error!(error = %e, "could not resume the upload job");
        }
        let live = LiveSync {
            store: self.store.clone(),
            mailchimp: self.mailchimp.clone(),
            jobs: self.jobs.clone(),
            wake: self.live_wake.clone(),
        };
        let workers = Workers::start(self.refresher.clone(), live, time_scale);
        *self.workers.lock().await = Some(workers);
    }

    /// Stops background work cooperatively (the job at its next chunk, workers between two
    /// steps), then the writer thread, and flushes: what was acknowledged is on disk.
    pub async fn close(&self) {
        self.jobs.halt().await;
        if let Some(workers) = self.workers.lock().await.take() {
            workers.stop().await;
        }
        self.feed.close().await;
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    /// The settings as stored (the key inside stays secret).
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
            self.refresher.request_soon();
        }
        Ok(settings)
    }

    /// "Reset Mailchimp connection": forgets the key and the account; the rest of the settings stay.
    pub async fn reset_connection(&self) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(old) = settings.connection.take() {
            self.store.save_settings(&settings).await?;
            tracing::info!(account_id = %old.account.id, "Mailchimp connection reset");
        }
        Ok(settings)
    }

    /// Applies the fields present in `update`, checked against the connection and the selection.
    pub async fn update_settings(&self, update: SettingsUpdate) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(Some(list_id)) = &update.default_automation_list_id {
            check_default_list(&settings, list_id)?;
        }
        settings.apply(update);
        self.store.save_settings(&settings).await?;
        self.refresher.set_interval(settings.list_update_interval);
        Ok(settings)
    }

    /// The connected account's audiences as last read, with the selection and the detached stores.
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
        self.refresher.refresh().await?;
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

    /// Wakes the live sync worker now (a subscription was queued).
    pub fn wake_live(&self) {
        self.live_wake.notify_one();
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
