//! The use-cases behind the RPCs: connect and settings, audiences, records (the feed), jobs and
//! sync status, subscriptions. Handlers parse and call these; these write durably, and leave
//! what can wait to the workers of [`crate::sync`], which they start and stop.

mod audiences;
mod audit;
mod cart_recovery;
pub use audiences::AudienceView;
pub mod feed;
pub mod member_events;
mod metrics;
mod oauth;
mod records;
mod settings;
mod sites;
pub mod subscriptions;
pub mod upload;

use std::sync::Arc;

use tokio::sync::{Mutex, Notify};

use crate::domain::ValidationError;
use crate::domain::validate::quoted;
use crate::mailchimp::{Mailchimp, MailchimpError};
use crate::store::{Store, StoreError};
use crate::sync::audit::Auditor;
use crate::sync::jobs::Jobs;
use crate::sync::live_sync::LiveSync;
use crate::sync::webhooks::Hooks;
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
    #[error("cart {} is no longer in the shop", quoted(.0))]
    /// The cart a recovery link names: the shop deleted it.
    Cart(String),
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
    #[error(
        "OAuth is off: mcsync runs without a Mailchimp app (serve --oauth-client-id and --oauth-client-secret)"
    )]
    /// mcsync runs without an OAuth app.
    OAuthOff,
    #[error("no store has a connected site yet: upload store data first")]
    /// No upload has made a store (and its site) yet.
    NoSite,
    #[error("cart {} was placed as order {}", quoted(.cart_id), quoted(.order_id))]
    /// The cart a recovery link names has become an order.
    CartPlaced {
        /// The cart.
        cart_id: String,
        /// The order placed from it.
        order_id: String,
    },
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
    auditor: Arc<Auditor>,
    jobs: Arc<Jobs>,
    /// Wakes the live sync worker (shared with the writer thread, which rings it after each
    /// group commit that changed something).
    live_wake: Arc<Notify>,
    workers: Mutex<Option<Workers>>,
    hooks: Arc<Hooks>,
    /// The newest stored member event's sequence; WatchMemberEvents follows it.
    member_events: tokio::sync::watch::Sender<u64>,
    /// Set when the app closes: streams that follow it end.
    closing: tokio::sync::watch::Sender<bool>,
}

/// How the use-cases are set up beyond the store and Mailchimp.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// `serve --webhook-base-url` ("" when not given): the webhooks' base URL when the
    /// setting is empty.
    pub webhook_base_url: String,
}

impl App {
    /// Opens the use-cases on a store and a Mailchimp client, and starts the writer thread (the workers start with [`Self::start_background`]).
    pub fn new(
        store: Store,
        mailchimp: Mailchimp,
        options: AppOptions,
    ) -> Result<Arc<Self>, AppError> {
        let mailchimp = Arc::new(mailchimp);
        let hooks = Arc::new(Hooks::new(
            store.clone(),
            mailchimp.clone(),
            options.webhook_base_url,
        ));
        let member_events = tokio::sync::watch::Sender::new(store.last_member_event()?);
        let live_wake = Arc::new(Notify::new());
        let feed = feed::Feed::start(store.clone(), live_wake.clone());
        let jobs = Arc::new(Jobs::new(store.clone(), mailchimp.clone()));
        Ok(Arc::new(Self {
            feed,
            refresher: Arc::new(Refresher::new(store.clone(), mailchimp.clone())?),
            auditor: Arc::new(Auditor::new(
                store.clone(),
                mailchimp.clone(),
                jobs.clone(),
            )?),
            jobs,
            store,
            mailchimp,
            settings_lock: Mutex::new(()),
            live_wake,
            workers: Mutex::new(None),
            hooks,
            member_events,
            closing: tokio::sync::watch::Sender::new(false),
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
            tags: Default::default(),
        };
        let workers = Workers::start(
            self.refresher.clone(),
            self.auditor.clone(),
            live,
            self.hooks.clone(),
            time_scale,
        );
        *self.workers.lock().await = Some(workers);
    }

    /// Stops background work cooperatively (the job at its next chunk, workers between two
    /// steps), then the writer thread, and flushes: what was acknowledged is on disk.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        self.jobs.halt().await;
        if let Some(workers) = self.workers.lock().await.take() {
            workers.stop().await;
        }
        self.feed.close().await;
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    /// Turns true when the app closes, for streams that follow it.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Whether the store can write: the last write's failure until one succeeds again.
    pub fn store_health(&self) -> tokio::sync::watch::Receiver<Option<Arc<StoreError>>> {
        self.feed.health()
    }

    /// Wakes the live sync worker now (a subscription was queued).
    pub fn wake_live(&self) {
        self.live_wake.notify_one();
    }
}
