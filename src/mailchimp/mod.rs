//! The Mailchimp Marketing API v3 client: endpoints, problem+json errors, the retry policy, and
//! the limit of 10 simultaneous connections per API key; [`ecommerce`] maps shop records to the
//! e-commerce API's request bodies.

mod batch;
mod batch_body;
mod client;
mod connected_sites;
mod connections;
pub mod ecommerce;
mod endpoint;
mod error;
mod health;
pub mod ids;
pub mod merge_values;
pub mod oauth;
pub mod retry;
mod stores;
pub mod tags;
mod types;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;

pub use batch::{BatchOperation, BatchStatus, Bodies, OperationResult};
pub use batch_body::{BatchBody, SpooledBatch};
pub use client::{AccountClient, MAX_PAGE};
pub use connected_sites::{ConnectedSiteWire, SiteScriptWire};
pub use connections::Priority;
pub use endpoint::{Collection, Records, Request, Verb, variant};
pub use error::{ErrorKind, FieldError, MailchimpError, Problem};
pub use health::Degraded;
pub use retry::RetryPolicy;
pub use types::*;
pub use webhooks::{WebhookEvents, WebhookSources, WebhookWire};

use crate::domain::ApiKey;
use crate::metrics::Metrics;

/// Mailchimp's documented limit of simultaneous connections per API key.
pub const MAX_CONNECTIONS_PER_KEY: usize = 10;

#[derive(Debug, Clone)]
/// How mcsync reaches Mailchimp.
pub struct MailchimpConfig {
    /// API base URL with its path (`http://127.0.0.1:9000/3.0`); `None` derives
    /// `https://<dc>.api.mailchimp.com/3.0` from each key.
    pub base_url: Option<Url>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Requests in flight per key (Mailchimp allows 10).
    pub max_connections_per_key: usize,
    /// When and how often a failed request is tried again.
    pub retry: RetryPolicy,
    /// How long Mailchimp may be out of reach before GetSyncStatus says mcsync is degraded.
    pub unreachable_after: Duration,
    /// mcsync's Mailchimp app, for connecting with OAuth; `None`: OAuth is off.
    pub oauth: Option<oauth::OAuthConfig>,
}

impl Default for MailchimpConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            timeout: client::DEFAULT_TIMEOUT,
            max_connections_per_key: MAX_CONNECTIONS_PER_KEY,
            retry: RetryPolicy::default(),
            unreachable_after: Duration::from_secs(120),
            oauth: None,
        }
    }
}

/// reqwest is built without a bundled crypto provider (aws-lc costs half a clean build); ring
/// is ours. Call before building any reqwest client; a second install is refused harmlessly.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Hands out [`AccountClient`]s that share one HTTP connection pool and, per key, one limit on
/// requests in flight, whoever in mcsync is calling.
pub struct Mailchimp {
    http: reqwest::Client,
    config: MailchimpConfig,
    limits: Mutex<HashMap<String, Arc<connections::Connections>>>,
    health: Mutex<HashMap<String, health::Tracker>>,
    metrics: Arc<Metrics>,
}

impl Mailchimp {
    /// The shared HTTP client (one connection pool for every key), counting its requests in
    /// `metrics`.
    pub fn new(config: MailchimpConfig, metrics: Arc<Metrics>) -> Result<Self, MailchimpError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .user_agent(concat!("mcsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| MailchimpError::Connect(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            http,
            config,
            limits: Mutex::new(HashMap::new()),
            health: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// A client for one key, sharing that key's connection limit with every other.
    pub fn for_key(&self, key: &ApiKey) -> AccountClient {
        let permits = self
            .limits
            .lock()
            .expect("limits lock")
            .entry(key.fingerprint())
            .or_insert_with(|| {
                Arc::new(connections::Connections::new(
                    self.config.max_connections_per_key,
                ))
            })
            .clone();
        AccountClient {
            health: self.tracker(key),
            http: self.http.clone(),
            base: self.base_url(key),
            key: key.clone(),
            permits,
            priority: Priority::Records,
            policy: self.config.retry,
            metrics: self.metrics.clone(),
        }
    }

    /// Where this client's requests, and the engine's work above it, are counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Why syncing with this key cannot happen now (a refused key, a long outage), from the
    /// answers its requests got; `None` when it can.
    pub fn degraded(&self, key: &ApiKey) -> Option<Degraded> {
        health::degraded(&self.tracker(key), self.config.unreachable_after)
    }

    fn tracker(&self, key: &ApiKey) -> health::Tracker {
        self.health
            .lock()
            .expect("health lock")
            .entry(key.fingerprint())
            .or_default()
            .clone()
    }

    /// The API root for a key: the configured one, or the key's data center.
    pub fn base_url(&self, key: &ApiKey) -> Url {
        self.config.base_url.clone().unwrap_or_else(|| {
            Url::parse(&format!(
                "https://{}.api.mailchimp.com/3.0",
                key.data_center()
            ))
            .expect("a validated data center makes a valid URL")
        })
    }
}
