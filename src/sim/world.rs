//! The simulator's state: accounts (one per API key) with their audiences, interest groups,
//! segments and members, and the rules Mailchimp applies to them. No HTTP here.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::model::now_iso;
use super::problem::SimError;

const STATUSES: [&str; 5] = [
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
];
const LIST_NAMES: [&str; 6] = [
    "Newsletter",
    "VIP customers",
    "Wholesale",
    "Blog readers",
    "Events",
    "Outlet",
];

#[derive(Debug, Clone)]
pub struct Interest {
    pub id: String,
    pub name: String,
    pub display_order: i64,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: String,
    pub title: String,
    pub kind: &'static str,
    pub display_order: i64,
    pub interests: Vec<Interest>,
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub kind: &'static str,
    /// Members counted before the simulator started (seeded history).
    pub member_count: i64,
    /// A static segment's (a tag's) members, by subscriber hash.
    pub members: std::collections::HashSet<String>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub email: String,
    pub status: String,
    pub merge_fields: Map<String, Value>,
    pub interests: HashMap<String, bool>,
    /// GDPR choices by permission id.
    pub marketing_permissions: HashMap<String, bool>,
    pub last_changed: String,
}

#[derive(Debug, Clone)]
pub struct List {
    pub id: String,
    pub web_id: i64,
    pub name: String,
    pub date_created: String,
    pub campaign_count: i64,
    pub categories: Vec<Category>,
    pub segments: Vec<Segment>,
    pub members: HashMap<String, Member>,
    /// Members counted before the simulator started (the seeded "history" of the audience).
    pub seeded_members: i64,
    /// Opt-in confirmation mails Mailchimp would have sent (a member set to `pending`).
    pub confirmation_mails: u64,
    /// The audience's webhooks.
    pub webhooks: Vec<super::webhooks::Hook>,
    /// Its merge fields. A member write without a value for a required one is refused ("Your
    /// merge fields were invalid."), unless it says `skip_merge_validation`.
    pub merge_fields: Vec<super::merge_fields::MergeField>,
    /// GDPR fields: none unless the merchant turned them on.
    pub marketing_permissions: Vec<super::gdpr::Permission>,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub api_key: String,
    pub id: String,
    pub name: String,
    pub email: String,
    pub login_id: String,
    pub disabled: bool,
    pub lists: Vec<List>,
    pub stores: std::collections::BTreeMap<String, super::model::Store>,
    /// Creates refused because the id existed, per kind: what an idempotent client never causes.
    pub duplicate_creates: std::collections::BTreeMap<String, u64>,
    pub batches: std::collections::BTreeMap<String, super::model::Batch>,
    /// Access tokens OAuth gave for the account (accepted like its key).
    pub oauth_tokens: Vec<String>,
    /// Connected sites by foreign id.
    pub sites: std::collections::BTreeMap<String, super::sites::Site>,
    next_web_id: i64,
    next_segment_id: i64,
    serial: u64,
}

/// Batch result archives by download token. Mailchimp's expire ("read them promptly"): here
/// one goes a minute after its first download, or ten minutes after it was made, so that a
/// long run does not keep every archive it ever made.
#[derive(Default)]
pub struct Results {
    archives: std::collections::HashMap<String, Archive>,
}

struct Archive {
    bytes: Vec<u8>,
    made: std::time::Instant,
    downloaded: Option<std::time::Instant>,
}

const KEPT_AFTER_DOWNLOAD: std::time::Duration = std::time::Duration::from_secs(60);
const KEPT_AT_MOST: std::time::Duration = std::time::Duration::from_secs(600);

impl Results {
    /// Publishes an archive under `token`.
    pub fn insert(&mut self, token: String, bytes: Vec<u8>) {
        self.expire();
        self.archives.insert(
            token,
            Archive {
                bytes,
                made: std::time::Instant::now(),
                downloaded: None,
            },
        );
    }

