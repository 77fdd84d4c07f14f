//! "Connect with Mailchimp": the OAuth 2 flow against the simulator's login.mailchimp.com,
//! from BeginOAuth to a connected account that syncs with its Bearer token.

use crate::common;

use common::shop::*;
use common::*;
use mcsync::mailchimp::oauth::OAuthConfig;
use mcsync::proto::v1 as pb;

const CALLBACK: &str = "http://127.0.0.1:9/admin.php";
/// X-Cart's own admin page: a query names the target (and a percent-escape must survive).
const XCART_CALLBACK: &str = "http://127.0.0.1:9/admin.php?target=mailchimp_options&return=a%2Fb";

pub async fn with_oauth() -> TestApp {
    let mut app = spawn_app().await;
    let root = app.sim.base_url().trim_end_matches("/3.0").to_owned();
    app.config.mailchimp.oauth = Some(OAuthConfig {
        client_id: mcsync::sim::oauth::CLIENT_ID.into(),
        client_secret: mcsync::sim::oauth::CLIENT_SECRET.into(),
        login_url: root.parse().unwrap(),
    });
    app.restart().await;
    app
}

/// What the merchant's browser does at Mailchimp: follows the authorize URL, and lands back
/// on the shop with `code` and `state`.
async fn authorize(url: &str) -> (String, String) {
    authorize_back_to(url, CALLBACK).await
}

async fn authorize_back_to(url: &str, callback: &str) -> (String, String) {
    mcsync::mailchimp::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let back: reqwest::Url = answer.headers()["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        back.as_str().starts_with(&format!(
            "{callback}{}",
            if callback.contains('?') { '&' } else { '?' }
        )),
        "the shop's URL kept byte for byte, query included: {back}"
    );
    let get = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

async fn begin(app: &TestApp) -> pb::BeginOAuthResponse {
    begin_with(app, CALLBACK).await
}

async fn begin_with(app: &TestApp, redirect_uri: &str) -> pb::BeginOAuthResponse {
    app.settings()
        .begin_o_auth(pb::BeginOAuthRequest {
            redirect_uri: redirect_uri.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_merchant_connects_with_mailchimp_and_the_token_syncs_like_a_key() {
    let app = with_oauth().await;
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(settings.oauth_available);

    let begun = begin(&app).await;
    assert!(begun.authorize_url.contains("response_type=code"));
    assert!(
        begun
            .authorize_url
            .contains(&format!("state={}", begun.state))
    );
    let (code, state) = authorize(&begun.authorize_url).await;
    assert_eq!(state, begun.state);
    let connected = app
        .settings()
        .complete_o_auth(pb::CompleteOAuthRequest {
            code: code.clone(),
            state: state.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let connection = connected.connection.unwrap();
    assert!(connection.connected && connection.via_oauth);
    assert_eq!(connection.account_id, app.sim.account_id(KEY_A).unwrap());
    assert_eq!(connection.data_center, "us6");
    assert!(
        connection.api_key_masked.starts_with("oauth:****"),
        "{}",
        connection.api_key_masked
    );

    // A state is good once.
    let again = app
        .settings()
        .complete_o_auth(pb::CompleteOAuthRequest { code, state })
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&again), ["state"]);

    // The token does what a key does: lists, an upload.
    app.lists()
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    let lists = app.sim.list_ids(KEY_A)[..1].to_vec();
    app.lists()
        .select_lists(pb::SelectListsRequest { list_ids: lists })
        .await
        .unwrap();
    app.settings()
        .update_settings(pb::UpdateSettingsRequest {
            shop: Some(pb::ShopIdentityUpdate {
                shop_url: Some("https://shop.example.com".into()),
                company_name: Some("Acme".into()),
                currency_code: Some("USD".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    small_shop(&app).await;
    let (job, _) = upload(&app).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
    app.stop().await;
}

#[tokio::test]
async fn x_carts_admin_url_with_its_query_is_a_redirect_uri_but_a_fragment_is_not() {
    let app = with_oauth().await;
    let begun = begin_with(&app, XCART_CALLBACK).await;
    let (code, state) = authorize_back_to(&begun.authorize_url, XCART_CALLBACK).await;
    // The token exchange names the same redirect_uri, byte for byte, or the simulator (like
    // Mailchimp) answers invalid_grant.
    let connected = app
        .settings()
        .complete_o_auth(pb::CompleteOAuthRequest { code, state })
        .await
        .unwrap()
        .into_inner();
    assert!(connected.connection.unwrap().via_oauth);

    for with_fragment in [
        "http://127.0.0.1:9/admin.php#settings",
        "http://127.0.0.1:9/admin.php?target=mailchimp_options#x",
    ] {
        let refused = app
            .settings()
            .begin_o_auth(pb::BeginOAuthRequest {
                redirect_uri: with_fragment.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert_eq!(violated_fields(&refused), ["redirect_uri"]);
        assert!(refused.message().contains("fragment"), "{refused:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_forged_state_or_code_connects_nothing_and_oauth_off_says_so() {
    let app = with_oauth().await;
    let forged = app
        .settings()
        .complete_o_auth(pb::CompleteOAuthRequest {
            code: "whatever".into(),
            state: "not-one-we-gave".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&forged), ["state"]);

    let begun = begin(&app).await;
    let wrong_code = app
        .settings()
        .complete_o_auth(pb::CompleteOAuthRequest {
            code: "not-the-code".into(),
            state: begun.state,
        })
        .await
        .unwrap_err();
    assert!(
        wrong_code.message().contains("invalid_grant"),
        "Mailchimp's reason: {wrong_code:?}"
    );
    let bad_uri = app
        .settings()
        .begin_o_auth(pb::BeginOAuthRequest {
            redirect_uri: "not a url".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_uri), ["redirect_uri"]);
    let settings = app
        .settings()
        .get_settings(pb::GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!settings.connection.unwrap().connected);
    app.stop().await;

    let plain = spawn_app().await;
    let off = plain
        .settings()
        .begin_o_auth(pb::BeginOAuthRequest {
            redirect_uri: CALLBACK.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(off.code(), tonic::Code::FailedPrecondition);
    assert!(off.message().contains("--oauth-client-id"), "{off:?}");
    plain.stop().await;
}
