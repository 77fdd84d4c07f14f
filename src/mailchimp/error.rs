//! Mailchimp's errors: `application/problem+json` documents, and failures to get one at all.

use std::fmt;

use serde::Deserialize;

/// One entry of a 400 "Invalid Resource" problem's `errors` array (absent from the spec schema,
/// present in real answers).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct FieldError {
    #[serde(default)]
    /// The field Mailchimp refused.
    pub field: String,
    #[serde(default)]
    /// Why.
    pub message: String,
}

/// An error document as Mailchimp sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Problem {
    #[serde(default)]
    /// The HTTP status.
    pub status: u16,
    #[serde(default, rename = "type")]
    /// A URL naming the kind of error.
    pub kind: String,
    #[serde(default)]
    /// A short title, such as "Invalid Resource".
    pub title: String,
    #[serde(default)]
    /// What went wrong, in Mailchimp's words.
    pub detail: String,
    #[serde(default)]
    /// Mailchimp's id for this occurrence, for its support.
    pub instance: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Field errors, on a 400.
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The per-field errors as "field: message", for listing beside the record.
    pub fn field_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    /// Builds the problem for a non-2xx answer; a body that is not a problem document (Mailchimp
    /// sometimes sends a bare 403 under heavy load) keeps the HTTP status and a short excerpt.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Problem>(body) {
            Ok(mut p) => {
                p.status = status;
                p
            }
            Err(_) => Problem {
                status,
                kind: String::new(),
                title: http_reason(status).to_owned(),
                detail: String::from_utf8_lossy(&body[..body.len().min(200)])
                    .trim()
                    .to_owned(),
                instance: String::new(),
                errors: Vec::new(),
            },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        for e in &self.errors {
            write!(f, "; {}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
/// Why a request to Mailchimp did not succeed.
pub enum MailchimpError {
    /// Mailchimp answered with an error status.
    #[error("Mailchimp answered {0}")]
    Api(Box<Problem>),
    /// No answer within the request timeout.
    #[error("Mailchimp did not answer in time")]
    Timeout,
    /// Could not connect: the request never reached Mailchimp.
    #[error("cannot reach Mailchimp: {0}")]
    Connect(String),
    /// The connection broke after the request was sent: Mailchimp may have carried it out.
    #[error("the connection to Mailchimp broke: {0}")]
    Interrupted(String),
    /// A 2xx answer whose body is not what the API documents.
    #[error("unexpected answer from Mailchimp: {0}")]
    Decode(String),
}

/// What an error means for the caller, from Mailchimp's status and, where the status alone
/// does not tell, its error text: the only place that reads Mailchimp's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A create of what Mailchimp has already (400 "... already exists").
    AlreadyExists,
    /// A change Mailchimp does not allow, such as a customer's email (400 "may not be changed").
    ImmutableField,
    /// 404: the record (or its store) is not there.
    NotFound,
    /// 429, or a 403 that is Mailchimp shedding load.
    RateLimited,
    /// 401 or 403: the key is refused.
    AuthFailed,
    /// Any other 4xx: Mailchimp refuses this request's content.
    Refused,
    /// 5xx, no answer, no connection.
    Unavailable,
    /// A 2xx answer that is not what the API documents.
    Unexpected,
}

impl ErrorKind {
    /// Mailchimp refused the request itself (not the key, not for load): the record is parked,
    /// and the rest goes on.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::AlreadyExists | Self::ImmutableField | Self::NotFound | Self::Refused
        )
    }
}

impl Problem {
    /// What the error means for the caller (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self.status {
            400 if self.detail.contains("already exists") => ErrorKind::AlreadyExists,
            400 if self.detail.contains("may not be changed") => ErrorKind::ImmutableField,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited,
            403 if throttling_text(&self.title, &self.detail) => ErrorKind::RateLimited,
            401 | 403 => ErrorKind::AuthFailed,
            400..=499 => ErrorKind::Refused,
            _ => ErrorKind::Unavailable,
        }
    }
}

