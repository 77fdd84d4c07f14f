#![warn(missing_docs)]
//! mcsync: the Mailchimp e-commerce sync backend for X-Cart shops.
//!
//! Data flows one way: shop → gRPC API ([`server`]) → use-cases ([`app`]) → sled ([`store`],
//! the mirror and the outbox) → background work ([`sync`]) → Mailchimp client ([`mailchimp`])
//! → Mailchimp (or the [`sim`]). Progress flows back through watch channels to the streams.
//!
//! Layers only point down: `cli` → `server` → `app` → `sync` → `mailchimp` / `store` →
//! `domain`. Nothing below `app` imports `app` or `server`.
//!
//! - [`proto`]: code generated from `proto/mcsync/v1`, the public contract.
//! - [`domain`]: validated types: the API key, settings, audiences, records, field rules.
//! - [`app`]: the use-cases behind the RPCs: connection and settings, audiences, the feed of
//!   records (with its writer thread), jobs, subscriptions. It starts and stops the workers.
//! - [`server`]: tonic services (thin adapters), auth, proto <-> domain, errors → gRPC statuses.
//! - [`store`]: every sled tree, key and transaction.
//! - [`mailchimp`]: the only place that knows Mailchimp's paths, bodies and error texts: typed
//!   requests, the retry policy, the per-key connection limit, batches, stores.
//! - [`sync`]: the engine and its workers, each with narrow inputs (the store, the Mailchimp
//!   client, a settings view, a shutdown signal): audience refresh, push, upload jobs (direct
//!   and batch), reconciliation, live sync, the subscription worker.
//! - [`sim`]: the Mailchimp simulator (`mcsync sim`).
//! - [`cli`]: command-line arguments and the subcommands.
//! - [`telemetry`]: tracing set-up, human or JSON.
//! - [`metrics`]: the Prometheus registry the layers count in, rendered by `GET /metrics`.
//! - [`testdata`]: sample shop records for tests, benchmarks and the demo.

pub mod app;
pub mod cli;
pub mod domain;
pub mod mailchimp;
pub mod metrics;
pub mod proto;
pub mod server;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod sync;
pub mod telemetry;
#[cfg(any(test, feature = "sim"))]
pub mod testdata;
