//! Shop values as the types of Mailchimp's merge fields take them (API-NOTES: text, number, an
//! address object, phone, date per the field's `date_format`, birthday `MM/DD`, url, dropdown
//! and radio one of their choices). A value a type would refuse is told here, so that mcsync
//! leaves that field out and sends the rest, instead of having the whole member refused.

use serde_json::{Value, json};

use crate::domain::MergeField;
use crate::proto::v1 as pb;

/// A shop value on its way to a merge field.
pub enum ShopValue<'a> {
    /// Text (names, company, phone, the shop's own attributes).
    Text(&'a str),
    /// A date, `YYYY-MM-DD`, or `MM-DD` without a year (validated as a record).
    Date(&'a str),
    /// A postal address.
    Address(&'a pb::Address),
}

impl ShopValue<'_> {
    /// Whether the shop has no value (then the field is cleared, if mcsync ever set it).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(t) | Self::Date(t) => t.trim().is_empty(),
            Self::Address(a) => {
                a.address1.is_empty() && a.city.is_empty() && a.postal_code.is_empty()
            }
        }
    }
}

/// The JSON `field` takes for `value`, or why Mailchimp would refuse it.
pub fn merge_value(field: &MergeField, value: &ShopValue<'_>) -> Result<Value, String> {
    match (field.kind.as_str(), value) {
        ("address", ShopValue::Address(a)) => address(a),
        ("address", _) => Err("an address field takes the customer's address only".into()),
        (_, ShopValue::Address(_)) => Err(format!("a {} field cannot take an address", field.kind)),
        ("date" | "birthday", ShopValue::Date(d) | ShopValue::Text(d)) => date(field, d.trim()),
        (kind, ShopValue::Text(t) | ShopValue::Date(t)) => text(field, kind, t.trim()),
    }
}

fn text(field: &MergeField, kind: &str, t: &str) -> Result<Value, String> {
    match kind {
        "number" => t
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|n| json!(n))
            .ok_or_else(|| format!("{t:?} is not a number")),
        "url" if !(t.starts_with("http://") || t.starts_with("https://")) => {
            Err(format!("{t:?} is not an http(s) URL"))
        }
        "dropdown" | "radio" if !field.choices.iter().any(|c| c == t) => Err(format!(
            "{t:?} is not one of the field's choices ({})",
            field.choices.join(", ")
        )),
        _ => Ok(json!(t)),
    }
}

/// A date in the field's format: `MM/DD/YYYY` or `DD/MM/YYYY` for a date, `MM/DD` or `DD/MM` for
/// a birthday (whose year is dropped).
fn date(field: &MergeField, d: &str) -> Result<Value, String> {
    let parts: Vec<&str> = d.split('-').collect();
    let (year, month, day) = match parts.as_slice() {
        [y, m, dd] if y.len() == 4 => (Some(*y), *m, *dd),
        [m, dd] => (None, *m, *dd),
        _ => return Err(format!("{d:?} is not a date (YYYY-MM-DD or MM-DD)")),
    };
    let valid =
        |p: &str, max: u32| p.len() == 2 && p.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n));
    if !valid(month, 12) || !valid(day, 31) {
        return Err(format!("{d:?} is not a date (YYYY-MM-DD or MM-DD)"));
    }
    let format = if field.date_format.is_empty() {
        if field.kind == "birthday" {
            "MM/DD"
        } else {
            "MM/DD/YYYY"
        }
    } else {
        field.date_format.as_str()
    };
    let mut out = Vec::new();
    for part in format.split('/') {
        out.push(match part {
            "MM" => month,
            "DD" => day,
            "YYYY" => year.ok_or_else(|| format!("{d:?} has no year for a {format} field"))?,
            other => return Err(format!("the field's date format {other:?} is not known")),
        });
    }
    Ok(json!(out.join("/")))
}

fn address(a: &pb::Address) -> Result<Value, String> {
    let state = if a.province_code.is_empty() {
        &a.province
    } else {
        &a.province_code
    };
    if a.address1.is_empty() || a.city.is_empty() || state.is_empty() || a.postal_code.is_empty() {
        return Err("Mailchimp's address needs a street, a city, a state and a zip code".into());
    }
    let country = if a.country_code.is_empty() {
        &a.country
    } else {
        &a.country_code
    };
    Ok(json!({
        "addr1": a.address1, "addr2": a.address2, "city": a.city, "state": state,
        "zip": a.postal_code, "country": country,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: &str, date_format: &str, choices: &[&str]) -> MergeField {
        MergeField {
            tag: "X".into(),
            kind: kind.into(),
            date_format: date_format.into(),
            choices: choices.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn values_take_the_shape_of_their_field_or_say_why_not() {
        let birthday = field("birthday", "MM/DD", &[]);
        assert_eq!(
            merge_value(&birthday, &ShopValue::Date("1990-07-04")),
            Ok(json!("07/04"))
        );
        assert_eq!(
            merge_value(&birthday, &ShopValue::Date("07-04")),
            Ok(json!("07/04"))
        );
        let date = field("date", "DD/MM/YYYY", &[]);
        assert_eq!(
            merge_value(&date, &ShopValue::Date("1990-07-04")),
            Ok(json!("04/07/1990"))
        );
        assert!(
            merge_value(&date, &ShopValue::Date("07-04"))
                .unwrap_err()
                .contains("no year")
        );
        assert!(merge_value(&date, &ShopValue::Text("soon")).is_err());
        let number = field("number", "", &[]);
        assert_eq!(
            merge_value(&number, &ShopValue::Text("12.5")),
            Ok(json!(12.5))
        );
        assert!(merge_value(&number, &ShopValue::Text("many")).is_err());
        let tier = field("dropdown", "", &["Gold", "Silver"]);
        assert_eq!(
            merge_value(&tier, &ShopValue::Text("Gold")),
            Ok(json!("Gold"))
        );
        assert!(
            merge_value(&tier, &ShopValue::Text("Bronze"))
                .unwrap_err()
                .contains("Gold, Silver")
        );
        let mut a = pb::Address {
            address1: "1 Main St".into(),
            city: "Atlanta".into(),
            province_code: "GA".into(),
            postal_code: "30308".into(),
            country_code: "US".into(),
            ..Default::default()
        };
        let address_field = field("address", "", &[]);
        assert_eq!(
            merge_value(&address_field, &ShopValue::Address(&a)).unwrap()["state"],
            "GA"
        );
        a.postal_code.clear();
        assert!(merge_value(&address_field, &ShopValue::Address(&a)).is_err());
        assert!(merge_value(&field("text", "", &[]), &ShopValue::Address(&a)).is_err());
    }
}
