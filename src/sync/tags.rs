//! Tag rules at work. A pass reads the mirror once into facts per email (what each customer
//! spent, ordered, when, what they bought, their groups), judges every rule, and brings each
//! rule's tag in every selected audience to exactly the emails it holds for: additions and
//! removals go in bulk, 500 of each per request. Only what mcsync tagged is ever removed; an
//! email that is not a member is noted and tried again after the next upload. A rule removed
//! from the settings has its tag taken off every member mcsync gave it to.

use std::collections::{HashMap, HashSet};

use super::context::UploadContext;
use super::fan_out::FanOut;
use super::{During, Stop};
use crate::domain::money;
use crate::domain::record::RecordKind;
use crate::domain::tag_rules::{TagCondition, TagRule};
use crate::mailchimp::tags::MAX_BULK;
use crate::mailchimp::{AccountClient, MailchimpError};
use crate::proto::v1 as pb;
use crate::store::tags::TagState;
use crate::store::{Store, StoreError};

/// What the mirror says of one email, as far as the rules ask.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    spent: i64,
    orders: u32,
    /// Unix seconds of the last order; 0 when none.
    last_order: i64,
    /// Indices into [`Universe::ids`] of the products and variants bought.
    bought: Vec<u32>,
    /// Indices into [`Universe::groups`].
    groups: Vec<u32>,
}

