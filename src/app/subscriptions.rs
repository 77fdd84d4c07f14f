//! Newsletter subscriptions: the shop's requests are checked against the merchant's opt-in
//! rules, stored durably, and applied to Mailchimp by the background worker (which runs in the
//! live sync loop), so that a request survives an outage or a restart. These are the only
//! operations of mcsync that change a member's status.

use std::collections::BTreeSet;

use super::{App, AppError};
use crate::domain::validate::quoted;
use crate::domain::{self, Audience, SubscriptionElementType, ValidationError};

use crate::store::subscriptions::{
    ConsentRecord, PermissionChoice, Subscription, SubscriptionState, Wanted,
};

const MAX_NAME: usize = 255;
/// GDPR answers in one request: far more than any audience's permissions.
const MAX_ANSWERS: usize = 50;

/// A shop's newsletter request, as SubscriptionService/Subscribe takes it.
pub struct SubscribeRequest {
    /// The person's email.
    pub email: String,
    /// The audiences to join: each must be selected.
    pub list_ids: Vec<String>,
    /// Sent as the member's FNAME.
    pub first_name: String,
    /// Sent as the member's LNAME.
    pub last_name: String,
    /// Interest groups of those audiences to join.
    pub interest_ids: Vec<String>,
    /// The shopper's GDPR answers: (marketing permission id, agreed).
    pub marketing_permissions: Vec<(String, bool)>,
}

/// Where an email stands on one selected list.
pub struct ListSubscription {
    /// The audience.
    pub list_id: String,
    /// Its name, for the shop's page.
    pub list_name: String,
    /// The last request for this email and list, if the shop made one.
    pub subscription: Option<Subscription>,
}

/// The connected account's selected, not removed, audiences.
struct Lists {
    account_id: String,
    selected: Vec<Audience>,
    single_opt_in: bool,
    element: SubscriptionElementType,
}

impl Lists {
    /// A request for one list, queued, without names or interests.
    fn request(&self, list: &Audience, email: &str, wanted: Wanted) -> Subscription {
        Subscription {
            account_id: self.account_id.clone(),
            list_id: list.id.clone(),
            email: email.to_owned(),
            wanted,
            single_opt_in: self.single_opt_in,
            first_name: String::new(),
            last_name: String::new(),
            interests: Vec::new(),
            permissions: Vec::new(),
            consent: None,
            state: SubscriptionState::Queued,
            status: String::new(),
            error: String::new(),
            updated_at: domain::now(),
            version: 0,
        }
    }
}

impl App {
    fn subscription_lists(&self) -> Result<Lists, AppError> {
        let settings = self.store.settings()?;
        let account_id = settings
            .account_id()
            .ok_or(AppError::NotConnected)?
            .to_owned();
        let chosen = settings.choices().selected_lists;
        let selected = self
            .store
            .audiences(&account_id)?
            .into_iter()
            .filter(|a| chosen.contains(&a.id) && a.removed_at.is_none())
            .collect();
        Ok(Lists {
            account_id,
            selected,
            single_opt_in: settings.single_opt_in,
            element: settings.subscription_element_type,
        })
    }

