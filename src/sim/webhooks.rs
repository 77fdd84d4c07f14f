//! An audience's webhooks, as Mailchimp keeps and fires them: `GET`/`POST`
//! `/lists/{id}/webhooks`, `GET`/`DELETE /lists/{id}/webhooks/{id}`. A new hook's URL is
//! checked first (a GET that must answer 2xx, as Mailchimp's validator does). Member changes
//! (through the API, or [`super::SimHandle::set_member_status`] and `POST /__sim/member-status`
//! for what a member or Mailchimp does) are delivered to every hook that asked for that event
//! from that source, form-encoded, and retried while the URL does not answer 2xx.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Shared;
use super::problem::SimError;
use super::world::{Account, subscriber_hash};

/// A hook of an audience.
#[derive(Debug, Clone)]
pub struct Hook {
    pub id: String,
    pub url: String,
    pub events: Map<String, Value>,
    pub sources: Map<String, Value>,
}

impl Hook {
    pub fn json(&self, list_id: &str) -> Value {
        json!({
            "id": self.id, "url": self.url, "events": self.events, "sources": self.sources,
            "list_id": list_id, "_links": [],
        })
    }

    /// Whether it fires for `event` from `source` (`None`: Mailchimp's own doing, a clean,
    /// which every source setting lets through).
    fn fires(&self, event: &str, source: Option<&str>) -> bool {
        let on = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_bool) == Some(true);
        on(&self.events, event) && source.is_none_or(|s| on(&self.sources, s))
    }
}

/// A delivery the simulator made, for tests: where, what, and the last answer's status (0:
/// no answer).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub url: String,
    pub body: String,
    pub status: u16,
    pub attempts: u32,
}

/// Attempts per delivery; Mailchimp retries a failing URL for a while, then gives up.
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(200);

const EVENTS: [&str; 6] = [
    "subscribe",
    "unsubscribe",
    "profile",
    "cleaned",
    "upemail",
    "campaign",
];
const SOURCES: [&str; 3] = ["user", "admin", "api"];

/// A new hook's fields, as posted.
pub struct NewHook {
    pub url: String,
    pub events: Map<String, Value>,
    pub sources: Map<String, Value>,
}

/// Checks a new hook's body; the URL is checked by the caller (it takes a request).
pub fn parse_hook(body: &Value) -> Result<NewHook, SimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| SimError::schema("", "Schema describes object, other type found instead"))?;
    let url = match obj.get("url") {
        Some(Value::String(u)) if !u.trim().is_empty() => u.trim().to_owned(),
        _ => return Err(SimError::schema("url", "This value should not be blank.")),
    };
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(SimError::schema("url", "This value is not a valid URL.")),
    }
    let flags = |name: &str, keys: &[&str]| -> Result<Map<String, Value>, SimError> {
        let mut out = Map::new();
        match obj.get(name) {
            None => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if !keys.contains(&k.as_str()) || !v.is_boolean() {
                        return Err(SimError::schema(
                            &format!("{name}.{k}"),
                            "Schema describes boolean, other type found instead",
                        ));
                    }
                }
                out = m.clone();
            }
            Some(_) => {
                return Err(SimError::schema(
                    name,
                    "Schema describes object, other type found instead",
                ));
            }
        }
        for k in keys {
            out.entry(k.to_string()).or_insert(Value::Bool(false));
        }
        Ok(out)
    };
    Ok(NewHook {
        url,
        events: flags("events", &EVENTS)?,
        sources: flags("sources", &SOURCES)?,
    })
}

/// Mailchimp's check of a hook URL: a GET from its validator that must answer 2xx.
pub async fn url_answers(shared: &Shared, url: &str) -> bool {
    let check = shared
        .http
        .get(url)
        .header(
            reqwest::header::USER_AGENT,
            "MailChimp.com WebHook Validator",
        )
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    matches!(check, Ok(r) if r.status().is_success())
}

/// Delivers `fields` to every hook of the list that fires for `event` from `source`.
pub fn fire(
    shared: &Arc<Shared>,
    account: &Account,
    list_id: &str,
    event: &str,
    source: Option<&str>,
    fields: Vec<(String, String)>,
) {
    let Ok(list) = account.list(list_id) else {
        return;
    };
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    for hook in list.webhooks.iter().filter(|h| h.fires(event, source)) {
        let (shared, url, body) = (shared.clone(), hook.url.clone(), body.clone());
        tokio::spawn(async move { deliver(shared, url, body).await });
    }
}

async fn deliver(shared: Arc<Shared>, url: String, body: String) {
    let mut delay = FIRST_RETRY;
    let mut status = 0;
    let mut attempts = 0;
    while attempts < ATTEMPTS {
        attempts += 1;
        let answer = shared
            .http
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::USER_AGENT, "MailChimp")
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        status = answer.as_ref().map_or(0, |r| r.status().as_u16());
        if (200..300).contains(&status) {
            break;
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    shared
        .deliveries
        .lock()
        .expect("deliveries lock")
        .push(Delivery {
            url,
            body,
            status,
            attempts,
        });
}

/// The form Mailchimp posts for a member event on a list.
pub fn member_fields(
    event: &str,
    list_id: &str,
    email: &str,
    merges: &Map<String, Value>,
) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let fired_at = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut f = vec![
        ("type".to_owned(), event.to_owned()),
        ("fired_at".to_owned(), fired_at),
    ];
    let mut data = |k: &str, v: &str| f.push((format!("data[{k}]"), v.to_owned()));
    match event {
        "cleaned" => {
            data("list_id", list_id);
            data("campaign_id", "");
            data("reason", "hard");
            data("email", email);
        }
        _ => {
            if event == "unsubscribe" {
                data("action", "unsub");
                data("reason", "manual");
            }
            data("id", &subscriber_hash(email)[..10]);
            data("list_id", list_id);
            data("email", email);
            data("email_type", "html");
            data("merges][EMAIL", email);
            for (k, v) in merges {
                if let Some(v) = v.as_str() {
                    data(&format!("merges][{k}"), v);
                }
            }
            data("ip_opt", "198.51.100.7");
        }
    }
    f
}

/// A member's status went from `old` to `new`: the hooks that asked for what that is, from
/// `source` (`None`: Mailchimp's own doing), are delivered the member's form.
pub fn status_changed(
    shared: &Arc<Shared>,
    account: &Account,
    list_id: &str,
    email: &str,
    (old, new): (Option<&str>, &str),
    merges: &Map<String, Value>,
    source: Option<&str>,
) {
    if let Some(event) = event_of_status(old, new) {
        let fields = member_fields(event, list_id, email, merges);
        fire(shared, account, list_id, event, source, fields);
    }
}

/// The event a member's status change fires, if any.
fn event_of_status(old: Option<&str>, new: &str) -> Option<&'static str> {
    if old == Some(new) {
        return None;
    }
    match new {
        "subscribed" => Some("subscribe"),
        "unsubscribed" => Some("unsubscribe"),
        "cleaned" => Some("cleaned"),
        _ => None,
    }
}
