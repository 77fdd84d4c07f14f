//! Tag rules: a tag name and a condition over the shop's mirror (what a customer bought, spent
//! and ordered, when, and the shop's customer groups). mcsync keeps each rule's tag on exactly
//! the audience members the condition holds for (`sync::tags`).

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::validate::quoted;

/// At most this many rules.
pub const MAX_RULES: usize = 20;
const MAX_TAG: usize = 100;
const MAX_DEPTH: usize = 4;
const MAX_IDS: usize = 500;
const MAX_COMBINED: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A tag and when a member carries it.
pub struct TagRule {
    /// The tag's name in Mailchimp.
    pub tag: String,
    /// When it applies.
    pub condition: TagCondition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
/// A condition over one customer's orders and record (by email).
pub enum TagCondition {
    /// Bought any of these products or variants (in any order).
    Bought {
        /// Product ids.
        products: Vec<String>,
        /// Variant ids.
        variants: Vec<String>,
    },
    /// Orders' totals add up to at least this amount, in ten-thousandths (`money::parse`).
    SpentAtLeast(i64),
    /// Placed at least this many orders.
    OrdersAtLeast(u32),
    /// Has orders, the last placed more than this many days ago.
    LastOrderOlderThanDays(u32),
    /// In this customer group (`Customer.groups`).
    InGroup(String),
    /// Every one holds.
    AllOf(Vec<TagCondition>),
    /// At least one holds.
    AnyOf(Vec<TagCondition>),
}

/// The rules as asked, before they are checked: a tag and its condition.
pub type AskedRule = (String, Option<AskedCondition>);

/// A condition as asked: like [`TagCondition`], with the amount still text.
#[derive(Debug, Clone)]
pub enum AskedCondition {
    /// See [`TagCondition::Bought`].
    Bought(Vec<String>, Vec<String>),
    /// See [`TagCondition::SpentAtLeast`]; a decimal amount.
    SpentAtLeast(String),
    /// See [`TagCondition::OrdersAtLeast`].
    OrdersAtLeast(u32),
    /// See [`TagCondition::LastOrderOlderThanDays`].
    LastOrderOlderThanDays(u32),
    /// See [`TagCondition::InGroup`].
    InGroup(String),
    /// See [`TagCondition::AllOf`].
    AllOf(Vec<Option<AskedCondition>>),
    /// See [`TagCondition::AnyOf`].
    AnyOf(Vec<Option<AskedCondition>>),
}

/// The rules, each checked; errors name `tag_rules.rules[i].tag` or `.condition...`.
pub fn checked(asked: Vec<AskedRule>) -> Result<Vec<TagRule>, Vec<ValidationError>> {
    let mut errors = Vec::new();
    if asked.len() > MAX_RULES {
        errors.push(ValidationError::new(
            "tag_rules.rules",
            format!(
                "has {} rules; at most {MAX_RULES} are accepted",
                asked.len()
            ),
        ));
        return Err(errors);
    }
    let mut out: Vec<TagRule> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, (tag, condition)) in asked.into_iter().enumerate() {
        let at = format!("tag_rules.rules[{i}]");
        let tag = tag.trim().to_owned();
        if tag.is_empty() || tag.chars().count() > MAX_TAG || tag.chars().any(char::is_control) {
            errors.push(ValidationError::new(
                format!("{at}.tag"),
                format!("a tag name has 1 to {MAX_TAG} characters, none a control character"),
            ));
        } else if seen.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            errors.push(ValidationError::new(
                format!("{at}.tag"),
                format!("{} has two rules", quoted(&tag)),
            ));
        }
        seen.push(tag.clone());
        if let Some(condition) = check(&format!("{at}.condition"), condition, 1, &mut errors) {
            out.push(TagRule { tag, condition });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn check(
    at: &str,
    asked: Option<AskedCondition>,
    depth: usize,
    errors: &mut Vec<ValidationError>,
) -> Option<TagCondition> {
    let mut fail = |reason: String| {
        errors.push(ValidationError::new(at, reason));
        None
    };
    let Some(asked) = asked else {
        return fail("a condition is required".into());
    };
    if depth > MAX_DEPTH {
        return fail(format!("conditions nest at most {MAX_DEPTH} deep"));
    }
    match asked {
        AskedCondition::Bought(products, variants) => {
            let n = products.len() + variants.len();
            if n == 0 || n > MAX_IDS {
                return fail(format!("names 1 to {MAX_IDS} product or variant ids"));
            }
            Some(TagCondition::Bought { products, variants })
        }
        AskedCondition::SpentAtLeast(amount) => match super::money::parse(&amount) {
            Ok(units) if units >= 0 => Some(TagCondition::SpentAtLeast(units)),
            Ok(_) => fail("an amount of at least 0".into()),
            Err(reason) => fail(reason),
        },
        AskedCondition::OrdersAtLeast(0) | AskedCondition::LastOrderOlderThanDays(0) => {
            fail("at least 1".into())
        }
        AskedCondition::OrdersAtLeast(n) => Some(TagCondition::OrdersAtLeast(n)),
        AskedCondition::LastOrderOlderThanDays(d) => Some(TagCondition::LastOrderOlderThanDays(d)),
        AskedCondition::InGroup(g) if g.trim().is_empty() => {
            fail("a group name is required".into())
        }
        AskedCondition::InGroup(g) => Some(TagCondition::InGroup(g.trim().to_owned())),
        AskedCondition::AllOf(list) | AskedCondition::AnyOf(list)
            if list.is_empty() || list.len() > MAX_COMBINED =>
        {
            fail(format!("combines 1 to {MAX_COMBINED} conditions"))
        }
        AskedCondition::AllOf(list) => {
            let all = nested(at, "all_of", list, depth, errors)?;
            Some(TagCondition::AllOf(all))
        }
        AskedCondition::AnyOf(list) => {
            let any = nested(at, "any_of", list, depth, errors)?;
            Some(TagCondition::AnyOf(any))
        }
    }
}

fn nested(
    at: &str,
    name: &str,
    list: Vec<Option<AskedCondition>>,
    depth: usize,
    errors: &mut Vec<ValidationError>,
) -> Option<Vec<TagCondition>> {
    let before = errors.len();
    let out: Vec<TagCondition> = list
        .into_iter()
        .enumerate()
        .filter_map(|(j, c)| check(&format!("{at}.{name}[{j}]"), c, depth + 1, errors))
        .collect();
    (errors.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_where_they_are_wrong() {
        let ok = checked(vec![(
            "VIP".into(),
            Some(AskedCondition::AllOf(vec![
                Some(AskedCondition::SpentAtLeast("500".into())),
                Some(AskedCondition::AnyOf(vec![Some(AskedCondition::InGroup(
                    "wholesale".into(),
                ))])),
            ])),
        )])
        .unwrap();
        assert_eq!(
            ok[0].condition,
            TagCondition::AllOf(vec![
                TagCondition::SpentAtLeast(5_000_000),
                TagCondition::AnyOf(vec![TagCondition::InGroup("wholesale".into())])
            ])
        );
        let errors = checked(vec![
            ("".into(), Some(AskedCondition::OrdersAtLeast(0))),
            ("vip".into(), Some(AskedCondition::AnyOf(vec![None]))),
            (
                "VIP".into(),
                Some(AskedCondition::SpentAtLeast("lots".into())),
            ),
            (
                "Old".into(),
                Some(AskedCondition::Bought(Vec::new(), Vec::new())),
            ),
            (
                "Many".into(),
                Some(AskedCondition::AnyOf(vec![
                    Some(
                        AskedCondition::OrdersAtLeast(1)
                    );
                    MAX_COMBINED + 1
                ])),
            ),
        ])
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "tag_rules.rules[0].tag",
                "tag_rules.rules[0].condition",
                "tag_rules.rules[1].condition.any_of[0]",
                "tag_rules.rules[2].tag",
                "tag_rules.rules[2].condition",
                "tag_rules.rules[3].condition",
                "tag_rules.rules[4].condition"
            ]
        );
    }
}