    /// The archive for `token`, while it has not expired.
    pub fn download(&mut self, token: &str) -> Option<Vec<u8>> {
        self.expire();
        let archive = self.archives.get_mut(token)?;
        archive
            .downloaded
            .get_or_insert_with(std::time::Instant::now);
        Some(archive.bytes.clone())
    }

    fn expire(&mut self) {
        let now = std::time::Instant::now();
        self.archives.retain(|_, a| {
            now.duration_since(a.made) < KEPT_AT_MOST
                && a.downloaded
                    .is_none_or(|d| now.duration_since(d) < KEPT_AFTER_DOWNLOAD)
        });
    }
}

pub struct World {
    pub accounts: Vec<Account>,
    /// Batch result archives by download token.
    pub results: Results,
}

fn hex_id(seed: &str, len: usize) -> String {
    format!("{:x}", md5::compute(seed.as_bytes()))[..len].to_owned()
}

/// Mailchimp's subscriber hash: md5 of the lower-cased email.
pub fn subscriber_hash(email: &str) -> String {
    format!("{:x}", md5::compute(email.to_lowercase().as_bytes()))
}

impl Account {
    pub fn new(api_key: &str, index: usize, lists: usize, disabled: bool) -> Self {
        let id = hex_id(&format!("account:{api_key}"), 25);
        let n = index + 1;
        let mut account = Self {
            api_key: api_key.to_owned(),
            name: format!("Simulated Shop {n}"),
            email: format!("owner{n}@shop{n}.example.com"),
            login_id: hex_id(&format!("login:{api_key}"), 8),
            id,
            disabled,
            lists: Vec::new(),
            stores: Default::default(),
            duplicate_creates: Default::default(),
            batches: Default::default(),
            sites: Default::default(),
            oauth_tokens: Vec::new(),
            next_web_id: 100_000 * n as i64,
            next_segment_id: 1,
            serial: 0,
        };
        for i in 0..lists {
            let base = LIST_NAMES[i % LIST_NAMES.len()];
            let name = if i < LIST_NAMES.len() {
                base.to_owned()
            } else {
                format!("{base} {}", i + 1)
            };
            account.add_list(&name);
        }
        account
    }

    /// A new batch id, unique in the account (Mailchimp's are 10 hex digits).
    pub fn next_batch_id(&mut self) -> String {
        self.serial += 1;
        hex_id(&format!("batch:{}:{}", self.api_key, self.serial), 10)
    }

    /// Creates an audience with Mailchimp's default merge fields, two interest categories and
    /// two segments, and a deterministic member history.
    pub fn add_list(&mut self, name: &str) -> String {
        self.serial += 1;
        let seed = format!("{}:{}", self.api_key, self.serial);
        let id = hex_id(&format!("list:{seed}"), 10);
        let interest = |cat: &str, i: usize, name: &str| Interest {
            id: hex_id(&format!("interest:{seed}:{cat}:{i}"), 10),
            name: name.to_owned(),
            display_order: i as i64 + 1,
        };
        let categories = vec![
            Category {
                id: hex_id(&format!("category:{seed}:1"), 10),
                title: "Interests".into(),
                kind: "checkboxes",
                display_order: 0,
                interests: ["Shoes", "Bags", "Accessories"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| interest("1", i, n))
                    .collect(),
            },
            Category {
                id: hex_id(&format!("category:{seed}:2"), 10),
                title: "Preferred store".into(),
                kind: "radio",
                display_order: 1,
                interests: ["Online", "In person"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| interest("2", i, n))
                    .collect(),
            },
        ];
        let seeded_members = (self.serial as i64 * 37) % 5_000;
        let segments = vec![
            Segment {
                id: self.next_segment_id,
                name: "Recent buyers".into(),
                kind: "saved",
                member_count: seeded_members / 3,
                members: Default::default(),
            },
            Segment {
                id: self.next_segment_id + 1,
                name: "Imported".into(),
                kind: "static",
                member_count: seeded_members / 2,
                members: Default::default(),
            },
        ];
        self.next_segment_id += 2;
        self.next_web_id += 1;
        self.lists.push(List {
            id: id.clone(),
            web_id: self.next_web_id,
            name: name.to_owned(),
            date_created: now_iso(),
            campaign_count: (self.serial % 7) as i64,
            categories,
            segments,
            members: HashMap::new(),
            seeded_members,
            confirmation_mails: 0,
            webhooks: Vec::new(),
            merge_fields: super::merge_fields::defaults(),
            marketing_permissions: Vec::new(),
        });
        id
    }

