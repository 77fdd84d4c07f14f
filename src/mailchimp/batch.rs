//! `POST /batches` and its results: many operations in one request, processed by Mailchimp in
//! the background; the results come as a gzipped tar of JSON arrays at `response_body_url`
//! (shared/mailchimp/API-NOTES.md).

use std::io::{Read, Seek, Write};

use reqwest::Method;
use serde::Deserialize;

pub use super::batch_body::BatchOperation;
use super::batch_body::SpooledBatch;
use super::client::AccountClient;
use super::client::Repeat;
use super::error::MailchimpError;
use super::retry::Outcome;

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
    pub async fn submit_batch(&self, batch: &SpooledBatch) -> Result<BatchStatus, MailchimpError> {
        // A batch submitted twice runs twice: never repeated after an ambiguous failure.
        let bytes = self
            .send_spooled("/batches", batch, Repeat::UnlessAmbiguous)
            .await?;
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
    /// 5xx are retried as API requests are. It goes to a temporary file as it arrives and is
    /// read back one JSON file at a time, so a large batch is never whole in memory; with
    /// [`Bodies::Failed`] only the answers of failed operations keep their body.
    pub async fn batch_results(
        &self,
        url: &str,
        bodies: Bodies,
    ) -> Result<Vec<OperationResult>, MailchimpError> {
        let archive = self
            .retrying(Repeat::Always, || async {
                let (outcome, result) = self.download(url).await;
                self.count("GET {batch results archive}", outcome);
                (outcome, result)
            })
            .await?;
        tokio::task::spawn_blocking(move || {
            let mut archive = archive;
            archive.rewind().map_err(unreadable)?;
            unpack(std::io::BufReader::new(archive), bodies)
        })
        .await
        .map_err(|e| MailchimpError::Decode(format!("batch results: {e}")))?
    }

    async fn download(&self, url: &str) -> (Outcome, Result<std::fs::File, MailchimpError>) {
        let broken = |e: reqwest::Error| match e.is_timeout() {
            true => (Outcome::Timeout, Err(MailchimpError::Timeout)),
            false => (
                Outcome::ConnectError,
                Err(MailchimpError::Connect(e.without_url().to_string())),
            ),
        };
        match self.http.get(url).send().await {
            Ok(mut r) if r.status().is_success() => {
                let mut file = match tempfile::tempfile() {
                    Ok(f) => f,
                    Err(e) => return (Outcome::Status(200), Err(unreadable(e))),
                };
                loop {
                    match r.chunk().await {
                        Ok(Some(chunk)) => {
                            if let Err(e) = file.write_all(&chunk) {
                                return (Outcome::Status(200), Err(unreadable(e)));
                            }
                        }
                        Ok(None) => return (Outcome::Status(200), Ok(file)),
                        Err(e) => return broken(e),
                    }
                }
            }
            Ok(r) => {
                let status = r.status().as_u16();
                (
                    Outcome::Status(status),
                    Err(MailchimpError::Decode(format!(
                        "batch results: HTTP {status}"
                    ))),
                )
            }
            Err(e) => broken(e),
        }
    }
}

/// Which answers of a batch's results keep their body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodies {
    /// Every answer (a successful one echoes the resource).
    All,
    /// Only those of operations that failed: what settling a batch reads.
    Failed,
}

fn unreadable(e: std::io::Error) -> MailchimpError {
    MailchimpError::Decode(format!("batch results archive: {e}"))
}

/// The largest results file read (Mailchimp writes 500 results a file).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most results one archive may hold: ten times the operations of our largest batch
/// (1,000). More is not an answer to anything we sent.
pub const MAX_RESULTS: usize = 10_000;

/// Every JSON file of the gzipped tar, each an array of results, one file at a time; an
/// archive with a file over [`MAX_FILE_BYTES`] or more than [`MAX_RESULTS`] results is refused.
pub fn unpack(archive: impl Read, bodies: Bodies) -> Result<Vec<OperationResult>, MailchimpError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut results = Vec::new();
    for entry in tar.entries().map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let is_json = entry
            .path()
            .map_err(unreadable)?
            .extension()
            .is_some_and(|e| e == "json");
        if !is_json {
            continue;
        }
        let mut text = Vec::new();
        entry
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(unreadable)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(MailchimpError::Decode(format!(
                "batch results file over {} MiB",
                MAX_FILE_BYTES >> 20
            )));
        }
        let part: Vec<OperationResult> = serde_json::from_slice(&text)
            .map_err(|e| MailchimpError::Decode(format!("batch results file: {e}")))?;
        results.extend(part.into_iter().map(|mut r| {
            if bodies == Bodies::Failed && (200..300).contains(&r.status_code) {
                r.response = String::new();
            }
            r
        }));
        if results.len() > MAX_RESULTS {
            return Err(MailchimpError::Decode(format!(
                "batch results: more than {MAX_RESULTS}"
            )));
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzipped tar of one JSON file of `n` accepted results.
    fn archive(n: usize) -> Vec<u8> {
        let results: Vec<_> = (0..n)
            .map(|i| serde_json::json!({"status_code": 200, "operation_id": i.to_string(), "response": "{}"}))
            .collect();
        let data = serde_json::to_vec(&results).unwrap();
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "b/0.json", data.as_slice())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn an_archive_with_more_results_than_any_batch_of_ours_is_refused() {
        let ok = unpack(archive(MAX_RESULTS).as_slice(), Bodies::Failed).unwrap();
        assert_eq!(ok.len(), MAX_RESULTS);
        assert!(
            ok.iter().all(|r| r.response.is_empty()),
            "accepted: no body kept"
        );
        let err = unpack(archive(MAX_RESULTS + 1).as_slice(), Bodies::Failed).unwrap_err();
        assert!(err.to_string().contains("more than 10000"), "{err}");
    }
}
