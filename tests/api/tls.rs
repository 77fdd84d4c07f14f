//! TLS on the one port: grpcurl with the CA, the operator commands over https, and a public
//! address refused without TLS.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A CA and a server certificate for 127.0.0.1 and localhost, made with openssl.
fn certificates(dir: &Path) {
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .expect("openssl runs (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout ca.key -out ca.pem -days 2 -subj '/CN=mcsync test CA'",
    );
    sh(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout server.key -out server.csr -subj '/CN=localhost'",
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out server.pem -days 2 -extfile ext.cnf",
    );
}

/// `mcsync serve` over TLS with certificates made in `dir`, the token set, and `more` flags.
fn serve_tls(dir: &Path, more: &[&str]) -> ServerProcess {
    certificates(dir);
    let mut serve = Command::new(env!("CARGO_BIN_EXE_mcsync"));
    serve.env("MCSYNC_TOKEN", TOKEN);
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    let mut extra = vec![
        std::ffi::OsStr::new("--tls-cert"),
        cert.as_os_str(),
        std::ffi::OsStr::new("--tls-key"),
        key.as_os_str(),
    ];
    extra.extend(more.iter().map(std::ffi::OsStr::new));
    start_command(
        serve,
        &extra,
        &dir.join("data"),
        "http://127.0.0.1:9/3.0",
        "info",
    )
}

fn output(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), text_of(&out))
}

#[tokio::test]
async fn grpcurl_and_the_operator_commands_speak_tls_with_the_servers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve_tls(dir.path(), &[]);
    let addr = server.addr.to_string();
    let ca = dir.path().join("ca.pem");

    let (ok, text) = tokio::task::spawn_blocking({
        let (addr, ca) = (addr.clone(), ca.clone());
        move || {
            let mut cmd = grpcurl_binary();
            cmd.arg("-cacert")
                .arg(&ca)
                .args(["-H", &format!("authorization: Bearer {TOKEN}")])
                .args([&addr, "mcsync.v1.SettingsService/GetSettings"]);
            output(cmd)
        }
    })
    .await
    .unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("ecommerceAnalytics"), "{text}");

    let (ok, text) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            let mut cmd = grpcurl();
            cmd.args([&addr, "list"]);
            output(cmd)
        }
    })
    .await
    .unwrap();
    assert!(!ok, "plaintext is not served: {text}");

    let operator = |command: &str, ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcsync"));
        cmd.args([command, "--server", &format!("https://{addr}")])
            .env("MCSYNC_TOKEN", TOKEN)
            .env_remove("MCSYNC_CA_FILE");
        if let Some(ca) = ca {
            cmd.arg("--ca-file").arg(ca);
        }
        cmd
    };
    let with_ca = operator("status", Some(&ca));
    let (ok, text) = tokio::task::spawn_blocking(move || output(with_ca))
        .await
        .unwrap();
    assert!(ok && text.contains("not connected"), "{text}");
    let without = operator("status", None);
    let (ok, text) = tokio::task::spawn_blocking(move || output(without))
        .await
        .unwrap();
    assert!(
        !ok,
        "a certificate the system does not trust is refused: {text}"
    );
    // The JSON feed's commands speak plain HTTP over the same TLS, with the same CA.
    let export = operator("export", Some(&ca));
    let (ok, text) = tokio::task::spawn_blocking(move || output(export))
        .await
        .unwrap();
    assert!(
        ok && text.is_empty(),
        "an empty mirror exports nothing: {text}"
    );
    let export = operator("export", None);
    let (ok, text) = tokio::task::spawn_blocking(move || output(export))
        .await
        .unwrap();
    assert!(!ok, "{text}");

    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test]
async fn a_public_address_without_tls_is_refused_unless_insecure_plaintext_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::spawn_blocking({
        let data = dir.path().join("data");
        move || {
            Command::new(env!("CARGO_BIN_EXE_mcsync"))
                .args(["serve", "--listen", "0.0.0.0:0", "--token", "t"])
                .arg("--data-dir")
                .arg(data)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("without TLS") && text.contains("--insecure-plaintext"),
        "{text}"
    );
}

/// Kubernetes' native gRPC probes speak neither TLS nor tokens: `--health-listen` answers
/// `grpc.health.v1` (and `GET /metrics`) alone on a plaintext port of its own, while
/// everything else stays behind TLS and the token.
#[tokio::test]
async fn a_health_only_port_answers_plaintext_probes_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve_tls(dir.path(), &["--health-listen", "127.0.0.1:0"]);
    let health_addr = {
        let lines = server.lines.lock().unwrap();
        let line = lines
            .iter()
            .find(|l| l.contains("health listening"))
            .expect("the health port is logged before the server's own line")
            .clone();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["addr"].as_str().unwrap().to_owned()
    };

    let channel = tonic::transport::Channel::from_shared(format!("http://{health_addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let answer = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("no token, no TLS")
        .into_inner();
    assert_eq!(answer.status, 1, "SERVING");
    let other = mcsync::proto::v1::settings_service_client::SettingsServiceClient::new(channel)
        .get_settings(mcsync::proto::v1::GetSettingsRequest {})
        .await
        .unwrap_err();
    assert_eq!(
        other.code(),
        tonic::Code::Unimplemented,
        "health only: {other:?}"
    );

    // Prometheus, one job for every shop: the metrics without a token; no webhook taken here.
    mcsync::mailchimp::install_crypto_provider();
    let http = reqwest::Client::new();
    let metrics = http
        .get(format!("http://{health_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("mcsync_outbox_depth")
    );
    let hook = http
        .post(format!("http://{health_addr}/mailchimp/webhook/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook.headers().get("grpc-status").map(|v| v.as_bytes()),
        Some(b"12".as_slice()),
        "webhooks only on the main port: {hook:?}"
    );
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
