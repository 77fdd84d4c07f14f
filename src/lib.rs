//! mcsync: the Mailchimp e-commerce sync backend for X-Cart shops.
//!
//! Data flows one way: shop → gRPC API ([`server`]) → sled ([`store`]) → background work
//! ([`sync`]) → Mailchimp client ([`mailchimp`]) → Mailchimp (or the [`sim`]).
//!
//! - [`proto`]: code generated from `proto/mcsync/v1`, the public contract.
//! - [`domain`]: validated types: the API key, settings, audiences, records, field rules.
//! - [`app`]: the operations behind the RPCs, the live sync worker, subscriptions.
//! - [`server`]: tonic services, auth, proto <-> domain, errors → gRPC statuses.
//! - [`store`]: every sled tree, key and transaction.
//! - [`mailchimp`]: the HTTP client: errors, retry policy, per-key connection limit, batches.
//! - [`sync`]: the engine: audience refresh, push, upload jobs (direct and batch), live sync.
//! - [`sim`]: the Mailchimp simulator (`mcsync sim`).
//! - [`cli`]: command-line arguments and the subcommands.
//! - [`telemetry`]: tracing set-up, human or JSON.
//! - [`testdata`]: sample shop records for tests, benchmarks and the demo.

pub mod app;
pub mod cli;
pub mod domain;
pub mod mailchimp;
pub mod proto;
pub mod server;
pub mod sim;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod testdata;
