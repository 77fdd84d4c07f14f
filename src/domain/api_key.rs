//! The Mailchimp credential: a pasted API key, or an OAuth access token with its data center.
//! A secret that is never logged and never shown unmasked.

use std::fmt;

use super::ValidationError;

/// A syntactically valid Mailchimp API key, `<32 hex>-<dc>`, or an OAuth access token with
/// the data center Mailchimp's metadata named (sent as `Authorization: Bearer`).
///
/// `Debug` prints the masked form, and there is no `Display`, so the key cannot reach a log
/// line by accident; `expose()` is the one way out, for the Authorization header and storage.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKey {
    key: String,
    dash: usize,
    oauth: bool,
}

/// How an OAuth credential is stored: `oauth:<token>-<dc>` (never accepted from a client).
const OAUTH_PREFIX: &str = "oauth:";

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
            oauth: false,
        })
    }

    /// An OAuth access token and the data center Mailchimp's metadata gave for it.
    pub fn from_oauth(token: &str, data_center: &str) -> Result<Self, ValidationError> {
        let invalid = |reason: &str| ValidationError::new("access_token", reason);
        if token.len() < 8 || token.len() > 200 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "is not a token Mailchimp gives (8 to 200 visible characters)",
            ));
        }
        if !is_data_center(data_center) {
            return Err(ValidationError::new(
                "dc",
                "is not a data center such as 'us6'",
            ));
        }
        Ok(Self {
            key: format!("{token}-{data_center}"),
            dash: token.len(),
            oauth: true,
        })
    }

    /// Whether it came from the OAuth flow (sent as a Bearer token) rather than pasted.
    pub fn is_oauth(&self) -> bool {
        self.oauth
    }

    /// What goes in the Authorization header: the key (HTTP Basic's password), or the token.
    pub fn secret(&self) -> &str {
        if self.oauth {
            &self.key[..self.dash]
        } else {
            &self.key
        }
    }

    /// The data center the key belongs to, e.g. `us6`.
    pub fn data_center(&self) -> &str {
        &self.key[self.dash + 1..]
    }

    /// All but the last 4 characters of the secret part and the data center hidden; an OAuth
    /// token says so.
    pub fn masked(&self) -> String {
        let secret = &self.key[..self.dash];
        let visible = &secret[secret.len() - 4..];
        format!(
            "{}{}{}-{}",
            if self.oauth { "oauth:" } else { "" },
            "*".repeat(secret.len().min(32) - 4),
            visible,
            self.data_center()
        )
    }

    /// The raw credential as stored. Only for the settings store.
    pub fn expose(&self) -> String {
        if self.oauth {
            format!("{OAUTH_PREFIX}{}", self.key)
        } else {
            self.key.clone()
        }
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
    /// From the settings store: a key, or an OAuth credential.
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.strip_prefix(OAUTH_PREFIX) {
            Some(rest) => {
                let (token, dc) = rest.rsplit_once('-').ok_or_else(|| {
                    ValidationError::new(
                        "api_key",
                        "a stored OAuth credential without its data center",
                    )
                })?;
                Self::from_oauth(token, dc)
            }
            None => Self::parse(&raw),
        }
    }
}

impl From<ApiKey> for String {
    fn from(key: ApiKey) -> String {
        key.expose()
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
        assert!(!key.is_oauth());
    }

    #[test]
    fn masks_all_but_the_last_four_and_the_data_center() {
        let key = ApiKey::parse(KEY).unwrap();
        assert_eq!(key.masked(), "****************************cdef-us6");
        assert!(!format!("{key:?}").contains("0123456789"));
    }

    #[test]
    fn an_oauth_token_is_kept_apart_masked_and_never_taken_from_a_client() {
        let token = ApiKey::from_oauth("5c6ccc561059aa386da9d112215bae55", "us6").unwrap();
        assert!(token.is_oauth());
        assert_eq!(token.secret(), "5c6ccc561059aa386da9d112215bae55");
        assert_eq!(token.data_center(), "us6");
        assert_eq!(token.masked(), "oauth:****************************ae55-us6");
        let stored: String = token.clone().into();
        assert_eq!(ApiKey::try_from(stored.clone()).unwrap(), token);
        assert!(
            ApiKey::parse(&stored).is_err(),
            "Connect never takes a stored OAuth form"
        );
        assert_eq!(ApiKey::parse(KEY).unwrap().secret(), KEY);
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
