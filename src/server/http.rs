//! Plain HTTP on the gRPC port: `GET /metrics` and the JSON feed ([`super::json_feed`])
//! behind the same token, Mailchimp's webhook deliveries at `/mailchimp/webhook/<secret>`
//! ([`super::webhook`]), and the count of gRPC calls by method and status code.
//!
//! Two layers, because they sit on either side of gRPC-Web: the endpoints must see a plain
//! HTTP/1.1 request before the gRPC-Web layer refuses it, and the counter must see the gRPC
//! trailers before the gRPC-Web layer folds them into the body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use prometheus::IntCounterVec;
use tonic::body::Body;
use tonic::codegen::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use tower_layer::Layer;
use tower_service::Service;

use super::auth::BearerAuth;
use super::plain::plain;
use crate::app::App;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The path Prometheus scrapes.
pub const PATH: &str = "/metrics";

/// Answers `/metrics` and webhook deliveries; passes everything else on.
#[derive(Clone)]
pub struct HttpEndpointsLayer {
    pub app: Arc<App>,
    pub auth: BearerAuth,
    /// Whether Mailchimp's webhook deliveries are taken here (not on the health-only port).
    pub webhooks: bool,
    /// The JSON feed's bounds, where it is served (not on the health-only port).
    pub json_feed: Option<super::json_feed::Limits>,
}

impl<S> Layer<S> for HttpEndpointsLayer {
    type Service = HttpEndpoints<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpEndpoints {
            inner,
            app: self.app.clone(),
            auth: self.auth.clone(),
            webhooks: self.webhooks,
            json_feed: self.json_feed,
        }
    }
}

#[derive(Clone)]
pub struct HttpEndpoints<S> {
    inner: S,
    app: Arc<App>,
    auth: BearerAuth,
    webhooks: bool,
    json_feed: Option<super::json_feed::Limits>,
}

impl<S, B> Service<Request<Body>> for HttpEndpoints<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if let Some(secret) = req
            .uri()
            .path()
            .strip_prefix(crate::sync::webhooks::PATH)
            .filter(|_| self.webhooks)
            .map(str::to_owned)
        {
            let app = self.app.clone();
            return Box::pin(async move { Ok(super::webhook::receive(&app, &secret, req).await) });
        }
        let feed = self
            .json_feed
            .and_then(|limits| Some((limits, super::json_feed::route(req.uri().path())?)));
        if let Some((limits, route)) = feed {
            let admitted = self.auth.admits(
                req.headers()
                    .get(header::AUTHORIZATION)
                    .map(|v| v.as_bytes()),
            );
            let app = self.app.clone();
            return Box::pin(async move {
                Ok(super::json_feed::handle(app, limits, route, admitted, req).await)
            });
        }
        if req.uri().path() != PATH {
            let call = self.inner.call(req);
            return Box::pin(async move { call.await.map(|r| r.map(Body::new)) });
        }
        let admitted = self.auth.admits(
            req.headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        );
        let app = self.app.clone();
        let method = req.method().clone();
        Box::pin(async move { Ok(scrape(&app, &method, admitted).await) })
    }
}

async fn scrape(app: &App, method: &Method, admitted: Result<(), &'static str>) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
    }
    if let Err(why) = admitted {
        let mut response = plain(StatusCode::UNAUTHORIZED, format!("{why}\n"));
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    match app.metrics_text().await {
        Ok(text) => {
            let mut response = plain(StatusCode::OK, text);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the store for /metrics");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics unavailable: the store cannot be read (see the server log)\n".into(),
            )
        }
    }
}

/// Counts every gRPC call once, by method and final status code.
#[derive(Clone)]
pub struct GrpcCountLayer(pub IntCounterVec);

impl<S> Layer<S> for GrpcCountLayer {
    type Service = GrpcCount<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcCount {
            inner,
            counter: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GrpcCount<S> {
    inner: S,
    counter: IntCounterVec,
}

impl<S, B> Service<Request<Body>> for GrpcCount<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let counter = self.counter.clone();
        let call = self.inner.call(req);
        Box::pin(async move {
            let response = call.await?;
            // A call that failed at once carries its status in the headers ("trailers-only").
            let mut count = Count {
                counter,
                method,
                code: None,
            };
            if let Some(code) = grpc_status(response.headers()) {
                count.code = Some(code);
                drop(count);
                return Ok(response.map(Body::new));
            }
            Ok(response.map(|body| Body::new(Counted { body, count })))
        })
    }
}

/// One call's count, made when its response body ends (or is dropped: a call the client
/// walked away from counts as cancelled).
struct Count {
    counter: IntCounterVec,
    method: String,
    code: Option<tonic::Code>,
}

impl Drop for Count {
    fn drop(&mut self) {
        let code = self.code.unwrap_or(tonic::Code::Cancelled);
        // Unknown paths are the client's to choose: one label for all of them keeps the
        // series few.
        let method = if code == tonic::Code::Unimplemented {
            "unknown"
        } else {
            self.method.as_str()
        };
        self.counter
            .with_label_values(&[method, &format!("{code:?}")])
            .inc();
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<tonic::Code> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(tonic::Code::from_i32(value))
}

/// A response body that notes the `grpc-status` of its trailers as they pass.
struct Counted<B> {
    body: B,
    count: Count,
}

impl<B> http_body::Body for Counted<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                self.count.code = Some(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
