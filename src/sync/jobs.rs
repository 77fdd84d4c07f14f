//! The upload job runner: one job at a time, started or joined, followed, cancelled, resumed
//! after a restart, and stopped at shutdown where it stands (it resumes at the next start).
//!
//! It also owns the gate that keeps live sync and a job from sending the same records at
//! once. Both locks are private and always taken in one order, gate then job, by the methods
//! here: nothing outside can take them the other way round.

use std::sync::Arc;

use tracing::Instrument;

use tokio::sync::{Mutex, MutexGuard, watch};
use tokio::task::JoinHandle;

use super::context::UploadContext;
use super::context::{NotReady, upload_context};
use super::stop::Signals;
use super::upload;
use crate::mailchimp::Mailchimp;
use crate::proto::v1 as pb;
use crate::store::{Store, StoreError};

/// The job running now: its progress, its cancel switch and its task.
struct Running {
    id: String,
    progress: watch::Receiver<pb::JobProgress>,
    cancel: watch::Sender<bool>,
    task: JoinHandle<pb::JobProgress>,
}

impl Running {
    fn is_running(&self) -> bool {
        self.progress.borrow().state == pb::JobState::Running as i32
    }
}

/// Runs upload jobs, one at a time; see the module.
pub struct Jobs {
    store: Store,
    mailchimp: Arc<Mailchimp>,
    /// Held by live sync while it sends a window and by a job while it starts.
    gate: Mutex<()>,
    running: Mutex<Option<Running>>,
    /// Set at shutdown: jobs stop at their next chunk without ending (see [`Self::halt`]).
    shutdown: watch::Sender<bool>,
}

impl Jobs {
    /// A runner for jobs on `store`, through `mailchimp`.
    pub fn new(store: Store, mailchimp: Arc<Mailchimp>) -> Self {
        Self {
            store,
            mailchimp,
            gate: Mutex::new(()),
            running: Mutex::new(None),
            shutdown: watch::Sender::new(false),
        }
    }

    /// Whether an upload job is running now.
    pub async fn is_running(&self) -> bool {
        self.running
            .lock()
            .await
            .as_ref()
            .is_some_and(Running::is_running)
    }

    /// The id of the job running now.
    pub async fn running_id(&self) -> Option<String> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .filter(|r| r.is_running())
            .map(|r| r.id.clone())
    }

    /// For live sync: the gate, while no job runs; `None` while one does.
    pub async fn live_window(&self) -> Option<MutexGuard<'_, ()>> {
        let gate = self.gate.lock().await;
        (!self.is_running().await).then_some(gate)
    }

    /// Starts an upload job, or joins the one running. `trigger` says why mcsync starts it by
    /// itself (empty when the shop asked).
    pub async fn start(
        &self,
        mode: pb::UploadMode,
        resync: bool,
        trigger: String,
    ) -> Result<watch::Receiver<pb::JobProgress>, NotReady> {
        // No live sync window is in flight when a job starts.
        let _gate = self.gate.lock().await;
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref().filter(|r| r.is_running()) {
            return Ok(r.progress.clone());
        }
        let ctx = upload_context(&self.store, &self.mailchimp, mode)?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let job = pb::JobProgress {
            job_id: format!("job-{millis:015}"),
            state: pb::JobState::Running as i32,
            mode: ctx.mode as i32,
            resync,
            trigger,
            started_at: Some(prost_types::Timestamp {
                seconds: crate::domain::now(),
                nanos: 0,
            }),
            ..Default::default()
        };
        self.store
            .set_job_start(&job.job_id, self.store.next_outbox_seq())
            .await?;
        self.store.save_job(&job).await?;
        let r = self.spawn(ctx, job);
        let rx = r.progress.clone();
        *running = Some(r);
        Ok(rx)
    }

    fn spawn(&self, ctx: UploadContext, job: pb::JobProgress) -> Running {
        let (tx, rx) = watch::channel(job.clone());
        let (cancel, cancelled) = watch::channel(false);
        let id = job.job_id.clone();
        tracing::info!(job = %id, lists = ctx.lists.len(), "upload job started");
        let stop = Signals {
            cancel: cancelled,
            shutdown: self.shutdown.subscribe(),
        };
        // Every log line of the job carries its id.
        let span = tracing::info_span!("job", job = %id);
        let task =
            tokio::spawn(upload::run(self.store.clone(), ctx, job, tx, stop).instrument(span));
        Running {
            id,
            progress: rx,
            cancel,
            task,
        }
    }

    /// After a restart: a job that was running resumes from its cursors; one that cannot (the
    /// settings changed meanwhile) fails, saying why.
    pub async fn resume(&self) -> Result<(), StoreError> {
        let Some(job) = self
            .store
            .jobs(1)?
            .into_iter()
            .find(|j| j.state == pb::JobState::Running as i32)
        else {
            return Ok(());
        };
        let mut running = self.running.lock().await;
        match upload_context(&self.store, &self.mailchimp, job.mode()) {
            Ok(ctx) => {
                tracing::info!(job = %job.job_id, "resuming the upload job");
                *running = Some(self.spawn(ctx, job));
            }
            Err(e) => {
                let mut job = job;
                job.state = pb::JobState::Failed as i32;
                job.message = format!("could not resume after a restart: {e}");
                self.store.save_job(&job).await?;
                // Its stores were left syncing: live sync clears that once it can.
                let stores: std::collections::BTreeSet<&str> =
                    job.phases.iter().map(|p| p.store_id.as_str()).collect();
                for id in stores {
                    self.store.set_syncing_owed(id, true).await?;
                }
            }
        }
        Ok(())
    }

    /// The progress of job `id` while this process runs it.
    pub async fn follow(&self, id: &str) -> Option<watch::Receiver<pb::JobProgress>> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .filter(|r| r.id == id)
            .map(|r| r.progress.clone())
    }

    /// Asks job `id` to stop at its next chunk; its progress, while this process runs it.
    pub async fn cancel(&self, id: &str) -> Option<watch::Receiver<pb::JobProgress>> {
        let running = self.running.lock().await;
        let r = running.as_ref().filter(|r| r.id == id)?;
        let _ = r.cancel.send(true);
        Some(r.progress.clone())
    }

    /// Shutdown: the job stops at its next chunk boundary, as it stands. It stays "running" in
    /// the store with its cursors and resumes at the next start.
    pub async fn halt(&self) {
        self.shutdown.send_replace(true);
        let job = self.running.lock().await.take();
        if let Some(job) = job {
            if let Err(e) = job.task.await {
                tracing::error!(error = %e, "the upload job's task failed");
            }
        }
    }
}
