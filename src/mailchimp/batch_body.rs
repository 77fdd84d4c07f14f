//! A `POST /batches` body, written to a temporary file as its operations are planned and sent
//! from there: a batch of 1,000 operations is megabytes of JSON, and neither the operations
//! nor their text are ever held in memory whole.

use std::io::{BufWriter, Seek, SeekFrom, Write};

use serde::Serialize;

use super::endpoint::Request;

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

use super::error::MailchimpError;

/// Operations being gathered into one batch.
pub struct BatchBody {
    file: BufWriter<std::fs::File>,
    operations: u64,
}

/// A finished batch body: what is sent, as often as a submission is tried.
pub struct SpooledBatch {
    file: std::fs::File,
    bytes: u64,
    operations: u64,
}

impl BatchBody {
    /// An empty body in a new temporary file (gone once dropped).
    pub fn new() -> Result<Self, MailchimpError> {
        let mut file = BufWriter::new(tempfile::tempfile().map_err(unwritable)?);
        file.write_all(b"{\"operations\":[").map_err(unwritable)?;
        Ok(Self {
            file,
            operations: 0,
        })
    }

    /// Appends one operation.
    pub fn push(&mut self, op: &BatchOperation) -> Result<(), MailchimpError> {
        if self.operations > 0 {
            self.file.write_all(b",").map_err(unwritable)?;
        }
        serde_json::to_writer(&mut self.file, op)
            .map_err(|e| MailchimpError::Decode(format!("/batches body: {e}")))?;
        self.operations += 1;
        Ok(())
    }

    /// Operations so far.
    pub fn len(&self) -> u64 {
        self.operations
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.operations == 0
    }

    /// Closes the body, ready to send.
    pub fn finish(mut self) -> Result<SpooledBatch, MailchimpError> {
        self.file.write_all(b"]}").map_err(unwritable)?;
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| unwritable(e.into_error()))?;
        let bytes = file.stream_position().map_err(unwritable)?;
        Ok(SpooledBatch {
            file,
            bytes,
            operations: self.operations,
        })
    }
}

impl SpooledBatch {
    /// Operations in the batch.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// The body for one attempt, read from the start of the file as it is sent; its length.
    pub(super) fn body(&self) -> Result<(reqwest::Body, u64), MailchimpError> {
        // The clone shares the file's position; attempts come one after the other.
        let mut file = self.file.try_clone().map_err(unwritable)?;
        file.seek(SeekFrom::Start(0)).map_err(unwritable)?;
        let file = tokio::fs::File::from_std(file);
        Ok((reqwest::Body::from(file), self.bytes))
    }
}

fn unwritable(e: std::io::Error) -> MailchimpError {
    MailchimpError::Decode(format!("/batches body on disk: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_body_on_disk_is_the_operations_document() {
        let mut body = BatchBody::new().unwrap();
        let products = super::super::Records::new("s1", super::super::Collection::Products);
        body.push(&BatchOperation::new(
            &products.upsert("p1"),
            Some(&serde_json::json!({"id": "p1", "title": "Boot"})),
            "op.0".into(),
        ))
        .unwrap();
        body.push(&BatchOperation::new(
            &products.delete("p2"),
            None,
            "op.1".into(),
        ))
        .unwrap();
        assert_eq!(body.len(), 2);
        let spooled = body.finish().unwrap();
        let mut text = String::new();
        let mut file = spooled.file.try_clone().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text.len() as u64, spooled.bytes);
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["operations"].as_array().unwrap().len(), 2);
        assert_eq!(doc["operations"][0]["operation_id"], "op.0");
        assert_eq!(
            doc["operations"][0]["body"],
            r#"{"id":"p1","title":"Boot"}"#
        );
        assert!(doc["operations"][1].get("body").is_none());
    }
}
