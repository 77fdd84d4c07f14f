//! Batch mode of an upload phase: a window of records becomes operations (the same requests
//! [`push`](super::push) would send, decided the same way, unchanged records left out), sent as
//! `POST /batches` of 1,000, polled until Mailchimp has run them, and each result from the
//! archive attributed to its record. Operations a batch could not settle go direct: "already
//! exists" (then as an update), 404 on an update (deleted in Mailchimp meanwhile), 429 and 5xx
//! (with the direct path's retries), and any missing from the results. A window's records are
//! read again from the mirror for a second try; the cursor moves only once all are settled.

use std::collections::HashMap;
use std::time::Duration;

use super::context::{UploadContext, target};
use super::dependencies::ensure_line_products;
use super::fan_out::{FAN_OUT, FanOut};
use super::push::{self, Plan, Planned, PushError, Pushed, Sent, push_as};
use super::stop::Signals;
use super::stop::{During, Stop};
use crate::domain::record::RecordKind;
use crate::mailchimp::{
    BatchBody, BatchOperation, BatchStatus, Bodies, ErrorKind, MailchimpError, OperationResult,
    Problem, SpooledBatch, Verb,
};
use crate::proto::v1 as pb;
use crate::store::Store;
use crate::store::records::decode_stored;

/// Operations per batch.
const OPS_PER_BATCH: usize = 1_000;
/// Records per window: read, sent, settled and then the cursor moves. Twenty batches at most
/// are unfinished at a time, far below Mailchimp's 500; a window's records may all be in
/// Mailchimp after a crash, so a resumed job updates them first.
pub const WINDOW: usize = 20 * OPS_PER_BATCH;
const POLL_FIRST: Duration = Duration::from_millis(100);
/// A window waits for its last batch: polled at least every second, so it is not left idle
/// for long after the batch finished (20 reads a second at most, a tenth of the key's pace).
const POLL_MAX: Duration = Duration::from_secs(1);
/// How long a job waits for batches it did not submit before it goes on regardless.
const QUIESCE_MAX: Duration = Duration::from_secs(600);
/// Clock difference tolerated between Mailchimp's `submitted_at` and ours.
const CLOCK_SKEW: time::Duration = time::Duration::seconds(2);

type Results = Vec<(String, Result<Pushed, PushError>)>;

/// What became of one operation in Mailchimp's results.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// Mailchimp took it.
    Accepted,
    /// Send it again directly; `may_exist` says whether an update must be tried first.
    Direct {
        /// Whether Mailchimp may already hold the record.
        may_exist: bool,
    },
    /// Mailchimp refused it: listed, like a direct refusal.
    Refused,
}

/// The one decision on a batch result. `None`: the operation is missing from the results.
pub fn settle(verb: Verb, result: Option<&OperationResult>) -> Settled {
    let Some(r) = result else {
        return Settled::Direct { may_exist: true };
    };
    if (200..=299).contains(&r.status_code) {
        return Settled::Accepted;
    }
    match problem(r).kind() {
        ErrorKind::AlreadyExists => Settled::Direct { may_exist: true },
        // A customer's new email (customers are the only upsert): the direct path deletes and
        // re-creates the customer. An order or cart giving a customer another email is refused.
        ErrorKind::ImmutableField if verb == Verb::Upsert => Settled::Direct { may_exist: true },
        ErrorKind::NotFound if verb != Verb::Create => Settled::Direct { may_exist: false },
        // Not run: try again as it was planned.
        _ if r.status_code == 429 => Settled::Direct {
            may_exist: verb != Verb::Create,
        },
        // Maybe run, maybe not: an update first, so that a create is never sent twice.
        _ if (500..=599).contains(&r.status_code) => Settled::Direct { may_exist: true },
        _ => Settled::Refused,
    }
}

fn problem(r: &OperationResult) -> Problem {
    Problem::from_response(r.status_code, r.response.as_bytes())
}

