//! `--tag-rule "<tag>:<condition>"` for `mcsync settings set`: a condition is one of
//! `spent>=<amount>`, `orders>=<n>`, `last_order><days>d`, `group=<name>`, `bought=<product
//! ids, comma-separated>`, `bought_variant=<variant ids>`, or several joined by ` & ` (all of)
//! or ` | ` (any of). The server checks what it means; this only reads the shape.

use crate::proto::v1 as pb;
use pb::tag_condition::Kind;

/// One `--tag-rule` value.
pub fn parse(arg: &str) -> Result<pb::TagRule, String> {
    let (tag, condition) = arg
        .split_once(':')
        .ok_or("expected <tag>:<condition>, e.g. VIP:spent>=500")?;
    let condition = if condition.contains(" & ") {
        Kind::AllOf(several(condition, " & ")?)
    } else if condition.contains(" | ") {
        Kind::AnyOf(several(condition, " | ")?)
    } else {
        one(condition.trim())?
    };
    Ok(pb::TagRule {
        tag: tag.trim().to_owned(),
        condition: Some(pb::TagCondition {
            kind: Some(condition),
        }),
    })
}

fn several(s: &str, by: &str) -> Result<pb::TagConditions, String> {
    let conditions = s
        .split(by)
        .map(|c| one(c.trim()).map(|kind| pb::TagCondition { kind: Some(kind) }))
        .collect::<Result<_, _>>()?;
    Ok(pb::TagConditions { conditions })
}

fn one(c: &str) -> Result<Kind, String> {
    let number = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{c:?}: {v:?} is not a whole number"))
    };
    let ids = |v: &str| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Some(v) = c.strip_prefix("spent>=") {
        Ok(Kind::TotalSpentAtLeast(v.trim().to_owned()))
    } else if let Some(v) = c.strip_prefix("orders>=") {
        Ok(Kind::OrdersAtLeast(number(v)?))
    } else if let Some(v) = c.strip_prefix("last_order>") {
        Ok(Kind::LastOrderOlderThanDays(number(
            v.trim_end_matches('d'),
        )?))
    } else if let Some(v) = c.strip_prefix("group=") {
        Ok(Kind::InGroup(v.trim().to_owned()))
    } else if let Some(v) = c.strip_prefix("bought_variant=") {
        Ok(Kind::Bought(pb::ProductsBought {
            product_ids: Vec::new(),
            variant_ids: ids(v),
        }))
    } else if let Some(v) = c.strip_prefix("bought=") {
        Ok(Kind::Bought(pb::ProductsBought {
            product_ids: ids(v),
            variant_ids: Vec::new(),
        }))
    } else {
        Err(format!(
            "{c:?}: expected spent>=<amount>, orders>=<n>, last_order><days>d, group=<name>, \
             bought=<ids> or bought_variant=<ids>"
        ))
    }
}

/// A rule as `mcsync settings get` prints it (the syntax `--tag-rule` takes, where it can).
pub fn render(rule: &pb::TagRule) -> String {
    fn cond(c: &pb::TagCondition) -> String {
        match &c.kind {
            Some(Kind::TotalSpentAtLeast(a)) => format!("spent>={a}"),
            Some(Kind::OrdersAtLeast(n)) => format!("orders>={n}"),
            Some(Kind::LastOrderOlderThanDays(d)) => format!("last_order>{d}d"),
            Some(Kind::InGroup(g)) => format!("group={g}"),
            Some(Kind::Bought(b)) if b.variant_ids.is_empty() => {
                format!("bought={}", b.product_ids.join(","))
            }
            Some(Kind::Bought(b)) => format!(
                "bought={} bought_variant={}",
                b.product_ids.join(","),
                b.variant_ids.join(",")
            ),
            Some(Kind::AllOf(l)) => format!(
                "({})",
                l.conditions
                    .iter()
                    .map(cond)
                    .collect::<Vec<_>>()
                    .join(" & ")
            ),
            Some(Kind::AnyOf(l)) => format!(
                "({})",
                l.conditions
                    .iter()
                    .map(cond)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            None => "?".into(),
        }
    }
    format!(
        "{}: {}",
        rule.tag,
        rule.condition.as_ref().map(cond).unwrap_or_default()
    )
}