    pub fn remove_list(&mut self, list_id: &str) -> bool {
        let before = self.lists.len();
        self.lists.retain(|l| l.id != list_id);
        self.lists.len() != before
    }

    pub fn list(&self, list_id: &str) -> Result<&List, SimError> {
        self.lists
            .iter()
            .find(|l| l.id == list_id)
            .ok_or_else(SimError::not_found)
    }

    pub fn list_mut(&mut self, list_id: &str) -> Result<&mut List, SimError> {
        self.lists
            .iter_mut()
            .find(|l| l.id == list_id)
            .ok_or_else(SimError::not_found)
    }

    pub fn json(&self) -> Value {
        let total: i64 = self.lists.iter().map(List::member_count).sum();
        json!({
            "account_id": self.id,
            "login_id": self.login_id,
            "account_name": self.name,
            "email": self.email,
            "first_name": "Sim",
            "last_name": "Owner",
            "username": self.email,
            "role": "owner",
            "pro_enabled": false,
            "account_timezone": "UTC",
            "account_industry": "eCommerce",
            "total_subscribers": total,
            "contact": {"company": self.name, "addr1": "1 Main St", "city": "Atlanta", "state": "GA", "zip": "30308", "country": "US"},
            "_links": []
        })
    }
}

impl List {
    pub fn member_count(&self) -> i64 {
        self.seeded_members
            + self
                .members
                .values()
                .filter(|m| m.status == "subscribed")
                .count() as i64
    }

    fn count_status(&self, status: &str) -> i64 {
        self.members.values().filter(|m| m.status == status).count() as i64
    }

    pub fn json(&self) -> Value {
        let members = self.member_count();
        json!({
            "id": self.id,
            "web_id": self.web_id,
            "name": self.name,
            "contact": {"company": "Simulated Shop", "address1": "1 Main St", "city": "Atlanta", "state": "GA", "zip": "30308", "country": "US"},
            "permission_reminder": "You signed up on our shop.",
            "use_archive_bar": true,
            "campaign_defaults": {"from_name": "Simulated Shop", "from_email": "shop@example.com", "subject": "", "language": "en"},
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": self.date_created,
            "list_rating": 3,
            "email_type_option": false,
            "subscribe_url_short": format!("http://eepurl.com/{}", &self.id[..6]),
            "visibility": "pub",
            "double_optin": false,
            "has_welcome": false,
            "marketing_permissions": !self.marketing_permissions.is_empty(),
            "modules": [],
            "stats": {
                "member_count": members,
                "unsubscribe_count": self.count_status("unsubscribed") + members / 20,
                "cleaned_count": self.count_status("cleaned") + members / 50,
                "member_count_since_send": members / 10,
                "unsubscribe_count_since_send": 0,
                "cleaned_count_since_send": 0,
                "campaign_count": self.campaign_count,
                "campaign_last_sent": "",
                "merge_field_count": self.merge_fields.len(),
                "avg_sub_rate": (members % 13) as f64,
                "avg_unsub_rate": 0.5,
                "target_sub_rate": 3.0,
                "open_rate": 20.0 + (members % 17) as f64,
                "click_rate": 2.0 + (members % 5) as f64,
                "last_sub_date": self.date_created,
                "last_unsub_date": ""
            },
            "_links": []
        })
    }

    pub fn category(&self, id: &str) -> Result<&Category, SimError> {
        self.categories
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(SimError::not_found)
    }

    fn interest_count(&self, interest_id: &str) -> usize {
        self.members
            .values()
            .filter(|m| m.interests.get(interest_id).copied().unwrap_or(false))
            .count()
    }

