//! The one place where mcsync's errors become gRPC statuses. Internals (storage errors, URLs)
//! are logged, never sent.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::app::AppError;
use crate::domain::ValidationError;
use crate::mailchimp::MailchimpError;
use crate::sync::Stop;

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(errors) => invalid(&errors),
            AppError::NotConnected => Status::failed_precondition(e.to_string()),
            AppError::Mailchimp(e) => mailchimp(e),
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Status::internal("internal storage error; the server log has details")
            }
            // Already logged by the writer thread.
            AppError::Unsaved(_) => {
                Status::unavailable("storage error: the change was not saved; retry it")
            }
            AppError::NotFound(m) => Status::not_found(m.to_string()),
            AppError::Precondition(m) => Status::failed_precondition(m.to_string()),
            AppError::Stopped(stop) => stopped(stop),
        }
    }
}

/// Field errors named in `grpc-message` (a header: it must stay small), and listed in the
/// `google.rpc.BadRequest` details.
const IN_MESSAGE: usize = 5;
const IN_DETAILS: usize = 50;
const MESSAGE_BYTES: usize = 1_024;

/// INVALID_ARGUMENT naming the fields, with `google.rpc.BadRequest` field violations for
/// clients that read details; both bounded, however many errors there are.
pub fn invalid(errors: &[ValidationError]) -> Status {
    let mut message = errors
        .iter()
        .take(IN_MESSAGE)
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > IN_MESSAGE {
        message.push_str(&format!(" (and {} more)", errors.len() - IN_MESSAGE));
    }
    if message.len() > MESSAGE_BYTES {
        let mut end = MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    let mut details = ErrorDetails::new();
    for e in errors.iter().take(IN_DETAILS) {
        details.add_bad_request_violation(e.field.clone(), e.reason.clone());
    }
    if errors.len() > IN_DETAILS {
        let more = format!("and {} more errors", errors.len() - IN_DETAILS);
        details.add_bad_request_violation("(more)", more);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// Background work a call ran stopped: a Mailchimp failure keeps its own status (an outage
/// is UNAVAILABLE, a refused key UNAUTHENTICATED), with the step named.
fn stopped(stop: Stop) -> Status {
    if let Some(e) = stop.mailchimp_error() {
        let status = mailchimp(e.clone());
        return Status::new(
            status.code(),
            format!("retry stopped: {}", status.message()),
        );
    }
    match stop {
        Stop::Cancelled => Status::aborted("cancelled"),
        other => {
            tracing::error!(error = %other, "background work stopped");
            Status::internal("internal storage error; the server log has details")
        }
    }
}

fn mailchimp(e: MailchimpError) -> Status {
    match &e {
        MailchimpError::Api(p) => {
            let message = format!("Mailchimp: {p}");
            let code = match p.status {
                401 => Code::Unauthenticated,
                403 => Code::PermissionDenied,
                404 => Code::NotFound,
                429 => Code::ResourceExhausted,
                400..=499 => Code::FailedPrecondition,
                _ => Code::Unavailable,
            };
            Status::new(code, message)
        }
        MailchimpError::Timeout | MailchimpError::Connect(_) | MailchimpError::Interrupted(_) => {
            Status::unavailable(e.to_string())
        }
        MailchimpError::Decode(_) => {
            tracing::error!(error = %e, "unexpected Mailchimp answer");
            Status::internal("unexpected answer from Mailchimp; the server log has details")
        }
    }
}
