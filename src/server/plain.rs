//! A plain-text HTTP answer, for the endpoints beside gRPC (`/metrics`, webhooks).

use bytes::Bytes;
use tonic::body::Body;
use tonic::codegen::http::{Response, StatusCode, header};

/// A `text/plain` answer with this status.
pub(super) fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(text))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
