//! `oauth_states`: the `state` of each "Connect with Mailchimp" begun, with where Mailchimp
//! sends the merchant back; each is taken once.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};
use crate::domain::UnixTime;

/// A begun OAuth connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOAuth {
    /// The `redirect_uri` the authorize URL named (the token exchange must name it again).
    pub redirect_uri: String,
    /// When it was begun.
    pub at: UnixTime,
}

/// States kept at most; the oldest go first (a client calling BeginOAuth in a loop cannot
/// grow the store).
const MAX_STATES: usize = 100;

impl Store {
    /// Notes a begun connection under its state; durable on return.
    pub async fn begin_oauth(&self, state: &str, pending: &PendingOAuth) -> Result<(), StoreError> {
        while self.oauth_states.len() >= MAX_STATES {
            let Some((oldest, _)) = self
                .oauth_states
                .iter()
                .filter_map(Result::ok)
                .filter_map(|(k, v)| decode::<PendingOAuth>(&k, &v).ok().map(|p| (k, p.at)))
                .min_by_key(|(_, at)| *at)
            else {
                break;
            };
            self.oauth_states.remove(oldest)?;
        }
        self.oauth_states
            .insert(state.as_bytes(), encode(pending))?;
        self.flush().await
    }

    /// Takes a state (it is good once): what it was begun with, if it was.
    pub async fn take_oauth(&self, state: &str) -> Result<Option<PendingOAuth>, StoreError> {
        let Some(v) = self.oauth_states.remove(state.as_bytes())? else {
            return Ok(None);
        };
        self.flush().await?;
        Ok(Some(decode(state.as_bytes(), &v)?))
    }
}
