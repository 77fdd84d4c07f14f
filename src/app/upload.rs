//! Upload jobs: start or join, watch, cancel, resume after a restart; and "Update store data".

use tokio::sync::watch;

use super::{App, AppError, Missing, Unmet};
use crate::mailchimp::{ErrorKind, ecommerce};
use crate::proto::v1 as pb;
use crate::sync::context::UploadContext;
use crate::sync::context::upload_context;

/// A job to follow: live, or already over.
pub enum Followed {
    /// Running in this process: its progress as it changes.
    Live(watch::Receiver<pb::JobProgress>),
    /// Over (or from before a restart): its last saved state.
    Over(Box<pb::JobProgress>),
}

impl App {
    /// What an upload needs, or FAILED_PRECONDITION saying what is missing. An unspecified
    /// mode is AUTO.
    pub(super) fn upload_context(&self, mode: pb::UploadMode) -> Result<UploadContext, AppError> {
        Ok(upload_context(&self.store, &self.mailchimp, mode)?)
    }

    /// Starts an upload job, or joins the one running.
    pub async fn upload_store_data(
        &self,
        mode: pb::UploadMode,
        resync: bool,
    ) -> Result<watch::Receiver<pb::JobProgress>, AppError> {
        Ok(self.jobs.start(mode, resync, String::new()).await?)
    }

    /// What an upload in `mode` would do, without doing it (UploadRequest.dry_run).
    pub async fn plan_upload(&self, mode: pb::UploadMode) -> Result<pb::JobProgress, AppError> {
        let ctx = self.upload_context(mode)?;
        Ok(crate::sync::dry_run::dry_run(&self.store, &ctx).await?)
    }

    /// A job to watch: live while this process runs it, else as saved.
    pub async fn follow_job(&self, id: &str) -> Result<Followed, AppError> {
        match self.jobs.follow(id).await {
            Some(rx) => Ok(Followed::Live(rx)),
            None => Ok(Followed::Over(Box::new(self.job(id)?))),
        }
    }

    /// One job as saved.
    pub fn job(&self, id: &str) -> Result<pb::JobProgress, AppError> {
        self.store
            .job(id)?
            .ok_or_else(|| Missing::Job(id.to_owned()).into())
    }

    /// The last 100 jobs, newest first.
    pub fn jobs(&self) -> Result<Vec<pb::JobProgress>, AppError> {
        Ok(self.store.jobs(100)?)
    }

    /// Asks the job to stop; it ends at its next chunk with its stores' `is_syncing` false.
    pub async fn cancel_job(&self, id: &str) -> Result<pb::JobProgress, AppError> {
        let Some(mut rx) = self.jobs.cancel(id).await else {
            return self.job(id);
        };
        while rx.borrow_and_update().state == pb::JobState::Running as i32 {
            if rx.changed().await.is_err() {
                break;
            }
        }
        let job = rx.borrow().clone();
        Ok(job)
    }

    /// "Update store data": the shop identity to every store, one result per store.
    pub async fn update_store_data(&self) -> Result<Vec<pb::StoreResult>, AppError> {
        let ctx = self.upload_context(pb::UploadMode::Direct)?;
        let mut results = Vec::new();
        for (list_id, list_name) in &ctx.lists {
            let Some(store_id) = self.store.mc_store(&ctx.account_id, list_id)? else {
                results.push(pb::StoreResult {
                    store_id: String::new(),
                    list_id: list_id.clone(),
                    ok: false,
                    error: "no store yet: upload the store data first".into(),
                });
                continue;
            };
            let body = ecommerce::store_body(&store_id, list_id, list_name, &ctx.shop, false);
            let outcome = ctx.client.update_store_identity(&store_id, &body).await;
            results.push(pb::StoreResult {
                store_id,
                list_id: list_id.clone(),
                ok: outcome.is_ok(),
                error: outcome.err().map(|e| e.to_string()).unwrap_or_default(),
            });
        }
        Ok(results)
    }
}

impl App {
    /// RemoveStore: a detached store leaves Mailchimp and mcsync's memory; its list id.
    pub async fn remove_store(&self, store_id: &str) -> Result<String, AppError> {
        let (account_id, client) = self.connected_client()?;
        let selected = self.store.settings()?.choices().selected_lists;
        let Some((list_id, _)) = self
            .store
            .mc_stores_of(&account_id)?
            .into_iter()
            .find(|(_, id)| id == store_id)
        else {
            return Err(Missing::Store(store_id.to_owned()).into());
        };
        if selected.contains(&list_id) {
            return Err(Unmet::StoreFed {
                store_id: store_id.to_owned(),
                list_id,
            }
            .into());
        }
        client.delete_store(store_id).await?;
        self.store
            .forget_store(&account_id, &list_id, store_id)
            .await?;
        tracing::info!(store = %store_id, list = %list_id, "detached store removed from Mailchimp");
        Ok(list_id)
    }

