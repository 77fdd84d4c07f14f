//! Batch mode of an upload phase: a window of records becomes operations (the same requests
//! [`push`](super::push) would send, decided the same way, unchanged records left out), sent as
//! `POST /batches` of 1,000, polled until Mailchimp has run them, and each result from the
//! archive attributed to its record. Operations a batch could not settle go direct: "already
//! exists" (then as an update), 404 on an update (deleted in Mailchimp meanwhile), 429 and 5xx
//! (with the direct path's retries), and any missing from the results. A window's records are
//! read again from the mirror for a second try; the cursor moves only once all are settled.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::push::{self, Plan, Planned, PushError, Pushed, push_as};
use super::upload::{Stop, UploadContext, ensure_line_products, target};
use crate::domain::record::RecordKind;
use crate::mailchimp::{BatchOperation, BatchStatus, MailchimpError, OperationResult, Problem};
use crate::proto::v1 as pb;
use crate::store::Store;
use crate::store::records::decode_stored;

/// Operations per batch.
const OPS_PER_BATCH: usize = 1_000;
/// Records per window: read, sent, settled and then the cursor moves. Ten batches at most are
/// unfinished at a time, far below Mailchimp's 500.
pub const WINDOW: usize = 10 * OPS_PER_BATCH;
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(5);

type Results = Vec<(String, Result<Pushed, PushError>)>;

/// What became of one operation in Mailchimp's results.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    Accepted,
    /// Send it again directly; `may_exist` says whether an update must be tried first.
    Direct {
        may_exist: bool,
    },
    Refused,
}

/// The one decision on a batch result. `None`: the operation is missing from the results.
pub fn settle(method: &Method, result: Option<&OperationResult>) -> Settled {
    let Some(r) = result else {
        return Settled::Direct { may_exist: true };
    };
    match r.status_code {
        200..=299 => Settled::Accepted,
        400 if push::already_exists(&problem(r)) => Settled::Direct { may_exist: true },
        404 if *method != Method::POST => Settled::Direct { may_exist: false },
        // Not run: try again as it was planned.
        429 => Settled::Direct {
            may_exist: *method != Method::POST,
        },
        // Maybe run, maybe not: an update first, so that a create is never sent twice.
        500..=599 => Settled::Direct { may_exist: true },
        _ => Settled::Refused,
    }
}

fn problem(r: &OperationResult) -> Problem {
    Problem::from_response(r.status_code, r.response.as_bytes())
}

/// Sends one window of a phase's records through batches; returns each record's outcome.
pub async fn push_window(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    kind: RecordKind,
    records: Vec<(Vec<u8>, Vec<u8>)>,
    may_exist: bool,
    cancel: &watch::Receiver<bool>,
) -> Result<Results, Stop> {
    let t = target(ctx, store_id);
    let mut results: Results = Vec::with_capacity(records.len());
    let mut planned: Vec<(String, Planned)> = Vec::new();
    let mut direct: Vec<(String, Option<pb::record::Record>, bool)> = Vec::new();
    for (id, bytes) in records {
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
            Ok(Plan::Send(p)) => planned.push((id, p)),
            Ok(Plan::Direct) => direct.push((id, Some(rec), may_exist)),
            Err(e) => results.push((id, Err(e))),
        }
    }
    let mut answers = run_batches(ctx, &planned, cancel).await?;
    for (i, (id, p)) in planned.iter().enumerate() {
        let answer = answers.remove(&op_id(i));
        match settle(&p.method, answer.as_ref()) {
            Settled::Accepted => results.push((id.clone(), push::accepted(store, &t, kind, id, p))),
            Settled::Refused => {
                let problem = answer
                    .as_ref()
                    .map(problem)
                    .expect("a refusal has an answer");
                let refused = MailchimpError::Api(Box::new(problem));
                results.push((id.clone(), Err(PushError::Mailchimp(refused))));
            }
            // Read again from the mirror (it may have changed, or gone, since).
            Settled::Direct { may_exist } => match store.decoded_record(kind, id) {
                Ok(rec) => direct.push((id.clone(), rec, may_exist)),
                Err(e) => results.push((id.clone(), Err(e.into()))),
            },
        }
    }
    results.extend(send_direct(store, ctx, store_id, kind, direct).await);
    Ok(results)
}

fn op_id(index: usize) -> String {
    index.to_string()
}

