//! The shop's record feed: validated changes go to one writer thread that applies whatever has
//! queued up in one transaction and one flush (group commit), then acknowledges each request.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::AppError;
use crate::domain::ValidationError;
use crate::domain::record::{self, Change, RecordKind, Refused};
use crate::proto::v1 as pb;
use crate::store::records::{Outcome, Prepared};
use crate::store::{Store, StoreError};

/// Changes applied in one transaction and one flush, at most (a batch is never split).
const MAX_GROUP: usize = 16_384;
/// Changes a stream hands to the writer at a time.
const STREAM_BATCH: usize = 1_024;
/// Batches a stream may have in the writer's hands before it waits: bounds memory per stream.
const STREAM_IN_FLIGHT: usize = 4;

type Written = Result<Vec<Outcome>, Arc<StoreError>>;
type Reply = oneshot::Sender<Written>;
type Pending = oneshot::Receiver<Written>;

/// A batch in the writer's hands: which of its changes were deletes (to name the ones that
/// found nothing), and where the outcome will arrive.
struct InFlight {
    deletes: Vec<Option<(RecordKind, String)>>,
    outcome: Pending,
}

enum Job {
    Write {
        changes: Vec<Prepared>,
        reply: Reply,
    },
    /// Everything queued before it is written; then the thread ends.
    Close,
}

#[derive(Clone)]
/// The way into the writer thread: every write of shop records goes through it, so that writes are grouped into few transactions and flushes.
pub struct Feed {
    jobs: mpsc::Sender<Job>,
    /// The last write's failure, until a write succeeds again.
    health: watch::Receiver<Option<Arc<StoreError>>>,
    thread: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Feed {
    /// Starts the writer thread. `changed` is rung after each group commit that stored a
    /// change.
    pub fn start(store: Store, changed: Arc<tokio::sync::Notify>) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>(64);
        let (health_tx, health) = watch::channel(None);
        let thread = std::thread::Builder::new()
            .name("mcsync-writer".into())
            .spawn(move || writer(store, rx, &changed, &health_tx))
            .expect("spawn the writer thread");
        Self {
            jobs,
            health,
            thread: Arc::new(std::sync::Mutex::new(Some(thread))),
        }
    }

    /// The last write's failure while writes fail (a full disk, a latched I/O error); `None`
    /// once one succeeds again.
    pub fn health(&self) -> watch::Receiver<Option<Arc<StoreError>>> {
        self.health.clone()
    }

