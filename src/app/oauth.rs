//! "Connect with Mailchimp": OAuth 2 instead of a pasted key. mcsync keeps the `state` it
//! hands out, takes it back once, exchanges the code for a token, learns the token's data
//! center from Mailchimp's metadata, and then connects as with a key.

use super::{App, AppError, Unmet};
use crate::domain::{ApiKey, Settings, ValidationError};
use crate::store::oauth::PendingOAuth;

/// How long a begun connection waits for its code.
const STATE_TTL: i64 = 600;

impl App {
    /// Whether mcsync runs with an OAuth app.
    pub fn oauth_available(&self) -> bool {
        self.mailchimp.oauth().is_some()
    }

    /// Step 1: the URL to send the merchant to, and the state it carries.
    pub async fn begin_oauth(&self, redirect_uri: &str) -> Result<(String, String), AppError> {
        let app = self.mailchimp.oauth().ok_or(Unmet::OAuthOff)?;
        let redirect_uri = crate::domain::validate::redirect_uri(redirect_uri)
            .map_err(|reason| ValidationError::new("redirect_uri", reason))?;
        let state = crate::store::member_events::new_secret();
        let pending = PendingOAuth {
            redirect_uri: redirect_uri.clone(),
            at: crate::domain::now(),
        };
        self.store.begin_oauth(&state, &pending).await?;
        let url = self.mailchimp.authorize_url(app, &redirect_uri, &state);
        Ok((url.to_string(), state))
    }

    /// Step 2: the code and state Mailchimp sent back; connects the account.
    pub async fn complete_oauth(&self, code: &str, state: &str) -> Result<Settings, AppError> {
        let app = self.mailchimp.oauth().ok_or(Unmet::OAuthOff)?.clone();
        let stale = || {
            ValidationError::new(
                "state",
                "is not one mcsync handed out, was used already, or is older than 10 minutes: begin again",
            )
        };
        if state.is_empty() || state.len() > 100 {
            return Err(stale().into());
        }
        let pending = self.store.take_oauth(state).await?.ok_or_else(stale)?;
        if crate::domain::now() - pending.at > STATE_TTL {
            return Err(stale().into());
        }
        if code.trim().is_empty() || code.len() > 500 {
            return Err(
                ValidationError::new("code", "is required (at most 500 characters)").into(),
            );
        }
        let token = self
            .mailchimp
            .exchange_code(&app, &pending.redirect_uri, code.trim())
            .await?;
        let meta = self.mailchimp.oauth_metadata(&app, &token).await?;
        let key = ApiKey::from_oauth(&token, &meta.dc).map_err(|e| {
            crate::mailchimp::MailchimpError::Decode(format!("OAuth metadata: {e}"))
        })?;
        tracing::info!(account = %meta.accountname, dc = %meta.dc, "connecting with an OAuth token");
        self.connect_with(key).await
    }
}
