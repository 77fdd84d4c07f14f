//! Mailchimp's error documents, as the simulator sends them.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::mailchimp::{FieldError, Problem};

const ERROR_DOCS: &str = "https://mailchimp.com/developer/marketing/docs/errors/";

#[derive(Debug)]
pub struct SimError {
    pub problem: Box<Problem>,
}

impl SimError {
    pub fn new(status: u16, title: &str, detail: &str) -> Self {
        Self {
            problem: Box::new(Problem {
                status,
                kind: ERROR_DOCS.into(),
                title: title.into(),
                detail: detail.into(),
                instance: format!("{:x}", md5::compute(fastrand::u64(..).to_le_bytes())),
                errors: Vec::new(),
            }),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            404,
            "Resource Not Found",
            "The requested resource could not be found.",
        )
    }

    pub fn bad_request(title: &str, detail: &str) -> Self {
        Self::new(400, title, detail)
    }

    pub fn schema(field: &str, message: &str) -> Self {
        Self::invalid_resource(vec![(field, message.to_owned())])
    }

    pub fn invalid_resource(errors: Vec<(&str, String)>) -> Self {
        let mut e = Self::new(
            400,
            "Invalid Resource",
            "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        );
        e.problem.errors = errors
            .into_iter()
            .map(|(field, message)| FieldError {
                field: field.into(),
                message,
            })
            .collect();
        e
    }

    pub fn json_parse() -> Self {
        Self::new(
            400,
            "JSON Parse Error",
            "We encountered an unspecified JSON parsing error.",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        )
    }

    pub fn disabled() -> Self {
        Self::new(403, "User Disabled", "This account has been disabled.")
    }

    pub fn too_many_connections(limit: usize) -> Self {
        Self::new(
            429,
            "Too Many Requests",
            &format!("You have exceeded the limit of {limit} simultaneous connections."),
        )
    }

    pub fn rate_limited() -> Self {
        Self::too_many_connections(10)
    }

    pub fn internal() -> Self {
        Self::new(
            500,
            "Internal Server Error",
            "An unexpected internal error has occurred. Please contact Support for more information.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            503,
            "Service Unavailable",
            "This service is temporarily unavailable. Please try again later.",
        )
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        (
            status,
            [(
                header::CONTENT_TYPE,
                "application/problem+json; charset=utf-8",
            )],
            body,
        )
            .into_response()
    }
}

pub fn looks_like_email(s: &str) -> bool {
    crate::domain::validate::email(s).is_ok()
}
