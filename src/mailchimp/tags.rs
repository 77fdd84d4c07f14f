//! Tags are an audience's static segments (API-NOTES). mcsync finds or makes one per rule
//! (`POST /lists/{id}/segments`) and changes its members in bulk
//! (`POST /lists/{id}/segments/{segment_id}`, at most [`MAX_BULK`] emails to add and to remove
//! per request); an email the audience does not hold comes back in `errors`, never as a new
//! member.

use std::collections::HashSet;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::AccountClient;
use super::endpoint::seg;
use super::error::MailchimpError;

/// The most emails `members_to_add`, or `members_to_remove`, may carry.
pub const MAX_BULK: usize = 500;

/// What a bulk change did.
#[derive(Debug, Default)]
pub struct BulkTagged {
    /// Emails (lower-cased) Mailchimp reported as not in the audience.
    pub not_members: HashSet<String>,
}

#[derive(Deserialize)]
struct Segment {
    id: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BulkAnswer {
    errors: Vec<BulkError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BulkError {
    email_addresses: Vec<String>,
}

impl AccountClient {
    /// The id of the audience's tag named `name`, made if it does not exist yet.
    pub async fn tag_segment(&self, list_id: &str, name: &str) -> Result<i64, MailchimpError> {
        let existing = self.segments(list_id).await?;
        if let Some(s) = existing
            .iter()
            .find(|s| s.kind == "static" && s.name == name)
        {
            return Ok(s.id);
        }
        let path = format!("/lists/{}/segments", seg(list_id));
        let body = json!({"name": name, "static_segment": []});
        let bytes = self.create(&path, &body).await?;
        let made: Segment = serde_json::from_slice(&bytes)
            .map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))?;
        Ok(made.id)
    }

    /// Adds and removes members of a tag, at most [`MAX_BULK`] of each.
    pub async fn bulk_tag(
        &self,
        list_id: &str,
        segment_id: i64,
        add: &[&str],
        remove: &[&str],
    ) -> Result<BulkTagged, MailchimpError> {
        debug_assert!(add.len() <= MAX_BULK && remove.len() <= MAX_BULK);
        let path = format!("/lists/{}/segments/{segment_id}", seg(list_id));
        let body = json!({"members_to_add": add, "members_to_remove": remove});
        // Answered with every member added or removed in full (the operation takes no
        // `fields`): only the errors are read.
        let bytes = self.send(Method::POST, &path, &[], Some(&body)).await?;
        let answer: BulkAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| MailchimpError::Decode(format!("{path}: {e}")))?;
        Ok(BulkTagged {
            not_members: answer
                .errors
                .into_iter()
                .flat_map(|e| e.email_addresses)
                .map(|e| e.to_lowercase())
                .collect(),
        })
    }
}
