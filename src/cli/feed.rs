//! `mcsync push` and `mcsync export`: NDJSON records through the server's JSON feed
//! (`server::json_feed`), for bulk loads and for inspecting or moving a shop's mirror.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWriteExt};

use super::ops::Remote;
use crate::server::json_feed::{EXPORT_PATH, PUSH_PATH};

/// Bytes read from the file (or stdin) at a time.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// NDJSON records, one a line in the proto3 JSON mapping (as `mcsync export` writes them);
    /// `-` or nothing for stdin.
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only these kinds (product, customer, coupon, order, cart; comma-separated or repeated);
    /// every kind when none is given, dependencies first.
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// Write to this file instead of stdout (removed again if the export breaks off).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// An HTTP client for the server's address: https with the CA file, or the system's roots.
fn client(remote: &Remote) -> Result<reqwest::Client, String> {
    // reqwest is built without a default provider, even for plain http.
    crate::mailchimp::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mcsync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10));
    if remote.server.starts_with("https://") {
        if let Some(file) = &remote.ca_file {
            let pem = std::fs::read(file)
                .map_err(|e| format!("cannot read the CA file {}: {e}", file.display()))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("the CA file {}: {e}", file.display()))?;
            builder = builder.add_root_certificate(ca);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

fn request(
    remote: &Remote,
    method: reqwest::Method,
    path: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let url = format!("{}{path}", remote.server.trim_end_matches('/'));
    let mut request = client(remote)?.request(method, url);
    if let Some(token) = super::token::resolve(remote.token.clone(), remote.token_file.as_deref())?
    {
        request = request.bearer_auth(token);
    }
    Ok(request)
}

/// `mcsync push [FILE|-]`: streams the records and prints the summary. Fails when the server
/// refused the push, or any record.
pub async fn push(remote: &Remote, args: PushArgs) -> Result<(), String> {
    let input: Box<dyn AsyncRead + Send + Unpin> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(
            tokio::fs::File::open(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        _ => Box::new(tokio::io::stdin()),
    };
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        input, READ_CHUNK,
    ));
    let started = Instant::now();
    let response = request(remote, reqwest::Method::POST, PUSH_PATH)?
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("cannot push to mcsync at {}: {e}", remote.server))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .map_err(|e| format!("mcsync answered HTTP {status} without its JSON summary: {e}"))?;
    let summary = if status.is_success() {
        Some(&answer)
    } else {
        answer.get("summary")
    };
    if let Some(summary) = summary {
        print!(
            "{}",
            render_summary(summary, started.elapsed().as_secs_f64())
        );
    }
    if !status.is_success() {
        return Err(refusal(status, &answer));
    }
    match number(&answer, "rejected") {
        0 => Ok(()),
        n => Err(format!("{n} records were rejected (listed above)")),
    }
}

/// `mcsync export`: the mirror as NDJSON that `push` takes back.
pub async fn export(remote: &Remote, args: ExportArgs) -> Result<(), String> {
    let mut path = EXPORT_PATH.to_owned();
    if !args.kind.is_empty() {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", &args.kind.join(","))
            .finish();
        path = format!("{path}?{query}");
    }
    let mut response = request(remote, reqwest::Method::GET, &path)?
        .send()
        .await
        .map_err(|e| format!("cannot reach mcsync at {}: {e}", remote.server))?;
    let status = response.status();
    if !status.is_success() {
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        return Err(refusal(status, &answer));
    }
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &args.output {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let copied = async {
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("the export broke off: {e}"))?
        {
            match out.write_all(&chunk).await {
                Ok(()) => {}
                // `mcsync export | head`: the reader has what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(format!("cannot write the export: {e}")),
            }
        }
        out.flush()
            .await
            .map_err(|e| format!("cannot write the export: {e}"))
    }
    .await;
    if copied.is_err() {
        if let Some(path) = &args.output {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
    copied
}

fn number(v: &Value, field: &str) -> u64 {
    v.get(field).and_then(Value::as_u64).unwrap_or(0)
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn refusal(status: reqwest::StatusCode, answer: &Value) -> String {
    let mut out = format!("HTTP {status}");
    if !text(answer, "code").is_empty() {
        out = format!("{}: {}", text(answer, "code"), text(answer, "message"));
    }
    for v in answer
        .get("field_violations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "\n  {}: {}",
            text(v, "field"),
            text(v, "description")
        ));
    }
    out
}

fn render_summary(s: &Value, seconds: f64) -> String {
    let done = number(s, "accepted") + number(s, "unchanged") + number(s, "deleted");
    let mut out = format!(
        "accepted {}, unchanged {}, deleted {}, rejected {}, deletes of unknown records {} \
         ({} records in {seconds:.1} s, {:.0}/s)\n",
        number(s, "accepted"),
        number(s, "unchanged"),
        number(s, "deleted"),
        number(s, "rejected"),
        number(s, "not_found_count"),
        done + number(s, "rejected"),
        (done + number(s, "rejected")) as f64 / seconds.max(1e-3),
    );
    for r in s
        .get("rejections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "  line {}: {} {:?}: {}: {}\n",
            number(r, "line"),
            text(r, "kind"),
            text(r, "id"),
            text(r, "field"),
            text(r, "reason")
        ));
    }
    for k in s
        .get("not_found")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "  not found: {} {:?}\n",
            text(k, "kind"),
            text(k, "id")
        ));
    }
    out
}
