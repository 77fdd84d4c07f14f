//! What a job or a live-sync step needs from the settings, read once when it starts: the
//! account's client, the shop's identity, the merchant's choices and the selected lists. Or
//! why there is nothing to sync to yet.

use super::push::{Consent, Target};
use crate::domain::cart_link::CartLinks;
use crate::domain::{CouponUploadMode, Settings, ShopIdentity};
use crate::mailchimp::{AccountClient, Mailchimp};
use crate::proto::v1 as pb;
use crate::store::{Store, StoreError};

/// Why an upload cannot start (or live sync has nowhere to go).
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("e-commerce analytics is off (UpdateSettings ecommerce_analytics)")]
    /// E-commerce analytics is off.
    AnalyticsOff,
    #[error("no Mailchimp account is connected: call SettingsService/Connect first")]
    /// No account is connected.
    NotConnected,
    #[error(
        "the shop's URL and company name are needed for its Mailchimp stores (UpdateSettings shop)"
    )]
    /// The shop's URL or company name is missing.
    ShopIdentity,
    #[error("no list is selected (ListService/SelectLists)")]
    /// No audience is selected.
    NoListSelected,
    #[error(transparent)]
    /// The settings cannot be read.
    Store(#[from] StoreError),
}

/// The context of an upload in `mode` (unspecified is AUTO), from the settings as they are.
pub fn upload_context(
    store: &Store,
    mailchimp: &Mailchimp,
    mode: pb::UploadMode,
) -> Result<UploadContext, NotReady> {
    let mode = match mode {
        pb::UploadMode::Unspecified => pb::UploadMode::Auto,
        m => m,
    };
    let settings: Settings = store.settings()?;
    if !settings.ecommerce_analytics {
        return Err(NotReady::AnalyticsOff);
    }
    let conn = settings.connection.as_ref().ok_or(NotReady::NotConnected)?;
    if settings.shop.shop_url.is_empty() || settings.shop.company_name.is_empty() {
        return Err(NotReady::ShopIdentity);
    }
    let choices = settings.choices();
    let audiences: Vec<_> = store
        .audiences(&conn.account.id)?
        .into_iter()
        .filter(|a| choices.selected_lists.contains(&a.id) && a.removed_at.is_none())
        .collect();
    let merge_maps = audiences
        .iter()
        .filter_map(|a| {
            let map = choices.merge_fields.get(&a.id)?;
            // A field gone from the audience since the map was set is left out.
            let fields = map
                .iter()
                .filter_map(|m| {
                    let field = a.merge_fields.iter().find(|f| f.tag == m.tag)?;
                    Some((m.source.clone(), field.clone()))
                })
                .collect();
            Some((a.id.clone(), fields))
        })
        .collect();
    let lists: Vec<(String, String)> = audiences.into_iter().map(|a| (a.id, a.name)).collect();
    if lists.is_empty() {
        return Err(NotReady::NoListSelected);
    }
    let cart_links = if settings.cart_recovery_url.is_empty() {
        None
    } else {
        Some(CartLinks::new(
            &store.cart_link_secret()?,
            &settings.cart_recovery_url,
        ))
    };
    Ok(UploadContext {
        cart_links,
        client: mailchimp.for_key(&conn.api_key),
        account_id: conn.account.id.clone(),
        shop: settings.shop.clone(),
        coupon_mode: settings.coupon_upload_mode,
        abandoned_carts: settings.abandoned_carts,
        single_opt_in: settings.single_opt_in,
        lists,
        mode,
        batches_seen: Default::default(),
        line_products: Default::default(),
        store: store.clone(),
        merge_maps: std::sync::Arc::new(merge_maps),
    })
}

/// What a job needs to know, taken from the settings when it starts.
#[derive(Clone)]
pub struct UploadContext {
    /// The connected account's client.
    pub client: AccountClient,
    /// The connected account's id.
    pub account_id: String,
    /// The shop's identity, for its stores.
    pub shop: ShopIdentity,
    /// Which coupons go to Mailchimp.
    pub coupon_mode: CouponUploadMode,
    /// The merchant's single opt-in (see [`Target::single_opt_in`]).
    pub single_opt_in: bool,
    /// Whether carts are sent.
    pub abandoned_carts: bool,
    /// (list id, list name) of every selected list.
    pub lists: Vec<(String, String)>,
    /// DIRECT, BATCH or AUTO (never unspecified).
    pub mode: pb::UploadMode,
    /// Batches this job must never take for one of its own: those on the account when it
    /// started, and those it submitted (see `batch::submit`).
    pub batches_seen: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// One lock per product made from order lines, so that lanes sending two orders that
    /// name the same missing product make it once (see `dependencies::ensure_line_products`).
    pub line_products: std::sync::Arc<super::dependencies::LineProducts>,
    /// Where consent is queued and Mailchimp's unsubscribes are kept.
    pub store: Store,
    /// Carts' recovery links, when the merchant set a recovery page.
    pub cart_links: Option<CartLinks>,
    /// The merchant's merge-field maps of the selected audiences.
    pub merge_maps: std::sync::Arc<super::member_fields::MergeMaps>,
}

/// Where a record of this context goes in one of its stores.
pub fn target<'a>(ctx: &'a UploadContext, store_id: &'a str) -> Target<'a> {
    Target {
        client: &ctx.client,
        store_id,
        shop_url: &ctx.shop.shop_url,
        coupon_mode: ctx.coupon_mode,
        single_opt_in: ctx.single_opt_in,
        cart_links: ctx.cart_links.as_ref(),
        consent: Some(Consent {
            account_id: &ctx.account_id,
            lists: &ctx.lists,
            store: &ctx.store,
            merge_maps: &ctx.merge_maps,
        }),
    }
}
