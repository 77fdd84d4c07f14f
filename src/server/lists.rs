//! ListService: thin handlers over [`App`].

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::App;
use crate::proto::v1 as pb;
use crate::proto::v1::list_service_server::ListService;

pub struct Lists(pub Arc<App>);

#[tonic::async_trait]
impl ListService for Lists {
    async fn list_lists(
        &self,
        _: Request<pb::ListListsRequest>,
    ) -> Result<Response<pb::ListListsResponse>, Status> {
        Ok(Response::new(convert::audiences(self.0.audiences()?)))
    }

    async fn refresh_lists(
        &self,
        _: Request<pb::RefreshListsRequest>,
    ) -> Result<Response<pb::ListListsResponse>, Status> {
        Ok(Response::new(convert::audiences(
            self.0.refresh_lists().await?,
        )))
    }

    async fn select_lists(
        &self,
        req: Request<pb::SelectListsRequest>,
    ) -> Result<Response<pb::ListListsResponse>, Status> {
        let view = self.0.select_lists(req.into_inner().list_ids).await?;
        Ok(Response::new(convert::audiences(view)))
    }
}
