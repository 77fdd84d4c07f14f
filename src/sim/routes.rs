//! The simulator's HTTP surface: the gate every API request passes (connection limit, latency,
//! authentication, injected faults, statistics) and the endpoint handlers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde_json::{Value, json};

use super::Shared;
use super::faults::{self, Fault};
use super::model::paging;
use super::problem::SimError;
use super::world::Account;

type Sim = State<Arc<Shared>>;
type Answer = Result<Json<Value>, SimError>;

#[derive(Clone, Copy)]
struct AccountIdx(usize);

pub fn router(shared: Arc<Shared>) -> Router {
    let mut api = Router::new();
    for template in super::model::ECOMMERCE {
        api = api.route(&format!("/3.0{template}"), any(ecommerce));
    }
    let api = api
        .route("/3.0", get(root))
        .route("/3.0/", get(root))
        .route("/3.0/ping", get(ping))
        .route("/3.0/batches", get(list_batches).post(post_batch))
        .route(
            "/3.0/batches/{batch_id}",
            get(get_batch).delete(delete_batch),
        )
        .route("/3.0/lists", get(lists))
        .route("/3.0/lists/{list_id}", get(list))
        .route("/3.0/lists/{list_id}/interest-categories", get(categories))
        .route(
            "/3.0/lists/{list_id}/interest-categories/{interest_category_id}/interests",
            get(interests),
        )
        .route(
            "/3.0/lists/{list_id}/segments",
            get(segments).post(create_segment),
        )
        .route(
            "/3.0/lists/{list_id}/segments/{segment_id}",
            axum::routing::post(batch_segment),
        )
        .route(
            "/3.0/lists/{list_id}/members/{subscriber_hash}/tags",
            axum::routing::post(tag_member),
        )
        .route("/3.0/lists/{list_id}/members", get(list_members))
        .route(
            "/3.0/lists/{list_id}/members/{subscriber_hash}",
            get(get_member).put(put_member).patch(patch_member),
        )
        .route("/3.0/lists/{list_id}/merge-fields", get(merge_fields))
        .route("/3.0/connected-sites", get(list_sites).post(create_site))
        .route(
            "/3.0/connected-sites/{connected_site_id}",
            get(get_site).delete(delete_site),
        )
        .route(
            "/3.0/connected-sites/{connected_site_id}/actions/verify-script-installation",
            axum::routing::post(verify_site),
        )
        .route(
            "/3.0/lists/{list_id}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/3.0/lists/{list_id}/webhooks/{webhook_id}",
            get(get_webhook).delete(delete_webhook),
        )
        .fallback(|| async { SimError::not_found() })
        .method_not_allowed_fallback(|| async {
            SimError::new(405, "Method Not Allowed", "The requested method and resource are not compatible. See the Allow header for this resource's available methods.")
        })
        .layer(middleware::from_fn_with_state(shared.clone(), gate));
    Router::new()
        .route("/__sim/stats", get(stats))
        // What a member or Mailchimp does (an unsubscribe link, a bounce): fires the webhooks.
        .route("/__sim/member-status", axum::routing::post(member_status))
        // login.mailchimp.com's OAuth 2 (on the simulator's own root).
        .route("/oauth2/authorize", get(super::oauth::authorize))
        .route("/oauth2/token", axum::routing::post(super::oauth::token))
        .route("/oauth2/metadata", get(super::oauth::metadata))
        // The connected sites' script, so that a storefront printing it loads.
        .route(
            "/__sim/mcjs/{file}",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/javascript")],
                    "/* mcjs (simulated) */",
                )
            }),
        )
        // Where batch results are downloaded from: like the storage Mailchimp links to, it
        // takes no API key.
        .route("/__sim/batch-results/{file}", get(batch_results))
        .merge(api)
        .with_state(shared)
}

/// Leaves the in-flight count even when the client hangs up mid-request.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

