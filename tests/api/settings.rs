//! SettingsService end to end: connecting, the masked key, partial updates and their validation.

use crate::common;

use common::*;
use mcsync::proto::v1::{self as pb, ConnectRequest, GetSettingsRequest, UpdateSettingsRequest};
use tonic::Code;

#[tokio::test]
async fn connecting_with_a_good_key_stores_the_account_and_shows_the_key_masked() {
    let app = spawn_app().await;
    let settings = app.connect(KEY_A).await;
    let conn = settings.connection.unwrap();
    assert!(conn.connected);
    assert_eq!(conn.api_key_masked, "****************************cdef-us6");
    assert_eq!(conn.data_center, "us6");
    assert_eq!(conn.account_id, app.sim.account_id(KEY_A).unwrap());
    assert!(!conn.account_name.is_empty() && !conn.account_email.is_empty());

    let stats = app.sim.stats();
    assert_eq!(stats.count("GET /3.0/ping"), 1);
    assert_eq!(stats.count("GET /3.0/"), 1);

    let again = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.connection.as_ref().unwrap().account_id,
        conn.account_id
    );
    assert!(
        !format!("{again:?}").contains(&KEY_A[..28]),
        "the key never leaves unmasked"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_key_is_invalid_argument_and_mailchimp_is_not_asked() {
    let app = spawn_app().await;
    for bad in [
        "",
        "not-a-key",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdeZ-us6",
    ] {
        let err = app
            .settings()
            .connect(ConnectRequest {
                api_key: bad.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad:?}: {err:?}");
        assert!(err.message().contains("api_key"), "{}", err.message());
        assert_eq!(violated_fields(&err), ["api_key"]);
    }
    assert_eq!(app.sim.stats().total(), 0);
    let s = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!s.connection.unwrap().connected);
    app.stop().await;
}

#[tokio::test]
async fn a_key_mailchimp_rejects_is_unauthenticated_or_denied_and_nothing_is_stored() {
    let app = spawn_app().await;
    let err = app
        .settings()
        .connect(ConnectRequest {
            api_key: KEY_UNKNOWN.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("API Key Invalid"),
        "Mailchimp's reason: {}",
        err.message()
    );

    let err = app
        .settings()
        .connect(ConnectRequest {
            api_key: KEY_DISABLED.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("disabled"), "{}", err.message());

    let s = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!s.connection.unwrap().connected);

    // A rejected key does not replace a working connection either.
    app.connect(KEY_A).await;
    let _ = app
        .settings()
        .connect(ConnectRequest {
            api_key: KEY_UNKNOWN.into(),
        })
        .await
        .unwrap_err();
    let s = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        s.connection.unwrap().account_id,
        app.sim.account_id(KEY_A).unwrap()
    );
    assert_eq!(
        app.sim.stats().rejected.get(&401),
        Some(&2),
        "no retry of a 401"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_mailchimp_is_unavailable() {
    let mut app = spawn_app().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    app.config.mailchimp.base_url = Some(format!("http://127.0.0.1:{port}/3.0").parse().unwrap());
    app.restart().await;
    let err = app
        .settings()
        .connect(ConnectRequest {
            api_key: KEY_A.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(!err.message().contains(&KEY_A[..28]));
    app.stop().await;
}

#[tokio::test]
async fn defaults_are_x_carts() {
    let app = spawn_app().await;
    let s = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(s.ecommerce_analytics);
    assert!(!s.abandoned_carts);
    assert!(!s.single_opt_in);
    assert_eq!(
        s.subscription_element_type(),
        pb::SubscriptionElementType::Checkbox
    );
    assert_eq!(s.list_update_interval(), pb::ListUpdateInterval::Never);
    assert_eq!(s.coupon_upload_mode(), pb::CouponUploadMode::All);
    assert_eq!(s.default_automation_list_id, "");
    app.stop().await;
}

#[tokio::test]
async fn update_changes_only_the_fields_present() {
    let app = spawn_app().await;
    let mut client = app.settings();
    client
        .update_settings(UpdateSettingsRequest {
            shop: Some(pb::ShopIdentityUpdate {
                shop_url: Some("https://shop.example.com/".into()),
                company_name: Some("Acme Boots".into()),
                currency_code: Some("usd".into()),
                address: Some(pb::Address {
                    city: "Atlanta".into(),
                    country_code: "us".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let s = client
        .update_settings(UpdateSettingsRequest {
            abandoned_carts: Some(true),
            list_update_interval: Some(pb::ListUpdateInterval::ListUpdateInterval1Hour as i32),
            shop: Some(pb::ShopIdentityUpdate {
                phone: Some("+1 404 555 0100".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(s.abandoned_carts);
    assert!(s.ecommerce_analytics, "untouched");
    assert_eq!(
        s.list_update_interval(),
        pb::ListUpdateInterval::ListUpdateInterval1Hour
    );
    let shop = s.shop.unwrap();
    assert_eq!(shop.shop_url, "https://shop.example.com", "normalised");
    assert_eq!(shop.company_name, "Acme Boots", "untouched");
    assert_eq!(shop.currency_code, "USD", "normalised");
    assert_eq!(shop.phone, "+1 404 555 0100");
    let address = shop.address.unwrap();
    assert_eq!(
        (address.city.as_str(), address.country_code.as_str()),
        ("Atlanta", "US")
    );
    app.stop().await;
}

#[tokio::test]
async fn each_invalid_value_is_rejected_naming_its_field_and_nothing_changes() {
    let app = spawn_app().await;
    let mut client = app.settings();
    let before = client
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    let shop = |u: pb::ShopIdentityUpdate| UpdateSettingsRequest {
        abandoned_carts: Some(true), // valid, and must not be applied either
        shop: Some(u),
        ..Default::default()
    };
    let cases: Vec<(UpdateSettingsRequest, &str)> = vec![
        (
            UpdateSettingsRequest {
                subscription_element_type: Some(0),
                ..Default::default()
            },
            "subscription_element_type",
        ),
        (
            UpdateSettingsRequest {
                subscription_element_type: Some(9),
                ..Default::default()
            },
            "subscription_element_type",
        ),
        (
            UpdateSettingsRequest {
                list_update_interval: Some(0),
                ..Default::default()
            },
            "list_update_interval",
        ),
        (
            UpdateSettingsRequest {
                list_update_interval: Some(15),
                ..Default::default()
            },
            "list_update_interval",
        ),
        (
            UpdateSettingsRequest {
                coupon_upload_mode: Some(3),
                ..Default::default()
            },
            "coupon_upload_mode",
        ),
        (
            UpdateSettingsRequest {
                default_automation_list_id: Some("nope".into()),
                ..Default::default()
            },
            "default_automation_list_id",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                shop_url: Some("shop.example.com".into()),
                ..Default::default()
            }),
            "shop.shop_url",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                shop_url: Some("ftp://shop.example.com".into()),
                ..Default::default()
            }),
            "shop.shop_url",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                email: Some("owner@".into()),
                ..Default::default()
            }),
            "shop.email",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                currency_code: Some("DOLLARS".into()),
                ..Default::default()
            }),
            "shop.currency_code",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                locale: Some("English".into()),
                ..Default::default()
            }),
            "shop.locale",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                timezone: Some("eastern time".into()),
                ..Default::default()
            }),
            "shop.timezone",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                phone: Some("call me".into()),
                ..Default::default()
            }),
            "shop.phone",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                company_name: Some("x".repeat(101)),
                ..Default::default()
            }),
            "shop.company_name",
        ),
        (
            shop(pb::ShopIdentityUpdate {
                address: Some(pb::Address {
                    country_code: "USA".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            "shop.address.country_code",
        ),
    ];
    for (req, field) in cases {
        let err = client.update_settings(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
        assert_eq!(violated_fields(&err), [field]);
    }
    let after = client
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before, after);
    app.stop().await;
}

#[tokio::test]
async fn several_invalid_fields_are_all_reported() {
    let app = spawn_app().await;
    let err = app
        .settings()
        .update_settings(UpdateSettingsRequest {
            coupon_upload_mode: Some(42),
            shop: Some(pb::ShopIdentityUpdate {
                email: Some("x".into()),
                currency_code: Some("XXY".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = violated_fields(&err);
    fields.sort();
    assert_eq!(
        fields,
        ["coupon_upload_mode", "shop.currency_code", "shop.email"]
    );
    app.stop().await;
}

#[tokio::test]
async fn reset_forgets_the_connection() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    let s = app
        .settings()
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .unwrap()
        .into_inner();
    let conn = s.connection.unwrap();
    assert!(!conn.connected);
    assert_eq!(conn.api_key_masked, "");
    assert_eq!(conn.account_id, "");
    app.stop().await;
}

#[tokio::test]
async fn settings_survive_a_restart_on_the_same_data_dir() {
    let mut app = spawn_app().await;
    app.connect(KEY_A).await;
    app.settings()
        .update_settings(UpdateSettingsRequest {
            single_opt_in: Some(true),
            subscription_element_type: Some(pb::SubscriptionElementType::Select as i32),
            coupon_upload_mode: Some(pb::CouponUploadMode::MatchingPromoRules as i32),
            shop: Some(pb::ShopIdentityUpdate {
                company_name: Some("Acme".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let before = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    app.restart().await;
    let after = app
        .settings()
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before, after);
    assert!(after.single_opt_in && after.connection.unwrap().connected);
    app.stop().await;
}
