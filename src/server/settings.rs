//! SettingsService: thin handlers over [`App`].

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use crate::app::App;
use crate::proto::v1 as pb;
use crate::proto::v1::settings_service_server::SettingsService;

pub struct Settings(pub Arc<App>);

impl Settings {
    /// The settings with where the webhooks stand.
    fn answer(&self, settings: &crate::domain::Settings) -> pb::Settings {
        let hooks = self.0.webhooks();
        pb::Settings {
            webhooks: Some(pb::Webhooks {
                base_url: hooks.base_url,
                enabled: hooks.enabled,
                problem: hooks.problem,
                audiences: hooks
                    .audiences
                    .into_iter()
                    .map(|(list_id, webhook_id)| pb::AudienceWebhook {
                        list_id,
                        webhook_id,
                    })
                    .collect(),
            }),
            oauth_available: self.0.oauth_available(),
            marketing_permissions: self
                .0
                .audiences()
                .map(|view| view.lists)
                .unwrap_or_default()
                .into_iter()
                .filter(|(a, selected)| *selected && a.removed_at.is_none())
                .map(|(a, _)| pb::AudiencePermissions {
                    list_id: a.id,
                    list_name: a.name,
                    enabled: a.marketing_permissions_enabled,
                    permissions: convert::marketing_permissions(a.marketing_permissions),
                })
                .collect(),
            site_scripts: self
                .0
                .site_scripts()
                .unwrap_or_default()
                .into_iter()
                .map(|(id, site)| convert::site_script(id, site))
                .collect(),
            ..convert::settings(settings)
        }
    }
}

#[tonic::async_trait]
impl SettingsService for Settings {
    async fn connect(
        &self,
        req: Request<pb::ConnectRequest>,
    ) -> Result<Response<pb::Settings>, Status> {
        let settings = self.0.connect(&req.into_inner().api_key).await?;
        Ok(Response::new(self.answer(&settings)))
    }

    async fn reset_connection(
        &self,
        _: Request<pb::ResetConnectionRequest>,
    ) -> Result<Response<pb::Settings>, Status> {
        let settings = self.0.reset_connection().await?;
        Ok(Response::new(self.answer(&settings)))
    }

    async fn get_settings(
        &self,
        _: Request<pb::GetSettingsRequest>,
    ) -> Result<Response<pb::Settings>, Status> {
        let settings = self.0.settings()?;
        Ok(Response::new(self.answer(&settings)))
    }

    async fn begin_o_auth(
        &self,
        req: Request<pb::BeginOAuthRequest>,
    ) -> Result<Response<pb::BeginOAuthResponse>, Status> {
        let (authorize_url, state) = self.0.begin_oauth(&req.into_inner().redirect_uri).await?;
        Ok(Response::new(pb::BeginOAuthResponse {
            authorize_url,
            state,
        }))
    }

    async fn complete_o_auth(
        &self,
        req: Request<pb::CompleteOAuthRequest>,
    ) -> Result<Response<pb::Settings>, Status> {
        let req = req.into_inner();
        let settings = self.0.complete_oauth(&req.code, &req.state).await?;
        Ok(Response::new(self.answer(&settings)))
    }

    async fn update_settings(
        &self,
        req: Request<pb::UpdateSettingsRequest>,
    ) -> Result<Response<pb::Settings>, Status> {
        let update =
            convert::settings_update(req.into_inner()).map_err(|e| super::status::invalid(&e))?;
        let settings = self.0.update_settings(update).await?;
        Ok(Response::new(self.answer(&settings)))
    }
}