async fn gate(State(shared): Sim, mut req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "(unknown route)".into());
    let route = format!("{} {}", req.method(), template);
    let trim = trim_of(&req);
    let arrived = tokio::time::Instant::now();
    let now = shared.enter();
    let guard = InFlight(&shared);
    let config = &shared.config;
    let over_limit = now > config.max_connections;
    shared.latency.wait(arrived).await;
    let response = if over_limit {
        shared
            .stats
            .lock()
            .expect("stats lock")
            .over_connection_limit += 1;
        shared.faults.over_limit(config.max_connections)
    } else {
        match authenticate(&shared, req.headers()) {
            Err(e) => e.into_response(),
            Ok(idx) => {
                req.extensions_mut().insert(AccountIdx(idx));
                match shared.faults.draw(req.method().as_str(), true) {
                    None => next.run(req).await,
                    Some(Fault::Before(e)) => e.into_response(),
                    Some(Fault::Bare403) => faults::bare_403(),
                    Some(Fault::After(e)) => {
                        let _ran = next.run(req).await;
                        shared.stats.lock().expect("stats lock").faults_after_write += 1;
                        e.into_response()
                    }
                }
            }
        }
    };
    drop(guard);
    let took = shared.latency.answered(arrived);
    shared.record(route, response.status().as_u16(), took);
    match trim {
        Some(trim) if response.status().is_success() => trimmed(response, &trim).await,
        _ => response,
    }
}

/// A GET's `fields=` / `exclude_fields=`, if it has one.
fn trim_of(req: &Request) -> Option<HashMap<String, String>> {
    if req.method() != Method::GET {
        return None;
    }
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(req.uri()).ok()?;
    let trim: HashMap<String, String> = q
        .into_iter()
        .filter(|(k, _)| k == "fields" || k == "exclude_fields")
        .collect();
    (!trim.is_empty()).then_some(trim)
}

/// The answer with only the fields asked for, as Mailchimp trims every GET.
async fn trimmed(response: Response, trim: &HashMap<String, String>) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return SimError::internal().into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    if let Some(f) = trim.get("fields") {
        v = super::fields::keep(&v, f);
    }
    if let Some(f) = trim.get("exclude_fields") {
        v = super::fields::exclude(&v, f);
    }
    let mut response = Response::from_parts(parts, axum::body::Body::from(v.to_string()));
    response
        .headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    response
}

/// HTTP Basic with the key as password (any user name), or the key as a Bearer token.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<usize, SimError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(SimError::unauthorized)?;
    let key = if let Some(b64) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| SimError::unauthorized())?;
        let text = String::from_utf8(decoded).map_err(|_| SimError::unauthorized())?;
        text.split_once(':')
            .map(|(_, k)| k.to_owned())
            .ok_or_else(SimError::unauthorized)?
    } else if let Some(token) = value.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else {
        return Err(SimError::unauthorized());
    };
    let world = shared.world.lock().expect("world lock");
    let idx = world
        .account_by_key(&key)
        .ok_or_else(SimError::unauthorized)?;
    if world.accounts[idx].disabled {
        return Err(SimError::disabled());
    }
    Ok(idx)
}

fn with_account<T>(
    shared: &Shared,
    idx: AccountIdx,
    f: impl FnOnce(&mut Account) -> Result<T, SimError>,
) -> Result<T, SimError> {
    let mut world = shared.world.lock().expect("world lock");
    f(&mut world.accounts[idx.0])
}

fn page<'a, T>(items: &'a [T], q: &HashMap<String, String>) -> Result<&'a [T], SimError> {
    let (count, offset) = paging(q)?;
    let start = offset.min(items.len());
    Ok(&items[start..(start + count).min(items.len())])
}

async fn ping() -> Json<Value> {
    Json(json!({"health_status": "Everything's Chimpy!"}))
}

async fn root(State(s): Sim, Extension(a): Extension<AccountIdx>) -> Answer {
    with_account(&s, a, |acc| Ok(Json(acc.json())))
}

async fn lists(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let items: Vec<Value> = page(&acc.lists, &q)?.iter().map(|l| l.json()).collect();
        Ok(Json(json!({
            "lists": items,
            "total_items": acc.lists.len(),
            "constraints": {"may_create": true, "max_instances": 5000, "current_total_instances": acc.lists.len()},
            "_links": []
        })))
    })
}

async fn list(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
) -> Answer {
    with_account(&s, a, |acc| Ok(Json(acc.list(&list_id)?.json())))
}

async fn categories(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        list_page(list, "categories", &list.categories, &q, |c| {
            list.category_json(c)
        })
    })
}