    /// Per store and kind: mirror, in sync, pending, failed; `is_syncing` from Mailchimp.
    pub async fn sync_status(&self) -> Result<pb::SyncStatus, AppError> {
        use crate::domain::record::{RecordKind, kind_to_pb};
        let ctx = self.upload_context(pb::UploadMode::Direct)?;
        let mut entries: Vec<(String, String, bool)> = ctx
            .lists
            .iter()
            .map(|(id, name)| (id.clone(), name.clone(), false))
            .collect();
        let names = self.store.audiences(&ctx.account_id)?;
        for (list_id, _) in self.audiences()?.detached {
            let name = names.iter().find(|a| a.id == list_id);
            let name = name.map(|a| a.name.clone()).unwrap_or_default();
            entries.push((list_id, name, true));
        }
        let mut stores = Vec::new();
        for (list_id, list_name, detached) in &entries {
            let store_id = self
                .store
                .mc_store(&ctx.account_id, list_id)?
                .unwrap_or_default();
            let is_syncing = if store_id.is_empty() {
                false
            } else {
                // Gone from Mailchimp (see lost_reason): not syncing. Mailchimp refusing the key
                // or out of reach is told in `degraded`, not as a failed call.
                match ctx.client.store_syncing(&store_id).await {
                    Ok(syncing) => syncing.unwrap_or(false),
                    Err(e) if e.kind().is_refusal() || e.kind() == ErrorKind::Unexpected => {
                        return Err(e.into());
                    }
                    Err(_) => false,
                }
            };
            let kinds = RecordKind::ALL
                .iter()
                .map(|&kind| {
                    let in_mirror = self.store.count_records(kind) as i64;
                    let in_sync = self.store.count_synced(&store_id, kind) as i64;
                    let failed = self.store.count_sync_errors(&store_id, kind) as i64;
                    pb::KindStatus {
                        kind: kind_to_pb(kind) as i32,
                        in_mirror,
                        in_sync,
                        pending: (in_mirror - in_sync - failed).max(0),
                        failed,
                    }
                })
                .collect();
            let last_reconciliation = self.store.last_reconciliation(&store_id)?;
            let last_audit = self.store.last_audit(&store_id)?;
            let lost = self.store.store_lost(&store_id)?;
            stores.push(pb::StoreStatus {
                store_id,
                list_id: list_id.clone(),
                list_name: list_name.clone(),
                is_syncing,
                kinds,
                last_reconciliation,
                lost_at: lost.as_ref().map(|(at, _)| prost_types::Timestamp {
                    seconds: *at,
                    nanos: 0,
                }),
                lost_reason: lost.map(|(_, r)| r).unwrap_or_default(),
                detached: *detached,
                last_audit,
            });
        }
        Ok(pb::SyncStatus {
            stores,
            last_job: self.store.jobs(1)?.into_iter().next(),
            degraded: self.degraded().unwrap_or_default(),
        })
    }

    /// Why syncing cannot happen now, if it cannot: the store cannot write, or Mailchimp
    /// refuses the connected key or is out of reach.
    pub fn degraded(&self) -> Option<String> {
        if let Some(e) = self.store_health().borrow().as_ref() {
            return Some(format!(
                "the store cannot write: {e}; shop records are refused until it can"
            ));
        }
        let settings = self.store.settings().ok()?;
        self.mailchimp
            .degraded(&settings.connection?.api_key)
            .map(|d| d.to_string())
    }

    /// One page of the records Mailchimp refused (or keeps failing on), with the total.
    pub fn sync_errors(
        &self,
        page_size: i32,
        offset: i32,
    ) -> Result<pb::ListSyncErrorsResponse, AppError> {
        use crate::domain::record::{RecordKind, kind_to_pb};
        let size = match page_size {
            0 => 50,
            1..=1000 => page_size as usize,
            _ => {
                return Err(crate::domain::ValidationError::new(
                    "page_size",
                    "must be between 1 and 1000",
                )
                .into());
            }
        };
        if offset < 0 {
            return Err(
                crate::domain::ValidationError::new("offset", "must not be negative").into(),
            );
        }
        let (records, total) = self.store.sync_errors(offset as usize, size)?;
        let errors = records
            .into_iter()
            .map(|e| pb::SyncError {
                store_id: e.store_id,
                kind: RecordKind::from_byte(e.kind).map_or(0, |k| kind_to_pb(k) as i32),
                id: e.id,
                status: i32::from(e.status),
                title: e.title,
                detail: e.detail,
                field_errors: e.field_errors,
                attempts: e.attempts as i32,
                at: Some(prost_types::Timestamp {
                    seconds: e.at,
                    nanos: 0,
                }),
            })
            .collect();
        Ok(pb::ListSyncErrorsResponse {
            errors,
            total: total as i64,
        })
    }

    /// Sends every refused record again, as the mirror has it now.
    pub async fn retry_failed(&self) -> Result<pb::RetryFailedResponse, AppError> {
        use crate::domain::record::RecordKind;
        use crate::sync::dependencies::push_with_dependencies;
        use crate::sync::outcome::outcome;
        if let Some(id) = self.jobs.running_id().await {
            return Err(Unmet::JobRunning(id).into());
        }
        let ctx = self.upload_context(pb::UploadMode::Direct)?;
        let (failed, _) = self.store.sync_errors(0, usize::MAX)?;
        let mut response = pb::RetryFailedResponse::default();
        for e in failed {
            let Some(kind) = RecordKind::from_byte(e.kind) else {
                continue;
            };
            let decoded = self.store.decoded_record(kind, &e.id)?;
            response.retried += 1;
            let result = push_with_dependencies(
                &self.store,
                &ctx,
                &e.store_id,
                kind,
                &e.id,
                decoded.as_ref(),
                false,
            )
            .await;
            match outcome(&self.store, &e.store_id, kind, &e.id, result) {
                Ok(Ok(_)) => response.succeeded += 1,
                Ok(Err(_)) => response.failed += 1,
                // Mailchimp refused the key or is unreachable: say so, as an upload would.
                Err(stop) => return Err(stop.into()),
            }
        }
        Ok(response)
    }
}
