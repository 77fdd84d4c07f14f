//! Operator commands: talk gRPC to a running mcsync (address and token from flags or the
//! environment), print what an operator needs, exit 0 on success and 1 with the server's reason
//! on failure.

use std::fmt::Write as _;

use clap::{Args, Subcommand, ValueEnum};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use super::progress::{self, ProgressView};
use crate::domain::ListUpdateInterval;
use crate::proto::v1::sync_service_client::SyncServiceClient;

use crate::proto::v1::{
    self as pb, list_service_client::ListServiceClient,
    settings_service_client::SettingsServiceClient,
    store_data_service_client::StoreDataServiceClient,
};

#[derive(Debug, Args)]
pub struct Remote {
    /// The mcsync server.
    #[arg(
        long,
        env = "MCSYNC_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// Its bearer token.
    #[arg(long, env = "MCSYNC_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// A file holding the token (its trailing newline ignored).
    #[arg(long, env = "MCSYNC_TOKEN_FILE", global = true)]
    pub token_file: Option<std::path::PathBuf>,
    /// For an `https://` server: the CA certificate (PEM) that signed its certificate; without
    /// it, the system's trusted roots.
    #[arg(long, env = "MCSYNC_CA_FILE", global = true)]
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting (the API key masked).
    Get,
    /// Change the settings given; the others keep their values.
    Set(Box<SetArgs>),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ElementType {
    Checkbox,
    Select,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CouponMode {
    All,
    Matching,
}

/// X-Cart's 14 choices, by their short names (`never`, `1m` … `1w`).
fn interval_parser() -> impl clap::builder::TypedValueParser<Value = ListUpdateInterval> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(ListUpdateInterval::ALL.map(ListUpdateInterval::short))
        .map(|name| ListUpdateInterval::from_short(&name).expect("a possible value"))
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[arg(long)]
    ecommerce_analytics: Option<OnOff>,
    #[arg(long)]
    abandoned_carts: Option<OnOff>,
    #[arg(long)]
    single_opt_in: Option<OnOff>,
    #[arg(long)]
    subscription_element_type: Option<ElementType>,
    #[arg(long, value_parser = interval_parser())]
    list_update_interval: Option<ListUpdateInterval>,
    #[arg(long)]
    coupon_upload_mode: Option<CouponMode>,
    /// A selected list id, or "" for none.
    #[arg(long)]
    default_list: Option<String>,
    /// The public base URL Mailchimp's webhooks reach mcsync at, or "" to fall back on
    /// `serve --webhook-base-url`.
    #[arg(long)]
    webhook_base_url: Option<String>,
    /// How often each live store is audited against Mailchimp (as --list-update-interval).
    #[arg(long, value_parser = interval_parser())]
    audit_interval: Option<ListUpdateInterval>,
    /// The shop's page that restores a cart from an abandoned-cart email's link, or "" to
    /// clear (carts then keep the checkout URL the shop sent).
    #[arg(long)]
    cart_recovery_url: Option<String>,
    /// A merge-field mapping, `<list id>:<source>=<TAG>` (sources: first_name, last_name,
    /// company, phone, birthday, address, attributes.<key>); repeat for several. Replaces
    /// every map; `--merge-field none` clears them all.
    #[arg(long = "merge-field")]
    merge_fields: Vec<String>,
    /// A tag rule, `<tag>:<condition>`: spent>=<amount>, orders>=<n>, last_order><days>d,
    /// group=<name>, bought=<product ids>, bought_variant=<variant ids>, or several joined by
    /// " & " (all) or " | " (any). Repeat for several; replaces every rule; `none` clears them.
    #[arg(long = "tag-rule", value_parser = tag_rule_arg)]
    tag_rules: Vec<Option<pb::TagRule>>,
    #[arg(long)]
    shop_url: Option<String>,
    #[arg(long)]
    company_name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    currency: Option<String>,
    #[arg(long)]
    locale: Option<String>,
    #[arg(long)]
    timezone: Option<String>,
}

pub(super) type Auth =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;

pub(super) struct Clients {
    settings: SettingsServiceClient<InterceptedService<Channel, Auth>>,
    lists: ListServiceClient<InterceptedService<Channel, Auth>>,
    pub(super) records: StoreDataServiceClient<InterceptedService<Channel, Auth>>,
    pub(super) sync: SyncServiceClient<InterceptedService<Channel, Auth>>,
    pub(super) subscriptions: pb::subscription_service_client::SubscriptionServiceClient<
        InterceptedService<Channel, Auth>,
    >,
    pub(super) events: pb::member_events_service_client::MemberEventsServiceClient<
        InterceptedService<Channel, Auth>,
    >,
}

/// A connection to the server: https with the CA file (or the system's roots), or plaintext.
async fn channel(remote: &Remote) -> Result<Channel, String> {
    let mut endpoint = Channel::from_shared(remote.server.clone())
        .map_err(|e| format!("--server {}: {e}", remote.server))?;
    if remote.server.starts_with("https://") {
        crate::mailchimp::install_crypto_provider();
        let tls = match &remote.ca_file {
            Some(file) => {
                let pem = std::fs::read(file)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", file.display()))?;
                ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
            }
            None => ClientTlsConfig::new().with_native_roots(),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("--server {}: {e}", remote.server))?;
    }
    endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach mcsync at {}: {e}", remote.server))
}

/// `mcsync health`: the server's gRPC health (grpc.health.v1, overall); succeeds only when it
/// is SERVING. For container health checks and probes.
pub async fn health(remote: &Remote) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut client = HealthClient::new(channel(remote).await?);
    let status = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(failure)?
        .into_inner()
        .status();
    println!("{}", status.as_str_name());
    match status {
        ServingStatus::Serving => Ok(()),
        other => Err(format!("mcsync is {}", other.as_str_name())),
    }
}