    pub fn category_json(&self, c: &Category) -> Value {
        json!({"list_id": self.id, "id": c.id, "title": c.title, "display_order": c.display_order, "type": c.kind, "_links": []})
    }

    pub fn interest_json(&self, c: &Category, i: &Interest) -> Value {
        json!({
            "category_id": c.id, "list_id": self.id, "id": i.id, "name": i.name,
            // A string, as in real answers.
            "subscriber_count": self.interest_count(&i.id).to_string(),
            "display_order": i.display_order, "_links": []
        })
    }

    pub fn segment_json(&self, s: &Segment) -> Value {
        let count = s.member_count + s.members.len() as i64;
        json!({"id": s.id, "name": s.name, "member_count": count, "type": s.kind,
               "created_at": self.date_created, "updated_at": self.date_created, "list_id": self.id, "_links": []})
    }

    pub fn member_json(&self, hash: &str, m: &Member) -> Value {
        let interests: Map<String, Value> = self
            .categories
            .iter()
            .flat_map(|c| &c.interests)
            .map(|i| {
                (
                    i.id.clone(),
                    Value::Bool(m.interests.get(&i.id).copied().unwrap_or(false)),
                )
            })
            .collect();
        let merge: Map<String, Value> = self
            .merge_fields
            .iter()
            .map(|f| {
                (
                    f.tag.clone(),
                    m.merge_fields
                        .get(&f.tag)
                        .cloned()
                        .unwrap_or(Value::String(String::new())),
                )
            })
            .collect();
        let mut member = json!({
            "id": hash, "email_address": m.email, "unique_email_id": &hash[..10],
            "contact_id": hash, "full_name": format!("{} {}", str_of(&merge, "FNAME"), str_of(&merge, "LNAME")).trim(),
            "web_id": 1, "email_type": "html", "status": m.status, "merge_fields": merge,
            "interests": interests, "list_id": self.id, "last_changed": m.last_changed,
            "language": "", "vip": false, "source": "API - Generic", "_links": []
        });
        let tags: Vec<Value> = self
            .segments
            .iter()
            .filter(|s| s.kind == "static" && s.members.contains(hash))
            .map(|s| json!({"id": s.id, "name": s.name}))
            .collect();
        member["tags_count"] = json!(tags.len());
        member["tags"] = Value::Array(tags);
        if !self.marketing_permissions.is_empty() {
            member["marketing_permissions"] =
                super::gdpr::member_json(&self.marketing_permissions, &m.marketing_permissions);
        }
        member
    }

    /// GDPR fields on, with Mailchimp's default permissions; their (id, text).
    pub fn enable_marketing_permissions(&mut self) -> Vec<(String, String)> {
        if self.marketing_permissions.is_empty() {
            self.marketing_permissions = super::gdpr::DEFAULT_TEXTS
                .iter()
                .map(|text| super::gdpr::Permission {
                    id: hex_id(&format!("permission:{}:{text}", self.id), 10),
                    text: (*text).to_owned(),
                })
                .collect();
        }
        self.marketing_permissions
            .iter()
            .map(|p| (p.id.clone(), p.text.clone()))
            .collect()
    }

    /// `PUT /lists/{id}/members/{hash}`: the add-or-update rules. `status_if_new` applies only
    /// to a new member; `status` changes an existing one; an existing member keeps its status
    /// otherwise.
    #[cfg(test)]
    pub fn upsert_member(&mut self, hash: &str, body: &Value) -> Result<Value, SimError> {
        self.upsert_member_with(hash, body, false)
    }

