//! The background workers of a running server, started together and stopped together. They
//! stop cooperatively: a shutdown signal each checks between two steps, then a wait for each
//! to end. Nothing is aborted, so no step is cut between its writes and its saved place.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Refresher;
use super::audit::Auditor;
use super::live_sync::LiveSync;
use super::webhooks::Hooks;

/// The workers of a running server, and the signal that stops them.
pub struct Workers {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts the audience refresher, the store auditor, the live sync worker and the
    /// webhooks' keeper. `time_scale` divides their timers (tests).
    pub fn start(
        refresher: Arc<Refresher>,
        auditor: Arc<Auditor>,
        live: LiveSync,
        hooks: Arc<Hooks>,
        time_scale: u32,
    ) -> Self {
        let shutdown = watch::Sender::new(false);
        let tasks = vec![
            tokio::spawn(refresher.run(time_scale, shutdown.subscribe())),
            tokio::spawn(auditor.run(time_scale, shutdown.subscribe())),
            tokio::spawn(live.run(time_scale, shutdown.subscribe())),
            tokio::spawn(hooks.run(time_scale, shutdown.subscribe())),
        ];
        Self { shutdown, tasks }
    }

    /// Asks every worker to stop and waits until each has.
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a background worker failed");
            }
        }
    }
}
