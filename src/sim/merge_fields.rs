//! An audience's merge fields as Mailchimp keeps them (`GET /lists/{id}/merge-fields`), and the
//! type rules a member write's `merge_fields` must meet. `skip_merge_validation` lifts only the
//! required-field rule: a value of the wrong type is refused whatever the query says. No HTTP
//! here.

use serde_json::{Map, Value, json};

use super::problem::SimError;

#[derive(Debug, Clone)]
/// One merge field of an audience.
pub struct MergeField {
    pub merge_id: i64,
    pub tag: String,
    pub name: String,
    /// text, number, address, phone, date, birthday, url, dropdown or radio.
    pub kind: String,
    pub required: bool,
    /// For date and birthday fields: `MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD` or `DD/MM`.
    pub date_format: String,
    /// For dropdown and radio fields.
    pub choices: Vec<String>,
}

impl MergeField {
    pub fn new(merge_id: i64, tag: &str, name: &str, kind: &str) -> Self {
        let date_format = match kind {
            "date" => "MM/DD/YYYY",
            "birthday" => "MM/DD",
            _ => "",
        };
        Self {
            merge_id,
            tag: tag.to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            required: false,
            date_format: date_format.to_owned(),
            choices: Vec::new(),
        }
    }

    pub fn json(&self, list_id: &str) -> Value {
        let mut options = Map::new();
        if !self.date_format.is_empty() {
            options.insert("date_format".into(), json!(self.date_format));
        }
        if !self.choices.is_empty() {
            options.insert("choices".into(), json!(self.choices));
        }
        if self.kind == "text" {
            options.insert("size".into(), json!(25));
        }
        json!({
            "merge_id": self.merge_id, "tag": self.tag, "name": self.name, "type": self.kind,
            "required": self.required, "default_value": "", "public": true,
            "display_order": self.merge_id + 1, "options": options, "help_text": "",
            "list_id": list_id, "_links": []
        })
    }

    /// Why Mailchimp would refuse `value` for this field; `None` when it takes it. An empty
    /// string clears any field.
    fn refusal(&self, value: &Value) -> Option<String> {
        if value.as_str() == Some("") {
            return None;
        }
        let text = value.as_str();
        let ok = match self.kind.as_str() {
            "text" | "phone" => value.is_string() || value.is_number(),
            "number" => value.is_number() || text.is_some_and(|t| t.trim().parse::<f64>().is_ok()),
            "address" => value.as_object().is_some_and(|a| {
                ["addr1", "city", "state", "zip"].iter().all(|k| {
                    a.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.trim().is_empty())
                })
            }),
            "birthday" | "date" => text.is_some_and(|t| fits_date(t, &self.date_format)),
            "url" => text.is_some_and(|t| t.starts_with("http://") || t.starts_with("https://")),
            "dropdown" | "radio" => text.is_some_and(|t| self.choices.iter().any(|c| c == t)),
            _ => true,
        };
        (!ok).then(|| match self.kind.as_str() {
            "number" => "Please enter a number".to_owned(),
            "address" => "Please enter a complete address (addr1, city, state and zip)".to_owned(),
            "birthday" | "date" => {
                format!("Please enter a date in the format {}", self.date_format)
            }
            "url" => "Please enter a valid URL".to_owned(),
            "dropdown" | "radio" => format!("Please choose one of: {}", self.choices.join(", ")),
            _ => "Please enter a value as text".to_owned(),
        })
    }
}

/// The fields Mailchimp gives a new audience.
pub fn defaults() -> Vec<MergeField> {
    [
        ("FNAME", "First Name", "text"),
        ("LNAME", "Last Name", "text"),
        ("ADDRESS", "Address", "address"),
        ("PHONE", "Phone Number", "phone"),
        ("BIRTHDAY", "Birthday", "birthday"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (tag, name, kind))| MergeField::new(i as i64 + 1, tag, name, kind))
    .collect()
}

/// Whether `t` is a date in `format` (`MM/DD/YYYY`, `DD/MM/YYYY`, `MM/DD` or `DD/MM`).
fn fits_date(t: &str, format: &str) -> bool {
    let parts: Vec<&str> = t.split('/').collect();
    let names: Vec<&str> = format.split('/').collect();
    if parts.len() != names.len() {
        return false;
    }
    let mut month = 0;
    let mut day = 0;
    for (part, name) in parts.iter().zip(&names) {
        if part.len() != name.len() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let n: u32 = part.parse().unwrap_or(0);
        match *name {
            "MM" => month = n,
            "DD" => day = n,
            _ => {}
        }
    }
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// A member write's `merge_fields`, checked against the audience's fields: an unknown tag, or a
/// value of the wrong type, is refused as Mailchimp refuses them ("Your merge fields were
/// invalid.", with an error per field).
pub fn check(fields: &[MergeField], merge: &Map<String, Value>) -> Result<(), SimError> {
    let mut errors = Vec::new();
    for (tag, value) in merge {
        match fields.iter().find(|f| &f.tag == tag) {
            None => {
                return Err(SimError::bad_request(
                    "Invalid Resource",
                    &format!(
                        "Your merge fields were invalid. Merge field '{tag}' does not exist on this audience."
                    ),
                ));
            }
            Some(f) => {
                if let Some(reason) = f.refusal(value) {
                    errors.push((tag.as_str(), reason));
                }
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let mut e = SimError::invalid_resource(errors);
    e.problem.detail = "Your merge fields were invalid.".into();
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_takes_what_mailchimp_takes() {
        let mut fields = defaults();
        let mut level = MergeField::new(6, "LEVEL", "Level", "dropdown");
        level.choices = vec!["Gold".into(), "Silver".into()];
        fields.push(level);
        fields.push(MergeField::new(7, "POINTS", "Points", "number"));
        let good = json!({"FNAME": "Ada", "BIRTHDAY": "07/04", "LEVEL": "Gold", "POINTS": "12.5",
            "ADDRESS": {"addr1": "1 Main St", "city": "Atlanta", "state": "GA", "zip": "30308"},
            "PHONE": ""});
        assert!(check(&fields, good.as_object().unwrap()).is_ok());
        for (tag, bad) in [
            ("BIRTHDAY", json!("1990-07-04")),
            ("BIRTHDAY", json!("13/04")),
            ("LEVEL", json!("Bronze")),
            ("POINTS", json!("many")),
            ("ADDRESS", json!({"addr1": "1 Main St"})),
            ("FNAME", json!({"a": 1})),
        ] {
            let merge = json!({ tag: bad });
            let e = check(&fields, merge.as_object().unwrap()).unwrap_err();
            assert_eq!(e.problem.detail, "Your merge fields were invalid.");
            assert_eq!(e.problem.errors[0].field, tag, "{bad}");
        }
        let unknown = json!({"NOPE": "x"});
        assert!(check(&fields, unknown.as_object().unwrap()).is_err());
    }
}
