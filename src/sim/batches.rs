//! `/batches`: many operations in one request, processed asynchronously as Mailchimp does
//! (shared/mailchimp/API-NOTES.md). A batch is accepted with 200 whatever its operations will
//! do, moves pending → preprocessing → started → finalizing → finished, and ends with a gzipped
//! tar of JSON files at `response_body_url`, each an array of
//! `{status_code, operation_id, response}` with the response body as a string. At most 500
//! batches may be unfinished per account (more → 429). Operations run against the same world
//! as direct requests, with the same validation and the same injected faults; the simulator
//! serves e-commerce paths in batches (anything else answers 404 in the results).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Shared;
use super::ecommerce::{self, Answer};
use super::faults::Fault;
use super::model::{Batch, ECOMMERCE, now_iso, paging};
use super::problem::SimError;
use super::world::Account;

#[derive(Debug, Clone)]
pub struct Operation {
    method: String,
    path: String,
    params: HashMap<String, String>,
    body: Option<String>,
    operation_id: Option<String>,
}

/// Unfinished batches an account may have.
pub const MAX_PENDING: usize = 500;
/// Results per JSON file in the archive.
const RESULTS_PER_FILE: usize = 500;

/// Finds the spec template of a concrete path, with its parameters.
pub fn match_path(path: &str) -> Option<(&'static str, HashMap<String, String>)> {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    'templates: for template in ECOMMERCE {
        let wanted: Vec<&str> = template.split('/').collect();
        if wanted.len() != parts.len() {
            continue;
        }
        let mut params = HashMap::new();
        for (w, p) in wanted.iter().zip(&parts) {
            if let Some(name) = w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                if p.is_empty() {
                    continue 'templates;
                }
                params.insert(name.to_owned(), percent_decode(p));
            } else if w != p {
                continue 'templates;
            }
        }
        return Some((template, params));
    }
    None
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads `POST /batches`'s body: the spec's shape, then what each operation must say.
fn operations(body: &Value) -> Result<Vec<Operation>, SimError> {
    let errors = super::schema::check("POST", "/batches", body);
    if !errors.is_empty() {
        return Err(SimError::invalid_resource(
            errors
                .iter()
                .map(|(f, m)| (f.as_str(), m.clone()))
                .collect(),
        ));
    }
    let ops = body["operations"].as_array().cloned().unwrap_or_default();
    if ops.is_empty() {
        return Err(SimError::schema(
            "operations",
            "A batch needs at least one operation.",
        ));
    }
    ops.iter()
        .map(|op| {
            let params = match op.get("params") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), v)
                    })
                    .collect(),
                _ => HashMap::new(),
            };
            Ok(Operation {
                method: op["method"].as_str().unwrap_or_default().to_owned(),
                path: op["path"].as_str().unwrap_or_default().to_owned(),
                params,
                body: op.get("body").and_then(Value::as_str).map(str::to_owned),
                operation_id: op
                    .get("operation_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// `POST /batches`: accepts the batch and starts processing it in the background.
pub fn submit(shared: &Arc<Shared>, account: usize, body: &Value) -> Result<Value, SimError> {
    let ops = operations(body)?;
    let (batch, unfinished) = {
        let mut world = shared.world.lock().expect("world lock");
        let acc = &mut world.accounts[account];
        if acc.batches.values().filter(|b| b.unfinished()).count() >= MAX_PENDING {
            return Err(SimError::new(
                429,
                "Too Many Requests",
                &format!("You have more than {MAX_PENDING} pending batches."),
            ));
        }
        let batch = Batch {
            id: acc.next_batch_id(),
            status: "pending",
            total: ops.len(),
            finished: 0,
            errored: 0,
            submitted_at: now_iso(),
            completed_at: None,
            response_body_url: None,
        };
        acc.batches.insert(batch.id.clone(), batch.clone());
        let unfinished = acc.batches.values().filter(|b| b.unfinished()).count();
        (batch, unfinished)
    };
    // Counted outside the world lock: the stats snapshot takes the two locks the other way.
    shared.record_unfinished_batches(unfinished);
    tokio::spawn(process(shared.clone(), account, batch.id.clone(), ops));
    Ok(batch.json())
}

fn set_status(shared: &Shared, account: usize, id: &str, status: &'static str) {
    let mut world = shared.world.lock().expect("world lock");
    if let Some(b) = world.accounts[account].batches.get_mut(id) {
        b.status = status;
    }
}

/// Runs the operations in order, then publishes the archive of their results.
async fn process(shared: Arc<Shared>, account: usize, id: String, ops: Vec<Operation>) {
    // Mailchimp queues a batch before working on it; a poll right away sees it pending.
    tokio::time::sleep(shared.config.batch_delay).await;
    set_status(&shared, account, &id, "preprocessing");
    tokio::task::yield_now().await;
    set_status(&shared, account, &id, "started");
    let mut results = Vec::with_capacity(ops.len());
    for chunk in ops.chunks(100) {
        // Mailchimp's own pace: the chunk's operations take their time before they are done.
        let cost = shared.config.batch_op_cost * chunk.len() as u32;
        if !cost.is_zero() {
            tokio::time::sleep(cost).await;
        }
        let statuses: Vec<u16> = {
            let mut world = shared.world.lock().expect("world lock");
            let mut statuses = Vec::with_capacity(chunk.len());
            for op in chunk {
                let (status, response) = execute(&shared, &mut world.accounts[account], op);
                statuses.push(status);
                results.push(json!({
                    "status_code": status,
                    "operation_id": op.operation_id.clone().unwrap_or_default(),
                    "response": response,
                }));
            }
            if let Some(b) = world.accounts[account].batches.get_mut(&id) {
                b.finished += chunk.len();
                b.errored += statuses.iter().filter(|s| **s >= 400).count();
            }
            statuses
        };
        // Counted outside the world lock: the stats snapshot takes the two locks the other way.
        for (op, status) in chunk.iter().zip(statuses) {
            shared.record_batch_operation(&op.method, &op.path, status);
        }
        // Let direct requests and other batches in between.
        tokio::task::yield_now().await;
    }
    set_status(&shared, account, &id, "finalizing");
    let archive = match archive(&id, &results) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "building a batch archive failed");
            Vec::new()
        }
    };
    let token = format!("{:x}", md5::compute(format!("{id}:{}", fastrand::u64(..))));
    let url = format!("{}/__sim/batch-results/{token}.tar.gz", shared.base_url);
    let mut world = shared.world.lock().expect("world lock");
    world.results.insert(token, archive);
    if let Some(b) = world.accounts[account].batches.get_mut(&id) {
        b.status = "finished";
        b.completed_at = Some(now_iso());
        b.response_body_url = Some(url);
    }
}

