//! The JSON feed on the gRPC port, for shops that build records faster as JSON than as
//! protobuf (PHP's `json_encode` runs in C; its protobuf runtime runs in PHP):
//! - `POST /v1/records:push`, NDJSON: PushRecords, one record a line in the proto3 JSON
//!   mapping, streamed; the summary comes once every accepted line is durable;
//! - `POST /v1/records:upsert`, one JSON record: Upsert;
//! - `GET /v1/records[?kind=product]`: the mirror as NDJSON, which the push takes back.
//!
//! This file only turns JSON into `pb::Record` and answers in JSON: validation, caps,
//! durability and the summary are PushRecords' and Upsert's own (`App::push`, `App::upsert`).

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{Method, Request, Response, StatusCode, header};

use super::lines::{Lines, TooLong};
use crate::app::App;
use crate::app::feed::{Push, PushSummary};
use crate::domain::record::{RecordKind, kind_to_pb};
use crate::proto::v1 as pb;

/// NDJSON PushRecords.
pub const PUSH_PATH: &str = "/v1/records:push";
/// One JSON record: Upsert.
pub const UPSERT_PATH: &str = "/v1/records:upsert";
/// The mirror as NDJSON.
pub const EXPORT_PATH: &str = "/v1/records";

/// The records an export reads from the store at a time.
const EXPORT_PAGE: usize = 1_000;
/// Bytes of NDJSON an export gathers before it sends them.
const EXPORT_CHUNK: usize = 64 * 1024;
/// How long, and how much of, the rest of a refused request is read and dropped, so that the
/// client, still sending, reads the answer instead of a reset connection or stream.
const DRAIN_FOR: Duration = Duration::from_secs(30);
const DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// The bounds PushRecords has, applied to the JSON feed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest line (one record), in bytes: the gRPC message limit.
    pub max_line: usize,
    /// A push that sends nothing for this long is ended (what it sent is kept).
    pub idle: Duration,
}

/// The endpoint a path names, if it is one of the feed's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    Push,
    Upsert,
    Export,
}

pub(super) fn route(path: &str) -> Option<Route> {
    match path {
        PUSH_PATH => Some(Route::Push),
        UPSERT_PATH => Some(Route::Upsert),
        EXPORT_PATH => Some(Route::Export),
        _ => None,
    }
}

/// Answers one request to the feed; `admitted` is the bearer-token check.
pub(super) async fn handle(
    app: Arc<App>,
    limits: Limits,
    route: Route,
    admitted: Result<(), &'static str>,
    req: Request<Body>,
) -> Response<Body> {
    if let Some(refusal) = refusal(route, admitted, &req) {
        // Answered before the body is read: read it anyway, or an HTTP/2 client still
        // sending gets the stream reset and may lose the answer (curl 7 does).
        tokio::spawn(drain(req.into_body()));
        return refusal;
    }
    match route {
        Route::Push => push(app.push(), limits, req.into_body()).await,
        Route::Upsert => upsert(&app, limits, req.into_body()).await,
        Route::Export => match export_kinds(req.uri().query()) {
            Ok(kinds) => export(app, kinds),
            Err(why) => error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &why,
                json!({"field": "kind"}),
            ),
        },
    }
}

/// The answer to a request refused before its body is read.
fn refusal(
    route: Route,
    admitted: Result<(), &'static str>,
    req: &Request<Body>,
) -> Option<Response<Body>> {
    if let Err(why) = admitted {
        let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why, json!({}));
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return Some(response);
    }
    let (method, json_body) = match route {
        Route::Push | Route::Upsert => (Method::POST, true),
        Route::Export => (Method::GET, false),
    };
    if req.method() != method {
        let why = format!("use {method}");
        return Some(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNIMPLEMENTED",
            &why,
            json!({}),
        ));
    }
    if json_body && !is_json(req.headers().get(header::CONTENT_TYPE)) {
        let why = "send the records as content-type application/x-ndjson (or application/json)";
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_ARGUMENT",
            why,
            json!({}),
        ));
    }
    None
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    [
        "application/x-ndjson",
        "application/jsonl",
        "application/json",
    ]
    .iter()
    .any(|t| essence.eq_ignore_ascii_case(t))
}

/// Why a push ended before its body did.
enum Stop {
    /// A line that is not a record in the proto3 JSON mapping.
    Malformed { line: u64, malformed: Malformed },
    /// A line longer than the limit.
    TooLong { line: u64 },
    /// Nothing came for `Limits::idle`.
    Idle,
    /// The body broke off (the client went away, or sent a broken chunk).
    Broken(String),
    /// The store refused the records (full disk, shutting down).
    Store(Status),
}