    /// Writes what is queued, then ends the writer thread; later writes answer
    /// [`StoreError::Closed`].
    pub async fn close(&self) {
        let _ = self.jobs.send(Job::Close).await;
        let thread = self.thread.lock().expect("writer handle lock").take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Queues changes; the receiver answers once they are durable.
    async fn submit(&self, changes: Vec<Prepared>) -> Pending {
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.jobs.send(Job::Write { changes, reply }).await {
            // The writer is gone (shutting down): answer with an error, never a silent success.
            if let Job::Write { reply, .. } = e.0 {
                let _ = reply.send(Err(Arc::new(StoreError::Closed)));
            }
        }
        rx
    }

    /// Applies changes and waits until they are on disk.
    pub async fn write(&self, changes: Vec<Change>) -> Result<Vec<Outcome>, AppError> {
        let prepared = changes.iter().map(Prepared::from).collect();
        wait(self.submit(prepared).await).await
    }
}

async fn wait(rx: Pending) -> Result<Vec<Outcome>, AppError> {
    match rx.await {
        Ok(Ok(outcomes)) => Ok(outcomes),
        Ok(Err(e)) => Err(AppError::Unsaved(e)),
        Err(_) => Err(AppError::Unsaved(Arc::new(StoreError::Closed))),
    }
}

fn writer(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    changed: &tokio::sync::Notify,
    health: &watch::Sender<Option<Arc<StoreError>>>,
) {
    let mut closing = false;
    while !closing {
        let mut jobs = Vec::new();
        let mut total = 0;
        match rx.blocking_recv() {
            Some(Job::Write { changes, reply }) => {
                total += changes.len();
                jobs.push((changes, reply));
            }
            Some(Job::Close) | None => break,
        }
        while total < MAX_GROUP {
            match rx.try_recv() {
                Ok(Job::Write { changes, reply }) => {
                    total += changes.len();
                    jobs.push((changes, reply));
                }
                Ok(Job::Close) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = jobs.iter().map(|(changes, _)| changes.len()).collect();
        let mut all = Vec::with_capacity(total);
        let mut replies = Vec::with_capacity(jobs.len());
        for (changes, reply) in jobs {
            all.extend(changes);
            replies.push(reply);
        }
        let result = store.apply_prepared(&all).and_then(|outcomes| {
            store.flush_blocking()?;
            Ok(outcomes)
        });
        match result {
            Ok(outcomes) => {
                health.send_if_modified(|h| h.take().is_some());
                if outcomes
                    .iter()
                    .any(|o| matches!(o, Outcome::Accepted | Outcome::Deleted))
                {
                    changed.notify_one();
                }
                let mut rest = outcomes.into_iter();
                for (reply, n) in replies.into_iter().zip(sizes) {
                    let _ = reply.send(Ok(rest.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, changes = total, "writing shop records failed");
                let e = Arc::new(e);
                health.send_replace(Some(e.clone()));
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// One refused record, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The record's kind, when the message named one.
    pub kind: Option<RecordKind>,
    /// The record's id, as sent (possibly empty).
    pub id: String,
    /// The offending field's path, such as `order.lines[2].quantity`.
    pub field: String,
    /// Why the field was refused.
    pub reason: String,
    /// The record's place in the stream, from 0, so that the shop can find it.
    pub index: u64,
}

/// Rejections, and deletes of unknown records, listed in one PushRecords summary; the counts
/// cover them all.
pub const LISTED: usize = 100;

#[derive(Debug, Clone, Default, PartialEq)]
/// What one PushRecords stream did, for its summary.
pub struct PushSummary {
    /// Records stored (new or changed).
    pub accepted: u64,
    /// Records equal to what the mirror had: nothing written, nothing queued for Mailchimp.
    pub unchanged: u64,
    /// Records deleted from the mirror.
    pub deleted: u64,
    /// Records refused; `rejections` has one entry per offending field (the first [`LISTED`]).
    pub rejected: u64,
    /// One entry per refused field, the first [`LISTED`].
    pub rejections: Vec<Rejection>,
    /// Deletes of records that did not exist; `not_found` lists the first [`LISTED`].
    pub not_found_count: u64,
    /// The unknown records deletes named, the first [`LISTED`].
    pub not_found: Vec<(RecordKind, String)>,
}

/// The state of one PushRecords stream: validates each record as it comes, hands batches to
/// the writer, and keeps at most `STREAM_IN_FLIGHT` of them unacknowledged.
pub struct Push {
    feed: Feed,
    index: u64,
    batch: Vec<Prepared>,
    in_flight: VecDeque<InFlight>,
    summary: PushSummary,
}

impl Push {
    /// A stream's state, writing through `feed`.
    pub fn new(feed: Feed) -> Self {
        Self {
            feed,
            index: 0,
            batch: Vec::with_capacity(STREAM_BATCH),
            in_flight: VecDeque::new(),
            summary: PushSummary::default(),
        }
    }

    /// Counts a place in the stream that holds no record (a blank NDJSON line), so that
    /// rejections' indexes stay the places the client knows.
    pub fn skip(&mut self) {
        self.index += 1;
    }

    /// Takes the next record of the stream: parsed, batched, and handed to the writer when a batch is full.
    pub async fn offer(&mut self, record: pb::Record) -> Result<(), AppError> {
        let index = self.index;
        self.index += 1;
        match record::parse(record) {
            Ok(change) => {
                self.batch.push(Prepared::from(&change));
                if self.batch.len() >= STREAM_BATCH {
                    self.send_batch().await?;
                }
            }
            Err(Refused { kind, id, errors }) => {
                self.summary.rejected += 1;
                let id = crate::domain::validate::clipped(&id);
                let room = LISTED.saturating_sub(self.summary.rejections.len());
                self.summary
                    .rejections
                    .extend(errors.into_iter().take(room).map(
                        |ValidationError { field, reason }| Rejection {
                            kind,
                            id: id.clone(),
                            field,
                            reason,
                            index,
                        },
                    ));
            }
        }
        Ok(())
    }

    async fn send_batch(&mut self) -> Result<(), AppError> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(STREAM_BATCH));
        let deletes = batch
            .iter()
            .map(|c| c.is_delete().then(|| (c.kind(), c.id().to_owned())))
            .collect();
        let rx = self.feed.submit(batch).await;
        self.in_flight.push_back(InFlight {
            deletes,
            outcome: rx,
        });
        while self.in_flight.len() > STREAM_IN_FLIGHT {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    async fn settle_oldest(&mut self) -> Result<(), AppError> {
        let Some(InFlight {
            deletes,
            outcome: rx,
        }) = self.in_flight.pop_front()
        else {
            return Ok(());
        };
        let outcomes = wait(rx).await?;
        for (outcome, delete) in outcomes.into_iter().zip(deletes) {
            let s = &mut self.summary;
            match outcome {
                Outcome::Accepted => s.accepted += 1,
                Outcome::Unchanged => s.unchanged += 1,
                Outcome::Deleted => s.deleted += 1,
                Outcome::NotFound => {
                    s.not_found_count += 1;
                    if s.not_found.len() < LISTED {
                        s.not_found.extend(delete);
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends what is left and waits until everything accepted is durable.
    pub async fn finish(mut self) -> Result<PushSummary, AppError> {
        if !self.batch.is_empty() {
            self.send_batch().await?;
        }
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(self.summary)
    }
}
