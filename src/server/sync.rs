//! SyncService: thin handlers over [`App`], and the progress stream every watcher gets.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::app::App;
use crate::app::upload::Followed;
use crate::proto::v1 as pb;
use crate::proto::v1::sync_service_server::SyncService;

pub struct Sync(pub Arc<App>);

type ProgressStream = Pin<Box<dyn Stream<Item = Result<pb::JobProgress, Status>> + Send>>;

/// The longest silence while a job runs; also paces updates, so a slow watcher sees the
/// latest state rather than every step, and never slows the job (it reads a watch channel).
const HEARTBEAT: Duration = Duration::from_millis(500);
const MIN_GAP: Duration = Duration::from_millis(100);

fn follow(mut rx: watch::Receiver<pb::JobProgress>) -> ProgressStream {
    let (tx, out) = mpsc::channel(2);
    tokio::spawn(async move {
        loop {
            let current = rx.borrow_and_update().clone();
            let over = current.state != pb::JobState::Running as i32;
            if tx.send(Ok(current)).await.is_err() || over {
                return; // the watcher left (the job goes on), or the job is over
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        let last = rx.borrow().clone();
                        let _ = tx.send(Ok(last)).await;
                        return;
                    }
                }
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
            tokio::time::sleep(MIN_GAP).await;
        }
    });
    Box::pin(ReceiverStream::new(out))
}

fn once(job: pb::JobProgress) -> ProgressStream {
    Box::pin(tokio_stream::iter([Ok(job)]))
}

#[tonic::async_trait]
impl SyncService for Sync {
    type UploadStoreDataStream = ProgressStream;
    type WatchJobStream = ProgressStream;

    async fn upload_store_data(
        &self,
        req: Request<pb::UploadRequest>,
    ) -> Result<Response<ProgressStream>, Status> {
        let req = req.into_inner();
        if req.dry_run {
            let plan = self.0.plan_upload(req.mode()).await?;
            return Ok(Response::new(once(plan)));
        }
        let rx = self.0.upload_store_data(req.mode(), req.resync).await?;
        Ok(Response::new(follow(rx)))
    }

    async fn watch_job(
        &self,
        req: Request<pb::WatchJobRequest>,
    ) -> Result<Response<ProgressStream>, Status> {
        Ok(Response::new(
            match self.0.follow_job(&req.into_inner().job_id).await? {
                Followed::Live(rx) => follow(rx),
                Followed::Over(job) => once(*job),
            },
        ))
    }

    async fn verify_site_script(
        &self,
        _: Request<pb::VerifySiteScriptRequest>,
    ) -> Result<Response<pb::VerifySiteScriptResponse>, Status> {
        let sites = self.0.verify_site_scripts().await?;
        Ok(Response::new(pb::VerifySiteScriptResponse {
            sites: sites
                .into_iter()
                .map(|(id, site)| super::convert::site_script(id, site))
                .collect(),
        }))
    }

    async fn get_job(
        &self,
        req: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::JobProgress>, Status> {
        Ok(Response::new(self.0.job(&req.into_inner().job_id)?))
    }

    async fn list_jobs(
        &self,
        _: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        Ok(Response::new(pb::ListJobsResponse {
            jobs: self.0.jobs()?,
        }))
    }

    async fn cancel_job(
        &self,
        req: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::JobProgress>, Status> {
        Ok(Response::new(
            self.0.cancel_job(&req.into_inner().job_id).await?,
        ))
    }

    async fn get_sync_status(
        &self,
        _: Request<pb::GetSyncStatusRequest>,
    ) -> Result<Response<pb::SyncStatus>, Status> {
        Ok(Response::new(self.0.sync_status().await?))
    }

    async fn list_sync_errors(
        &self,
        req: Request<pb::ListSyncErrorsRequest>,
    ) -> Result<Response<pb::ListSyncErrorsResponse>, Status> {
        let r = req.into_inner();
        Ok(Response::new(self.0.sync_errors(r.page_size, r.offset)?))
    }

    async fn audit_stores(
        &self,
        _: Request<pb::AuditStoresRequest>,
    ) -> Result<Response<pb::AuditStoresResponse>, Status> {
        let audits = self.0.audit_stores().await?;
        Ok(Response::new(pb::AuditStoresResponse { audits }))
    }

    async fn retry_failed(
        &self,
        _: Request<pb::RetryFailedRequest>,
    ) -> Result<Response<pb::RetryFailedResponse>, Status> {
        Ok(Response::new(self.0.retry_failed().await?))
    }

    async fn remove_store(
        &self,
        req: Request<pb::RemoveStoreRequest>,
    ) -> Result<Response<pb::RemoveStoreResponse>, Status> {
        let store_id = req.into_inner().store_id;
        let list_id = self.0.remove_store(&store_id).await?;
        Ok(Response::new(pb::RemoveStoreResponse { store_id, list_id }))
    }

    async fn update_store_data(
        &self,
        _: Request<pb::UpdateStoreDataRequest>,
    ) -> Result<Response<pb::UpdateStoreDataResponse>, Status> {
        Ok(Response::new(pb::UpdateStoreDataResponse {
            stores: self.0.update_store_data().await?,
        }))
    }
}