async fn push(mut push: Push, limits: Limits, mut body: Body) -> Response<Body> {
    let mut lines = Lines::new(limits.max_line);
    let mut line: u64 = 0;
    let stop = 'read: loop {
        loop {
            match lines.next_line() {
                Ok(Some(text)) => {
                    line += 1;
                    if let Err(stop) = offer(&mut push, line, &text).await {
                        break 'read Some(stop);
                    }
                }
                Ok(None) => break,
                Err(TooLong) => break 'read Some(Stop::TooLong { line: line + 1 }),
            }
        }
        match tokio::time::timeout(limits.idle, body.frame()).await {
            Err(_) => break Some(Stop::Idle),
            Ok(None) => {
                // The last line needs no newline; a line cut short fails as malformed.
                let last = lines.rest();
                if let Some(text) = last {
                    line += 1;
                    if let Err(stop) = offer(&mut push, line, &text).await {
                        break Some(stop);
                    }
                }
                break None;
            }
            Ok(Some(Err(status))) => break Some(Stop::Broken(status.message().to_owned())),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    lines.refill(data);
                }
            }
        }
    };
    // What came before the stop is written all the same, as PushRecords does.
    let summary = match push.finish().await {
        Ok(summary) => summary,
        Err(e) => return status_error(&Status::from(e)),
    };
    let kept = summary_json(&summary);
    let Some(stop) = stop else {
        return json_response(StatusCode::OK, &kept);
    };
    if matches!(
        stop,
        Stop::Malformed { .. } | Stop::TooLong { .. } | Stop::Store(_)
    ) {
        tokio::spawn(drain(body));
    }
    match stop {
        Stop::Malformed { line, malformed } => {
            let Malformed { field, reason } = malformed;
            let at = if field.is_empty() {
                String::new()
            } else {
                format!("{field}: ")
            };
            let message = format!(
                "line {line} is not a record in the proto3 JSON mapping: {at}{reason}; \
                 the lines before it are stored"
            );
            let details = json!({"line": line, "field": field, "reason": reason, "summary": kept});
            error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &message,
                details,
            )
        }
        Stop::TooLong { line } => {
            let message = format!(
                "line {line} is longer than {} bytes (serve --max-message-bytes); the lines \
                 before it are stored",
                limits.max_line
            );
            let details = json!({"line": line, "summary": kept});
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RESOURCE_EXHAUSTED",
                &message,
                details,
            )
        }
        Stop::Idle => {
            let message = format!(
                "the push sent nothing for {} s; the lines before are stored",
                limits.idle.as_secs()
            );
            let details = json!({"line": line + 1, "summary": kept});
            error(
                StatusCode::REQUEST_TIMEOUT,
                "DEADLINE_EXCEEDED",
                &message,
                details,
            )
        }
        Stop::Broken(why) => {
            tracing::info!(lines = line, reason = %why, "an NDJSON push broke off");
            let message =
                format!("the request body broke off ({why}); the complete lines before are stored");
            error(
                StatusCode::BAD_REQUEST,
                "CANCELLED",
                &message,
                json!({"summary": kept}),
            )
        }
        Stop::Store(status) => status_error(&status),
    }
}

async fn offer(push: &mut Push, line: u64, text: &[u8]) -> Result<(), Stop> {
    if text.iter().all(u8::is_ascii_whitespace) {
        push.skip();
        return Ok(());
    }
    let record = parse_record(text).map_err(|malformed| Stop::Malformed { line, malformed })?;
    push.offer(record)
        .await
        .map_err(|e| Stop::Store(Status::from(e)))
}

/// Reads what a client still sends after its push was refused, for a while, and drops it.
async fn drain(mut body: Body) {
    let until = tokio::time::Instant::now() + DRAIN_FOR;
    let mut drained = 0;
    while drained < DRAIN_BYTES {
        match tokio::time::timeout_at(until, body.frame()).await {
            Ok(Some(Ok(frame))) => drained += frame.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}

async fn upsert(app: &App, limits: Limits, mut body: Body) -> Response<Body> {
    let read = http_body_util::Limited::new(&mut body, limits.max_line).collect();
    let bytes = match tokio::time::timeout(limits.idle, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            tokio::spawn(drain(body));
            let message = format!(
                "the record is longer than {} bytes (serve --max-message-bytes)",
                limits.max_line
            );
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RESOURCE_EXHAUSTED",
                &message,
                json!({}),
            );
        }
        Ok(Err(e)) => {
            let message = format!("the request body broke off ({e})");
            return error(StatusCode::BAD_REQUEST, "CANCELLED", &message, json!({}));
        }
        Err(_) => {
            let message = format!(
                "the record did not arrive within {} s",
                limits.idle.as_secs()
            );
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "DEADLINE_EXCEEDED",
                &message,
                json!({}),
            );
        }
    };
    let record = match parse_record(&bytes) {
        Ok(record) => record,
        Err(Malformed { field, reason }) => {
            let message = format!("not a record in the proto3 JSON mapping: {field}: {reason}");
            let details = json!({"field_violations": [{"field": field, "description": reason}]});
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                &message,
                details,
            );
        }
    };
    match app.upsert(record).await {
        Ok(changed) => json_response(StatusCode::OK, &json!({"changed": changed})),
        Err(e) => status_error(&Status::from(e)),
    }
}