pub(super) async fn clients(remote: &Remote) -> Result<Clients, String> {
    let channel = channel(remote).await?;
    let token = super::token::resolve(remote.token.clone(), remote.token_file.as_deref())?;
    let header: Option<tonic::metadata::MetadataValue<_>> = match &token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .map_err(|_| "the token has characters a header cannot carry")?,
        ),
        None => None,
    };
    let auth = move || -> Auth {
        let header = header.clone();
        Box::new(move |mut req: tonic::Request<()>| {
            if let Some(h) = &header {
                req.metadata_mut().insert("authorization", h.clone());
            }
            Ok(req)
        })
    };
    Ok(Clients {
        settings: SettingsServiceClient::with_interceptor(channel.clone(), auth()),
        lists: ListServiceClient::with_interceptor(channel.clone(), auth()),
        records: StoreDataServiceClient::with_interceptor(channel.clone(), auth()),
        sync: SyncServiceClient::with_interceptor(channel.clone(), auth()),
        subscriptions: pb::subscription_service_client::SubscriptionServiceClient::with_interceptor(
            channel.clone(),
            auth(),
        ),
        events: pb::member_events_service_client::MemberEventsServiceClient::with_interceptor(
            channel,
            auth(),
        ),
    })
}

/// The server's reason, with each offending field on its own line.
pub(super) fn failure(status: tonic::Status) -> String {
    use tonic_types::StatusExt;
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            let _ = write!(out, "\n  {}: {}", v.field, v.description);
        }
    }
    out
}

pub async fn connect(remote: &Remote, key: Option<String>) -> Result<(), String> {
    let api_key = match key {
        Some(k) => k,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            line.trim().to_owned()
        }
    };
    let mut c = clients(remote).await?;
    let s = c
        .settings
        .connect(pb::ConnectRequest { api_key })
        .await
        .map_err(failure)?
        .into_inner();
    print!("{}", render_settings(&s));
    Ok(())
}

pub async fn reset(remote: &Remote) -> Result<(), String> {
    let mut c = clients(remote).await?;
    c.settings
        .reset_connection(pb::ResetConnectionRequest {})
        .await
        .map_err(failure)?;
    println!("Mailchimp connection reset.");
    Ok(())
}

