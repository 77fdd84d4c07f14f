//! The sync engine: the periodic refresh of audiences ("Update Mailchimp lists every"),
//! [`push`] (one record to one store, idempotently), [`upload`] (the upload job and its phases)
//! and [`batch`] (an upload phase through `POST /batches`). Live sync (issue #5) is not built.

pub mod batch;
mod list_refresh;
pub mod push;
pub mod upload;

pub use list_refresh::{run_list_refresh, schedule};