/// Sends the next window of a phase's records (those after `after`) through batches; returns
/// the window's last key and each record's outcome, or `None` when no record is left. Records
/// are read and planned a batch at a time and each batch is submitted as soon as it is full,
/// so Mailchimp works on the first while the next is planned; only what settling needs
/// ([`Sent`]) is kept of a submitted operation, never its body.
pub async fn push_window(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    kind: RecordKind,
    after: Option<&[u8]>,
    may_exist: bool,
    signals: &Signals,
) -> Result<Option<(Vec<u8>, Results)>, Stop> {
    let t = target(ctx, store_id);
    let mut results: Results = Vec::new();
    let mut direct: Vec<(String, Option<pb::record::Record>, bool)> = Vec::new();
    let mut batches = Submitted::new(ctx);
    let mut last = None;
    let mut read = 0;
    while read < WINDOW {
        let from = last.as_deref().or(after);
        let page = store.records_after(kind, from, OPS_PER_BATCH.min(WINDOW - read))?;
        let Some((key, _)) = page.last() else {
            break;
        };
        last = Some(key.clone());
        read += page.len();
        for (id, bytes) in page {
            let id = String::from_utf8_lossy(&id).into_owned();
            let rec = match decode_stored(kind, &id, &bytes) {
                Ok(r) => r,
                Err(e) => {
                    results.push((id, Err(e.into())));
                    continue;
                }
            };
            let r = &rec;
            if let Err(e) = ensure_line_products(store, ctx, store_id, Some(r), may_exist).await {
                results.push((id, Err(e)));
                continue;
            }
            match push::plan(store, &t, kind, &id, r, may_exist) {
                Ok(Plan::Unchanged) => results.push((id, Ok(Pushed::Unchanged))),
                Ok(Plan::Send(p)) => batches.add(id, &p).await?,
                Ok(Plan::Direct) => direct.push((id, Some(rec), may_exist)),
                Err(e) => results.push((id, Err(e))),
            }
        }
    }
    let Some(last) = last else {
        return Ok(None);
    };
    batches.submit().await?;
    let (sent, mut answers) = batches.wait(signals).await?;
    if answers.len() < sent.len() {
        // Operations without a result may sit in a batch Mailchimp took without saying so:
        // it must have run before they are sent again.
        quiesce(ctx).await.map_err(Stop::mailchimp(During::Batch))?;
    }
    for (i, (id, p)) in sent.into_iter().enumerate() {
        let answer = answers.remove(&i);
        match settle(p.verb, answer.as_ref()) {
            Settled::Accepted => {
                let outcome = push::accepted(store, &t, kind, &id, &p);
                results.push((id, outcome));
            }
            Settled::Refused => {
                let problem = answer
                    .as_ref()
                    .map(problem)
                    .expect("a refusal has an answer");
                let refused = MailchimpError::Api(Box::new(problem));
                results.push((id, Err(PushError::Mailchimp(refused))));
            }
            // Read again from the mirror (it may have changed, or gone, since).
            Settled::Direct { may_exist } => {
                match ambiguous_create(store, &t, kind, &id, &p, answer.as_ref())
                    .and_then(|()| Ok(store.decoded_record(kind, &id)?))
                {
                    Ok(rec) => direct.push((id, rec, may_exist)),
                    Err(e) => results.push((id, Err(e))),
                }
            }
        }
    }
    results.extend(send_direct(store, ctx, store_id, kind, direct).await);
    Ok(Some((last, results)))
}

/// A create that a batch ran with an ambiguous result (a 5xx, or no result at all) may have
/// happened: noted, so that every later try updates first, in this job or the next.
fn ambiguous_create(
    store: &Store,
    t: &push::Target<'_>,
    kind: RecordKind,
    id: &str,
    p: &Sent,
    answer: Option<&OperationResult>,
) -> Result<(), PushError> {
    let ambiguous = answer.is_none_or(|a| (500..=599).contains(&a.status_code));
    if p.verb == Verb::Create && ambiguous {
        push::maybe_created(store, t, kind, id)?;
    }
    Ok(())
}

/// An operation's id: the window's nonce and the operation's place in it. The nonce keeps a
/// batch that is not ours (see [`submit`]) from ever settling our operations.
fn op_id(nonce: u64, index: usize) -> String {
    format!("{nonce:016x}.{index}")
}

/// The place of one of our operations, from its id; `None` for another window's.
fn op_index(nonce: u64, id: &str) -> Option<usize> {
    let (n, i) = id.split_once('.')?;
    (u64::from_str_radix(n, 16).ok()? == nonce)
        .then(|| i.parse().ok())
        .flatten()
}

/// A window's batches: operations gathered into the next batch, the batches submitted, and
/// what settling needs of each operation, in operation-id order.
struct Submitted<'a> {
    ctx: &'a UploadContext,
    nonce: u64,
    sent: Vec<(String, Sent)>,
    /// The next batch, on disk until it is full.
    next: Option<BatchBody>,
    pending: Vec<(BatchStatus, crate::metrics::Held)>,
}

