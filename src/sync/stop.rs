//! Why background work (an upload job, a live-sync step, the subscription worker) stopped
//! before its end. Kept typed up to its last layer, the job's message or the gRPC status, so
//! that a Mailchimp outage stays UNAVAILABLE and a refused key UNAUTHENTICATED.

use std::fmt;

use tokio::sync::watch;

use super::push::PushError;
use super::reconcile::ReconcileError;
use crate::mailchimp::MailchimpError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
/// Why background work stopped early; see the module.
pub enum Stop {
    #[error("cancelled")]
    /// The shop cancelled the job.
    Cancelled,
    /// The server is shutting down: the job stops as it stands and resumes at the next start.
    #[error("stopped for shutdown")]
    Shutdown,
    /// Mailchimp refused the key, was out of reach, or answered what the API does not document.
    #[error("{during}: {source}")]
    Mailchimp {
        /// The step.
        during: During,
        #[source]
        /// Mailchimp's failure.
        source: MailchimpError,
    },
    /// A record's push stopped for a reason that is not the record's (see [`PushError`]).
    #[error(transparent)]
    Push(#[from] PushError),
    #[error(transparent)]
    /// The store failed.
    Store(#[from] StoreError),
}

/// The step that met a Mailchimp failure, named in the job's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum During {
    /// Finding, adopting or making the store of a list.
    EnsureStore {
        /// The list.
        list_id: String,
    },
    /// Reading what a store holds.
    Reconcile {
        /// The store.
        store_id: String,
    },
    /// Waiting for batches submitted before the job.
    BatchWait,
    /// Sending a window of records through `/batches`.
    Batch,
    /// Applying newsletter requests.
    Subscriptions,
    /// Sending mapped merge fields to members.
    MemberFields,
    /// Bringing tag rules' tags up to date.
    Tags,
}

impl fmt::Display for During {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            During::EnsureStore { list_id } => write!(f, "store for list {list_id}"),
            During::Reconcile { store_id } => write!(f, "reconciling store {store_id}"),
            During::BatchWait => f.write_str("waiting for earlier batches"),
            During::Batch => f.write_str("batch upload"),
            During::Subscriptions => f.write_str("subscriptions"),
            During::MemberFields => f.write_str("members' merge fields"),
            During::Tags => f.write_str("tag rules"),
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

/// How long a job may take, after a shutdown is asked, to reach its next chunk boundary; then
/// what is in flight is dropped (a job resumed after a restart updates before it creates, so
/// nothing is created twice).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// What tells a job to stop: the shop's cancel (the job ends, cancelled) and the server's
/// shutdown (the job stops as it stands, and resumes at the next start).
pub struct Signals {
    /// Set by CancelJob.
    pub cancel: watch::Receiver<bool>,
    /// Set at shutdown.
    pub shutdown: watch::Receiver<bool>,
}

impl Signals {
    pub(super) fn check(&self) -> Result<(), Stop> {
        if *self.shutdown.borrow() {
            return Err(Stop::Shutdown);
        }
        if *self.cancel.borrow() {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// Resolves [`SHUTDOWN_GRACE`] after a shutdown is asked.
    pub(super) async fn shutdown_grace_over(&self) {
        let mut shutdown = self.shutdown.clone();
        if shutdown.wait_for(|down| *down).await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    }
}
