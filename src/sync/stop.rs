//! Why background work (an upload job, a live-sync step, the subscription worker) stopped
//! before its end. Kept typed up to its last layer, the job's message or the gRPC status, so
//! that a Mailchimp outage stays UNAVAILABLE and a refused key UNAUTHENTICATED.

use std::fmt;

use super::push::PushError;
use super::reconcile::ReconcileError;
use crate::mailchimp::MailchimpError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("cancelled")]
    Cancelled,
    /// The server is shutting down: the job stops as it stands and resumes at the next start.
    #[error("stopped for shutdown")]
    Shutdown,
    /// Mailchimp refused the key, was out of reach, or answered what the API does not document.
    #[error("{during}: {source}")]
    Mailchimp {
        during: During,
        #[source]
        source: MailchimpError,
    },
    /// A record's push stopped for a reason that is not the record's (see [`PushError`]).
    #[error(transparent)]
    Push(#[from] PushError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The step that met a Mailchimp failure, named in the job's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum During {
    EnsureStore { list_id: String },
    Reconcile { store_id: String },
    BatchWait,
    Batch,
    Subscriptions,
}

impl fmt::Display for During {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            During::EnsureStore { list_id } => write!(f, "store for list {list_id}"),
            During::Reconcile { store_id } => write!(f, "reconciling store {store_id}"),
            During::BatchWait => f.write_str("waiting for earlier batches"),
            During::Batch => f.write_str("batch upload"),
            During::Subscriptions => f.write_str("subscriptions"),
        }
    }
}

impl Stop {
    /// A Mailchimp failure met while `during`.
    pub fn mailchimp(during: During) -> impl FnOnce(MailchimpError) -> Stop {
        move |source| Stop::Mailchimp { during, source }
    }

    /// The Mailchimp failure behind the stop, if that is what it is.
    pub fn mailchimp_error(&self) -> Option<&MailchimpError> {
        match self {
            Stop::Mailchimp { source, .. } => Some(source),
            Stop::Push(PushError::Mailchimp(e) | PushError::Failing(e)) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn reconcile(store_id: &str) -> impl FnOnce(ReconcileError) -> Stop + '_ {
        move |e| match e {
            ReconcileError::Mailchimp(source) => Stop::Mailchimp {
                during: During::Reconcile {
                    store_id: store_id.to_owned(),
                },
                source,
            },
            ReconcileError::Store(e) => Stop::Store(e),
        }
    }
}
