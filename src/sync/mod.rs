//! Background work and the sync engine's parts: the periodic refresh of audiences ("Update
//! Mailchimp lists every"), and [`push`], one record to one store, idempotently (the building
//! block of uploads and live sync, issues #4 and #5, which are not built yet).

mod list_refresh;
pub mod push;
pub mod upload;

pub use list_refresh::{run_list_refresh, schedule};
