//! GDPR marketing permissions, as Mailchimp keeps them: an audience with GDPR fields says
//! `marketing_permissions: true`, its permission ids live on its members only (API-NOTES), and a
//! member write may set each permission `enabled` or not. No HTTP here.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::problem::SimError;

/// The permissions Mailchimp's GDPR form offers by default.
pub const DEFAULT_TEXTS: [&str; 3] = ["Email", "Direct Mail", "Customized Online Advertising"];

#[derive(Debug, Clone)]
/// One permission of an audience.
pub struct Permission {
    pub id: String,
    pub text: String,
}

/// The member's permissions as a member read shows them: every permission of the audience,
/// with the member's choice (not given: not enabled).
pub fn member_json(permissions: &[Permission], chosen: &HashMap<String, bool>) -> Value {
    Value::Array(
        permissions
            .iter()
            .map(|p| {
                json!({
                    "marketing_permission_id": p.id,
                    "text": p.text,
                    "enabled": chosen.get(&p.id).copied().unwrap_or(false),
                })
            })
            .collect(),
    )
}

/// The choices of a member write's `marketing_permissions`, each naming a permission of the
/// audience. A malformed item is a field error (pushed to `errors`); an id the audience does
/// not have, or any choice sent to an audience without GDPR fields, is refused outright.
pub fn parse_choices(
    body: &serde_json::Map<String, Value>,
    permissions: &[Permission],
    errors: &mut Vec<(&'static str, String)>,
) -> Result<HashMap<String, bool>, SimError> {
    let mut out = HashMap::new();
    let items = match body.get("marketing_permissions") {
        None => return Ok(out),
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push((
                "marketing_permissions",
                "Schema describes array, other type found instead".into(),
            ));
            return Ok(out);
        }
    };
    for item in items {
        let id = item.get("marketing_permission_id").and_then(Value::as_str);
        let enabled = item.get("enabled").and_then(Value::as_bool);
        let (Some(id), Some(enabled)) = (id, enabled) else {
            errors.push((
                "marketing_permissions",
                "Each item needs a marketing_permission_id (string) and enabled (boolean)".into(),
            ));
            continue;
        };
        if !permissions.iter().any(|p| p.id == id) {
            // The wording is the simulator's; Mailchimp answers 400 Invalid Resource too.
            return Err(SimError::bad_request(
                "Invalid Resource",
                &format!("The marketing permission '{id}' does not exist on this audience."),
            ));
        }
        out.insert(id.to_owned(), enabled);
    }
    Ok(out)
}
