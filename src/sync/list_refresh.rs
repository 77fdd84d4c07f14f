//! The audiences of the connected account, read into the store: on demand, after a new
//! connection, and on "Update Mailchimp lists every …", a timer that a settings change re-arms
//! at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify, watch};

use super::audiences::read_all;
use crate::domain::ListUpdateInterval;
use crate::mailchimp::{Mailchimp, MailchimpError};
use crate::store::{Store, StoreError};

/// Calls `tick` once per period of the current interval, and once whenever `now` is notified.
/// A change of interval re-arms the timer from that moment; NEVER waits for the next change.
/// `time_scale` divides every period (1 in production; tests speed time up).
pub async fn schedule<F, Fut>(
    mut interval: watch::Receiver<ListUpdateInterval>,
    now: &Notify,
    time_scale: u32,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        let current = *interval.borrow_and_update();
        let period = current.period().map(|p| p / time_scale.max(1));
        let timer = async {
            match period {
                Some(p) => tokio::time::sleep(p).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = interval.changed() => {
                if changed.is_err() {
                    return; // the app is gone
                }
            }
            _ = timer => tick().await,
            _ = now.notified() => tick().await,
        }
    }
}

/// Why a refresh did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no Mailchimp account is connected")]
    /// No account is connected.
    NotConnected,
    #[error(transparent)]
    /// Mailchimp failed or refused.
    Mailchimp(#[from] MailchimpError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] StoreError),
}

/// Reads the connected account's audiences into the store: on demand, after connecting a new
/// account, and on the merchant's schedule. One refresh at a time.
pub struct Refresher {
    store: Store,
    mailchimp: Arc<Mailchimp>,
    running: Mutex<()>,
    interval: watch::Sender<ListUpdateInterval>,
    soon: Notify,
}

impl Refresher {
    /// A refresher on `store`, starting with the stored interval.
    pub fn new(store: Store, mailchimp: Arc<Mailchimp>) -> Result<Self, StoreError> {
        let interval = store.settings()?.list_update_interval;
        Ok(Self {
            store,
            mailchimp,
            running: Mutex::new(()),
            interval: watch::Sender::new(interval),
            soon: Notify::new(),
        })
    }

    /// Reads every audience of the connected account from Mailchimp and records the result;
    /// the account's id.
    pub async fn refresh(&self) -> Result<String, RefreshError> {
        let settings = self.store.settings()?;
        let conn = settings
            .connection
            .as_ref()
            .ok_or(RefreshError::NotConnected)?;
        let client = self.mailchimp.for_key(&conn.api_key);
        let account_id = conn.account.id.clone();
        let _one = self.running.lock().await;
        let audiences = read_all(&client).await?;
        tracing::info!(
            account_id,
            audiences = audiences.len(),
            "audiences refreshed"
        );
        self.store
            .save_refresh(&account_id, audiences, crate::domain::now())
            .await?;
        Ok(account_id)
    }

    /// A refresh as soon as the worker can (a new account was connected).
    pub fn request_soon(&self) {
        self.soon.notify_one();
    }

    /// The merchant's "Update Mailchimp lists every": re-arms the timer when it changed.
    pub fn set_interval(&self, interval: ListUpdateInterval) {
        self.interval.send_if_modified(|current| {
            let changed = *current != interval;
            *current = interval;
            changed
        });
    }

    /// The refresher task of a running server, until `shutdown` is set.
    pub async fn run(self: Arc<Self>, time_scale: u32, mut shutdown: watch::Receiver<bool>) {
        let changes = self.interval.subscribe();
        let ticks = schedule(changes, &self.soon, time_scale, || async {
            match self.refresh().await {
                Ok(_) => tracing::debug!("periodic list refresh done"),
                // Nothing to refresh without an account; not worth more than a debug line.
                Err(RefreshError::NotConnected) => {
                    tracing::debug!("periodic list refresh skipped: not connected")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "periodic list refresh failed; will try at the next period")
                }
            }
        });
        tokio::select! {
            () = ticks => {}
            _ = shutdown.wait_for(|down| *down) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_per_period_rearms_on_change_and_stops_on_never() {
        let (tx, rx) = watch::channel(ListUpdateInterval::Never);
        let ticks = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(Notify::new());
        let (t, n) = (ticks.clone(), now.clone());
        tokio::spawn(async move {
            schedule(rx, &n, 1, || {
                let t = t.clone();
                async move {
                    t.fetch_add(1, Ordering::SeqCst);
                }
            })
            .await
        });
        let count = || ticks.load(Ordering::SeqCst);

        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(count(), 0, "NEVER does not tick");

        tx.send(ListUpdateInterval::Minutes1).unwrap();
        settle().await;
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(count(), 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(count(), 1, "one tick after a minute");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(count(), 2);

        // 30 s into a period, switch to 10 minutes: the new period counts from the change.
        tokio::time::sleep(Duration::from_secs(30)).await;
        tx.send(ListUpdateInterval::Minutes10).unwrap();
        settle().await;
        tokio::time::sleep(Duration::from_secs(599)).await;
        assert_eq!(count(), 2);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(count(), 3);

        tx.send(ListUpdateInterval::Never).unwrap();
        settle().await;
        tokio::time::sleep(Duration::from_secs(7 * 24 * 3600)).await;
        assert_eq!(count(), 3, "NEVER stops it");

        now.notify_one();
        settle().await;
        assert_eq!(count(), 4, "an explicit request ticks at once");
    }
}