/// One operation, as if it were a request of its own; returns its status and body text.
fn execute(shared: &Shared, account: &mut Account, op: &Operation) -> (u16, String) {
    match run(shared, account, op) {
        Ok(Answer::Json(v)) => (200, v.to_string()),
        Ok(Answer::NoContent) => (204, String::new()),
        Err(e) => (
            e.problem.status,
            serde_json::to_string(&e.problem).unwrap_or_default(),
        ),
    }
}

fn run(shared: &Shared, account: &mut Account, op: &Operation) -> Result<Answer, SimError> {
    let after = match shared.faults.draw(&op.method, false) {
        None => None,
        Some(Fault::After(e)) => Some(e),
        Some(Fault::Before(e)) => return Err(e),
        Some(Fault::Bare403) => return Err(SimError::rate_limited()),
    };
    let (template, params) = match_path(&op.path).ok_or_else(SimError::not_found)?;
    if !super::schema::has_operation(&op.method, template) {
        return Err(SimError::new(
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible.",
        ));
    }
    let body: Option<serde_json::Value> = match op.method.as_str() {
        "POST" | "PUT" | "PATCH" => Some(
            serde_json::from_str(op.body.as_deref().unwrap_or_default())
                .map_err(|_| SimError::json_parse())?,
        ),
        _ => None,
    };
    if let Some(b) = &body {
        shared.judge_body(&op.method, template, b);
    }
    let body_id = body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(|v| v.as_str());
    if op.method != "GET" && shared.faults.is_poisoned(op.path.split('/').chain(body_id)) {
        return Err(SimError::internal());
    }
    let paging = if op.method == "GET" {
        paging(&op.params)?
    } else {
        (10, 0)
    };
    let answer = ecommerce::handle(
        account,
        ecommerce::Request {
            method: &op.method,
            template,
            params: &params,
            paging,
            body,
        },
    );
    match after {
        None => answer,
        Some(e) => {
            shared.stats.lock().expect("stats lock").faults_after_write += 1;
            Err(e)
        }
    }
}

/// The results as Mailchimp publishes them: a gzipped tar of JSON arrays.
fn archive(id: &str, results: &[Value]) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (n, part) in results.chunks(RESULTS_PER_FILE).enumerate() {
        let data = serde_json::to_vec(part)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{id}/{n}.json"), data.as_slice())?;
    }
    tar.into_inner()?.finish()
}

/// `GET /batches/{id}`.
pub fn status(account: &Account, id: &str) -> Result<Value, SimError> {
    account
        .batches
        .get(id)
        .map(Batch::json)
        .ok_or_else(SimError::not_found)
}

/// `GET /batches`: newest last, paged.
pub fn list(account: &Account, (count, offset): (usize, usize)) -> Value {
    let all: Vec<Value> = account.batches.values().map(Batch::json).collect();
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip(offset).take(count).collect();
    json!({"batches": page, "total_items": total, "_links": []})
}

/// `DELETE /batches/{id}`: stops a batch; operations already run stay done.
pub fn delete(account: &mut Account, id: &str) -> Result<(), SimError> {
    account
        .batches
        .remove(id)
        .map(|_| ())
        .ok_or_else(SimError::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concrete_paths_find_their_template() {
        let (t, p) = match_path("/ecommerce/stores/s1/products/p%201").unwrap();
        assert_eq!(t, "/ecommerce/stores/{store_id}/products/{product_id}");
        assert_eq!(p["store_id"], "s1");
        assert_eq!(p["product_id"], "p 1");
        assert_eq!(
            match_path("/ecommerce/stores/s1/promo-rules/r/promo-codes")
                .unwrap()
                .0,
            "/ecommerce/stores/{store_id}/promo-rules/{promo_rule_id}/promo-codes"
        );
        assert!(match_path("/lists/abc/members").is_none());
        assert!(match_path("/ecommerce/stores//products").is_none());
    }
}
