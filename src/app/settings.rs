//! Connection and settings: the API key checked with Mailchimp before it is stored, "Reset
//! Mailchimp connection", and the merchant's choices, each change one atomic write.

use super::{App, AppError};
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
    pub async fn update_settings(&self, update: SettingsUpdate) -> Result<Settings, AppError> {
        let _guard = self.settings_lock.lock().await;
        let mut settings = self.store.settings()?;
        if let Some(Some(list_id)) = &update.default_automation_list_id {
            check_default_list(&settings, list_id)?;
        }
        let base_before = settings.webhook_base_url.clone();
        let recovery_before = settings.cart_recovery_url.clone();
        settings.apply(update);
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
        self.refresher.set_interval(settings.list_update_interval);
        self.auditor.set_interval(settings.audit_interval);
        if settings.webhook_base_url != base_before {
            self.hooks.request();
        }
        Ok(settings)
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
