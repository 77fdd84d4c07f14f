//! What a Prometheus scrape reads from the store and the job runner, rendered with the
//! counters the layers keep.

use super::{App, AppError};
use crate::domain::record::RecordKind;
use crate::metrics::{JobSnapshot, Snapshot};
use crate::proto::v1 as pb;

impl App {
    /// The text exposition of every metric, with the store's gauges read now.
    pub async fn metrics_text(&self) -> Result<String, AppError> {
        let store = &self.store;
        let cursor = store.live_cursor()?;
        let oldest = store.outbox_after(cursor, 1)?;
        let now = crate::store::records::unix_ms();
        let snapshot = Snapshot {
            outbox_depth: store.outbox_len()? as u64,
            outbox_oldest_age_secs: oldest
                .first()
                .and_then(|e| e.written_at_ms)
                .map_or(0.0, |at| now.saturating_sub(at) as f64 / 1000.0),
            mirror: RecordKind::ALL
                .iter()
                .map(|k| (k.name(), store.count_records(*k) as u64))
                .collect(),
            job: self.latest_job().await?.as_ref().map(job_snapshot),
        };
        Ok(self.mailchimp.metrics().render(&snapshot))
    }

    /// The running job as it stands now, else the newest stored one.
    async fn latest_job(&self) -> Result<Option<pb::JobProgress>, AppError> {
        if let Some(id) = self.jobs.running_id().await {
            if let Some(rx) = self.jobs.follow(&id).await {
                return Ok(Some(rx.borrow().clone()));
            }
        }
        Ok(self.store.jobs(1)?.into_iter().next())
    }
}

fn job_snapshot(job: &pb::JobProgress) -> JobSnapshot {
    let sum = |f: fn(&pb::PhaseProgress) -> i64| job.phases.iter().map(f).sum();
    JobSnapshot {
        state: match pb::JobState::try_from(job.state) {
            Ok(pb::JobState::Running) => "running",
            Ok(pb::JobState::Succeeded) => "succeeded",
            Ok(pb::JobState::Failed) => "failed",
            Ok(pb::JobState::Cancelled) => "cancelled",
            _ => "unknown",
        },
        total: sum(|p| p.total),
        done: sum(|p| p.done),
        skipped: sum(|p| p.skipped),
        failed: sum(|p| p.failed),
        percent: job.percent,
    }
}
