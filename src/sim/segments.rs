//! Tags, as Mailchimp keeps them: static segments of an audience. Per member,
//! `POST /lists/{id}/members/{hash}/tags` (a new name makes the tag); in bulk,
//! `POST /lists/{id}/segments/{segment_id}` with `members_to_add` / `members_to_remove`, at most
//! 500 emails each; `POST /lists/{id}/segments` makes one. Tagging never makes a member: an
//! email the audience does not hold comes back in `errors` (API-NOTES).

use serde_json::{Value, json};

use super::problem::SimError;
use super::world::{List, Segment, subscriber_hash};

/// The most emails `members_to_add` or `members_to_remove` takes.
pub const MAX_BULK: usize = 500;

impl List {
    fn static_named(&mut self, name: &str) -> &mut Segment {
        if let Some(i) = self
            .segments
            .iter()
            .position(|s| s.kind == "static" && s.name == name)
        {
            return &mut self.segments[i];
        }
        let id = self.segments.iter().map(|s| s.id).max().unwrap_or(0) + 1;
        self.segments.push(Segment {
            id,
            name: name.to_owned(),
            kind: "static",
            member_count: 0,
            members: Default::default(),
        });
        self.segments.last_mut().expect("just pushed")
    }

    /// `POST /lists/{id}/segments`: a new static segment (a tag) named `name`, with the
    /// members among `static_segment`.
    pub fn create_segment(&mut self, body: &Value) -> Result<Value, SimError> {
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SimError::schema("name", "This value should not be blank."))?
            .to_owned();
        if body.get("options").is_some() {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "The simulator makes static segments only (no options).",
            ));
        }
        if self.segments.iter().any(|s| s.name == name) {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "Sorry, that tag already exists.",
            ));
        }
        let emails = emails(body, "static_segment")?;
        let hashes: Vec<String> = emails
            .iter()
            .map(|e| subscriber_hash(e))
            .filter(|h| self.members.contains_key(h))
            .collect();
        let segment = self.static_named(&name);
        segment.members.extend(hashes);
        let segment = segment.clone();
        Ok(self.segment_json(&segment))
    }

    /// `POST /lists/{id}/segments/{segment_id}`: members added to and removed from a static
    /// segment, at most [`MAX_BULK`] each; emails not in the audience come back in `errors`.
    pub fn batch_segment(&mut self, segment_id: i64, body: &Value) -> Result<Value, SimError> {
        let add = emails(body, "members_to_add")?;
        let remove = emails(body, "members_to_remove")?;
        for (field, list) in [("members_to_add", &add), ("members_to_remove", &remove)] {
            if list.len() > MAX_BULK {
                return Err(SimError::schema(
                    field,
                    &format!("This collection should contain {MAX_BULK} elements or less."),
                ));
            }
        }
        let i = self
            .segments
            .iter()
            .position(|s| s.id == segment_id)
            .ok_or_else(SimError::not_found)?;
        if self.segments[i].kind != "static" {
            return Err(SimError::bad_request(
                "Invalid Resource",
                "Only static segments (tags) take members.",
            ));
        }
        let (mut added, mut removed, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for (emails, adding) in [(&add, true), (&remove, false)] {
            for email in emails {
                let hash = subscriber_hash(email);
                let Some(member) = self.members.get(&hash) else {
                    missing.push(json!(email));
                    continue;
                };
                let member = member.clone();
                let changed = if adding {
                    self.segments[i].members.insert(hash.clone())
                } else {
                    self.segments[i].members.remove(&hash)
                };
                if changed {
                    let json = self.member_json(&hash, &member);
                    if adding {
                        added.push(json)
                    } else {
                        removed.push(json)
                    }
                }
            }
        }
        let errors = if missing.is_empty() {
            Vec::new()
        } else {
            vec![
                json!({"email_addresses": missing, "error": "Email addresses were not found in the audience."}),
            ]
        };
        Ok(json!({
            "total_added": added.len(), "total_removed": removed.len(),
            "error_count": missing.len(),
            "members_added": added, "members_removed": removed, "errors": errors, "_links": []
        }))
    }

    /// `POST /lists/{id}/members/{hash}/tags`: each tag `active` (added; a new name makes it)
    /// or `inactive` (removed) on an existing member.
    pub fn tag_member(&mut self, hash: &str, body: &Value) -> Result<(), SimError> {
        let hash = hash.to_lowercase();
        if !self.members.contains_key(&hash) {
            return Err(SimError::not_found());
        }
        let tags = body
            .get("tags")
            .and_then(Value::as_array)
            .ok_or_else(|| SimError::schema("tags", "This value should not be blank."))?;
        for t in tags {
            let (Some(name), Some(status)) = (
                t.get("name").and_then(Value::as_str),
                t.get("status").and_then(Value::as_str),
            ) else {
                return Err(SimError::schema(
                    "tags",
                    "Each tag needs a name and a status.",
                ));
            };
            match status {
                "active" => {
                    self.static_named(name).members.insert(hash.clone());
                }
                "inactive" => {
                    if let Some(s) = self
                        .segments
                        .iter_mut()
                        .find(|s| s.kind == "static" && s.name == name)
                    {
                        s.members.remove(&hash);
                    }
                }
                _ => {
                    return Err(SimError::schema(
                        "tags",
                        "Status must be active or inactive.",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The names of the tags a member has.
    pub fn member_tags(&self, email: &str) -> Vec<String> {
        let hash = subscriber_hash(email);
        self.segments
            .iter()
            .filter(|s| s.kind == "static" && s.members.contains(&hash))
            .map(|s| s.name.clone())
            .collect()
    }
}

/// A body's array of emails under `field` (absent: none).
fn emails(body: &Value, field: &'static str) -> Result<Vec<String>, SimError> {
    match body.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    SimError::schema(field, "Schema describes string, other type found instead")
                })
            })
            .collect(),
        Some(_) => Err(SimError::schema(
            field,
            "Schema describes array, other type found instead",
        )),
    }
}

/// The `type` filter of `GET /lists/{id}/segments`.
pub fn of_type<'a>(
    segments: &'a [Segment],
    q: &std::collections::HashMap<String, String>,
) -> Vec<&'a Segment> {
    segments
        .iter()
        .filter(|s| q.get("type").is_none_or(|t| t == s.kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::sim::world::Account;

    #[test]
    fn bulk_tagging_takes_members_only_and_at_most_500() {
        let mut a = Account::new("0123456789abcdef0123456789abcdef-us6", 0, 1, false);
        let list = &mut a.lists[0];
        list.join_as_customer("in@example.com", false);
        let tag = list.create_segment(&json!({"name": "VIP"})).unwrap();
        let id = tag["id"].as_i64().unwrap();
        let before = list.members.len();
        let answer = list
            .batch_segment(
                id,
                &json!({"members_to_add": ["in@example.com", "out@example.com"]}),
            )
            .unwrap();
        assert_eq!(answer["total_added"], 1);
        assert_eq!(
            answer["errors"][0]["email_addresses"],
            json!(["out@example.com"])
        );
        assert_eq!(list.members.len(), before, "tagging never makes a member");
        assert_eq!(list.member_tags("in@example.com"), ["VIP"]);
        let many: Vec<String> = (0..501).map(|i| format!("m{i}@example.com")).collect();
        assert!(
            list.batch_segment(id, &json!({"members_to_add": many}))
                .is_err()
        );
        let answer = list
            .batch_segment(id, &json!({"members_to_remove": ["in@example.com"]}))
            .unwrap();
        assert_eq!(answer["total_removed"], 1);
        assert!(list.member_tags("in@example.com").is_empty());
        assert!(
            list.create_segment(&json!({"name": "VIP"})).is_err(),
            "names are unique"
        );
    }
}
