//! login.mailchimp.com's OAuth 2, as Mailchimp's documentation describes it: the authorize
//! page (here the merchant of the first account logs in and allows at once: a redirect back
//! with `code` and `state`), the token endpoint (form-encoded, client id and secret, the same
//! `redirect_uri`; a code is good once), and the metadata that names the token's data center
//! and API root. Tokens are accepted by the API as `Authorization: Bearer`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;

/// The one app the simulator knows.
pub const CLIENT_ID: &str = "mcsync-sim-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "mcsync-sim-secret";

/// A code handed out: (account index, redirect_uri).
pub(crate) type Codes = std::sync::Mutex<HashMap<String, (usize, String)>>;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `GET /oauth2/authorize`: the merchant allows at once; back to `redirect_uri`.
pub(crate) async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if get("client_id") != CLIENT_ID {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let redirect = get("redirect_uri");
    let Ok(mut back) = reqwest::Url::parse(&redirect) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    if back.fragment().is_some() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri must not include a fragment",
        );
    }
    let code = format!("{:032x}", fastrand::u128(..));
    s.oauth_codes
        .lock()
        .expect("codes lock")
        .insert(code.clone(), (0, redirect));
    back.query_pairs_mut().append_pair("code", &code);
    let state = get("state");
    if !state.is_empty() {
        back.query_pairs_mut().append_pair("state", &state);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// `POST /oauth2/token`: a code for a token.
pub(crate) async fn token(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if get("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    let taken = s
        .oauth_codes
        .lock()
        .expect("codes lock")
        .remove(&get("code"));
    let Some((account, redirect)) = taken else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code is unknown or was used",
        );
    };
    if redirect != get("redirect_uri") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization",
        );
    }
    let token = format!("{:032x}", fastrand::u128(..));
    s.world.lock().expect("world lock").accounts[account]
        .oauth_tokens
        .push(token.clone());
    Json(json!({"access_token": token, "expires_in": 0, "scope": null})).into_response()
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`.
pub(crate) async fn metadata(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("OAuth "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let world = s.world.lock().expect("world lock");
    let Some(account) = world
        .accounts
        .iter()
        .find(|a| !token.is_empty() && a.oauth_tokens.contains(&token))
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the token is not valid",
        );
    };
    let dc = account
        .api_key
        .rsplit('-')
        .next()
        .unwrap_or("us1")
        .to_owned();
    Json(json!({
        "dc": dc,
        "role": "owner",
        "accountname": account.name,
        "user_id": 1,
        "login": {"email": account.email, "login_id": account.login_id, "login_name": account.login_id},
        "login_url": s.base_url,
        "api_endpoint": s.base_url,
    }))
    .into_response()
}
