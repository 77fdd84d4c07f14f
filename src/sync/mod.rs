//! The sync engine: the periodic refresh of audiences ("Update Mailchimp lists every"),
//! [`push`] (one record to one store, idempotently), [`upload`] (the upload job and its phases)
//! [`batch`] (an upload phase through `POST /batches`), [`reconcile`] (what a store really
//! holds, before a job sends anything), [`dry_run`] (what an upload would do) and [`live`] (the parts of the outbox worker, which runs
//! in `app::live`).

pub mod batch;
pub mod dry_run;
pub mod fan_out;
mod list_refresh;
pub mod live;
pub mod push;
pub mod reconcile;
pub mod stop;
pub mod upload;

pub use list_refresh::{run_list_refresh, schedule};
pub use stop::{During, Stop};
