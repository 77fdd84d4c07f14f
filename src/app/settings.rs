//! Connection and settings: the API key checked with Mailchimp before it is stored, "Reset
//! Mailchimp connection", and the merchant's choices, each change one atomic write.

use std::collections::BTreeMap;

use super::{App, AppError};
use crate::domain::merge_map::{self, MergeMapping};
use crate::domain::record::RecordKind;
use crate::domain::validate::quoted;
use crate::domain::{self, Account, ApiKey, Connection, Settings, SettingsUpdate, ValidationError};
use crate::mailchimp::MailchimpError;

impl App {
    /// The settings as stored (the key inside stays secret).
    pub fn settings(&self) -> Result<Settings, AppError> {
        Ok(self.store.settings()?)
    }

    /// Validates the key's form, asks Mailchimp about it, and only then stores it.
    pub async fn connect(&self, raw_key: &str) -> Result<Settings, AppError> {
        self.connect_with(ApiKey::parse(raw_key)?).await
    }

    /// Asks Mailchimp about a credential (a key, or an OAuth token), and only then stores it.
    pub(super) async fn connect_with(&self, key: ApiKey) -> Result<Settings, AppError> {
        let client = self.mailchimp.for_key(&key);
        client.ping().await?;
        let wire = client.account().await?;
        let account = Account {
            id: wire.account_id,
            name: wire.account_name,
            email: wire.email,
            login_name: if wire.username.is_empty() {
                wire.login_id
            } else {
                wire.username
            },
        };
        if account.id.is_empty() {
            return Err(
                MailchimpError::Decode("GET / answered without an account_id".into()).into(),
            );
        }
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        settings.connection = Some(Connection {
            api_key: key,
            account,
            connected_at: domain::now(),
        });
        self.store.save_settings(&settings).await?;
        let account_id = settings.account_id().unwrap_or_default();
        tracing::info!(account_id, "connected to Mailchimp");
        if self
            .store
            .account_state(account_id)?
            .last_refreshed_at
            .is_none()
        {
            self.refresher.request_soon();
        }
        self.hooks.request();
        Ok(settings)
    }

    /// "Reset Mailchimp connection": forgets the key and the account; the rest of the settings stay.
    pub async fn reset_connection(&self) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(old) = settings.connection.take() {
            // Mailchimp stops posting to mcsync before the key that can tell it is forgotten.
            if let Err(e) = self.hooks.forget(&old.api_key).await {
                tracing::warn!(error = %e, "could not remove the Mailchimp webhooks");
            }
            self.store.save_settings(&settings).await?;
            tracing::info!(account_id = %old.account.id, "Mailchimp connection reset");
            // Recovery links mailed under the old connection stop working; live carts get new
            // ones once an account is connected again.
            self.store.rotate_cart_link_secret().await?;
            if !settings.cart_recovery_url.is_empty() {
                self.store.requeue(RecordKind::Cart).await?;
            }
        }
        Ok(settings)
    }

    /// Applies the fields present in `update`, checked against the connection and the selection.
    pub async fn update_settings(&self, mut update: SettingsUpdate) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(Some(list_id)) = &update.default_automation_list_id {
            check_default_list(&settings, list_id)?;
        }
        let maps = match update.merge_fields.take() {
            Some(asked) => Some(self.checked_merge_maps(&settings, asked)?),
            None => None,
        };
        let base_before = settings.webhook_base_url.clone();
        let recovery_before = settings.cart_recovery_url.clone();
        let maps_before = settings.choices().merge_fields;
        settings.apply(update);
        if let Some(maps) = maps {
            settings.set_merge_fields(maps);
        }
        if !settings.cart_recovery_url.is_empty() {
            // Made before the links are turned on, and flushed with the settings.
            self.store.cart_link_secret()?;
        }
        self.store.save_settings(&settings).await?;
        if settings.cart_recovery_url != recovery_before {
            // Every cart's checkout_url changes: live sync re-sends those Mailchimp holds.
            let carts = self.store.requeue(RecordKind::Cart).await?;
            tracing::info!(
                carts,
                "cart recovery page changed; carts queued with their new links"
            );
        }
        if settings.choices().merge_fields != maps_before {
            // Mapped values change: live sync pushes every customer again, which brings the
            // members' merge fields up to date (a customer's own body is unchanged).
            let customers = self.store.requeue(RecordKind::Customer).await?;
            tracing::info!(customers, "merge-field map changed; customers queued");
        }
        self.refresher.set_interval(settings.list_update_interval);
        self.auditor.set_interval(settings.audit_interval);
        if settings.webhook_base_url != base_before {
            self.hooks.request();
        }
        Ok(settings)
    }
}

impl App {
    /// The maps asked for, each of a selected audience, once, checked against its merge fields.
    fn checked_merge_maps(
        &self,
        settings: &Settings,
        asked: domain::AskedMergeMaps,
    ) -> Result<BTreeMap<String, Vec<MergeMapping>>, AppError> {
        let Some(account) = settings.account_id() else {
            return Err(
                ValidationError::new("merge_fields", "no Mailchimp account is connected").into(),
            );
        };
        let selected = settings.choices().selected_lists;
        // Each map names a selected list once: more maps than those cannot all be right.
        if asked.len() > selected.len().max(1) {
            return Err(ValidationError::new(
                "merge_fields.audiences",
                format!(
                    "has {} maps; at most one per selected list ({}) is accepted",
                    asked.len(),
                    selected.len()
                ),
            )
            .into());
        }
        let audiences = self.store.audiences(account)?;
        let mut errors = Vec::new();
        let mut maps = BTreeMap::new();
        for (i, (list_id, pairs)) in asked.into_iter().enumerate() {
            let prefix = format!("merge_fields.audiences[{i}]");
            let audience = audiences
                .iter()
                .find(|a| a.id == list_id && a.removed_at.is_none() && selected.contains(&a.id));
            let Some(audience) = audience else {
                errors.push(ValidationError::new(
                    format!("{prefix}.list_id"),
                    format!("{} is not a selected list", quoted(&list_id)),
                ));
                continue;
            };
            if maps.contains_key(&list_id) {
                errors.push(ValidationError::new(
                    format!("{prefix}.list_id"),
                    format!("{} has two maps", quoted(&list_id)),
                ));
                continue;
            }
            match merge_map::checked(&prefix, pairs, audience) {
                Ok(mappings) if mappings.is_empty() => {}
                Ok(mappings) => {
                    maps.insert(list_id, mappings);
                }
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(maps)
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

fn check_default_list(settings: &Settings, list_id: &str) -> Result<(), ValidationError> {
    let field = "default_automation_list_id";
    if settings.connection.is_none() {
        return Err(ValidationError::new(
            field,
            "no Mailchimp account is connected",
        ));
    }
    if !settings.choices().selected_lists.contains(list_id) {
        return Err(ValidationError::new(
            field,
            format!("list {} is not one of the selected lists", quoted(list_id)),
        ));
    }
    Ok(())
}
