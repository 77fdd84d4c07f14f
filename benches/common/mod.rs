//! What the benchmarks share: a simulator and an mcsync server in this process, a shop
//! connected, one list selected, records fed, and an upload run to its end.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use mcsync::mailchimp::MailchimpConfig;
use mcsync::proto::v1 as pb;
use mcsync::server::{self, ServerConfig};
use mcsync::sim::{self, SimConfig};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const TOKEN: &str = "bench-token";

pub fn with_token<T>(mut req: tonic::Request<T>) -> tonic::Request<T> {
    req.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req
}

pub struct Bench {
    pub sim: sim::SimHandle,
    pub server: server::ServerHandle,
    pub channel: Channel,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// A simulator with `latency` per request and 10 connections per key, and a server whose
    /// shop has `records` and one selected list.
    pub async fn start(latency: Duration, records: Vec<pb::Record>) -> Self {
        let sim = sim::start(
            SimConfig {
                latency,
                max_connections: 10,
                ..SimConfig::default()
            },
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let server = server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            token: Some(TOKEN.into()),
            mailchimp: MailchimpConfig {
                base_url: Some(sim.base_url().parse().unwrap()),
                ..MailchimpConfig::default()
            },
            time_scale: 1,
        })
        .await
        .unwrap();
        let channel = Channel::from_shared(format!("http://{}", server.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let b = Bench {
            sim,
            server,
            channel,
            _dir: dir,
        };
        b.prepare(records).await;
        b
    }

    async fn prepare(&self, records: Vec<pb::Record>) {
        use pb::list_service_client::ListServiceClient;
        use pb::settings_service_client::SettingsServiceClient;
        let mut settings = SettingsServiceClient::new(self.channel.clone());
        settings
            .connect(with_token(tonic::Request::new(pb::ConnectRequest {
                api_key: sim::DEMO_KEY.into(),
            })))
            .await
            .unwrap();
        settings
            .update_settings(with_token(tonic::Request::new(pb::UpdateSettingsRequest {
                shop: Some(pb::ShopIdentityUpdate {
                    shop_url: Some("https://bench-shop.example.com".into()),
                    company_name: Some("Bench".into()),
                    currency_code: Some("USD".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })))
            .await
            .unwrap();
        let mut lists = ListServiceClient::new(self.channel.clone());
        lists
            .refresh_lists(with_token(tonic::Request::new(pb::RefreshListsRequest {})))
            .await
            .unwrap();
        let first = self.sim.list_ids(sim::DEMO_KEY)[0].clone();
        lists
            .select_lists(with_token(tonic::Request::new(pb::SelectListsRequest {
                list_ids: vec![first],
            })))
            .await
            .unwrap();
        let n = records.len() as i64;
        let summary = self
            .records()
            .push_records(with_token(tonic::Request::new(tokio_stream::iter(records))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(summary.accepted, n, "{summary:?}");
    }

    pub fn records(&self) -> pb::store_data_service_client::StoreDataServiceClient<Channel> {
        pb::store_data_service_client::StoreDataServiceClient::new(self.channel.clone())
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// Runs an upload to its end: its last message and how long it took.
    pub async fn upload(&self, mode: pb::UploadMode) -> (pb::JobProgress, f64) {
        use pb::sync_service_client::SyncServiceClient;
        let start = Instant::now();
        let mut stream = SyncServiceClient::new(self.channel.clone())
            .upload_store_data(with_token(tonic::Request::new(pb::UploadRequest {
                mode: mode as i32,
            })))
            .await
            .unwrap()
            .into_inner();
        let mut last = None;
        while let Some(m) = stream.next().await {
            last = Some(m.unwrap());
        }
        let job = last.unwrap();
        assert_eq!(job.state(), pb::JobState::Succeeded, "{}", job.message);
        (job, start.elapsed().as_secs_f64())
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.sim.shutdown().await;
    }
}
