//! Background work: for now the periodic refresh of audiences ("Update Mailchimp lists every").

mod list_refresh;

pub use list_refresh::{run_list_refresh, schedule};