impl<'a> Submitted<'a> {
    fn new(ctx: &'a UploadContext) -> Self {
        Self {
            ctx,
            nonce: fastrand::u64(..),
            sent: Vec::new(),
            next: None,
            pending: Vec::new(),
        }
    }

    /// Adds a planned request; a full batch goes to Mailchimp at once.
    async fn add(&mut self, id: String, p: &Planned) -> Result<(), Stop> {
        let op_id = op_id(self.nonce, self.sent.len());
        let next = match &mut self.next {
            Some(next) => next,
            None => self
                .next
                .insert(BatchBody::new().map_err(Stop::mailchimp(During::Batch))?),
        };
        next.push(&BatchOperation::new(&p.request, Some(&p.body), op_id))
            .map_err(Stop::mailchimp(During::Batch))?;
        self.sent.push((id, p.sent()));
        if next.len() == OPS_PER_BATCH as u64 {
            self.submit().await?;
        }
        Ok(())
    }

    /// Submits the operations gathered so far, if any.
    async fn submit(&mut self) -> Result<(), Stop> {
        let Some(next) = self.next.take().filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let ops = next.finish().map_err(Stop::mailchimp(During::Batch))?;
        // Not taken (`None`): its operations get no result and go direct, updates first.
        if let Some(batch) = submit(self.ctx, &ops)
            .await
            .map_err(Stop::mailchimp(During::Batch))?
        {
            let held = self
                .ctx
                .client
                .metrics()
                .batch_pending(ops.operations() as usize);
            self.pending.push((batch, held));
        }
        Ok(())
    }

    /// Waits for every result, keyed by operation place. On cancel, the unfinished batches are
    /// deleted (what already ran stays done, and is sent again as an update by the next upload).
    async fn wait(
        self,
        signals: &Signals,
    ) -> Result<(Vec<(String, Sent)>, HashMap<usize, OperationResult>), Stop> {
        let Self {
            ctx,
            nonce,
            sent,
            mut pending,
            ..
        } = self;
        let mut answers = HashMap::with_capacity(sent.len());
        let mut interval = POLL_FIRST;
        while !pending.is_empty() {
            if let Err(stop) = signals.check() {
                // At shutdown the batches run on: the resumed job waits for them (`quiesce`).
                if !matches!(stop, Stop::Cancelled) {
                    return Err(stop);
                }
                for (b, _) in &pending {
                    if let Err(e) = ctx.client.delete_batch(&b.id).await {
                        tracing::warn!(batch = %b.id, error = %e, "could not stop a batch");
                    }
                }
                return Err(Stop::Cancelled);
            }
            let mut waiting = Vec::new();
            for (b, held) in pending {
                let now = ctx
                    .client
                    .batch(&b.id)
                    .await
                    .map_err(Stop::mailchimp(During::Batch))?;
                if now.is_finished() {
                    for r in ctx
                        .client
                        .batch_results(&now.response_body_url, Bodies::Failed)
                        .await
                        .map_err(Stop::mailchimp(During::Batch))?
                    {
                        if let Some(i) = op_index(nonce, &r.operation_id) {
                            answers.insert(i, r);
                        }
                    }
                } else {
                    waiting.push((now, held));
                }
            }
            pending = waiting;
            if !pending.is_empty() {
                tokio::time::sleep(interval).await;
                interval = (interval * 3 / 2).min(POLL_MAX);
            }
        }
        Ok((sent, answers))
    }
}

