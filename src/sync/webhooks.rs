//! Mailchimp's webhooks into mcsync: exactly one hook of mcsync's per selected audience, to
//! `<base>/mailchimp/webhook/<secret>`, none on the others. A hook is mcsync's when it is the
//! one mcsync noted for the audience or its URL is under mcsync's path at the base; a hook of
//! mcsync's that is not the wanted one (an old secret, other events) is replaced, so running
//! this again changes nothing. It runs when asked (connect, Update, a new base URL) and every
//! ten minutes, which also repairs a hook someone deleted in Mailchimp.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::domain::{ApiKey, Settings};
use crate::mailchimp::{ErrorKind, Mailchimp, MailchimpError};
use crate::store::member_events::RegisteredHook;
use crate::store::{Store, StoreError};

/// The path under the base URL that deliveries come to; the secret follows it.
pub const PATH: &str = "/mailchimp/webhook/";

/// How often the hooks are checked without being asked.
const PERIOD: Duration = Duration::from_secs(600);

/// Where the hooks stand, for GetSettings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookStatus {
    /// The base URL in use ("" when none).
    pub base_url: String,
    /// Whether webhooks are on.
    pub enabled: bool,
    /// Why they are off, or which audience lacks its hook and why; empty when all is well.
    pub problem: String,
    /// (list id, webhook id) of each selected audience with its hook.
    pub audiences: Vec<(String, String)>,
}

/// Why the hooks could not be brought in line.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// Reading or writing sled failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Keeps the hooks in line with the settings.
pub struct Hooks {
    store: Store,
    mailchimp: Arc<Mailchimp>,
    /// `serve --webhook-base-url`, used when the setting is empty.
    default_base: String,
    wake: Notify,
    status: Mutex<HookStatus>,
    /// One reconcile at a time (the worker, a reset).
    running: tokio::sync::Mutex<()>,
}