pub async fn settings(remote: &Remote, command: SettingsCommand) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let s = match command {
        SettingsCommand::Get => c.settings.get_settings(pb::GetSettingsRequest {}).await,
        SettingsCommand::Set(args) => c.settings.update_settings(update(*args)).await,
    }
    .map_err(failure)?
    .into_inner();
    print!("{}", render_settings(&s));
    Ok(())
}

pub async fn lists(remote: &Remote, refresh: bool) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = if refresh {
        c.lists.refresh_lists(pb::RefreshListsRequest {}).await
    } else {
        c.lists.list_lists(pb::ListListsRequest {}).await
    }
    .map_err(failure)?
    .into_inner();
    print!("{}", render_lists(&r));
    Ok(())
}

pub async fn select(remote: &Remote, ids: Vec<String>) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .lists
        .select_lists(pb::SelectListsRequest { list_ids: ids })
        .await
        .map_err(failure)?
        .into_inner();
    print!("{}", render_lists(&r));
    Ok(())
}

pub async fn status(remote: &Remote) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let s = c
        .settings
        .get_settings(pb::GetSettingsRequest {})
        .await
        .map_err(failure)?
        .into_inner();
    let conn = s.connection.clone().unwrap_or_default();
    let mut out = String::new();
    if conn.connected {
        let _ = writeln!(
            out,
            "Mailchimp:      connected to {} ({}), key {}",
            conn.account_name, conn.account_id, conn.api_key_masked
        );
        let lists = c
            .lists
            .list_lists(pb::ListListsRequest {})
            .await
            .map_err(failure)?
            .into_inner();
        let selected: Vec<&str> = lists
            .lists
            .iter()
            .filter(|l| l.selected)
            .map(|l| l.name.as_str())
            .collect();
        let _ = writeln!(
            out,
            "Audiences:      {} known, {} selected{}",
            lists.lists.len(),
            selected.len(),
            if selected.is_empty() {
                String::new()
            } else {
                format!(": {}", selected.join(", "))
            }
        );
    } else {
        let _ = writeln!(
            out,
            "Mailchimp:      not connected (mcsync connect <api key>)"
        );
    }
    let _ = writeln!(
        out,
        "E-commerce:     analytics {}, abandoned carts {}",
        on(s.ecommerce_analytics),
        on(s.abandoned_carts)
    );
    let counts = c
        .records
        .count_records(pb::CountRecordsRequest {})
        .await
        .map_err(failure)?
        .into_inner();
    let per_kind: Vec<String> = counts
        .counts
        .iter()
        .map(|k| format!("{} {}", k.count, progress::kind_name(k.kind)))
        .collect();
    let _ = writeln!(out, "Shop records:   {}", per_kind.join(", "));
    let _ = writeln!(
        out,
        "Outbox:         {} changes waiting for Mailchimp",
        counts.outbox_pending
    );
    // Sync status exists once there is something to sync to; otherwise the reason is enough.
    match c.sync.get_sync_status(pb::GetSyncStatusRequest {}).await {
        Ok(status) => {
            let status = status.into_inner();
            if !status.degraded.is_empty() {
                let _ = writeln!(out, "DEGRADED: {}", status.degraded);
            }
            for s in &status.stores {
                let per_kind: Vec<String> = s
                    .kinds
                    .iter()
                    .map(|k| {
                        format!(
                            "{} {}/{} ({} failed)",
                            progress::kind_name(k.kind),
                            k.in_sync,
                            k.in_mirror,
                            k.failed
                        )
                    })
                    .collect();
                let store = if s.store_id.is_empty() {
                    "no store yet".to_string()
                } else {
                    s.store_id.clone()
                };
                let syncing = match (s.is_syncing, s.detached) {
                    (_, true) => ", detached: mcsync remove-store removes it",
                    (true, false) => ", syncing",
                    (false, false) => "",
                };
                let _ = writeln!(
                    out,
                    "Store:          {} for {} ({store}{syncing}): {}",
                    s.list_name,
                    s.list_id,
                    per_kind.join(", ")
                );
                if !s.lost_reason.is_empty() {
                    let _ = writeln!(out, "  Lost:         {}", s.lost_reason);
                }
                if let Some(r) = &s.last_reconciliation {
                    let _ = writeln!(out, "  Last check:   {}", progress::reconciliation(r));
                }
                if let Some(a) = &s.last_audit {
                    let _ = writeln!(out, "  Last audit:   {}", progress::audit(a));
                }
            }
            if let Some(job) = &status.last_job {
                let _ = writeln!(out, "Last job:       {}", progress::summary(job));
            }
        }
        Err(e) => {
            let _ = writeln!(out, "Sync:           {}", e.message());
        }
    }
    print!("{out}");
    Ok(())
}