/// Submits one batch. Mailchimp may take a batch and still answer 5xx (or drop the
/// connection); submitting it again would run its operations twice. So after an ambiguous
/// answer the batch is looked for: a batch this job does not know yet, with as many operations,
/// taken since just before the submission. Found, it is waited for like any other; not found,
/// `None` (its operations get no result, and go direct, updates first).
async fn submit(
    ctx: &UploadContext,
    ops: &SpooledBatch,
) -> Result<Option<BatchStatus>, MailchimpError> {
    let since = time::OffsetDateTime::now_utc() - CLOCK_SKEW;
    let seen = |id: &str| ctx.batches_seen.lock().expect("batches lock").contains(id);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ctx.client.submit_batch(ops).await {
            Ok(b) => {
                ctx.batches_seen
                    .lock()
                    .expect("batches lock")
                    .insert(b.id.clone());
                return Ok(Some(b));
            }
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(error = %e, "a batch submission had no clear answer; looking for it");
                let taken = ctx.client.batches().await?.into_iter().rev().find(|b| {
                    !seen(&b.id)
                        && b.total_operations == ops.operations()
                        && submitted_since(&b.submitted_at, since)
                });
                if let Some(b) = &taken {
                    ctx.batches_seen
                        .lock()
                        .expect("batches lock")
                        .insert(b.id.clone());
                    return Ok(taken);
                }
                if !ctx.client.back_off(attempt).await {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits until no batch on the account is unfinished (a batch of a process that died may still
/// run), at most `QUIESCE_MAX`, and notes every batch seen so that none is ever taken for
/// one of this job's own.
pub async fn quiesce(ctx: &UploadContext) -> Result<(), MailchimpError> {
    let started = std::time::Instant::now();
    let mut interval = POLL_FIRST;
    loop {
        let batches = ctx.client.batches().await?;
        let unfinished = batches.iter().filter(|b| !b.is_finished()).count();
        ctx.batches_seen
            .lock()
            .expect("batches lock")
            .extend(batches.into_iter().map(|b| b.id));
        if unfinished == 0 {
            return Ok(());
        }
        if started.elapsed() > QUIESCE_MAX {
            tracing::warn!(unfinished, "batches still unfinished; going on");
            return Ok(());
        }
        tracing::info!(unfinished, "waiting for earlier batches to finish");
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(POLL_MAX);
    }
}

fn submitted_since(at: &str, since: time::OffsetDateTime) -> bool {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Iso8601::DEFAULT)
        .is_ok_and(|t| t >= since)
}

async fn send_direct(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    kind: RecordKind,
    records: Vec<(String, Option<pb::record::Record>, bool)>,
) -> Results {
    let mut tasks = FanOut::new(FAN_OUT);
    for (id, rec, may_exist) in records {
        let (store, ctx, store_id) = (store.clone(), ctx.clone(), store_id.to_owned());
        let key = id.clone();
        tasks
            .spawn(key, async move {
                let t = target(&ctx, &store_id);
                push_as(&store, &t, kind, &id, rec.as_ref(), may_exist).await
            })
            .await;
    }
    tasks
        .join_all()
        .await
        .into_iter()
        .map(|(id, result)| (id, result.unwrap_or_else(|p| Err(p.into()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, response: &str) -> OperationResult {
        OperationResult {
            status_code,
            operation_id: "0".into(),
            response: response.into(),
        }
    }

    #[test]
    fn only_this_windows_operation_ids_are_read_back() {
        let id = op_id(0xabc, 17);
        assert_eq!(op_index(0xabc, &id), Some(17));
        assert_eq!(op_index(0xabd, &id), None, "another window's batch");
        assert_eq!(op_index(0xabc, "17"), None);
    }

    #[test]
    fn each_batch_result_is_settled_once() {
        let exists = r#"{"status":400,"title":"Invalid Resource","detail":"A product with the provided ID already exists in the account."}"#;
        let invalid = r#"{"status":400,"title":"Invalid Resource","detail":"The resource submitted could not be validated.","errors":[{"field":"title","message":"Required"}]}"#;
        let post = Verb::Create;
        let patch = Verb::Update;
        assert_eq!(settle(post, Some(&answer(200, "{}"))), Settled::Accepted);
        assert_eq!(settle(post, Some(&answer(204, ""))), Settled::Accepted);
        assert_eq!(
            settle(post, Some(&answer(400, exists))),
            Settled::Direct { may_exist: true },
            "an existing record is updated, never created twice"
        );
        assert_eq!(settle(post, Some(&answer(400, invalid))), Settled::Refused);
        assert_eq!(
            settle(patch, Some(&answer(404, "{}"))),
            Settled::Direct { may_exist: false },
            "deleted in Mailchimp meanwhile: created again"
        );
        assert_eq!(settle(post, Some(&answer(404, "{}"))), Settled::Refused);
        assert_eq!(
            settle(post, Some(&answer(503, ""))),
            Settled::Direct { may_exist: true }
        );
        assert_eq!(
            settle(post, Some(&answer(429, ""))),
            Settled::Direct { may_exist: false }
        );
        assert_eq!(
            settle(patch, Some(&answer(429, ""))),
            Settled::Direct { may_exist: true }
        );
        assert_eq!(settle(post, None), Settled::Direct { may_exist: true });
        let email = r#"{"status":400,"title":"Invalid Resource","detail":"An email address may not be changed"}"#;
        assert_eq!(
            settle(Verb::Upsert, Some(&answer(400, email))),
            Settled::Direct { may_exist: true },
            "a customer's email change goes direct: deleted and created again"
        );
        assert_eq!(
            settle(post, Some(&answer(400, email))),
            Settled::Refused,
            "an order cannot change its customer's email"
        );
    }
}
