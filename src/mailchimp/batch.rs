//! `POST /batches` and its results: many operations in one request, processed by Mailchimp in
//! the background; the results come as a gzipped tar of JSON arrays at `response_body_url`
//! (shared/mailchimp/API-NOTES.md).

use std::io::Read;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::AccountClient;
use super::client::Repeat;
use super::endpoint::Request;
use super::error::MailchimpError;
use super::retry::Outcome;

/// One operation of a batch, as the spec's `Operations` says it.
#[derive(Debug, Clone, Serialize)]
pub struct BatchOperation {
    method: &'static str,
    /// Relative to the API root, without `/3.0`.
    path: String,
    /// The JSON body, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    operation_id: String,
}

impl BatchOperation {
    /// The batch form of a request the direct client would send.
    pub fn new(request: &Request, body: Option<&serde_json::Value>, operation_id: String) -> Self {
        Self {
            method: request.verb.name(),
            path: request.path.clone(),
            body: body.map(|b| b.to_string()),
            operation_id,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
/// A batch as Mailchimp reports it (`GET /batches/{id}`).
pub struct BatchStatus {
    /// Mailchimp's batch id.
    pub id: String,
    /// `pending`, `preprocessing`, `started`, `finalizing` or `finished`.
    pub status: String,
    #[serde(default)]
    /// Operations in the batch.
    pub total_operations: u64,
    #[serde(default)]
    /// Operations run so far.
    pub finished_operations: u64,
    #[serde(default)]
    /// Operations that answered an error.
    pub errored_operations: u64,
    #[serde(default)]
    /// Where the results archive is, once finished.
    pub response_body_url: String,
    /// ISO 8601, when Mailchimp took the batch.
    #[serde(default)]
    pub submitted_at: String,
}

impl BatchStatus {
    /// Whether Mailchimp has run every operation (its results are then ready).
    pub fn is_finished(&self) -> bool {
        self.status == "finished"
    }
}

/// What one operation answered.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OperationResult {
    /// The status the operation answered.
    pub status_code: u16,
    #[serde(default)]
    /// The id we gave the operation, to find its record.
    pub operation_id: String,
    /// The response body, a JSON document as a string (empty for 204).
    #[serde(default)]
    pub response: String,
}

impl AccountClient {
    /// `POST /batches`: Mailchimp answers at once with the batch, still pending.
    pub async fn submit_batch(
        &self,
        operations: &[BatchOperation],
    ) -> Result<BatchStatus, MailchimpError> {
        let body = json!({ "operations": operations });
        // A batch submitted twice runs twice: never repeated after an ambiguous failure.
        let bytes = self.create("/batches", &body).await?;
        serde_json::from_slice(&bytes).map_err(|e| MailchimpError::Decode(format!("/batches: {e}")))
    }

    /// `GET /batches`, every page: to find a batch whose submission had an ambiguous answer.
    pub async fn batches(&self) -> Result<Vec<BatchStatus>, MailchimpError> {
        self.get_all("/batches", "batches").await
    }

    /// `GET /batches/{id}`.
    pub async fn batch(&self, id: &str) -> Result<BatchStatus, MailchimpError> {
        self.get(&format!("/batches/{}", super::endpoint::seg(id)), &[])
            .await
    }

    /// `DELETE /batches/{id}`: stops a batch (operations already run stay done).
    pub async fn delete_batch(&self, id: &str) -> Result<(), MailchimpError> {
        let path = format!("/batches/{}", super::endpoint::seg(id));
        self.send(Method::DELETE, &path, &[], None).await?;
        Ok(())
    }

    /// Downloads and unpacks a finished batch's results. The archive is not on the API (it
    /// takes no key and does not count against the connection limit); transport errors and
    /// 5xx are retried as API requests are.
    pub async fn batch_results(&self, url: &str) -> Result<Vec<OperationResult>, MailchimpError> {
        let archive = self
            .retrying(Repeat::Always, || async {
                let (outcome, result) = self.download(url).await;
                self.count("GET {batch results archive}", outcome);
                (outcome, result)
            })
            .await?;
        tokio::task::spawn_blocking(move || unpack(&archive))
            .await
            .map_err(|e| MailchimpError::Decode(format!("batch results: {e}")))?
    }

    async fn download(&self, url: &str) -> (Outcome, Result<bytes::Bytes, MailchimpError>) {
        match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                Ok(b) => (Outcome::Status(200), Ok(b)),
                Err(e) => (
                    Outcome::ConnectError,
                    Err(MailchimpError::Connect(e.to_string())),
                ),
            },
            Ok(r) => {
                let status = r.status().as_u16();
                (
                    Outcome::Status(status),
                    Err(MailchimpError::Decode(format!(
                        "batch results: HTTP {status}"
                    ))),
                )
            }
            Err(e) if e.is_timeout() => (Outcome::Timeout, Err(MailchimpError::Timeout)),
            Err(e) => (
                Outcome::ConnectError,
                Err(MailchimpError::Connect(e.without_url().to_string())),
            ),
        }
    }
}

/// Every JSON file of the gzipped tar, each an array of results.
pub fn unpack(archive: &[u8]) -> Result<Vec<OperationResult>, MailchimpError> {
    let bad = |e: std::io::Error| MailchimpError::Decode(format!("batch results archive: {e}"));
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut results = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let is_json = entry
            .path()
            .map_err(bad)?
            .extension()
            .is_some_and(|e| e == "json");
        if !is_json {
            continue;
        }
        let mut text = Vec::new();
        entry.read_to_end(&mut text).map_err(bad)?;
        let part: Vec<OperationResult> = serde_json::from_slice(&text)
            .map_err(|e| MailchimpError::Decode(format!("batch results file: {e}")))?;
        results.extend(part);
    }
    Ok(results)
}
