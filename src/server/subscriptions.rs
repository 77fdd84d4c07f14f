//! SubscriptionService: thin handlers over [`App`].

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::timestamp;
use crate::app::App;
use crate::app::subscriptions::{ListSubscription, SubscribeRequest};
use crate::proto::v1 as pb;
use crate::proto::v1::subscription_service_server::SubscriptionService;
use crate::store::subscriptions::{SubscriptionState, Wanted};

pub struct Subscriptions(pub Arc<App>);

fn response(email: &str, lists: Vec<ListSubscription>) -> pb::SubscriptionsResponse {
    pb::SubscriptionsResponse {
        email: email.trim().to_owned(),
        lists: lists
            .into_iter()
            .map(|l| {
                let mut out = pb::ListSubscription {
                    list_id: l.list_id,
                    list_name: l.list_name,
                    ..Default::default()
                };
                if let Some(s) = l.subscription {
                    out.wanted = match s.wanted {
                        Wanted::Subscribed => "subscribed",
                        Wanted::Unsubscribed => "unsubscribed",
                        Wanted::Consented => "consented",
                    }
                    .into();
                    out.state = match s.state {
                        SubscriptionState::Queued => pb::SubscriptionState::Queued,
                        SubscriptionState::Applied => pb::SubscriptionState::Applied,
                        SubscriptionState::Refused => pb::SubscriptionState::Refused,
                    } as i32;
                    out.status = s.status;
                    out.error = s.error;
                    out.updated_at = Some(timestamp(s.updated_at));
                    out.consent = s.consent.map(|c| pb::ConsentRecord {
                        permissions: c
                            .permissions
                            .into_iter()
                            .map(|p| pb::GivenPermission {
                                marketing_permission_id: p.id,
                                text: p.text,
                                enabled: p.enabled,
                            })
                            .collect(),
                        given_at: Some(timestamp(c.given_at)),
                    });
                }
                out
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl SubscriptionService for Subscriptions {
    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<pb::SubscriptionsResponse>, Status> {
        let r = req.into_inner();
        let lists = self
            .0
            .subscribe(SubscribeRequest {
                email: r.email.clone(),
                list_ids: r.list_ids,
                first_name: r.first_name,
                last_name: r.last_name,
                interest_ids: r.interest_ids,
                marketing_permissions: r
                    .marketing_permissions
                    .into_iter()
                    .map(|p| (p.marketing_permission_id, p.enabled))
                    .collect(),
            })
            .await?;
        Ok(Response::new(response(&r.email, lists)))
    }

    async fn unsubscribe(
        &self,
        req: Request<pb::UnsubscribeRequest>,
    ) -> Result<Response<pb::SubscriptionsResponse>, Status> {
        let r = req.into_inner();
        let lists = self.0.unsubscribe(&r.email, &r.list_ids).await?;
        Ok(Response::new(response(&r.email, lists)))
    }

    async fn get_subscriptions(
        &self,
        req: Request<pb::GetSubscriptionsRequest>,
    ) -> Result<Response<pb::SubscriptionsResponse>, Status> {
        let r = req.into_inner();
        let lists = self.0.subscriptions(&r.email)?;
        Ok(Response::new(response(&r.email, lists)))
    }
}