impl Hooks {
    /// Hooks for this store and client; `default_base` is the serve flag ("" when not given).
    pub fn new(store: Store, mailchimp: Arc<Mailchimp>, default_base: String) -> Self {
        Self {
            store,
            mailchimp,
            default_base,
            wake: Notify::new(),
            status: Mutex::new(HookStatus::default()),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The base URL in effect: the setting, else the serve flag.
    pub fn base_url(&self, settings: &Settings) -> String {
        if settings.webhook_base_url.is_empty() {
            self.default_base.clone()
        } else {
            settings.webhook_base_url.clone()
        }
    }

    /// Where the hooks stand as of the last check.
    pub fn status(&self) -> HookStatus {
        self.status.lock().expect("status lock").clone()
    }

    /// Asks the worker to check the hooks now.
    pub fn request(&self) {
        self.wake.notify_one();
    }

    /// The worker: checks when asked and every ten minutes (divided by `time_scale`), until
    /// shutdown.
    pub async fn run(self: Arc<Self>, time_scale: u32, mut shutdown: watch::Receiver<bool>) {
        let period = PERIOD / time_scale.max(1);
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "could not check Mailchimp webhooks");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(period) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Brings every audience's hook in line with the settings, once.
    pub async fn reconcile(&self) -> Result<(), HookError> {
        let _one = self.running.lock().await;
        let settings = self.store.settings()?;
        let base = self.base_url(&settings);
        let Some(connection) = &settings.connection else {
            self.set(HookStatus {
                base_url: base,
                problem: "no Mailchimp account is connected".into(),
                ..HookStatus::default()
            });
            return Ok(());
        };
        let key = connection.api_key.clone();
        let selected = settings.choices().selected_lists;
        if base.is_empty() {
            self.remove_all_with(&key).await?;
            self.set(HookStatus {
                problem: "webhooks are off: no webhook_base_url is set (UpdateSettings \
                          webhook_base_url, or serve --webhook-base-url)"
                    .into(),
                ..HookStatus::default()
            });
            return Ok(());
        }
        let client = self.mailchimp.for_key(&key);
        let url = format!("{base}{PATH}{}", self.store.webhook_secret().await?);
        let mine = format!("{base}{PATH}");
        for (list, hook) in self.store.registered_hooks()? {
            if !selected.contains(&list) {
                self.remove(&client, &list, &hook).await?;
            }
        }
        let mut problems = Vec::new();
        let mut audiences = Vec::new();
        for list in &selected {
            match self.ensure(&client, list, &url, &mine).await? {
                Ok(id) => audiences.push((list.clone(), id)),
                Err(e) => problems.push(format!("audience {list}: {e}")),
            }
        }
        self.set(HookStatus {
            base_url: base,
            enabled: true,
            problem: problems.join("; "),
            audiences,
        });
        Ok(())
    }

    /// One audience: keeps the wanted hook (or makes it) and removes mcsync's others. The
    /// inner error is Mailchimp's, for the status; the outer one stops the check.
    async fn ensure(
        &self,
        client: &crate::mailchimp::AccountClient,
        list: &str,
        url: &str,
        mine: &str,
    ) -> Result<Result<String, MailchimpError>, HookError> {
        let hooks = match client.webhooks(list).await {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        let noted = self.store.registered_hook(list)?;
        let keep = hooks
            .iter()
            .find(|h| h.url == url && h.is_as_wanted())
            .cloned();
        for h in &hooks {
            let ours = noted.as_ref().is_some_and(|n| n.id == h.id) || h.url.starts_with(mine);
            if ours && keep.as_ref().is_none_or(|k| k.id != h.id) {
                if let Err(e) = client.delete_webhook(list, &h.id).await {
                    return Ok(Err(e));
                }
                tracing::info!(list, webhook = %h.id, "removed a stale Mailchimp webhook");
            }
        }
        let hook = match keep {
            Some(h) => h,
            None => match client.create_webhook(list, url).await {
                Ok(h) => {
                    tracing::info!(list, webhook = %h.id, "registered the Mailchimp webhook");
                    h
                }
                Err(e) => return Ok(Err(e)),
            },
        };
        // The secret stays out of the note (and so out of backups): the base says enough.
        let registered = RegisteredHook {
            id: hook.id.clone(),
            url: format!("{mine}…"),
        };
        if noted.as_ref() != Some(&registered) {
            self.store
                .set_registered_hook(list, Some(&registered))
                .await?;
        }
        Ok(Ok(hook.id))
    }

    async fn remove(
        &self,
        client: &crate::mailchimp::AccountClient,
        list: &str,
        hook: &RegisteredHook,
    ) -> Result<(), HookError> {
        match client.delete_webhook(list, &hook.id).await {
            Ok(()) => tracing::info!(list, webhook = %hook.id, "removed the Mailchimp webhook"),
            // The audience itself is gone: so is its hook.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                // Forgotten all the same: a reset rotates the secret, so a hook left behind
                // only ever gets 404 from mcsync.
                tracing::warn!(list, webhook = %hook.id, error = %e, "could not remove a Mailchimp webhook");
            }
        }
        self.store.set_registered_hook(list, None).await?;
        Ok(())
    }

    async fn remove_all_with(&self, key: &ApiKey) -> Result<(), HookError> {
        let client = self.mailchimp.for_key(key);
        for (list, hook) in self.store.registered_hooks()? {
            self.remove(&client, &list, &hook).await?;
        }
        Ok(())
    }

    /// "Reset Mailchimp connection": removes every hook with the key being forgotten, and
    /// rotates the secret so that one Mailchimp still holds is refused.
    pub async fn forget(&self, key: &ApiKey) -> Result<(), HookError> {
        let _one = self.running.lock().await;
        self.remove_all_with(key).await?;
        self.store.rotate_webhook_secret().await?;
        self.set(HookStatus {
            problem: "no Mailchimp account is connected".into(),
            ..HookStatus::default()
        });
        Ok(())
    }

    fn set(&self, status: HookStatus) {
        *self.status.lock().expect("status lock") = status;
    }
}
