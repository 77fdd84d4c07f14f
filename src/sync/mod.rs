//! The sync engine, and the background workers that run it. Nothing here imports `app` or
//! `server`: each worker takes the store, the Mailchimp client, what it needs of the settings
//! ([`context`]) and a shutdown signal.
//!
//! - [`push`]: one record to one store, idempotently; [`fan_out`]: many at once.
//! - [`upload`]: the upload job and its phases; [`batch`]: a phase through `POST /batches`;
//!   [`reconcile`]: what a store really holds, before a job sends anything; [`dry_run`]: what
//!   an upload would do; [`jobs`]: the runner (one job at a time, resumed after a restart).
//! - [`live_sync`]: the outbox worker, with [`live`]'s building blocks; [`subscriptions`]: the
//!   subscription worker's step; [`member_fields`]: the merge-field map's (queued as customers
//!   are pushed, sent by the same worker).
//! - [`Refresher`]: the audiences, read on demand and on "Update Mailchimp lists every".
//! - [`webhooks`]: Mailchimp's webhooks into mcsync, one per selected audience; [`sites`]: each
//!   store's storefront script (connected site); [`window`]: a direct phase's sliding window.
//! - [`workers`]: the workers of a running server, started and stopped together.
//! - [`Stop`]: why background work stopped, typed up to its last layer.

mod audiences;
pub mod audit;
pub mod batch;
pub mod context;
pub mod dependencies;
pub mod dry_run;
pub mod fan_out;
pub mod jobs;
mod list_refresh;
pub mod live;
pub mod live_sync;
pub mod member_fields;
pub mod outcome;
pub mod phases;
pub mod push;
pub mod reconcile;
pub mod sites;
pub mod stop;
mod store_setup;
pub mod subscriptions;
pub mod tags;
pub mod upload;
pub mod webhooks;
pub mod window;
pub mod workers;

pub use list_refresh::{RefreshError, Refresher, schedule};
pub use stop::{During, Stop};
