//! Mailchimp's webhook deliveries: `GET` (Mailchimp checking the URL) and form-encoded `POST`s
//! to `/mailchimp/webhook/<secret>`. No bearer token (Mailchimp cannot send one): the secret
//! in the path is the check. The answer is 200 only once the event is on disk, so that
//! Mailchimp delivers again whatever mcsync did not keep.

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::body::Body;
use tonic::codegen::http::{Method, Request, Response, StatusCode};

use super::plain::plain;
use crate::app::App;
use crate::app::member_events::Received;

/// The largest delivery read; Mailchimp's are about 1 KB.
pub const MAX_BODY: usize = 64 * 1024;

/// Answers one request to the webhook path.
pub async fn receive(app: &App, secret: &str, req: Request<Body>) -> Response<Body> {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD && method != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "use POST\n".into());
    }
    let body = if method == Method::POST {
        match http_body_util::Limited::new(req.into_body(), MAX_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a delivery is at most {MAX_BODY} bytes\n"),
                );
            }
            Err(_) => return plain(StatusCode::BAD_REQUEST, "the body was cut\n".into()),
        }
    } else {
        Bytes::new()
    };
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    match app.receive_webhook(secret, &fields).await {
        Ok(Received::UnknownSecret) => plain(StatusCode::NOT_FOUND, "not found\n".into()),
        Ok(Received::Unreadable(why)) => {
            tracing::warn!(why, "an unreadable webhook delivery was refused");
            plain(StatusCode::BAD_REQUEST, format!("{why}\n"))
        }
        Ok(Received::Taken(_)) => plain(StatusCode::OK, "ok\n".into()),
        // Not stored: Mailchimp retries the delivery later.
        Err(e) => {
            tracing::error!(error = %e, "a webhook delivery could not be stored");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "not stored; deliver again later\n".into(),
            )
        }
    }
}