/// What is wrong with a line, field by field where serde can say.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// The JSON path of the offending value, such as `product.variants[0].price`; empty when
    /// the line is not JSON at all.
    pub field: String,
    /// Why it does not fit.
    pub reason: String,
}

/// One record from its proto3 JSON mapping (either field-name style, enums by name or number,
/// 64-bit integers as numbers or strings). Unknown fields are refused, as protoc's parsers do.
pub fn parse_record(text: &[u8]) -> Result<pb::Record, Malformed> {
    if let Ok(record) = serde_json::from_slice(text) {
        return Ok(record);
    }
    // The slow way, for the lines the fast one refused: in the mapping a null means "not
    // set" (PHP sends a NULL column as null, which pbjson takes only for messages); PHP's
    // empty array is `[]` whether it meant a list, a map or a message, and each of those is
    // "not set" when empty; and the error should name its field.
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        // serde_json says "at line 1 column N": the line is the request's, not the record's.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full);
        Malformed {
            field: String::new(),
            reason: format!("{reason} (column {})", e.column()),
        }
    })?;
    serde_path_to_error::deserialize(without_nulls(value)).map_err(|e| {
        let path = e.path().to_string();
        Malformed {
            field: if path == "." { String::new() } else { path },
            reason: e.into_inner().to_string(),
        }
    })
}

fn without_nulls(value: Value) -> Value {
    let unset = |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty);
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !unset(v))
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// The kinds `?kind=` names (a kind's name, plural or enum name; several comma-separated),
/// or every kind, dependencies first.
fn export_kinds(query: Option<&str>) -> Result<Vec<RecordKind>, String> {
    let asked: Vec<String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "kind")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    let mut kinds = RecordKind::ALL.to_vec();
    kinds.sort_by_key(|k| k.rank());
    if asked.is_empty() {
        return Ok(kinds);
    }
    let named = |k: &RecordKind, v: &str| {
        v == k.name() || v == k.plural() || v == kind_to_pb(*k).as_str_name()
    };
    if let Some(unknown) = asked.iter().find(|v| !kinds.iter().any(|k| named(k, v))) {
        let names: Vec<_> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!(
            "unknown kind {unknown:?} (one of {})",
            names.join(", ")
        ));
    }
    kinds.retain(|k| asked.iter().any(|v| named(k, v)));
    Ok(kinds)
}

/// The mirror, kind by kind in id order, as NDJSON. A record written during the export
/// appears as its page read it. A failure mid-way breaks the body off, so that a client never
/// takes a cut export for a whole one.
fn export(app: Arc<App>, kinds: Vec<RecordKind>) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(4);
    tokio::task::spawn_blocking(move || {
        let mut chunk = BytesMut::with_capacity(EXPORT_CHUNK);
        for kind in kinds {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = match app.records_page(kind, after.as_deref(), EXPORT_PAGE) {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::from(e)));
                        return;
                    }
                };
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                for (_, record) in &page {
                    let mut w = (&mut chunk).writer();
                    if serde_json::to_writer(&mut w, record).is_err() {
                        let _ = tx
                            .blocking_send(Err(Status::internal("cannot write a record as JSON")));
                        return;
                    }
                    chunk.put_u8(b'\n');
                    if chunk.len() >= EXPORT_CHUNK {
                        let data = chunk.split().freeze();
                        if tx.blocking_send(Ok(Frame::data(data))).is_err() {
                            return; // the client went away
                        }
                    }
                }
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(Frame::data(chunk.freeze())));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut response = Response::new(Body::new(http_body_util::StreamBody::new(stream)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

/// A push's summary in JSON: PushSummary's fields, with each rejection's `line` (from 1; the
/// stream's `index` + 1).
fn summary_json(s: &PushSummary) -> Value {
    let rejections: Vec<Value> = s
        .rejections
        .iter()
        .map(|r| {
            json!({
                "line": r.index + 1,
                "kind": r.kind.map_or("RECORD_KIND_UNSPECIFIED", |k| kind_to_pb(k).as_str_name()),
                "id": r.id,
                "field": r.field,
                "reason": r.reason,
            })
        })
        .collect();
    let not_found: Vec<Value> = s
        .not_found
        .iter()
        .map(|(k, id)| json!({"kind": kind_to_pb(*k).as_str_name(), "id": id}))
        .collect();
    json!({
        "accepted": s.accepted,
        "unchanged": s.unchanged,
        "deleted": s.deleted,
        "rejected": s.rejected,
        "rejections": rejections,
        "not_found_count": s.not_found_count,
        "not_found": not_found,
    })
}

/// A gRPC status as the feed's JSON error, with its field violations.
fn status_error(status: &Status) -> Response<Body> {
    use tonic_types::StatusExt;
    let violations: Vec<Value> = status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| json!({"field": v.field, "description": v.description}))
                .collect()
        })
        .unwrap_or_default();
    let code = status.code();
    error(
        http_status(code),
        &code_name(code),
        status.message(),
        json!({"field_violations": violations}),
    )
}