/// "Upload store data": starts (or joins) the job and shows its progress to the end.
/// How an upload sends records (UploadMode).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Mode {
    Auto,
    Direct,
    Batch,
}

impl From<Mode> for pb::UploadMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Auto => pb::UploadMode::Auto,
            Mode::Direct => pb::UploadMode::Direct,
            Mode::Batch => pb::UploadMode::Batch,
        }
    }
}

/// How `mcsync upload` runs.
pub struct UploadHow {
    pub mode: Mode,
    pub resync: bool,
    pub dry_run: bool,
}

pub async fn upload(remote: &Remote, how: UploadHow) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let mode: pb::UploadMode = how.mode.into();
    let mut stream = c
        .sync
        .upload_store_data(pb::UploadRequest {
            mode: mode as i32,
            resync: how.resync,
            dry_run: how.dry_run,
        })
        .await
        .map_err(failure)?
        .into_inner();
    if how.dry_run {
        let plan = stream
            .message()
            .await
            .map_err(failure)?
            .ok_or("the server ended the dry run without a plan")?;
        print!("{}", progress::plan_table(&plan));
        return Ok(());
    }
    show_to_the_end(stream).await
}

pub async fn watch(remote: &Remote, job_id: String) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let stream = c
        .sync
        .watch_job(pb::WatchJobRequest { job_id })
        .await
        .map_err(failure)?
        .into_inner();
    show_to_the_end(stream).await
}

async fn show_to_the_end(mut stream: tonic::Streaming<pb::JobProgress>) -> Result<(), String> {
    let mut view = ProgressView::new();
    let mut last = None;
    while let Some(p) = stream.message().await.map_err(failure)? {
        view.show(&p);
        last = Some(p);
    }
    let last = last.ok_or("the server sent no progress")?;
    if !last.errors.is_empty() {
        print!("Records Mailchimp refused:\n{}", progress::errors(&last));
    }
    match pb::JobState::try_from(last.state) {
        Ok(pb::JobState::Succeeded) => Ok(()),
        _ => Err(format!(
            "job {} {}: {}",
            last.job_id,
            progress::state_name(last.state),
            last.message
        )),
    }
}

/// Records Mailchimp refused, one per line with its reasons.
pub async fn errors(remote: &Remote, page_size: i32, offset: i32) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .sync
        .list_sync_errors(pb::ListSyncErrorsRequest { page_size, offset })
        .await
        .map_err(failure)?
        .into_inner();
    println!(
        "{} records refused by Mailchimp{}",
        r.total,
        if r.total > 0 { ":" } else { "." }
    );
    let page = pb::JobProgress {
        errors: r.errors,
        ..Default::default()
    };
    print!("{}", progress::errors(&page));
    Ok(())
}

pub async fn retry(remote: &Remote) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .sync
        .retry_failed(pb::RetryFailedRequest {})
        .await
        .map_err(failure)?
        .into_inner();
    println!(
        "Retried {}: {} went through, {} refused again (mcsync errors).",
        r.retried, r.succeeded, r.failed
    );
    if r.failed > 0 {
        Err(format!("{} records still refused", r.failed))
    } else {
        Ok(())
    }
}