    /// [`Self::upsert_member`], with the request's `skip_merge_validation`: when false, the
    /// member the write would leave must have a value for every required merge field.
    pub fn upsert_member_with(
        &mut self,
        hash: &str,
        body: &Value,
        skip_merge_validation: bool,
    ) -> Result<Value, SimError> {
        let obj = body.as_object().ok_or_else(|| {
            SimError::schema("", "Schema describes object, other type found instead")
        })?;
        let mut errors = Vec::new();
        let email = match obj.get("email_address") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                errors.push((
                    "email_address",
                    "This value should not be blank.".to_string(),
                ));
                String::new()
            }
            Some(_) => {
                errors.push((
                    "email_address",
                    "Schema describes string, other type found instead".to_string(),
                ));
                String::new()
            }
        };
        let status_field =
            |name: &'static str, errors: &mut Vec<(&'static str, String)>| match obj.get(name) {
                None => None,
                Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
                Some(_) => {
                    errors.push((
                        name,
                        format!("Value must be one of: {}", STATUSES.join(", ")),
                    ));
                    None
                }
            };
        let status_if_new = status_field("status_if_new", &mut errors);
        let status = status_field("status", &mut errors);
        if status_if_new.is_none() && !obj.contains_key("status_if_new") {
            errors.push((
                "status_if_new",
                "This value should not be blank.".to_string(),
            ));
        }
        let merge_fields = match obj.get("merge_fields") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                errors.push((
                    "merge_fields",
                    "Schema describes object, other type found instead".to_string(),
                ));
                Map::new()
            }
        };
        let interests = match obj.get("interests") {
            None => HashMap::new(),
            Some(Value::Object(m)) => {
                let mut out = HashMap::new();
                for (k, v) in m {
                    match v {
                        Value::Bool(b) => {
                            out.insert(k.clone(), *b);
                        }
                        _ => errors
                            .push(("interests", format!("Interest '{k}' must be true or false"))),
                    }
                }
                out
            }
            Some(_) => {
                errors.push((
                    "interests",
                    "Schema describes object, other type found instead".to_string(),
                ));
                HashMap::new()
            }
        };
        let permissions =
            super::gdpr::parse_choices(obj, &self.marketing_permissions, &mut errors)?;
        if !errors.is_empty() {
            return Err(SimError::invalid_resource(errors));
        }
        if !super::problem::looks_like_email(&email) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                &format!("{email} looks fake or invalid, please enter a real email address."),
            ));
        }
        if subscriber_hash(&email) != hash.to_lowercase() {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "The subscriber hash in the URL does not match the email address in the body.",
            ));
        }
        super::merge_fields::check(&self.merge_fields, &merge_fields)?;
        let known: Vec<&str> = self
            .categories
            .iter()
            .flat_map(|c| &c.interests)
            .map(|i| i.id.as_str())
            .collect();
        if let Some(bad) = interests.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                &format!("Invalid interest ID: '{bad}'."),
            ));
        }
        let hash = hash.to_lowercase();
        let before = self.members.get(&hash).map(|m| m.status.clone());
        if let (Some(current), Some(wanted)) = (&before, &status) {
            check_transition(&email, current, wanted)?;
        }
        if !skip_merge_validation {
            let held = self.members.get(&hash).map(|m| &m.merge_fields);
            let missing: Vec<(&str, String)> = self
                .merge_fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.tag.as_str())
                .filter(|tag| {
                    let value = merge_fields
                        .get(*tag)
                        .or_else(|| held.and_then(|h| h.get(*tag)));
                    value.is_none_or(|v| v.as_str().is_some_and(|s| s.trim().is_empty()))
                })
                .map(|tag| (tag, "Please enter a value".to_owned()))
                .collect();
            if !missing.is_empty() {
                let mut e = SimError::invalid_resource(missing);
                e.problem.detail = "Your merge fields were invalid.".into();
                return Err(e);
            }
        }
        let now = now_iso();
        let member = self.members.entry(hash.clone()).or_insert_with(|| Member {
            email: email.clone(),
            status: status_if_new.clone().unwrap_or_else(|| "subscribed".into()),
            merge_fields: Map::new(),
            interests: HashMap::new(),
            marketing_permissions: HashMap::new(),
            last_changed: now.clone(),
        });
        if let Some(s) = status {
            member.status = s;
        }
        member.merge_fields.extend(merge_fields);
        member.interests.extend(interests);
        member.marketing_permissions.extend(permissions);
        member.last_changed = now;
        let member = member.clone();
        if member.status == "pending" && before.as_deref() != Some("pending") {
            self.confirmation_mails += 1;
        }
        Ok(self.member_json(&hash, &member))
    }

    /// `PATCH /lists/{id}/members/{hash}`: changes an existing member's merge fields (and its
    /// status, if the body names one); never makes a member.
    pub fn patch_member(&mut self, hash: &str, body: &Value) -> Result<Value, SimError> {
        let hash = hash.to_lowercase();
        let obj = body.as_object().ok_or_else(|| {
            SimError::schema("", "Schema describes object, other type found instead")
        })?;
        let merge = match obj.get("merge_fields") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(SimError::schema(
                    "merge_fields",
                    "Schema describes object, other type found instead",
                ));
            }
        };
        let member = self
            .members
            .get(&hash)
            .ok_or_else(SimError::not_found)?
            .clone();
        super::merge_fields::check(&self.merge_fields, &merge)?;
        let status = match obj.get("status") {
            None => None,
            Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
            Some(_) => {
                return Err(SimError::schema(
                    "status",
                    &format!("Value must be one of: {}", STATUSES.join(", ")),
                ));
            }
        };
        if let Some(wanted) = &status {
            check_transition(&member.email, &member.status, wanted)?;
        }
        let m = self.members.get_mut(&hash).expect("read above");
        m.merge_fields.extend(merge);
        if let Some(s) = status {
            m.status = s;
        }
        m.last_changed = now_iso();
        let m = m.clone();
        Ok(self.member_json(&hash, &m))
    }

    /// A customer new to the audience joins it (`opt_in_status` true: subscribed, else
    /// transactional); an existing member is never changed by e-commerce data.
    pub fn join_as_customer(&mut self, email: &str, opt_in: bool) {
        self.join_as_customer_named(email, opt_in, Map::new());
    }

    /// [`Self::join_as_customer`], with the merge fields a new member gets (the customer's
    /// names).
    pub fn join_as_customer_named(&mut self, email: &str, opt_in: bool, merge: Map<String, Value>) {
        let status = if opt_in {
            "subscribed"
        } else {
            "transactional"
        };
        self.members
            .entry(subscriber_hash(email))
            .or_insert_with(|| Member {
                email: email.to_owned(),
                status: status.into(),
                merge_fields: merge,
                interests: HashMap::new(),
                marketing_permissions: HashMap::new(),
                last_changed: now_iso(),
            });
    }
}