/// google.rpc.Code's HTTP mapping.
fn http_status(code: tonic::Code) -> StatusCode {
    use tonic::Code as C;
    match code {
        C::Ok => StatusCode::OK,
        C::InvalidArgument | C::FailedPrecondition | C::OutOfRange => StatusCode::BAD_REQUEST,
        C::Unauthenticated => StatusCode::UNAUTHORIZED,
        C::PermissionDenied => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::AlreadyExists | C::Aborted => StatusCode::CONFLICT,
        C::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        C::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        C::Cancelled | C::Unknown | C::Internal | C::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `InvalidArgument` → `INVALID_ARGUMENT`, as gRPC names its codes.
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// `{"code": ..., "message": ...}` and the details' fields.
fn error(status: StatusCode, code: &str, message: &str, details: Value) -> Response<Body> {
    let mut body = json!({"code": code, "message": message});
    if let (Value::Object(body), Value::Object(details)) = (&mut body, details) {
        body.extend(details);
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut text = value.to_string();
    text.push('\n');
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(text))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_parses_in_either_field_style_with_nulls_and_empty_arrays_as_unset() {
        let snake = br#"{"product":{"id":"p1","title":"Mug","image_url":null,"variants":[{"id":"v1","inventory_quantity":"3"}]}}"#;
        let camel = br#"{"product":{"id":"p1","title":"Mug","images":[],"variants":[{"id":"v1","inventoryQuantity":3}]}}"#;
        assert_eq!(parse_record(snake), parse_record(camel));
        let Some(pb::record::Record::Product(p)) = parse_record(camel).unwrap().record else {
            panic!("a product");
        };
        assert_eq!(p.variants[0].inventory_quantity, 3);
        // PHP's [] for an empty map or message.
        let php =
            br#"{"customer":{"id":"c1","email":"a@example.com","attributes":[],"address":[]}}"#;
        let Some(pb::record::Record::Customer(c)) = parse_record(php).unwrap().record else {
            panic!("a customer");
        };
        assert!(c.attributes.is_empty() && c.address.is_none());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_path() {
        let line = br#"{"product":{"id":"p1","variants":[{"id":"v1","price":19.99}]}}"#;
        let m = parse_record(line).unwrap_err();
        assert_eq!(m.field, "product.variants[0].price");
        assert!(m.reason.contains("expected a string"), "{}", m.reason);
    }

    #[test]
    fn unknown_fields_and_broken_json_are_malformed() {
        let m = parse_record(br#"{"product":{"id":"p1","titel":"Mug"}}"#).unwrap_err();
        assert_eq!(m.field, "product.titel");
        let m = parse_record(br#"{"product":{"id":"p1""#).unwrap_err();
        assert_eq!(m.field, "");
        assert!(m.reason.contains("EOF"), "{}", m.reason);
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(tonic::Code::Ok), "OK");
        assert_eq!(
            http_status(tonic::Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn export_takes_kinds_by_name_plural_or_enum_name() {
        assert_eq!(
            export_kinds(Some("kind=product")).unwrap(),
            [RecordKind::Product]
        );
        assert_eq!(
            export_kinds(Some("kind=orders,RECORD_KIND_CART"))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(export_kinds(None).unwrap().len(), 5);
        assert!(
            export_kinds(Some("kind=widgets"))
                .unwrap_err()
                .contains("widgets")
        );
    }
}
