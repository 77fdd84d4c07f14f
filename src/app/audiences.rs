//! The connected account's audiences: as last read, refreshed from Mailchimp, and the
//! merchant's selection (the **Update** button), checked against what Mailchimp has.

use std::collections::BTreeSet;

use super::{App, AppError};
use crate::domain::validate::quoted;
use crate::domain::{self, Audience, ValidationError};
use crate::mailchimp::AccountClient;

/// The connected account's audiences with the merchant's selection.
#[derive(Debug, Clone)]
pub struct AudienceView {
    /// The connected account.
    pub account_id: String,
    /// Every audience, sorted by name, with whether the merchant selected it.
    pub lists: Vec<(Audience, bool)>,
    /// When the audiences were last read from Mailchimp.
    pub last_refreshed_at: Option<domain::UnixTime>,
    /// Stores of lists no longer selected: (list id, store id).
    pub detached: Vec<(String, String)>,
}

impl App {
    /// The connected account's audiences as last read, with the selection and the detached stores.
    pub fn audiences(&self) -> Result<AudienceView, AppError> {
        let settings = self.store.settings()?;
        let account_id = settings
            .account_id()
            .ok_or(AppError::NotConnected)?
            .to_owned();
        let selected = settings.choices().selected_lists;
        let mut lists: Vec<(Audience, bool)> = self
            .store
            .audiences(&account_id)?
            .into_iter()
            .map(|a| {
                let chosen = selected.contains(&a.id);
                (a, chosen)
            })
            .collect();
        lists.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        let last_refreshed_at = self.store.account_state(&account_id)?.last_refreshed_at;
        let detached = self
            .store
            .mc_stores_of(&account_id)?
            .into_iter()
            .filter(|(list, _)| !selected.contains(list))
            .collect();
        Ok(AudienceView {
            account_id,
            lists,
            last_refreshed_at,
            detached,
        })
    }

    /// Reads every audience of the connected account from Mailchimp and records the result.
    pub async fn refresh_lists(&self) -> Result<AudienceView, AppError> {
        self.refresher.refresh().await?;
        self.audiences()
    }

    /// The **Update** button: every id must be a known audience of the account, not removed.
    pub async fn select_lists(&self, ids: Vec<String>) -> Result<AudienceView, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        let account_id = settings
            .account_id()
            .ok_or(AppError::NotConnected)?
            .to_owned();
        let known = self.store.audiences(&account_id)?;
        let mut errors = Vec::new();
        let mut chosen = BTreeSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            let field = format!("list_ids[{i}]");
            match known.iter().find(|a| a.id == id) {
                None => errors.push(ValidationError::new(
                    field,
                    format!("unknown list {} (refresh the lists?)", quoted(&id)),
                )),
                Some(a) if a.removed_at.is_some() => errors.push(ValidationError::new(
                    field,
                    format!("list '{id}' ({}) was removed from Mailchimp", a.name),
                )),
                Some(_) => {
                    chosen.insert(id);
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        settings.select_lists(chosen);
        self.store.save_settings(&settings).await?;
        drop(_guard);
        self.hooks.request();
        self.audiences()
    }

    pub(super) fn connected_client(&self) -> Result<(String, AccountClient), AppError> {
        let settings = self.store.settings()?;
        let conn = settings.connection.as_ref().ok_or(AppError::NotConnected)?;
        Ok((
            conn.account.id.clone(),
            self.mailchimp.for_key(&conn.api_key),
        ))
    }
}
