//! StoreDataService: thin handlers over [`App`].

use std::sync::Arc;

use tonic::{Request, Response, Status, Streaming};

use crate::app::App;
use crate::app::feed::PushSummary;
use crate::domain::record::kind_to_pb;
use crate::proto::v1 as pb;
use crate::proto::v1::store_data_service_server::StoreDataService;

/// The feed, and how long a PushRecords stream may stay silent.
pub struct Records(pub Arc<App>, pub std::time::Duration);

#[tonic::async_trait]
impl StoreDataService for Records {
    async fn push_records(
        &self,
        req: Request<Streaming<pb::Record>>,
    ) -> Result<Response<pb::PushSummary>, Status> {
        let mut stream = req.into_inner();
        let mut push = self.0.push();
        loop {
            let Ok(next) = tokio::time::timeout(self.1, stream.message()).await else {
                // Kept all the same, as on a broken stream; the client may resend the rest.
                let _ = push.finish().await;
                let idle = self.1.as_secs();
                return Err(Status::deadline_exceeded(format!(
                    "PushRecords sent nothing for {idle} s; what came before is stored"
                )));
            };
            match next {
                Ok(Some(record)) => push.offer(record).await?,
                Ok(None) => break,
                Err(status) => {
                    // What was accepted so far is written all the same; the client learns of
                    // the broken stream and can resend (unchanged records cost nothing).
                    let _ = push.finish().await;
                    return Err(status);
                }
            }
        }
        Ok(Response::new(summary(push.finish().await?)))
    }

    async fn upsert(
        &self,
        req: Request<pb::Record>,
    ) -> Result<Response<pb::UpsertResponse>, Status> {
        let changed = self.0.upsert(req.into_inner()).await?;
        Ok(Response::new(pb::UpsertResponse { changed }))
    }

    async fn delete(
        &self,
        req: Request<pb::RecordKey>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        self.0.delete(&req.into_inner()).await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn get_record(
        &self,
        req: Request<pb::RecordKey>,
    ) -> Result<Response<pb::Record>, Status> {
        Ok(Response::new(self.0.get_record(&req.into_inner())?))
    }

    async fn recover_cart(
        &self,
        req: Request<pb::RecoverCartRequest>,
    ) -> Result<Response<pb::RecoverCartResponse>, Status> {
        let (cart, store_id) = self.0.recover_cart(&req.into_inner().token)?;
        Ok(Response::new(pb::RecoverCartResponse {
            cart: Some(cart),
            store_id,
        }))
    }

    async fn count_records(
        &self,
        _: Request<pb::CountRecordsRequest>,
    ) -> Result<Response<pb::CountRecordsResponse>, Status> {
        let (counts, outbox) = self.0.count_records()?;
        Ok(Response::new(pb::CountRecordsResponse {
            counts: counts
                .into_iter()
                .map(|(k, n)| pb::KindCount {
                    kind: kind_to_pb(k) as i32,
                    count: n as i64,
                })
                .collect(),
            outbox_pending: outbox as i64,
        }))
    }
}

fn summary(s: PushSummary) -> pb::PushSummary {
    pb::PushSummary {
        accepted: s.accepted as i64,
        unchanged: s.unchanged as i64,
        deleted: s.deleted as i64,
        rejected: s.rejected as i64,
        rejections: s
            .rejections
            .into_iter()
            .map(|r| pb::Rejection {
                kind: r.kind.map_or(0, |k| kind_to_pb(k) as i32),
                id: r.id,
                field: r.field,
                reason: r.reason,
                index: r.index as i64,
            })
            .collect(),
        not_found: s
            .not_found
            .into_iter()
            .map(|(k, id)| pb::RecordKey {
                kind: kind_to_pb(k) as i32,
                id,
            })
            .collect(),
        not_found_count: s.not_found_count as i64,
    }
}