pub async fn remove_store(remote: &Remote, store_id: String) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let r = c
        .sync
        .remove_store(pb::RemoveStoreRequest { store_id })
        .await
        .map_err(failure)?
        .into_inner();
    println!(
        "Removed store {} (list {}) from Mailchimp.",
        r.store_id, r.list_id
    );
    Ok(())
}

pub async fn jobs(remote: &Remote) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let jobs = c
        .sync
        .list_jobs(pb::ListJobsRequest {})
        .await
        .map_err(failure)?
        .into_inner()
        .jobs;
    if jobs.is_empty() {
        println!("No upload jobs yet.");
    }
    for j in &jobs {
        println!("{}", progress::summary(j));
    }
    Ok(())
}

pub async fn cancel(remote: &Remote, job_id: String) -> Result<(), String> {
    let mut c = clients(remote).await?;
    let job = c
        .sync
        .cancel_job(pb::CancelJobRequest { job_id })
        .await
        .map_err(failure)?
        .into_inner();
    println!("{}", progress::summary(&job));
    Ok(())
}

fn update(a: SetArgs) -> pb::UpdateSettingsRequest {
    let flag = |v: Option<OnOff>| v.map(|v| matches!(v, OnOff::On));
    let shop = pb::ShopIdentityUpdate {
        shop_url: a.shop_url,
        company_name: a.company_name,
        email: a.email,
        phone: a.phone,
        address: None,
        currency_code: a.currency,
        locale: a.locale,
        timezone: a.timezone,
    };
    pb::UpdateSettingsRequest {
        ecommerce_analytics: flag(a.ecommerce_analytics),
        abandoned_carts: flag(a.abandoned_carts),
        single_opt_in: flag(a.single_opt_in),
        subscription_element_type: a.subscription_element_type.map(|t| match t {
            ElementType::Checkbox => pb::SubscriptionElementType::Checkbox as i32,
            ElementType::Select => pb::SubscriptionElementType::Select as i32,
        }),
        // The proto enum lists the 14 choices in the same order, from 1.
        list_update_interval: a.list_update_interval.map(ListUpdateInterval::to_pb),
        coupon_upload_mode: a.coupon_upload_mode.map(|m| match m {
            CouponMode::All => pb::CouponUploadMode::All as i32,
            CouponMode::Matching => pb::CouponUploadMode::MatchingPromoRules as i32,
        }),
        default_automation_list_id: a.default_list,
        shop: Some(shop),
        webhook_base_url: a.webhook_base_url,
        cart_recovery_url: a.cart_recovery_url,
        audit_interval: a.audit_interval.map(ListUpdateInterval::to_pb),
        merge_fields: merge_maps(&a.merge_fields),
        tag_rules: (!a.tag_rules.is_empty()).then(|| pb::TagRules {
            rules: a.tag_rules.into_iter().flatten().collect(),
        }),
    }
}

/// `--tag-rule`: a rule, or `none` (no rules).
fn tag_rule_arg(arg: &str) -> Result<Option<pb::TagRule>, String> {
    if arg == "none" {
        return Ok(None);
    }
    super::tag_rule::parse(arg).map(Some)
}

/// `--merge-field <list>:<source>=<TAG>` lines as one replacement of every map; `None` when
/// the flag was not given. A malformed line is passed on whole as a source, so that the
/// server's refusal names it.
fn merge_maps(lines: &[String]) -> Option<pb::MergeFieldMaps> {
    if lines.is_empty() {
        return None;
    }
    let mut maps: Vec<pb::MergeFieldMap> = Vec::new();
    for line in lines.iter().filter(|l| l.as_str() != "none") {
        let (list, rest) = line.split_once(':').unwrap_or(("", line));
        let (source, tag) = rest.split_once('=').unwrap_or((rest, ""));
        let mapping = pb::MergeFieldMapping {
            source: source.to_owned(),
            tag: tag.to_owned(),
        };
        match maps.iter_mut().find(|m| m.list_id == list) {
            Some(m) => m.mappings.push(mapping),
            None => maps.push(pb::MergeFieldMap {
                list_id: list.to_owned(),
                mappings: vec![mapping],
            }),
        }
    }
    Some(pb::MergeFieldMaps { audiences: maps })
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn interval_name(v: i32) -> &'static str {
    ListUpdateInterval::from_pb(v).map_or("unknown", ListUpdateInterval::label)
}