/// The changes of status Mailchimp refuses: a contact who unsubscribed (or was cleaned) cannot
/// be put back to `subscribed` by an API call; only their own confirmation (`pending`) brings an
/// unsubscribed contact back, and a cleaned address stays out.
fn check_transition(email: &str, current: &str, wanted: &str) -> Result<(), SimError> {
    let refused = match current {
        "unsubscribed" => wanted == "subscribed",
        "cleaned" => matches!(wanted, "subscribed" | "pending"),
        _ => false,
    };
    if refused {
        return Err(SimError::bad_request(
            "Member In Compliance State",
            &format!(
                "{email} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."
            ),
        ));
    }
    Ok(())
}

fn str_of(m: &Map<String, Value>, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl World {
    pub fn account_by_key(&self, key: &str) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.api_key == key || a.oauth_tokens.iter().any(|t| t == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account::new("0123456789abcdef0123456789abcdef-us6", 0, 2, false)
    }

    #[test]
    fn subscriber_hash_matches_mailchimps_test_vector() {
        assert_eq!(
            subscriber_hash("Urist.McVankab@freddiesjokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
    }

    #[test]
    fn seeded_lists_have_interest_groups_and_segments() {
        let a = account();
        assert_eq!(a.lists.len(), 2);
        assert_ne!(a.lists[0].id, a.lists[1].id);
        assert_eq!(a.lists[0].categories.len(), 2);
        assert_eq!(a.lists[0].categories[0].interests.len(), 3);
        assert_eq!(a.lists[0].segments.len(), 2);
    }

    #[test]
    fn a_required_merge_field_is_refused_unless_validation_is_skipped() {
        let mut a = account();
        let list = &mut a.lists[0];
        list.merge_fields[3].required = true;
        let email = "p@example.com";
        let hash = subscriber_hash(email);
        let body = json!({"email_address": email, "status_if_new": "pending"});
        let err = list.upsert_member_with(&hash, &body, false).unwrap_err();
        assert_eq!(err.problem.status, 400);
        assert_eq!(err.problem.detail, "Your merge fields were invalid.");
        assert_eq!(err.problem.errors[0].field, "PHONE");
        assert!(list.members.is_empty(), "nothing written");
        list.upsert_member_with(&hash, &body, true).unwrap();
        // A member with a phone passes, and keeps passing without sending it again; the one
        // written without it still does not.
        let other = subscriber_hash("q@example.com");
        let phone = json!({"email_address": "q@example.com", "status_if_new": "pending",
            "merge_fields": {"PHONE": "555-0100"}});
        list.upsert_member_with(&other, &phone, false).unwrap();
        let again = json!({"email_address": "q@example.com", "status_if_new": "pending"});
        assert!(list.upsert_member_with(&other, &again, false).is_ok());
        assert!(list.upsert_member_with(&hash, &body, false).is_err());
    }

    #[test]
    fn put_member_requires_email_and_status_if_new() {
        let mut a = account();
        let list = &mut a.lists[0];
        let err = list.upsert_member("x", &json!({})).unwrap_err();
        let fields: Vec<_> = err
            .problem
            .errors
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(err.problem.status, 400);
        assert!(
            fields.contains(&"email_address") && fields.contains(&"status_if_new"),
            "{fields:?}"
        );
        let err = list
            .upsert_member(
                "x",
                &json!({"email_address": "a@b.com", "status_if_new": "maybe"}),
            )
            .unwrap_err();
        assert_eq!(err.problem.errors[0].field, "status_if_new");
    }

    #[test]
    fn put_member_checks_hash_email_merge_fields_and_interests() {
        let mut a = account();
        let list = &mut a.lists[0];
        let email = "urist.mcvankab@freddiesjokes.com";
        let hash = subscriber_hash(email);
        let ok = |body: Value| body;
        assert!(
            list.upsert_member(
                "00",
                &ok(json!({"email_address": email, "status_if_new": "pending"}))
            )
            .is_err()
        );
        assert!(
            list.upsert_member(
                &hash,
                &json!({"email_address": "nope", "status_if_new": "pending"})
            )
            .is_err()
        );
        assert!(list
            .upsert_member(&hash, &json!({"email_address": email, "status_if_new": "pending", "merge_fields": {"NOPE": "x"}}))
            .is_err());
        assert!(list
            .upsert_member(&hash, &json!({"email_address": email, "status_if_new": "pending", "interests": {"bogus": true}}))
            .is_err());
        assert!(
            list.members.is_empty(),
            "nothing stored by rejected requests"
        );
    }

    #[test]
    fn status_if_new_applies_only_to_new_members() {
        let mut a = account();
        let list = &mut a.lists[0];
        let email = "a@example.com";
        let h = subscriber_hash(email);
        let m = list
            .upsert_member(
                &h,
                &json!({"email_address": email, "status_if_new": "subscribed"}),
            )
            .unwrap();
        assert_eq!(m["status"], "subscribed");
        let m = list
            .upsert_member(
                &h,
                &json!({"email_address": email, "status_if_new": "pending"}),
            )
            .unwrap();
        assert_eq!(
            m["status"], "subscribed",
            "an existing member keeps its status"
        );
        let m = list
            .upsert_member(&h, &json!({"email_address": email, "status_if_new": "pending", "status": "unsubscribed"}))
            .unwrap();
        assert_eq!(m["status"], "unsubscribed");
    }
}