impl MailchimpError {
    /// What the error means for the caller (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Api(p) => p.kind(),
            Self::Timeout | Self::Interrupted(_) | Self::Connect(_) => ErrorKind::Unavailable,
            Self::Decode(_) => ErrorKind::Unexpected,
        }
    }

    /// The HTTP status, when Mailchimp answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(p) => Some(p.status),
            _ => None,
        }
    }

    /// Whether Mailchimp may have carried out the request anyway (see
    /// [`Outcome::ambiguous`](super::retry::Outcome::ambiguous)).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Api(p) => (500..=599).contains(&p.status),
            Self::Timeout | Self::Interrupted(_) => true,
            Self::Connect(_) | Self::Decode(_) => false,
        }
    }

    /// A failure on Mailchimp's side or on the way there (5xx, no answer, no connection), as
    /// opposed to an answer about the request or the key.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Api(p) => (500..=599).contains(&p.status),
            Self::Timeout | Self::Interrupted(_) | Self::Connect(_) => true,
            Self::Decode(_) => false,
        }
    }
}

/// A 403 that is Mailchimp shedding load rather than refusing the key: no problem document
/// (the bare 403 of API-NOTES.md), or one that speaks of simultaneous connections.
pub fn is_throttling_403(status: u16, body: &[u8]) -> bool {
    if status != 403 {
        return false;
    }
    match serde_json::from_slice::<Problem>(body) {
        Ok(p) => throttling_text(&p.title, &p.detail),
        Err(_) => true,
    }
}

fn throttling_text(title: &str, detail: &str) -> bool {
    let text = format!("{title} {detail}").to_lowercase();
    text.contains("simultaneous connections") || text.contains("too many")
}

fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Resource Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_problem_documents_with_field_errors() {
        let body = br#"{"type":"https://mailchimp.com/developer/marketing/docs/errors/","title":"Invalid Resource","status":400,"detail":"The resource submitted could not be validated.","instance":"abc","errors":[{"field":"email_address","message":"This value should be a valid email."}]}"#;
        let p = Problem::from_response(400, body);
        assert_eq!(p.title, "Invalid Resource");
        assert_eq!(p.errors[0].field, "email_address");
    }

    #[test]
    fn a_403_under_load_is_told_from_a_refused_key() {
        let disabled =
            br#"{"status":403,"title":"User Disabled","detail":"This account has been disabled."}"#;
        let busy = br#"{"status":403,"title":"Forbidden","detail":"You have exceeded the limit of 10 simultaneous connections."}"#;
        assert!(!is_throttling_403(403, disabled));
        assert!(is_throttling_403(403, busy));
        assert!(is_throttling_403(403, b"<html>Forbidden</html>"));
        assert!(is_throttling_403(403, b""));
        assert!(!is_throttling_403(429, b""));
    }

    #[test]
    fn errors_are_classified_by_status_and_wording() {
        let kind = |status, detail: &str| {
            let body = format!(r#"{{"status":{status},"title":"t","detail":"{detail}"}}"#);
            Problem::from_response(status, body.as_bytes()).kind()
        };
        let table = [
            (
                400,
                "A product with the provided ID already exists",
                ErrorKind::AlreadyExists,
            ),
            (
                400,
                "An email address may not be changed",
                ErrorKind::ImmutableField,
            ),
            (
                400,
                "The resource submitted could not be validated.",
                ErrorKind::Refused,
            ),
            (
                404,
                "The requested resource could not be found.",
                ErrorKind::NotFound,
            ),
            (405, "Method not allowed", ErrorKind::Refused),
            (429, "Too many requests", ErrorKind::RateLimited),
            (
                403,
                "You have exceeded the limit of 10 simultaneous connections.",
                ErrorKind::RateLimited,
            ),
            (
                403,
                "This account has been disabled.",
                ErrorKind::AuthFailed,
            ),
            (401, "Your API key may be invalid", ErrorKind::AuthFailed),
            (
                500,
                "An unexpected internal error has occurred.",
                ErrorKind::Unavailable,
            ),
            (503, "", ErrorKind::Unavailable),
        ];
        for (status, detail, expected) in table {
            assert_eq!(kind(status, detail), expected, "{status} {detail}");
        }
        assert_eq!(MailchimpError::Timeout.kind(), ErrorKind::Unavailable);
        assert_eq!(
            MailchimpError::Decode(String::new()).kind(),
            ErrorKind::Unexpected
        );
        assert!(ErrorKind::NotFound.is_refusal() && !ErrorKind::AuthFailed.is_refusal());
    }

    #[test]
    fn keeps_the_status_of_a_bare_error_body() {
        let p = Problem::from_response(403, b"<html>Forbidden</html>");
        assert_eq!(p.status, 403);
        assert_eq!(p.title, "Forbidden");
    }
}
