//! `mcsync serve`: gRPC and gRPC-Web on one port, health and reflection, Prometheus'
//! `GET /metrics`, the bearer-token check, and an orderly shutdown that flushes sled.

mod auth;
mod convert;
mod http;
mod incoming;
pub mod json_feed;
mod lines;
mod lists;
mod member_events;
mod plain;
mod records;
mod settings;
pub mod status;
mod subscriptions;
mod sync;
mod tls;
mod webhook;

pub use tls::TlsFiles;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;

use crate::app::App;
use crate::mailchimp::{Mailchimp, MailchimpConfig};
use crate::proto::v1::list_service_server::ListServiceServer;
use crate::proto::v1::member_events_service_server::MemberEventsServiceServer;
use crate::proto::v1::settings_service_server::SettingsServiceServer;
use crate::proto::v1::store_data_service_server::StoreDataServiceServer;
use crate::proto::v1::subscription_service_server::SubscriptionServiceServer;
use crate::proto::v1::sync_service_server::SyncServiceServer;
use crate::store::Store;
use auth::BearerAuth;

#[derive(Debug, Clone)]
/// What `mcsync serve` runs with.
pub struct ServerConfig {
    /// The address to listen on (gRPC, gRPC-Web, health and reflection on one port).
    pub listen: SocketAddr,
    /// Where sled keeps mcsync's state.
    pub data_dir: PathBuf,
    /// Required unless `listen` is a loopback address.
    pub token: Option<String>,
    /// How Mailchimp is reached.
    pub mailchimp: MailchimpConfig,
    /// Divides the periods of background timers; 1 outside tests.
    pub time_scale: u32,
    /// Bounds on what one client can make the server hold.
    pub limits: Limits,
    /// Serve over TLS with this identity.
    pub tls: Option<TlsFiles>,
    /// Allow a non-loopback address without TLS.
    pub insecure_plaintext: bool,
    /// The public base URL Mailchimp's webhooks reach this server at, when the setting is
    /// empty ("" for none).
    pub webhook_base_url: String,
    /// A second address serving only `grpc.health.v1` and `GET /metrics`, in plaintext and
    /// without the token: for what inside a cluster speaks neither TLS nor per-shop tokens
    /// (Kubernetes' native gRPC probes, one Prometheus job for every shop). Health says only
    /// SERVING or NOT_SERVING and metrics hold counts, no shop data; every other service (and
    /// Mailchimp's webhooks) stays on `listen`, with its TLS and token.
    pub health_listen: Option<SocketAddr>,
}

/// Bounds on what one client can make the server hold; each is a `serve` flag.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message decoded (one record, one request), in bytes. A record is at most a few
    /// hundred KB even with a long description; a bigger message is refused before it is
    /// decoded into memory.
    pub max_message_bytes: usize,
    /// Connections open at once; the next waits in the listen backlog until one closes.
    pub max_connections: usize,
    /// Calls open at once on one HTTP/2 connection.
    pub max_streams_per_connection: u32,
    /// Requests handled at once per connection; the rest wait.
    pub concurrency_per_connection: usize,
    /// HTTP/2 ping interval; a connection whose ping goes unanswered for as long is closed.
    pub keepalive: std::time::Duration,
    /// A PushRecords stream that sends nothing for this long is ended (what it sent is kept).
    pub stream_idle: std::time::Duration,
    /// How long a shutdown waits for running calls and open connections: a client holding a
    /// call open must not keep the process alive.
    pub shutdown_grace: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 1024 * 1024,
            max_connections: 256,
            max_streams_per_connection: 64,
            concurrency_per_connection: 64,
            keepalive: std::time::Duration::from_secs(30),
            stream_idle: std::time::Duration::from_secs(60),
            shutdown_grace: std::time::Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why the server did not start.
pub enum StartError {
    #[error(
        "refusing to listen on non-loopback address {0} without a token (set --token or MCSYNC_TOKEN)"
    )]
    /// A public address without a token.
    TokenRequired(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    /// The address cannot be listened on.
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    #[error("cannot open the data dir: {0}")]
    /// The data dir cannot be opened (or another process holds it).
    Store(#[from] crate::store::StoreError),
    #[error("cannot set up: {0}")]
    /// Anything else in the set-up.
    Setup(String),
    /// A public address without TLS, and no `--insecure-plaintext`.
    #[error(
        "refusing to serve non-loopback address {0} without TLS (give --tls-cert and --tls-key, or --insecure-plaintext behind a TLS proxy)"
    )]
    TlsRequired(SocketAddr),
    /// The certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A running server. [`ServerHandle::shutdown`] stops it cleanly.