/// Submits the operations in batches and waits for every result, keyed by operation id. On
/// cancel, the unfinished batches are deleted (what already ran stays done, and is sent again
/// as an update by the next upload).
async fn run_batches(
    ctx: &UploadContext,
    planned: &[(String, Planned)],
    cancel: &watch::Receiver<bool>,
) -> Result<HashMap<String, OperationResult>, Stop> {
    let failed = |e: MailchimpError| Stop::Failed(format!("batch upload: {e}"));
    let mut pending: Vec<BatchStatus> = Vec::new();
    for (n, part) in planned.chunks(OPS_PER_BATCH).enumerate() {
        let ops: Vec<BatchOperation> = part
            .iter()
            .enumerate()
            .map(|(j, (_, p))| BatchOperation {
                method: method_name(&p.method),
                path: p.path.clone(),
                body: Some(p.body.to_string()),
                operation_id: op_id(n * OPS_PER_BATCH + j),
            })
            .collect();
        pending.push(ctx.client.submit_batch(&ops).await.map_err(failed)?);
    }
    let mut answers = HashMap::with_capacity(planned.len());
    let mut interval = POLL_FIRST;
    while !pending.is_empty() {
        if *cancel.borrow() {
            for b in &pending {
                if let Err(e) = ctx.client.delete_batch(&b.id).await {
                    tracing::warn!(batch = %b.id, error = %e, "could not stop a batch");
                }
            }
            return Err(Stop::Cancelled);
        }
        let mut waiting = Vec::new();
        for b in pending {
            let now = ctx.client.batch(&b.id).await.map_err(failed)?;
            if now.is_finished() {
                for r in ctx
                    .client
                    .batch_results(&now.response_body_url)
                    .await
                    .map_err(failed)?
                {
                    answers.insert(r.operation_id.clone(), r);
                }
            } else {
                waiting.push(now);
            }
        }
        pending = waiting;
        if !pending.is_empty() {
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(POLL_MAX);
        }
    }
    Ok(answers)
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "GET",
    }
}

async fn send_direct(
    store: &Store,
    ctx: &UploadContext,
    store_id: &str,
    kind: RecordKind,
    records: Vec<(String, Option<pb::record::Record>, bool)>,
) -> Results {
    let mut tasks = JoinSet::new();
    for (id, rec, may_exist) in records {
        let (store, ctx, store_id) = (store.clone(), ctx.clone(), store_id.to_owned());
        tasks.spawn(async move {
            let t = target(&ctx, &store_id);
            let result = push_as(&store, &t, kind, &id, rec.as_ref(), may_exist).await;
            (id, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => tracing::error!(error = %e, "a direct push task failed"),
        }
    }
    results
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
    fn each_batch_result_is_settled_once() {
        let exists = r#"{"status":400,"title":"Invalid Resource","detail":"A product with the provided ID already exists in the account."}"#;
        let invalid = r#"{"status":400,"title":"Invalid Resource","detail":"The resource submitted could not be validated.","errors":[{"field":"title","message":"Required"}]}"#;
        let post = Method::POST;
        let patch = Method::PATCH;
        assert_eq!(settle(&post, Some(&answer(200, "{}"))), Settled::Accepted);
        assert_eq!(settle(&post, Some(&answer(204, ""))), Settled::Accepted);
        assert_eq!(
            settle(&post, Some(&answer(400, exists))),
            Settled::Direct { may_exist: true },
            "an existing record is updated, never created twice"
        );
        assert_eq!(settle(&post, Some(&answer(400, invalid))), Settled::Refused);
        assert_eq!(
            settle(&patch, Some(&answer(404, "{}"))),
            Settled::Direct { may_exist: false },
            "deleted in Mailchimp meanwhile: created again"
        );
        assert_eq!(settle(&post, Some(&answer(404, "{}"))), Settled::Refused);
        assert_eq!(
            settle(&post, Some(&answer(503, ""))),
            Settled::Direct { may_exist: true }
        );
        assert_eq!(
            settle(&post, Some(&answer(429, ""))),
            Settled::Direct { may_exist: false }
        );
        assert_eq!(
            settle(&patch, Some(&answer(429, ""))),
            Settled::Direct { may_exist: true }
        );
        assert_eq!(settle(&post, None), Settled::Direct { may_exist: true });
    }
}