/// The product and variant ids and the groups the rules name: only those are kept per email.
#[derive(Default)]
struct Universe {
    /// ("p" or "v" + id) → index.
    ids: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

impl Universe {
    fn of(rules: &[TagRule]) -> Self {
        fn walk(c: &TagCondition, u: &mut Universe) {
            match c {
                TagCondition::Bought { products, variants } => {
                    for (prefix, ids) in [("p", products), ("v", variants)] {
                        for id in ids {
                            let n = u.ids.len() as u32;
                            u.ids.entry(format!("{prefix}{id}")).or_insert(n);
                        }
                    }
                }
                TagCondition::InGroup(g) => {
                    let n = u.groups.len() as u32;
                    u.groups.entry(g.clone()).or_insert(n);
                }
                TagCondition::AllOf(list) | TagCondition::AnyOf(list) => {
                    list.iter().for_each(|c| walk(c, u))
                }
                _ => {}
            }
        }
        let mut u = Self::default();
        for r in rules {
            walk(&r.condition, &mut u);
        }
        u
    }
}

/// Every email of the shop's customers and orders, with its facts: one read of each.
pub fn facts(
    store: &Store,
    rules: &[TagRule],
) -> Result<(HashMap<String, Facts>, Judge), StoreError> {
    let universe = Universe::of(rules);
    let mut out: HashMap<String, Facts> = HashMap::new();
    store.each_record(RecordKind::Customer, |_, record| {
        if let pb::record::Record::Customer(c) = record {
            let f = out.entry(c.email.to_lowercase()).or_default();
            for g in &c.groups {
                if let Some(i) = universe.groups.get(g) {
                    f.groups.push(*i);
                }
            }
        }
        Ok(())
    })?;
    store.each_record(RecordKind::Order, |_, record| {
        let pb::record::Record::Order(o) = record else {
            return Ok(());
        };
        let Some(customer) = &o.customer else {
            return Ok(());
        };
        let f = out.entry(customer.email.to_lowercase()).or_default();
        f.orders += 1;
        f.spent = f
            .spent
            .saturating_add(money::parse(&o.order_total).unwrap_or(0));
        let placed = time::OffsetDateTime::parse(
            &o.placed_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_or(0, |t| t.unix_timestamp());
        f.last_order = f.last_order.max(placed);
        if !universe.ids.is_empty() {
            for line in &o.lines {
                for key in [
                    format!("p{}", line.product_id),
                    format!("v{}", line.variant_id),
                ] {
                    if let Some(i) = universe.ids.get(&key) {
                        f.bought.push(*i);
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((out, Judge::with(universe)))
}

/// Judges conditions against facts, at one moment.
pub struct Judge {
    universe: Universe,
    now: i64,
}

impl Judge {
    fn of(rules: &[TagRule]) -> Self {
        Self::with(Universe::of(rules))
    }

    fn with(universe: Universe) -> Self {
        Self {
            universe,
            now: crate::domain::now(),
        }
    }
    /// Whether `c` holds for `f`.
    pub fn holds(&self, c: &TagCondition, f: &Facts) -> bool {
        match c {
            TagCondition::Bought { products, variants } => {
                let has = |key: String| {
                    self.universe
                        .ids
                        .get(&key)
                        .is_some_and(|i| f.bought.contains(i))
                };
                products.iter().any(|p| has(format!("p{p}")))
                    || variants.iter().any(|v| has(format!("v{v}")))
            }
            TagCondition::SpentAtLeast(units) => f.orders > 0 && f.spent >= *units,
            TagCondition::OrdersAtLeast(n) => f.orders >= *n,
            TagCondition::LastOrderOlderThanDays(d) => {
                f.orders > 0 && f.last_order < self.now - i64::from(*d) * 86_400
            }
            TagCondition::InGroup(g) => self
                .universe
                .groups
                .get(g)
                .is_some_and(|i| f.groups.contains(i)),
            TagCondition::AllOf(list) => list.iter().all(|c| self.holds(c, f)),
            TagCondition::AnyOf(list) => list.iter().any(|c| self.holds(c, f)),
        }
    }

    /// The emails a rule holds for.
    pub fn emails<'a>(
        &self,
        rule: &TagRule,
        facts: &'a HashMap<String, Facts>,
    ) -> HashSet<&'a str> {
        facts
            .iter()
            .filter(|(_, f)| self.holds(&rule.condition, f))
            .map(|(e, _)| e.as_str())
            .collect()
    }
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Bulk requests of one tag in flight at once: Mailchimp's connections per key.
const AT_ONCE: usize = 10;

/// What a pass would change for one rule in one audience: (to add, to remove).
fn changes<'a>(
    wanted: &HashSet<&'a str>,
    states: &'a HashMap<String, TagState>,
    retry_not_members: bool,
) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut add: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|e| match states.get(*e) {
            Some(TagState::Tagged) => false,
            Some(TagState::NotMember) => retry_not_members,
            None => true,
        })
        .collect();
    let mut remove: Vec<&str> = states
        .iter()
        .filter(|(e, s)| **s == TagState::Tagged && !wanted.contains(e.as_str()))
        .map(|(e, _)| e.as_str())
        .collect();
    add.sort_unstable();
    remove.sort_unstable();
    (add, remove)
}

/// The dry run's figures: per selected audience and rule, the emails that would gain and lose
/// the tag.
pub fn plan(
    store: &Store,
    ctx: &UploadContext,
    rules: &[TagRule],
) -> Result<Vec<pb::TagRulePlan>, StoreError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let (facts, judge) = facts(store, rules)?;
    let mut out = Vec::new();
    for (list, _) in &ctx.lists {
        for rule in rules {
            let wanted = judge.emails(rule, &facts);
            let states = store.tag_states(list, &rule.tag)?;
            let (add, remove) = changes(&wanted, &states, true);
            out.push(pb::TagRulePlan {
                list_id: list.clone(),
                tag: rule.tag.clone(),
                gain: add.len() as i64,
                lose: remove.len() as i64,
            });
        }
    }
    Ok(out)
}

/// What a pass did, for the log and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassReport {
    /// Tags added to members.
    pub added: u64,
    /// Tags taken off members.
    pub removed: u64,
    /// Requests sent to Mailchimp.
    pub requests: u64,
    /// Rules whose tag Mailchimp refused in an audience.
    pub refused: u64,
}

/// One pass of every rule over every selected audience, and the removal of the tags of rules
/// no longer set. `retry_not_members`: try again the emails that were not members.
pub async fn pass(
    store: &Store,
    ctx: &UploadContext,
    rules: &[TagRule],
    retry_not_members: bool,
) -> Result<PassReport, Stop> {
    let mut report = PassReport::default();
    // No rules left: only removals, and nothing of the mirror to read.
    let (facts, judge) = if rules.is_empty() {
        (HashMap::new(), Judge::of(rules))
    } else {
        facts(store, rules)?
    };
    for (list, _) in &ctx.lists {
        for rule in rules {
            let wanted = judge.emails(rule, &facts);
            let applied = apply(
                store,
                &ctx.client,
                list,
                &rule.tag,
                &wanted,
                retry_not_members,
                &mut report,
            )
            .await;
            match applied {
                // Mailchimp refused this rule's tag (a name a saved segment holds, say): the
                // other rules, and live sync, go on; it is tried again at the next pass.
                Err(ApplyError::Mailchimp(MailchimpError::Api(p))) if p.kind().is_refusal() => {
                    tracing::warn!(list, tag = %rule.tag, status = p.status, detail = %p.detail, "Mailchimp refused a tag rule's tag");
                    report.refused += 1;
                }
                other => other.map_err(lift)?,
            }
        }
        // Rules removed since: their tags come off what mcsync tagged.
        for tag in store.tags_of(list)? {
            if !rules.iter().any(|r| r.tag == tag) {
                let none = HashSet::new();
                apply(store, &ctx.client, list, &tag, &none, false, &mut report)
                    .await
                    .map_err(lift)?;
                let states = store.tag_states(list, &tag)?;
                let forget: Vec<(&str, Option<TagState>)> =
                    states.keys().map(|e| (e.as_str(), None)).collect();
                store.set_tag_states(list, &tag, &forget).await?;
                store.set_tag_segment(list, &tag, None)?;
            }
        }
    }
    Ok(report)
}

/// Why a rule's tag could not be brought up to date.
enum ApplyError {
    Mailchimp(MailchimpError),
    Store(StoreError),
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<MailchimpError> for ApplyError {
    fn from(e: MailchimpError) -> Self {
        Self::Mailchimp(e)
    }
}

fn lift(e: ApplyError) -> Stop {
    match e {
        ApplyError::Mailchimp(e) => Stop::mailchimp(During::Tags)(e),
        ApplyError::Store(e) => e.into(),
    }
}

/// Brings one tag of one audience to `wanted`, 500 additions and 500 removals a request.
async fn apply(
    store: &Store,
    client: &AccountClient,
    list: &str,
    tag: &str,
    wanted: &HashSet<&str>,
    retry_not_members: bool,
    report: &mut PassReport,
) -> Result<(), ApplyError> {
    let states = store.tag_states(list, tag)?;
    let (add, remove) = changes(wanted, &states, retry_not_members);
    // Emails noted as not members that the rule no longer wants: forgotten, nothing to send.
    let stale: Vec<(&str, Option<TagState>)> = states
        .iter()
        .filter(|(e, s)| **s == TagState::NotMember && !wanted.contains(e.as_str()))
        .map(|(e, _)| (e.as_str(), None))
        .collect();
    if !stale.is_empty() {
        store.set_tag_states(list, tag, &stale).await?;
    }
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let segment = match store.tag_segment(list, tag)? {
        Some(id) => id,
        None => {
            let id = client.tag_segment(list, tag).await?;
            report.requests += 2;
            store.set_tag_segment(list, tag, Some(id))?;
            id
        }
    };
    // Over the key's connections at once: each request stands alone (adding or removing a
    // tag twice changes nothing), and the states are noted as their answers come.
    let rounds = add
        .len()
        .div_ceil(MAX_BULK)
        .max(remove.len().div_ceil(MAX_BULK));
    let part = |v: &[&str], i: usize| -> Vec<String> {
        v.iter()
            .skip(i * MAX_BULK)
            .take(MAX_BULK)
            .map(|s| s.to_string())
            .collect()
    };
    let mut tasks = FanOut::new(AT_ONCE);
    for i in 0..rounds {
        let (a, r) = (part(&add, i), part(&remove, i));
        let (client, list) = (client.clone(), list.to_owned());
        tasks
            .spawn(i, async move {
                let done = client.bulk_tag(&list, segment, &refs(&a), &refs(&r)).await;
                (a, r, done)
            })
            .await;
    }
    let mut failed = None;
    for (_, result) in tasks.join_all().await {
        let (a, r, done) = match result {
            Ok(answer) => answer,
            Err(panicked) => {
                failed.get_or_insert(MailchimpError::Decode(panicked.to_string()));
                continue;
            }
        };
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                // The merchant deleted the tag in Mailchimp: found or made again next pass.
                if e.kind() == crate::mailchimp::ErrorKind::NotFound {
                    store.set_tag_segment(list, tag, None)?;
                }
                failed.get_or_insert(e);
                continue;
            }
        };
        report.requests += 1;
        let mut states: Vec<(&str, Option<TagState>)> = Vec::new();
        for e in &a {
            if done.not_members.contains(e) {
                states.push((e, Some(TagState::NotMember)));
            } else {
                states.push((e, Some(TagState::Tagged)));
                report.added += 1;
            }
        }
        for e in &r {
            states.push((e, None));
            report.removed += 1;
        }
        store.set_tag_states(list, tag, &states).await?;
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_judge_what_each_customer_did() {
        let rules = vec![
            TagRule {
                tag: "Boots".into(),
                condition: TagCondition::Bought {
                    products: vec!["p1".into()],
                    variants: vec!["v9".into()],
                },
            },
            TagRule {
                tag: "W".into(),
                condition: TagCondition::InGroup("wholesale".into()),
            },
        ];
        let u = Universe::of(&rules);
        let judge = Judge {
            universe: u,
            now: 100 * 86_400,
        };
        let boots = Facts {
            bought: vec![0],
            ..Default::default()
        };
        let variant = Facts {
            bought: vec![1],
            ..Default::default()
        };
        let group = Facts {
            groups: vec![0],
            ..Default::default()
        };
        assert!(judge.holds(&rules[0].condition, &boots));
        assert!(judge.holds(&rules[0].condition, &variant));
        assert!(!judge.holds(&rules[0].condition, &group));
        assert!(judge.holds(&rules[1].condition, &group));
        let buyer = Facts {
            spent: 5_000_000,
            orders: 3,
            last_order: 5 * 86_400,
            ..Default::default()
        };
        let spent = TagCondition::SpentAtLeast(5_000_000);
        let lapsed = TagCondition::LastOrderOlderThanDays(90);
        assert!(judge.holds(
            &TagCondition::AllOf(vec![
                spent.clone(),
                TagCondition::OrdersAtLeast(3),
                lapsed.clone()
            ]),
            &buyer
        ));
        assert!(!judge.holds(&TagCondition::OrdersAtLeast(4), &buyer));
        assert!(
            !judge.holds(&lapsed, &Facts::default()),
            "no orders: not lapsed"
        );
        assert!(judge.holds(
            &TagCondition::AnyOf(vec![TagCondition::OrdersAtLeast(9), spent]),
            &buyer
        ));
    }

    #[test]
    fn a_pass_adds_what_holds_and_removes_only_what_mcsync_tagged() {
        let wanted: HashSet<&str> = ["a@x", "b@x", "n@x"].into_iter().collect();
        let states: HashMap<String, TagState> = [
            ("b@x", TagState::Tagged),
            ("c@x", TagState::Tagged),
            ("n@x", TagState::NotMember),
        ]
        .into_iter()
        .map(|(e, s)| (e.to_owned(), s))
        .collect();
        assert_eq!(changes(&wanted, &states, false), (vec!["a@x"], vec!["c@x"]));
        assert_eq!(
            changes(&wanted, &states, true),
            (vec!["a@x", "n@x"], vec!["c@x"])
        );
    }
}

/// Passes are at least this far apart, or ten times the last pass's length if longer: a
/// shop's changes cost at most a tenth of the worker's time in passes, whatever its size.
const MIN_GAP: std::time::Duration = std::time::Duration::from_secs(5);
/// "Last order older than D days" changes with time alone: an hourly pass catches it.
const HOURLY: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the last pass saw.
struct Seen {
    /// Live sync's place in the outbox: it moves as records change.
    cursor: u64,
    rules: Vec<TagRule>,
    /// The newest job, finished: after an upload, emails that were not members may be now.
    job: String,
    at: std::time::Instant,
    took: std::time::Duration,
}

/// When the next pass is due.
#[derive(Default)]
pub struct Timer {
    last: std::sync::Mutex<Option<Seen>>,
    /// Divides the gaps (tests).
    pub scale: std::sync::atomic::AtomicU32,
}

impl Timer {
    /// `Some(retry_not_members)` when a pass is due now.
    fn due(&self, cursor: u64, rules: &[TagRule], job: &str) -> Option<bool> {
        let last = self.last.lock().expect("timer lock");
        let Some(last) = last.as_ref() else {
            return Some(true);
        };
        let scale = self.scale.load(std::sync::atomic::Ordering::Relaxed).max(1);
        let elapsed = last.at.elapsed();
        if last.job != job {
            return Some(true);
        }
        if elapsed >= HOURLY / scale {
            return Some(true);
        }
        if last.rules != rules {
            return Some(false);
        }
        let gap = MIN_GAP.max(last.took * 10) / scale;
        (last.cursor != cursor && elapsed >= gap).then_some(false)
    }
}

/// A pass when one is due (see [`Timer`]); whether one ran. Not while an upload runs.
pub async fn pass_if_due(store: &Store, ctx: &UploadContext, timer: &Timer) -> Result<bool, Stop> {
    let rules = store.settings()?.choices().tag_rules;
    let cursor = store.live_cursor()?;
    let job = store
        .jobs(1)?
        .into_iter()
        .next()
        .filter(|j| j.finished_at.is_some())
        .map(|j| j.job_id)
        .unwrap_or_default();
    let Some(retry) = timer.due(cursor, &rules, &job) else {
        return Ok(false);
    };
    if rules.is_empty()
        && ctx
            .lists
            .iter()
            .all(|(l, _)| store.tags_of(l).is_ok_and(|t| t.is_empty()))
    {
        // Nothing to keep and nothing to take off: only note the moment.
        *timer.last.lock().expect("timer lock") = Some(Seen {
            cursor,
            rules,
            job,
            at: std::time::Instant::now(),
            took: std::time::Duration::ZERO,
        });
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let report = pass(store, ctx, &rules, retry).await?;
    let took = started.elapsed();
    tracing::info!(
        added = report.added,
        removed = report.removed,
        requests = report.requests,
        took_ms = took.as_millis() as u64,
        "tag rules applied"
    );
    *timer.last.lock().expect("timer lock") = Some(Seen {
        cursor,
        rules,
        job,
        at: std::time::Instant::now(),
        took,
    });
    Ok(report.requests > 0)
}
