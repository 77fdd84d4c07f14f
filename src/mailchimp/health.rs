//! How Mailchimp has been answering one key lately: whether it refuses the key, and since when
//! it has been out of reach. GetSyncStatus shows it as a degraded state with the reason, so
//! that a merchant learns of a revoked key or an outage without reading logs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::error::{ErrorKind, MailchimpError};

/// What the last answers for a key said. Shared by every client of the key.
#[derive(Debug, Default)]
pub(super) struct KeyHealth {
    /// Mailchimp's reason, when it refused the key (401, 403) and has not accepted it since.
    refused: Option<String>,
    /// Since when no request reached Mailchimp (5xx, no answer), until one does.
    unreachable_since: Option<Instant>,
}

/// A key's shared health record.
pub(super) type Tracker = Arc<Mutex<KeyHealth>>;

/// Why syncing cannot happen now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Degraded {
    /// Mailchimp refuses the API key (revoked, or the account disabled).
    #[error("Mailchimp refuses the API key: {0} (connect again with a valid key)")]
    KeyRefused(String),
    /// No request has reached Mailchimp for this long.
    #[error("Mailchimp has been unreachable for {} s; changes wait in the outbox", .0.as_secs())]
    Unreachable(Duration),
}

/// Notes one attempt's outcome.
pub(super) fn observe<T>(tracker: &Tracker, result: &Result<T, MailchimpError>) {
    let mut health = tracker.lock().expect("key health lock");
    match result {
        Ok(_) => *health = KeyHealth::default(),
        Err(e) => match e.kind() {
            ErrorKind::AuthFailed => {
                health.refused = Some(e.to_string());
                health.unreachable_since = None;
            }
            ErrorKind::Unavailable => {
                health.unreachable_since.get_or_insert_with(Instant::now);
            }
            // Mailchimp answered about the request itself: it is reachable, and the key works.
            ErrorKind::AlreadyExists
            | ErrorKind::ImmutableField
            | ErrorKind::NotFound
            | ErrorKind::Refused => *health = KeyHealth::default(),
            ErrorKind::RateLimited | ErrorKind::Unexpected => health.unreachable_since = None,
        },
    }
}

/// The key's degraded state, if any: a refused key at once, an outage once it has lasted
/// `threshold`.
pub(super) fn degraded(tracker: &Tracker, threshold: Duration) -> Option<Degraded> {
    let health = tracker.lock().expect("key health lock");
    if let Some(reason) = &health.refused {
        return Some(Degraded::KeyRefused(reason.clone()));
    }
    let down = health.unreachable_since?.elapsed();
    (down >= threshold).then_some(Degraded::Unreachable(down))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailchimp::Problem;

    fn api(status: u16, detail: &str) -> Result<(), MailchimpError> {
        let body = format!(r#"{{"status":{status},"title":"t","detail":"{detail}"}}"#);
        Err(MailchimpError::Api(Box::new(Problem::from_response(
            status,
            body.as_bytes(),
        ))))
    }

    #[test]
    fn a_refused_key_is_degraded_at_once_an_outage_after_the_threshold() {
        let t = Tracker::default();
        assert_eq!(degraded(&t, Duration::ZERO), None);
        observe(&t, &api(401, "Your API key may be invalid"));
        assert!(matches!(
            degraded(&t, Duration::ZERO),
            Some(Degraded::KeyRefused(_))
        ));
        observe(
            &t,
            &api(400, "The resource submitted could not be validated."),
        );
        assert_eq!(
            degraded(&t, Duration::ZERO),
            None,
            "a refused record means the key works"
        );
        observe(&t, &Err::<(), _>(MailchimpError::Timeout));
        assert!(matches!(
            degraded(&t, Duration::ZERO),
            Some(Degraded::Unreachable(_))
        ));
        assert_eq!(
            degraded(&t, Duration::from_secs(3600)),
            None,
            "not for long yet"
        );
        observe(&t, &Ok::<(), MailchimpError>(()));
        assert_eq!(degraded(&t, Duration::ZERO), None);
    }
}