/// A page of one of an audience's collections, as Mailchimp answers it.
fn list_page<T>(
    list: &super::world::List,
    key: &str,
    all: &[T],
    q: &HashMap<String, String>,
    item: impl Fn(&T) -> Value,
) -> Answer {
    let items: Vec<Value> = page(all, q)?.iter().map(item).collect();
    Ok(Json(json!({
        key: items, "list_id": list.id, "total_items": all.len(), "_links": []
    })))
}

async fn interests(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, category_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let cat = list.category(&category_id)?;
        let items: Vec<Value> = page(&cat.interests, &q)?
            .iter()
            .map(|i| list.interest_json(cat, i))
            .collect();
        Ok(Json(json!({
            "interests": items, "list_id": list.id, "category_id": cat.id,
            "total_items": cat.interests.len(), "_links": []
        })))
    })
}

async fn segments(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let kept = super::segments::of_type(&list.segments, &q);
        list_page(list, "segments", &kept, &q, |x| list.segment_json(x))
    })
}

async fn create_segment(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    body: Bytes,
) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("POST", "/lists/{list_id}/segments", &body);
    with_account(&s, a, |acc| {
        Ok(Json(acc.list_mut(&list_id)?.create_segment(&body)?))
    })
}

async fn batch_segment(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, segment_id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("POST", "/lists/{list_id}/segments/{segment_id}", &body);
    let id: i64 = segment_id.parse().map_err(|_| SimError::not_found())?;
    with_account(&s, a, |acc| {
        Ok(Json(acc.list_mut(&list_id)?.batch_segment(id, &body)?))
    })
}

