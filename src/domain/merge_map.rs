//! The merchant's merge-field map: which shop data goes to which merge field of an audience.
//! It is checked against the audience's fields (the tag exists, its type fits the source) when
//! it is set; each value is checked against the type again when it is sent.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::validate::quoted;
use super::{Audience, ValidationError};

/// Where a mapped value comes from: a field of the shop's customer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MergeSource {
    /// `Customer.first_name`.
    FirstName,
    /// `Customer.last_name`.
    LastName,
    /// `Customer.company`.
    Company,
    /// `Customer.phone`.
    Phone,
    /// `Customer.birthday`.
    Birthday,
    /// `Customer.address`.
    Address,
    /// A key of `Customer.attributes`.
    Attribute(String),
}

const ATTRIBUTE: &str = "attributes.";

impl TryFrom<String> for MergeSource {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Ok(match s.as_str() {
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "company" => Self::Company,
            "phone" => Self::Phone,
            "birthday" => Self::Birthday,
            "address" => Self::Address,
            other => match other.strip_prefix(ATTRIBUTE) {
                Some(key) if super::record::attribute_key(key).is_ok() => {
                    Self::Attribute(key.to_owned())
                }
                _ => {
                    return Err(format!(
                        "{} is not a source: first_name, last_name, company, phone, birthday, \
                         address, or attributes.<key> (a-z, 0-9, _)",
                        quoted(other)
                    ));
                }
            },
        })
    }
}

impl From<MergeSource> for String {
    fn from(s: MergeSource) -> String {
        s.to_string()
    }
}

impl fmt::Display for MergeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FirstName => f.write_str("first_name"),
            Self::LastName => f.write_str("last_name"),
            Self::Company => f.write_str("company"),
            Self::Phone => f.write_str("phone"),
            Self::Birthday => f.write_str("birthday"),
            Self::Address => f.write_str("address"),
            Self::Attribute(key) => write!(f, "{ATTRIBUTE}{key}"),
        }
    }
}

impl MergeSource {
    /// The merge field types this source may go to (each value is checked again when sent).
    fn fits(&self, kind: &str) -> bool {
        match self {
            Self::Address => kind == "address",
            Self::Birthday => matches!(kind, "birthday" | "date"),
            _ => matches!(
                kind,
                "text"
                    | "phone"
                    | "number"
                    | "date"
                    | "birthday"
                    | "url"
                    | "dropdown"
                    | "radio"
                    | "zip"
            ),
        }
    }
}

/// Mappings of one audience at most (Mailchimp allows 80 merge fields; the sources are fewer).
pub const MAX_MAPPINGS: usize = 50;

/// One line of a map: a source and the merge tag it goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeMapping {
    /// Where the value comes from.
    pub source: MergeSource,
    /// The audience's merge tag.
    pub tag: String,
}

/// One audience's mappings as asked (source, tag), checked against its merge fields; errors
/// name `<prefix>.mappings[j].source` or `.tag`.
pub fn checked(
    prefix: &str,
    asked: Vec<(String, String)>,
    audience: &Audience,
) -> Result<Vec<MergeMapping>, Vec<ValidationError>> {
    if asked.len() > MAX_MAPPINGS {
        return Err(vec![ValidationError::new(
            format!("{prefix}.mappings"),
            format!(
                "has {} items; at most {MAX_MAPPINGS} are accepted",
                asked.len()
            ),
        )]);
    }
    let mut errors = Vec::new();
    let mut out: Vec<MergeMapping> = Vec::new();
    for (j, (source, tag)) in asked.into_iter().enumerate() {
        let at = |field: &str| format!("{prefix}.mappings[{j}].{field}");
        let source = match MergeSource::try_from(source.trim().to_owned()) {
            Ok(s) => s,
            Err(reason) => {
                errors.push(ValidationError::new(at("source"), reason));
                continue;
            }
        };
        let tag = tag.trim().to_uppercase();
        let Some(field) = audience.merge_fields.iter().find(|f| f.tag == tag) else {
            errors.push(ValidationError::new(
                at("tag"),
                format!(
                    "{} is not a merge field of audience {} (refresh the lists if it is new)",
                    quoted(&tag),
                    quoted(&audience.name)
                ),
            ));
            continue;
        };
        if !source.fits(&field.kind) {
            errors.push(ValidationError::new(
                at("tag"),
                format!(
                    "{} is a {} field: it cannot take {source}",
                    quoted(&tag),
                    field.kind
                ),
            ));
        } else if out.iter().any(|m| m.tag == tag) {
            errors.push(ValidationError::new(
                at("tag"),
                format!("{} is mapped twice", quoted(&tag)),
            ));
        } else {
            out.push(MergeMapping { source, tag });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MergeField;

    fn audience() -> Audience {
        let field = |tag: &str, kind: &str| MergeField {
            tag: tag.into(),
            kind: kind.into(),
            ..Default::default()
        };
        Audience {
            name: "Newsletter".into(),
            merge_fields: vec![
                field("FNAME", "text"),
                field("ADDRESS", "address"),
                field("BIRTHDAY", "birthday"),
                field("TIER", "dropdown"),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_map_names_real_fields_of_fitting_types_once() {
        let asked = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(s, t)| (s.to_string(), t.to_string()))
                .collect::<Vec<_>>()
        };
        let ok = checked(
            "m",
            asked(&[
                ("first_name", "fname"),
                ("attributes.tier", "TIER"),
                ("birthday", "BIRTHDAY"),
            ]),
            &audience(),
        )
        .unwrap();
        assert_eq!(ok[0].tag, "FNAME");
        assert_eq!(ok[1].source, MergeSource::Attribute("tier".into()));

        let errors = checked(
            "m",
            asked(&[
                ("shoe_size", "FNAME"),
                ("first_name", "NOPE"),
                ("address", "FNAME"),
                ("phone", "ADDRESS"),
                ("last_name", "TIER"),
                ("company", "TIER"),
                ("attributes.Bad-Key", "FNAME"),
            ]),
            &audience(),
        )
        .unwrap_err();
        let too_many = vec![("first_name".to_owned(), "FNAME".to_owned()); MAX_MAPPINGS + 1];
        let capped = checked("m", too_many, &audience()).unwrap_err();
        assert_eq!(capped[0].field, "m.mappings");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "m.mappings[0].source",
                "m.mappings[1].tag",
                "m.mappings[2].tag",
                "m.mappings[3].tag",
                "m.mappings[5].tag",
                "m.mappings[6].source"
            ]
        );
    }
}