pub struct ServerHandle {
    /// Where it listens (the port is chosen when 0 was asked).
    pub addr: SocketAddr,
    /// The use-cases, for in-process callers (the demo, tests).
    pub app: Arc<App>,
    /// Where the health-only listener listens, when one was asked for.
    pub health_addr: Option<SocketAddr>,
    /// Stops the health-only listener.
    health_stop: Option<oneshot::Sender<()>>,
    stop: Option<oneshot::Sender<()>>,
    grace: std::time::Duration,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ServerHandle {
    /// Stops accepting calls and lets running ones finish (for at most
    /// [`Limits::shutdown_grace`]), then stops background work
    /// cooperatively and flushes sled. Nothing is aborted: a call still open after that is left
    /// to end with the process (its writes answer "not saved").
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let drained = self.drain().await;
        if !drained {
            tracing::warn!(grace = ?self.grace, "calls still open after the grace period; stopping background work under them");
        }
        self.app.close().await;
        // Probes see the server until its work is stopped.
        if let Some(stop) = self.health_stop.take() {
            let _ = stop.send(());
        }
        // Closing ends what followed background work (job progress streams).
        if !drained && !self.drain().await {
            tracing::warn!("a client still holds a call open; it ends with the process");
        }
        tracing::info!("mcsync stopped");
    }

    /// Waits up to [`Limits::shutdown_grace`] for the server to finish its calls; whether it did.
    async fn drain(&mut self) -> bool {
        match tokio::time::timeout(self.grace, &mut self.server).await {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(e))) => {
                tracing::error!(error = %e, "gRPC server failed");
                true
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "gRPC server task failed");
                true
            }
            Err(_) => false,
        }
    }
}

/// The span every call runs in: its method, its peer and, when the client said, its request
/// size; so that every log line of a call says which call it was.
fn rpc_span(req: &tonic::codegen::http::Request<()>) -> tracing::Span {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let ext = req.extensions();
    let peer = ext
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|tls| tls.get_ref().remote_addr())
        });
    let bytes = req
        .headers()
        .get(tonic::codegen::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    tracing::info_span!(
        "rpc",
        method = %req.uri().path(),
        peer = ?peer,
        request_bytes = bytes,
    )
}

/// Sets every service's health, and the server's overall (`""`), to SERVING or NOT_SERVING.
async fn report_health(health: &tonic_health::server::HealthReporter, serving: bool) {
    use tonic::server::NamedService;
    use tonic_health::ServingStatus;
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for name in [
        "",
        <SettingsServiceServer<settings::Settings> as NamedService>::NAME,
        <ListServiceServer<lists::Lists> as NamedService>::NAME,
        <StoreDataServiceServer<records::Records> as NamedService>::NAME,
        <SyncServiceServer<sync::Sync> as NamedService>::NAME,
        <SubscriptionServiceServer<subscriptions::Subscriptions> as NamedService>::NAME,
        <MemberEventsServiceServer<member_events::MemberEvents> as NamedService>::NAME,
    ] {
        health.set_service_status(name, status).await;
    }
}

/// The health-only listener: `grpc.health.v1` and `GET /metrics`, plaintext, no token (see
/// [`ServerConfig::health_listen`]). Returns where it listens and what stops it.
async fn serve_health<S>(
    at: SocketAddr,
    service: S,
    app: Arc<App>,
) -> Result<(SocketAddr, oneshot::Sender<()>), StartError>
where
    S: tower_service::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind(at)
        .await
        .map_err(|source| StartError::Bind { addr: at, source })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let router = Server::builder()
        .accept_http1(true)
        .layer(http::HttpEndpointsLayer {
            app,
            auth: BearerAuth::new(None),
            webhooks: false,
            json_feed: None,
        })
        .add_service(service);
    tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));
    tracing::info!(%addr, "health listening (grpc.health.v1 and GET /metrics, plaintext, no token)");
    Ok((addr, stop))
}

