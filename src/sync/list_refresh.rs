//! "Update Mailchimp lists every …": a timer that a settings change re-arms at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::app::{App, AppError};
use crate::domain::ListUpdateInterval;

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

/// The refresher task of a running server.
pub async fn run_list_refresh(app: Arc<App>, time_scale: u32) {
    let changes = app.interval_changes();
    let notify = app.clone();
    schedule(changes, notify.refresh_requested(), time_scale, || {
        let app = app.clone();
        async move {
            match app.refresh_lists().await {
                Ok(view) => tracing::debug!(audiences = view.lists.len(), "periodic list refresh done"),
                // Nothing to refresh without an account; not worth more than a debug line.
                Err(AppError::NotConnected) => tracing::debug!("periodic list refresh skipped: not connected"),
                Err(e) => tracing::warn!(error = %e, "periodic list refresh failed; will try at the next period"),
            }
        }
    })
    .await;
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
