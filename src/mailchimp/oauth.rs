//! Mailchimp's OAuth 2 (login.mailchimp.com): the authorize URL a merchant is sent to, the
//! exchange of the code for an access token, and the metadata that names the token's data
//! center. The token never expires and has no refresh token.

use std::fmt;

use reqwest::Url;
use serde::Deserialize;

use super::Mailchimp;
use super::error::{MailchimpError, Problem};

/// mcsync's registered Mailchimp app.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret: never logged.
    pub client_secret: String,
    /// `https://login.mailchimp.com` (the simulator's root in tests).
    pub login_url: Url,
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"****")
            .field("login_url", &self.login_url.as_str())
            .finish()
    }
}

/// What `GET /oauth2/metadata` says about a token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The data center, e.g. `us6`.
    pub dc: String,
    /// The API root, e.g. `https://us6.api.mailchimp.com`.
    pub api_endpoint: String,
    /// The account's name.
    pub accountname: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
}

/// OAuth's error document (`{"error": "invalid_grant", "error_description": "…"}`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct OAuthError {
    error: String,
    error_description: String,
}

impl Mailchimp {
    /// The OAuth app mcsync runs as; `None` when OAuth is off.
    pub fn oauth(&self) -> Option<&OAuthConfig> {
        self.config.oauth.as_ref()
    }

    /// Where the merchant authorizes mcsync; Mailchimp sends them back to `redirect_uri`
    /// with `code` and `state`.
    pub fn authorize_url(&self, app: &OAuthConfig, redirect_uri: &str, state: &str) -> Url {
        let mut url = app.login_url.clone();
        url.set_path("/oauth2/authorize");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        url
    }

    /// Exchanges an authorization code for the access token.
    pub async fn exchange_code(
        &self,
        app: &OAuthConfig,
        redirect_uri: &str,
        code: &str,
    ) -> Result<String, MailchimpError> {
        let mut url = app.login_url.clone();
        url.set_path("/oauth2/token");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", &app.client_id)
            .append_pair("client_secret", &app.client_secret)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code", code)
            .finish();
        let answer = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| MailchimpError::Connect(e.without_url().to_string()))?;
        let status = answer.status().as_u16();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| MailchimpError::Interrupted(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(oauth_error(status, &bytes));
        }
        let token: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| MailchimpError::Decode(format!("/oauth2/token: {e}")))?;
        if token.access_token.is_empty() {
            return Err(MailchimpError::Decode(
                "/oauth2/token: no access_token".into(),
            ));
        }
        Ok(token.access_token)
    }

    /// The token's data center and API root.
    pub async fn oauth_metadata(
        &self,
        app: &OAuthConfig,
        token: &str,
    ) -> Result<Metadata, MailchimpError> {
        let mut url = app.login_url.clone();
        url.set_path("/oauth2/metadata");
        let answer = self
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, format!("OAuth {token}"))
            .send()
            .await
            .map_err(|e| MailchimpError::Connect(e.without_url().to_string()))?;
        let status = answer.status().as_u16();
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| MailchimpError::Interrupted(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(oauth_error(status, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| MailchimpError::Decode(format!("/oauth2/metadata: {e}")))
    }
}

fn oauth_error(status: u16, body: &[u8]) -> MailchimpError {
    let e: OAuthError = serde_json::from_slice(body).unwrap_or_default();
    MailchimpError::Api(Box::new(Problem {
        status,
        title: if e.error.is_empty() {
            "OAuth error".into()
        } else {
            e.error
        },
        detail: e.error_description,
        ..Problem::default()
    }))
}