    /// Checks and queues a subscription per list; the worker applies them with the merchant's opt-in rules.
    pub async fn subscribe(&self, r: SubscribeRequest) -> Result<Vec<ListSubscription>, AppError> {
        let lists = self.subscription_lists()?;
        let mut errors = Vec::new();
        let email = checked_email(&r.email, &mut errors);
        let chosen = checked_lists(&lists, &r.list_ids, &mut errors);
        if lists.element == SubscriptionElementType::Select && r.list_ids.len() > 1 {
            errors.push(ValidationError::new(
                "list_ids",
                "the subscription form is a select box: one list or none",
            ));
        }
        for (field, value) in [("first_name", &r.first_name), ("last_name", &r.last_name)] {
            if value.chars().count() > MAX_NAME {
                errors.push(ValidationError::new(
                    field,
                    format!("is longer than {MAX_NAME} characters"),
                ));
            }
        }
        let interest_list = |id: &str| {
            chosen.iter().find(|a| {
                a.interest_categories
                    .iter()
                    .any(|c| c.interests.iter().any(|i| i.id == id))
            })
        };
        for (i, id) in r.interest_ids.iter().enumerate() {
            if interest_list(id).is_none() {
                errors.push(ValidationError::new(
                    format!("interest_ids[{i}]"),
                    format!(
                        "{} is not an interest of the lists subscribed to",
                        quoted(id)
                    ),
                ));
            }
        }
        let answers = checked_permissions(&chosen, &r.marketing_permissions, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let given_at = domain::now();
        let consent = |list: &Audience| {
            let permissions: Vec<PermissionChoice> = answers
                .iter()
                .filter(|(l, _)| l.id == list.id)
                .map(|(_, p)| p.clone())
                .collect();
            (!permissions.is_empty()).then_some(ConsentRecord {
                permissions,
                given_at,
            })
        };
        let request = |list: &Audience, wanted: Wanted| Subscription {
            first_name: r.first_name.trim().to_owned(),
            last_name: r.last_name.trim().to_owned(),
            interests: r
                .interest_ids
                .iter()
                .filter(|id| interest_list(id).is_some_and(|a| a.id == list.id))
                .cloned()
                .collect(),
            // Answers belong to the lists joined; a select box's other lists keep their record.
            permissions: match wanted {
                Wanted::Subscribed => consent(list).map(|c| c.permissions).unwrap_or_default(),
                _ => Vec::new(),
            },
            consent: match wanted {
                Wanted::Subscribed => consent(list),
                _ => None,
            },
            ..lists.request(list, &email, wanted)
        };
        let mut subs: Vec<Subscription> = chosen
            .iter()
            .map(|a| request(a, Wanted::Subscribed))
            .collect();
        // The shopper asks again: an unsubscribe Mailchimp told of earlier no longer binds.
        for sub in &subs {
            self.store.lift_suppression(&sub.list_id, &sub.email)?;
        }
        // A select box means one list: picking it leaves the others.
        if lists.element == SubscriptionElementType::Select {
            subs.extend(
                lists
                    .selected
                    .iter()
                    .filter(|a| !chosen.iter().any(|c| c.id == a.id))
                    .map(|a| request(a, Wanted::Unsubscribed)),
            );
        }
        self.queue(&lists, &email, subs).await
    }

    /// Queues an unsubscribe per list (only the shop's own requests change a member's status).
    pub async fn unsubscribe(
        &self,
        email: &str,
        list_ids: &[String],
    ) -> Result<Vec<ListSubscription>, AppError> {
        let lists = self.subscription_lists()?;
        let mut errors = Vec::new();
        let email = checked_email(email, &mut errors);
        let chosen = if list_ids.is_empty() {
            lists.selected.iter().collect()
        } else {
            checked_lists(&lists, list_ids, &mut errors)
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let subs = chosen
            .into_iter()
            .map(|list| lists.request(list, &email, Wanted::Unsubscribed))
            .collect();
        self.queue(&lists, &email, subs).await
    }

    /// Stores requests with the status they should leave, wakes the worker, and answers with
    /// where the email now stands.
    async fn queue(
        &self,
        lists: &Lists,
        email: &str,
        mut subs: Vec<Subscription>,
    ) -> Result<Vec<ListSubscription>, AppError> {
        for s in &mut subs {
            s.status = self.expected_status(s)?;
        }
        self.store.queue_subscriptions(subs).await?;
        self.wake_live();
        self.subscriptions_of(lists, email)
    }

    /// Where an email stands on every selected list.
    pub fn subscriptions(&self, email: &str) -> Result<Vec<ListSubscription>, AppError> {
        let lists = self.subscription_lists()?;
        let mut errors = Vec::new();
        let email = checked_email(email, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        self.subscriptions_of(&lists, &email)
    }

    fn subscriptions_of(
        &self,
        lists: &Lists,
        email: &str,
    ) -> Result<Vec<ListSubscription>, AppError> {
        lists
            .selected
            .iter()
            .map(|a| {
                Ok(ListSubscription {
                    list_id: a.id.clone(),
                    list_name: a.name.clone(),
                    subscription: self.store.subscription(&lists.account_id, &a.id, email)?,
                })
            })
            .collect()
    }

    /// The status a request will most likely leave the member in, from what mcsync last saw.
    fn expected_status(&self, s: &Subscription) -> Result<String, AppError> {
        let known = self
            .store
            .subscription(&s.account_id, &s.list_id, &s.email)?
            .filter(|p| p.state == SubscriptionState::Applied)
            .map(|p| p.status)
            .unwrap_or_default();
        Ok(match s.wanted {
            Wanted::Subscribed if known == "subscribed" => known,
            Wanted::Subscribed if known == "unsubscribed" || !s.single_opt_in => "pending".into(),
            Wanted::Subscribed => "subscribed".into(),
            Wanted::Unsubscribed if matches!(known.as_str(), "subscribed" | "pending") => {
                "unsubscribed".into()
            }
            Wanted::Unsubscribed => known,
            Wanted::Consented => "pending".into(),
        })
    }
}

fn checked_email(email: &str, errors: &mut Vec<ValidationError>) -> String {
    match domain::validate::email(email) {
        Ok(e) => e,
        Err(reason) => {
            errors.push(ValidationError::new("email", reason));
            String::new()
        }
    }
}

/// The GDPR answers, each naming a permission of one of the lists joined, once: each with its
/// list and the text the shopper was shown.
fn checked_permissions<'a>(
    chosen: &[&'a Audience],
    answers: &[(String, bool)],
    errors: &mut Vec<ValidationError>,
) -> Vec<(&'a Audience, PermissionChoice)> {
    let mut out: Vec<(&Audience, PermissionChoice)> = Vec::new();
    if answers.len() > MAX_ANSWERS {
        errors.push(ValidationError::new(
            "marketing_permissions",
            format!(
                "has {} items; at most {MAX_ANSWERS} are accepted",
                answers.len()
            ),
        ));
        return out;
    }
    let any_gdpr = chosen.iter().any(|a| a.marketing_permissions_enabled);
    for (i, (id, enabled)) in answers.iter().enumerate() {
        let field = format!("marketing_permissions[{i}].marketing_permission_id");
        let found = chosen.iter().find_map(|a| {
            a.marketing_permissions
                .iter()
                .find(|p| &p.id == id)
                .map(|p| (*a, p))
        });
        match found {
            _ if out.iter().any(|(_, p)| &p.id == id) => errors.push(ValidationError::new(
                field,
                format!("{} is answered twice", quoted(id)),
            )),
            Some((list, p)) => out.push((
                list,
                PermissionChoice {
                    id: p.id.clone(),
                    text: p.text.clone(),
                    enabled: *enabled,
                },
            )),
            None if !any_gdpr => errors.push(ValidationError::new(
                field,
                "the lists subscribed to have no GDPR marketing permissions in Mailchimp \
                 (send none, or turn on GDPR fields for the audience and refresh the lists)",
            )),
            None => errors.push(ValidationError::new(
                field,
                format!(
                    "{} is not a marketing permission of the lists subscribed to",
                    quoted(id)
                ),
            )),
        }
    }
    out
}

/// The requested lists, each selected and not removed; duplicates once.
fn checked_lists<'a>(
    lists: &'a Lists,
    ids: &[String],
    errors: &mut Vec<ValidationError>,
) -> Vec<&'a Audience> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match lists.selected.iter().find(|a| &a.id == id) {
            Some(a) if seen.insert(id) => out.push(a),
            Some(_) => {}
            None => errors.push(ValidationError::new(
                format!("list_ids[{i}]"),
                format!(
                    "{} is not a selected list (or was removed from Mailchimp)",
                    quoted(id)
                ),
            )),
        }
    }
    out
}