async fn tag_member(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, hash)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, SimError> {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body(
        "POST",
        "/lists/{list_id}/members/{subscriber_hash}/tags",
        &body,
    );
    with_account(&s, a, |acc| {
        acc.list_mut(&list_id)?.tag_member(&hash, &body)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /lists/{id}/members`: every member of any status, in a stable order (by hash), paged.
async fn list_members(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let mut hashes: Vec<&String> = list.members.keys().collect();
        hashes.sort();
        let items: Vec<Value> = page(&hashes, &q)?
            .iter()
            .map(|h| list.member_json(h, &list.members[*h]))
            .collect();
        Ok(Json(json!({
            "members": items, "list_id": list.id, "total_items": hashes.len(), "_links": []
        })))
    })
}

async fn get_member(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, hash)): Path<(String, String)>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let hash = hash.to_lowercase();
        let m = list.members.get(&hash).ok_or_else(SimError::not_found)?;
        Ok(Json(list.member_json(&hash, m)))
    })
}

async fn merge_fields(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        list_page(list, "merge_fields", &list.merge_fields, &q, |f| {
            f.json(&list.id)
        })
    })
}

/// `PATCH /lists/{id}/members/{hash}`: an existing member's merge fields (the query's
/// `skip_merge_validation` is accepted; PATCH checks no required field anyway, since it leaves
/// the others as they are).
async fn patch_member(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, hash)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("PATCH", "/lists/{list_id}/members/{subscriber_hash}", &body);
    with_account(&s, a, |acc| {
        let list = acc.list_mut(&list_id)?;
        Ok(Json(list.patch_member(&hash, &body)?))
    })
}

async fn put_member(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, hash)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let skip_merge_validation = q.get("skip_merge_validation").is_some_and(|v| v == "true");
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("PUT", "/lists/{list_id}/members/{subscriber_hash}", &body);
    let shared = s.clone();
    with_account(&s, a, |acc| {
        let list = acc.list_mut(&list_id)?;
        let old = list
            .members
            .get(&hash.to_lowercase())
            .map(|m| m.status.clone());
        let answer = list.upsert_member_with(&hash, &body, skip_merge_validation)?;
        let new = answer["status"].as_str().unwrap_or_default();
        let email = answer["email_address"].as_str().unwrap_or_default();
        let no_merges = serde_json::Map::new();
        let merges = answer["merge_fields"].as_object().unwrap_or(&no_merges);
        let change = (old.as_deref(), new);
        super::webhooks::status_changed(&shared, acc, &list_id, email, change, merges, Some("api"));
        Ok(Json(answer))
    })
}

async fn list_webhooks(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let hooks: Vec<Value> = list.webhooks.iter().map(|h| h.json(&list.id)).collect();
        Ok(Json(json!({
            "webhooks": hooks, "list_id": list.id, "total_items": hooks.len(), "_links": []
        })))
    })
}

async fn get_webhook(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, id)): Path<(String, String)>,
) -> Answer {
    with_account(&s, a, |acc| {
        let list = acc.list(&list_id)?;
        let hook = list
            .webhooks
            .iter()
            .find(|h| h.id == id)
            .ok_or_else(SimError::not_found)?;
        Ok(Json(hook.json(&list.id)))
    })
}

async fn create_webhook(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(list_id): Path<String>,
    body: Bytes,
) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("POST", "/lists/{list_id}/webhooks", &body);
    with_account(&s, a, |acc| acc.list(&list_id).map(|_| ()))?;
    let super::webhooks::NewHook {
        url,
        events,
        sources,
    } = super::webhooks::parse_hook(&body)?;
    // Mailchimp checks the URL before it keeps the hook (outside the world's lock: it is a
    // request, possibly to the caller itself).
    if !super::webhooks::url_answers(&s, &url).await {
        return Err(SimError::invalid_resource(vec![(
            "url",
            "The URL did not answer Mailchimp's validation request with 2xx.".to_owned(),
        )]));
    }
    with_account(&s, a, |acc| {
        let list = acc.list_mut(&list_id)?;
        if list.webhooks.iter().any(|h| h.url == url) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "Sorry, you can't use the same webhook URL twice for one audience.",
            ));
        }
        let hook = super::webhooks::Hook {
            id: format!("{:010x}", fastrand::u64(..) & 0xff_ffff_ffff),
            url,
            events,
            sources,
        };
        let answer = hook.json(&list.id);
        list.webhooks.push(hook);
        Ok(Json(answer))
    })
}

async fn delete_webhook(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path((list_id, id)): Path<(String, String)>,
) -> Result<StatusCode, SimError> {
    with_account(&s, a, |acc| {
        let list = acc.list_mut(&list_id)?;
        let before = list.webhooks.len();
        list.webhooks.retain(|h| h.id != id);
        if list.webhooks.len() == before {
            return Err(SimError::not_found());
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

/// `{"list_id", "email", "status"}`: the member's status changes as if the member (or, for
/// `cleaned`, Mailchimp) did it, and the audience's webhooks fire.
async fn member_status(State(s): Sim, Json(body): Json<Value>) -> Result<StatusCode, SimError> {
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (list_id, email, status) = (field("list_id"), field("email"), field("status"));
    if !["subscribed", "unsubscribed", "cleaned", "pending"].contains(&status.as_str()) {
        return Err(SimError::schema(
            "status",
            "Value must be one of: subscribed, unsubscribed, cleaned, pending",
        ));
    }
    let shared = s.clone();
    let mut world = s.world.lock().expect("world lock");
    let account = world
        .accounts
        .iter_mut()
        .find(|acc| acc.list(&list_id).is_ok())
        .ok_or_else(SimError::not_found)?;
    super::member_status(&shared, account, &list_id, &email, &status);
    Ok(StatusCode::NO_CONTENT)
}

async fn ecommerce(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    matched: MatchedPath,
    method: Method,
    Path(params): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, SimError> {
    let template = matched
        .as_str()
        .strip_prefix("/3.0")
        .unwrap_or(matched.as_str());
    if !super::schema::has_operation(method.as_str(), template) {
        return Err(SimError::new(
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible.",
        ));
    }
    let body = match method {
        Method::POST | Method::PUT | Method::PATCH => {
            Some(serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?)
        }
        _ => None,
    };
    if let Some(b) = &body {
        s.judge_body(method.as_str(), template, b);
    }
    let body_id = body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str);
    let named = params.values().map(String::as_str).chain(body_id);
    if method != Method::GET && s.faults.is_poisoned(named) {
        return Err(SimError::internal());
    }
    let paging = if method == Method::GET {
        paging(&q)?
    } else {
        (10, 0)
    };
    let request = super::ecommerce::Request {
        method: method.as_str(),
        template,
        params: &params,
        paging,
        body,
    };
    let written = method != Method::GET;
    let answer = with_account(&s, a, |acc| super::ecommerce::handle(acc, request))?;
    if written {
        let id = match &answer {
            super::ecommerce::Answer::Json(v) => v.get("id").and_then(Value::as_str),
            super::ecommerce::Answer::NoContent => None,
        };
        let store_id = params.get("store_id").map_or("", String::as_str);
        s.tell_write(method.as_str(), template, store_id, id.unwrap_or_default());
    }
    Ok(match answer {
        super::ecommerce::Answer::Json(v) => Json(v).into_response(),
        super::ecommerce::Answer::NoContent => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn stats(State(s): Sim) -> Json<super::SimStats> {
    Json(s.snapshot())
}

async fn post_batch(State(s): Sim, Extension(a): Extension<AccountIdx>, body: Bytes) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    super::batches::submit(&s, a.0, &body).map(Json)
}

async fn get_batch(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(id): Path<String>,
) -> Answer {
    with_account(&s, a, |acc| super::batches::status(acc, &id).map(Json))
}

async fn list_batches(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let paging = paging(&q)?;
    with_account(&s, a, |acc| Ok(Json(super::batches::list(acc, paging))))
}

async fn delete_batch(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(id): Path<String>,
) -> Result<StatusCode, SimError> {
    with_account(&s, a, |acc| super::batches::delete(acc, &id))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn batch_results(State(s): Sim, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".tar.gz").unwrap_or(&file);
    let archive = s.world.lock().expect("world lock").results.download(token);
    match archive {
        Some(archive) => (
            [(axum::http::header::CONTENT_TYPE, "application/x-gzip")],
            archive,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn list_sites(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let base = s.base_url.clone();
    with_account(&s, a, |acc| {
        let all: Vec<Value> = acc
            .sites
            .iter()
            .map(|(id, site)| super::sites::json(&base, &acc.id, id, site))
            .collect();
        let items = page(&all, &q)?.to_vec();
        Ok(Json(
            json!({"sites": items, "total_items": all.len(), "_links": []}),
        ))
    })
}

async fn get_site(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(id): Path<String>,
) -> Answer {
    let base = s.base_url.clone();
    with_account(&s, a, |acc| {
        let site = acc.sites.get(&id).ok_or_else(SimError::not_found)?;
        Ok(Json(super::sites::json(&base, &acc.id, &id, site)))
    })
}

async fn create_site(State(s): Sim, Extension(a): Extension<AccountIdx>, body: Bytes) -> Answer {
    let body: Value = serde_json::from_slice(&body).map_err(|_| SimError::json_parse())?;
    s.judge_body("POST", "/connected-sites", &body);
    let (foreign_id, domain) = super::sites::parse(&body)?;
    let base = s.base_url.clone();
    with_account(&s, a, |acc| {
        if acc.sites.contains_key(&foreign_id) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "A connected site with the provided foreign_id already exists.",
            ));
        }
        let site = super::sites::Site {
            domain,
            created_at: super::model::now_iso(),
            verified: false,
        };
        let answer = super::sites::json(&base, &acc.id, &foreign_id, &site);
        acc.sites.insert(foreign_id, site);
        Ok(Json(answer))
    })
}

async fn delete_site(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(id): Path<String>,
) -> Result<StatusCode, SimError> {
    with_account(&s, a, |acc| {
        acc.sites.remove(&id).ok_or_else(SimError::not_found)?;
        Ok(StatusCode::NO_CONTENT)
    })
}

/// Fetches the site's home page and looks for its script there, as Mailchimp does.
async fn verify_site(
    State(s): Sim,
    Extension(a): Extension<AccountIdx>,
    Path(id): Path<String>,
) -> Result<StatusCode, SimError> {
    let base = s.base_url.clone();
    let (domain, url) = with_account(&s, a, |acc| {
        let site = acc.sites.get(&id).ok_or_else(SimError::not_found)?;
        Ok((
            site.domain.clone(),
            super::sites::script_url(&base, &acc.id, &id),
        ))
    })?;
    let page = s
        .http
        .get(format!("http://{domain}/"))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    let found = match page {
        Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| t.contains(&url)),
        _ => false,
    };
    if !found {
        return Err(SimError::bad_request(
            "Bad Request",
            "The connected site's script was not found on the site's home page.",
        ));
    }
    with_account(&s, a, |acc| {
        if let Some(site) = acc.sites.get_mut(&id) {
            site.verified = true;
        }
        Ok(StatusCode::NO_CONTENT)
    })
}
