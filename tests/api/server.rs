//! The server as operators and other clients meet it: the token, health, reflection through the
//! real grpcurl, gRPC-Web over HTTP/1.1, the binary's logs and its shutdown.

use crate::common;

use std::process::Command;

use common::*;
use mcsync::proto::v1::{self as pb, GetSettingsRequest};
use prost::Message;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::test]
async fn a_missing_or_wrong_token_is_unauthenticated() {
    let app = spawn_app().await;
    let err = app
        .settings_with_token(None)
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = app
        .settings_with_token(Some("wrong"))
        .get_settings(GetSettingsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let lists = mcsync::proto::v1::list_service_client::ListServiceClient::new(app.channel.clone());
    let err = lists
        .clone()
        .list_lists(pb::ListListsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    app.stop().await;
}

#[tokio::test]
async fn health_answers_serving_without_a_token() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in ["", "mcsync.v1.SettingsService", "mcsync.v1.ListService"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_server_refuses_a_public_address_without_a_token() {
    let config = mcsync::server::ServerConfig {
        health_listen: None,
        listen: "0.0.0.0:0".parse().unwrap(),
        data_dir: tempfile::tempdir().unwrap().path().join("d"),
        token: None,
        mailchimp: Default::default(),
        time_scale: 1,
        limits: Default::default(),
        tls: None,
        insecure_plaintext: false,
        webhook_base_url: String::new(),
    };
    let err = mcsync::server::start(config).await.err().expect("refused");
    assert!(err.to_string().contains("without a token"), "{err}");
}

fn run(mut cmd: Command) -> String {
    let out = cmd
        .output()
        .expect("grpcurl runs (scripts/test.sh installs it; or set GRPCURL)");
    let text = text_of(&out);
    assert!(out.status.success(), "grpcurl failed: {text}");
    text
}

#[tokio::test]
async fn grpcurl_lists_describes_and_calls_every_service_through_reflection() {
    let app = spawn_app().await;
    let addr = app.addr().to_string();
    let listed = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            let mut c = grpcurl();
            c.args([&addr, "list"]);
            run(c)
        }
    })
    .await
    .unwrap();
    for service in [
        "mcsync.v1.SettingsService",
        "mcsync.v1.ListService",
        "mcsync.v1.StoreDataService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            listed.lines().any(|l| l.trim() == service),
            "{service} missing from:\n{listed}"
        );
    }

    let (described, connected, health) = tokio::task::spawn_blocking(move || {
        let mut c = grpcurl();
        c.args([&addr, "describe", "mcsync.v1.SettingsService"]);
        let described = run(c);
        let mut c = grpcurl();
        c.args([
            "-H",
            &format!("authorization: Bearer {TOKEN}"),
            "-d",
            &format!(r#"{{"api_key":"{KEY_A}"}}"#),
        ]);
        c.args([&addr, "mcsync.v1.SettingsService/Connect"]);
        let connected = run(c);
        let mut c = grpcurl();
        c.args([&addr, "grpc.health.v1.Health/Check"]);
        (described, connected, run(c))
    })
    .await
    .unwrap();
    assert!(
        described.contains("Reset Mailchimp connection"),
        "proto comments are served:\n{described}"
    );
    assert!(described.contains("rpc Connect"), "{described}");
    assert!(
        connected.contains("cdef-us6") && !connected.contains(&KEY_A[..28]),
        "{connected}"
    );
    assert!(health.contains("SERVING"), "{health}");

    // The README's recipe: push the example records with `-d @`.
    let addr = app.addr().to_string();
    let pushed = tokio::task::spawn_blocking(move || {
        let mut c = grpcurl();
        c.args([
            "-H",
            &format!("authorization: Bearer {TOKEN}"),
            "-d",
            "@",
            &addr,
            "mcsync.v1.StoreDataService/PushRecords",
        ]);
        c.stdin(
            std::fs::File::open(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/records.json"
            ))
            .unwrap(),
        );
        run(c)
    })
    .await
    .unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&pushed).unwrap_or_else(|e| panic!("{e}: {pushed}"));
    assert_eq!(summary["accepted"], "5", "{pushed}");
    assert_eq!(summary["rejected"], "1", "{pushed}");
    assert_eq!(summary["rejections"][0]["index"], "5", "{pushed}");
    assert_eq!(
        summary["notFound"][0]["id"], "cart-that-never-was",
        "{pushed}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_call_over_grpc_web_on_http1() {
    let app = spawn_app().await;
    app.connect(KEY_A).await;
    mcsync::mailchimp::install_crypto_provider();
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let url = format!(
        "http://{}/mcsync.v1.SettingsService/GetSettings",
        app.addr()
    );
    let frame = |msg: &[u8]| {
        let mut f = vec![0u8];
        f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        f.extend_from_slice(msg);
        f
    };
    let response = http
        .post(&url)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(frame(&GetSettingsRequest {}.encode_to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let body = response.bytes().await.unwrap();
    // First frame: the message; then the trailer frame (flag 0x80) with grpc-status.
    assert_eq!(body[0], 0);
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let settings = pb::Settings::decode(&body[5..5 + len]).unwrap();
    assert_eq!(
        settings.connection.unwrap().account_id,
        app.sim.account_id(KEY_A).unwrap()
    );
    let trailer = &body[5 + len..];
    assert_eq!(trailer[0], 0x80);
    assert!(String::from_utf8_lossy(&trailer[5..]).contains("grpc-status:0"));
    let metrics = app.metrics().await;
    let series =
        "mcsync_grpc_requests_total{code=\"Ok\",method=\"/mcsync.v1.SettingsService/GetSettings\"}";
    assert_eq!(
        sample(&metrics, series),
        Some(1.0),
        "gRPC-Web calls are counted:\n{metrics}"
    );

    // Without the token: an error status, still over HTTP/1.1.
    let response = http
        .post(&url)
        .header("content-type", "application/grpc-web+proto")
        .body(frame(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "16");
    app.stop().await;
}

/// Runs the real binary with every log level on, drives it through connect, a rejected key and
/// a refresh, stops it with SIGTERM, and reads what it logged.
#[tokio::test]
async fn the_binary_never_logs_the_api_key_and_shuts_down_cleanly_on_sigterm() {
    let sim = start_sim(sim_config(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let ServerProcess {
        mut child,
        addr,
        lines,
        reader,
    } = start_binary(dir.path(), &sim.base_url(), "trace");
    let channel = channel(addr).await;
    let mut settings =
        mcsync::proto::v1::settings_service_client::SettingsServiceClient::with_interceptor(
            channel.clone(),
            Bearer(Some(TOKEN.into())),
        );
    let mut lists = mcsync::proto::v1::list_service_client::ListServiceClient::with_interceptor(
        channel,
        Bearer(Some(TOKEN.into())),
    );
    settings
        .connect(pb::ConnectRequest {
            api_key: KEY_UNKNOWN.into(),
        })
        .await
        .unwrap_err();
    settings
        .connect(pb::ConnectRequest {
            api_key: KEY_A.into(),
        })
        .await
        .unwrap();
    lists
        .refresh_lists(pb::RefreshListsRequest {})
        .await
        .unwrap();
    settings.get_settings(GetSettingsRequest {}).await.unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Wait off the runtime, so that the client's connection can answer the server's GOAWAY.
    let exit = tokio::task::spawn_blocking(move || {
        let exit = child.wait().unwrap();
        reader.join().unwrap();
        exit
    })
    .await
    .unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit:?}");
    drop((settings, lists));

    let logs = lines.lock().unwrap().join("\n");
    assert!(logs.len() > 1000, "trace logging produced output");
    assert!(logs.contains("connected to Mailchimp"));
    assert!(logs.contains("mcsync stopped"), "shutdown ran to the end");
    for secret in [&KEY_A[..32], &KEY_UNKNOWN[..32]] {
        assert!(!logs.contains(secret), "a key leaked into the logs");
    }
    sim.shutdown().await;

    // The state written before SIGTERM is there for the next start.
    let store = mcsync::store::Store::open(dir.path()).unwrap();
    assert!(store.settings().unwrap().connection.is_some());
}

/// A client that holds a call open (a PushRecords stream that stops sending) cannot keep the
/// process alive: SIGTERM ends it within the grace set by `--shutdown-grace-secs`, cleanly,
/// and the held call is never acknowledged.
#[tokio::test]
async fn a_call_held_open_delays_shutdown_only_for_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    cmd.env("MCSYNC_TOKEN", TOKEN);
    let ServerProcess {
        mut child,
        addr,
        lines,
        reader,
    } = start_command(
        cmd,
        &["--shutdown-grace-secs".as_ref(), "1".as_ref()],
        dir.path(),
        "http://127.0.0.1:9/3.0",
        "info",
    );
    let remote = Remote::new(addr).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(mcsync::testdata::mixed(3)).await.unwrap();
    let mut records = remote.records();
    let held = tokio::spawn(async move {
        records
            .push_records(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    // Time for the call to reach the server; were it not there yet, shutdown would not wait
    // for it and the log line asserted below would be missing.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let asked = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let exit = child.wait().unwrap();
        reader.join().unwrap();
        exit
    })
    .await
    .unwrap();
    let took = asked.elapsed();
    assert!(exit.success(), "{exit:?}");
    // Two grace periods at most (before and after background work stops), with room for a
    // slow machine; the default is 5 s each.
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    let logs = lines.lock().unwrap().join("\n");
    assert!(
        logs.contains("calls still open after the grace period"),
        "{logs}"
    );
    let answer = held.await.unwrap();
    assert!(
        answer.is_err(),
        "a call cut by shutdown is not acknowledged: {answer:?}"
    );
    drop(tx);
}
