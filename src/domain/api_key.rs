//! The Mailchimp API key: a secret that is never logged and never shown unmasked.

use std::fmt;

use super::ValidationError;

/// A syntactically valid Mailchimp API key, `<32 hex>-<dc>`.
///
/// `Debug` prints the masked form, and there is no `Display`, so the key cannot reach a log
/// line by accident; `expose()` is the one way out, for the Authorization header and storage.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKey {
    key: String,
    dash: usize,
}

impl ApiKey {
    /// Checks the key's form (`<32 hex>-<data center>`); Mailchimp itself is asked only on connect.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let invalid = |reason: &str| ValidationError::new("api_key", reason);
        if raw.is_empty() {
            return Err(invalid("is required"));
        }
        let Some((secret, dc)) = raw.rsplit_once('-') else {
            return Err(invalid(
                "must look like <32 hex characters>-<data center>, e.g. ...-us6",
            ));
        };
        if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "must start with 32 hexadecimal characters before the '-<data center>' suffix",
            ));
        }
        if !is_data_center(dc) {
            return Err(invalid(
                "must end with a data center such as '-us6' (letters then digits)",
            ));
        }
        Ok(Self {
            key: raw.to_owned(),
            dash: secret.len(),
        })
    }

    /// The data center the key belongs to, e.g. `us6`.
    pub fn data_center(&self) -> &str {
        &self.key[self.dash + 1..]
    }

    /// All but the last 4 characters of the secret part and the data center hidden.
    pub fn masked(&self) -> String {
        let secret = &self.key[..self.dash];
        let visible = &secret[secret.len() - 4..];
        format!(
            "{}{}-{}",
            "*".repeat(secret.len() - 4),
            visible,
            self.data_center()
        )
    }

    /// The raw key. Only for the Authorization header and the settings store.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// A stable, non-reversible name for the key, for per-key resources such as connection limits.
    pub fn fingerprint(&self) -> String {
        format!("{:x}", md5::compute(self.key.as_bytes()))
    }
}

fn is_data_center(dc: &str) -> bool {
    let letters = dc.bytes().take_while(|b| b.is_ascii_lowercase()).count();
    let digits = dc.len() - letters;
    letters >= 2 && digits >= 1 && dc.bytes().skip(letters).all(|b| b.is_ascii_digit())
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

impl TryFrom<String> for ApiKey {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ApiKey> for String {
    fn from(key: ApiKey) -> String {
        key.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef-us6";

    #[test]
    fn accepts_a_well_formed_key_and_finds_its_data_center() {
        let key = ApiKey::parse(KEY).unwrap();
        assert_eq!(key.data_center(), "us6");
        assert_eq!(key.expose(), KEY);
    }

    #[test]
    fn masks_all_but_the_last_four_and_the_data_center() {
        let key = ApiKey::parse(KEY).unwrap();
        assert_eq!(key.masked(), "****************************cdef-us6");
        assert!(!format!("{key:?}").contains("0123456789"));
    }

    #[test]
    fn rejects_malformed_keys() {
        for bad in [
            "",
            "abc",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcde-us6",
            "0123456789abcdef0123456789abcdeg-us6",
            "0123456789abcdef0123456789abcdef-",
            "0123456789abcdef0123456789abcdef-6",
            "0123456789abcdef0123456789abcdef-us",
            "0123456789abcdef0123456789abcdef-US6",
            "0123456789abcdef0123456789abcdef-us6x",
        ] {
            let err = ApiKey::parse(bad).unwrap_err();
            assert_eq!(err.field, "api_key", "{bad}");
        }
    }
}