fn render_settings(s: &pb::Settings) -> String {
    let conn = s.connection.clone().unwrap_or_default();
    let shop = s.shop.clone().unwrap_or_default();
    let mut o = String::new();
    if conn.connected {
        let _ = writeln!(
            o,
            "Mailchimp API key:           {} (account {}, {})",
            conn.api_key_masked, conn.account_name, conn.account_id
        );
    } else {
        let _ = writeln!(o, "Mailchimp API key:           not connected");
    }
    let _ = writeln!(
        o,
        "E-commerce analytics:        {}",
        on(s.ecommerce_analytics)
    );
    let _ = writeln!(o, "Abandoned carts:             {}", on(s.abandoned_carts));
    let _ = writeln!(o, "Single opt-in:               {}", on(s.single_opt_in));
    let element = if s.subscription_element_type == pb::SubscriptionElementType::Select as i32 {
        "select box"
    } else {
        "checkbox"
    };
    let _ = writeln!(o, "Subscription element type:   {element}");
    let _ = writeln!(
        o,
        "Update Mailchimp lists every: {}",
        interval_name(s.list_update_interval)
    );
    let coupons = if s.coupon_upload_mode == pb::CouponUploadMode::MatchingPromoRules as i32 {
        "only matching Mailchimp promo rules"
    } else {
        "all"
    };
    let _ = writeln!(o, "Coupons uploaded:            {coupons}");
    let default = if s.default_automation_list_id.is_empty() {
        "none"
    } else {
        &s.default_automation_list_id
    };
    let _ = writeln!(o, "Default automation list:     {default}");
    let recovery = if s.cart_recovery_url.is_empty() {
        "none (carts keep the shop's checkout URL)"
    } else {
        &s.cart_recovery_url
    };
    let _ = writeln!(o, "Cart recovery page:          {recovery}");
    let _ = writeln!(
        o,
        "Audit the stores every:      {}",
        interval_name(s.audit_interval)
    );
    for m in &s.merge_fields {
        let pairs: Vec<String> = m
            .mappings
            .iter()
            .map(|p| format!("{} → {}", p.source, p.tag))
            .collect();
        let _ = writeln!(o, "Merge fields of {}: {}", m.list_id, pairs.join(", "));
    }
    for r in &s.tag_rules {
        let _ = writeln!(
            o,
            "Tag rule:                    {}",
            super::tag_rule::render(r)
        );
    }
    let _ = writeln!(
        o,
        "Shop:                        {} <{}> {} {} {} {} {}",
        shop.company_name,
        shop.email,
        shop.shop_url,
        shop.phone,
        shop.currency_code,
        shop.locale,
        shop.timezone
    );
    o
}

fn render_lists(r: &pb::ListListsResponse) -> String {
    let mut o = String::new();
    let refreshed = r
        .last_refreshed_at
        .as_ref()
        .map_or("never".to_string(), super::progress::rfc3339);
    let _ = writeln!(
        o,
        "{} audiences of account {} (refreshed {refreshed})",
        r.lists.len(),
        r.account_id
    );
    let _ = writeln!(
        o,
        "{:<3} {:<12} {:<32} {:>9}  NOTE",
        "", "ID", "NAME", "MEMBERS"
    );
    for l in &r.lists {
        let mark = if l.selected { "[x]" } else { "[ ]" };
        let note = if l.removed {
            "removed from Mailchimp"
        } else if l.marketing_permissions_enabled {
            "GDPR fields"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "{mark:<3} {:<12} {:<32} {:>9}  {note}",
            l.id, l.name, l.member_count
        );
        for p in &l.marketing_permissions {
            let _ = writeln!(o, "{:<16} permission {}: {}", "", p.id, p.text);
        }
    }
    o
}