/// Binds `config.listen` and starts serving.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, StartError> {
    let public = !config.listen.ip().is_loopback();
    if public && config.token.is_none() {
        return Err(StartError::TokenRequired(config.listen));
    }
    if public && config.tls.is_none() {
        if !config.insecure_plaintext {
            return Err(StartError::TlsRequired(config.listen));
        }
        tracing::warn!(addr = %config.listen, "INSECURE: serving a public address without TLS (--insecure-plaintext); the token and the shop's data cross the network in the clear");
    }
    if config.token.is_none() {
        tracing::warn!(
            "no token set: every local process can call mcsync (use --token in production)"
        );
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    start_on(config, listener).await
}

/// Starts serving on a listener already bound (tests bind port 0 themselves).
pub async fn start_on(
    config: ServerConfig,
    listener: TcpListener,
) -> Result<ServerHandle, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let store = Store::open(&config.data_dir)?;
    if let Some(upgrade) = store.upgraded() {
        tracing::info!(data_dir = %config.data_dir.display(), "{upgrade}");
    }
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let mailchimp = Mailchimp::new(config.mailchimp.clone(), metrics.clone())
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let options = crate::app::AppOptions {
        webhook_base_url: config.webhook_base_url.clone(),
    };
    let app = App::new(store, mailchimp, options).map_err(|e| StartError::Setup(e.to_string()))?;

    let (health, health_service) = tonic_health::server::health_reporter();
    report_health(&health, true).await;
    let (health_addr, health_stop) = match config.health_listen {
        Some(at) => {
            let (addr, stop) = serve_health(at, health_service.clone(), app.clone()).await?;
            (Some(addr), Some(stop))
        }
        None => (None, None),
    };
    // NOT_SERVING while the store cannot write (every service writes or reads through it),
    // SERVING again once a write succeeds; ends with the app.
    let mut store_health = app.store_health();
    tokio::spawn(async move {
        loop {
            let failing = store_health.borrow_and_update().is_some();
            report_health(&health, !failing).await;
            if store_health.changed().await.is_err() {
                return;
            }
        }
    });
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| StartError::Setup(e.to_string()))?;

    let auth = BearerAuth::new(config.token.as_deref());
    let limits = config.limits;
    let max = limits.max_message_bytes;
    let router = Server::builder()
        .trace_fn(rpc_span)
        .accept_http1(true)
        .max_concurrent_streams(Some(limits.max_streams_per_connection))
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .http2_keepalive_interval(Some(limits.keepalive))
        .http2_keepalive_timeout(Some(limits.keepalive))
        .layer(http::HttpEndpointsLayer {
            app: app.clone(),
            auth: auth.clone(),
            webhooks: true,
            json_feed: Some(json_feed::Limits {
                max_line: limits.max_message_bytes,
                idle: limits.stream_idle,
            }),
        })
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(http::GrpcCountLayer(metrics.grpc_requests.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(InterceptedService::new(
            SettingsServiceServer::new(settings::Settings(app.clone()))
                .max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            ListServiceServer::new(lists::Lists(app.clone())).max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            StoreDataServiceServer::new(records::Records(app.clone(), limits.stream_idle))
                .max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            SyncServiceServer::new(sync::Sync(app.clone())).max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            SubscriptionServiceServer::new(subscriptions::Subscriptions(app.clone()))
                .max_decoding_message_size(max),
            auth.clone(),
        ))
        .add_service(InterceptedService::new(
            MemberEventsServiceServer::new(member_events::MemberEvents(app.clone()))
                .max_decoding_message_size(max),
            auth,
        ));

    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    let max = limits.max_connections;
    let server = match &config.tls {
        Some(files) => {
            let acceptor = tls::acceptor(files).map_err(StartError::Tls)?;
            let incoming = incoming::incoming(listener, max, move |tcp| {
                tls::handshake(acceptor.clone(), tcp)
            });
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped))
        }
        None => {
            let incoming = incoming::incoming(listener, max, |tcp| async { Some(tcp) });
            tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped))
        }
    };
    app.start_background(config.time_scale).await;
    let tls = config.tls.is_some();
    tracing::info!(%addr, tls, "mcsync listening (gRPC, gRPC-Web and GET /metrics)");
    Ok(ServerHandle {
        addr,
        app,
        health_addr,
        health_stop,
        stop: Some(stop),
        grace: limits.shutdown_grace,
        server,
    })
}
