//! Field rules shared by settings and (later) shop records. Each returns the normalised value or
//! a reason a merchant can act on.

use super::{Address, ValidationError};

/// Active ISO 4217 currency codes (2024 list), sorted for binary search.
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XDR", "XOF",
    "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWL",
];

/// Free text without control characters, trimmed, at most `max` characters.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let v = value.trim();
    if v.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if v.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(v.to_owned())
}

/// An absolute http(s) URL with a host; empty means unset.
pub fn shop_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    http_url(v)?;
    Ok(v.trim_end_matches('/').to_owned())
}

/// Parses an absolute http(s) URL with a host: the check every URL setting shares.
fn http_url(v: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(v).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host".into());
    }
    Ok(url)
}

/// A public base URL for Mailchimp's webhooks: absolute http(s), a host, no query or fragment,
/// at most 400 characters; "" stays "" (the setting cleared). Trailing slashes are dropped.
pub fn webhook_base_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    base_url(v)?;
    Ok(v.trim_end_matches('/').to_owned())
}

/// An OAuth `redirect_uri`: absolute http(s) with a host, at most 400 characters, kept exactly
/// as given (Mailchimp compares it with the app's registered URI, trailing slash and query
/// included); required. A query is allowed, as RFC 6749 §3.1.2 allows it: X-Cart's admin pages
/// are `admin.php?target=…`. Only a fragment is refused (the same section forbids one).
pub fn redirect_uri(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("is required".into());
    }
    url_with_query(v, "RFC 6749 §3.1.2")?;
    Ok(v.to_owned())
}

/// The shop's cart-recovery page: absolute http(s) with a host, at most 400 characters, a
/// query allowed (X-Cart's `cart.php?target=…`; the link adds its token as one more
/// parameter), no fragment (the token would land in it, out of the server's sight); "" stays
/// "" (the setting cleared).
pub fn cart_recovery_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    url_with_query(v, "the link's token goes in the query")?;
    Ok(v.to_owned())
}

/// At most 400 characters, http(s) with a host, a query allowed, no fragment (`why` says why
/// not, in the refusal).
fn url_with_query(v: &str, why: &str) -> Result<(), String> {
    if v.len() > 400 {
        return Err("must be at most 400 characters".into());
    }
    if http_url(v)?.fragment().is_some() {
        return Err(format!("must have no fragment ({why})"));
    }
    Ok(())
}

/// At most 400 characters, http(s) with a host, no query or fragment.
fn base_url(v: &str) -> Result<(), String> {
    if v.len() > 400 {
        return Err("must be at most 400 characters".into());
    }
    let url = http_url(v)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment".into());
    }
    Ok(())
}

/// An email address of the form Mailchimp accepts: one `@`, a non-empty local part, a dotted
/// domain, no spaces; lower-cased domain. Mailchimp's own check is stricter on some TLDs.
pub fn email(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("is required".into());
    }
    if v.len() > 254 {
        return Err("must be at most 254 characters".into());
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return Err("is not an email address (no '@')".into());
    };
    let bad_char = |c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"' | '@')
    };
    if local.is_empty() || local.len() > 64 || local.chars().any(bad_char) {
        return Err("is not an email address (invalid part before '@')".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2
        || !labels.iter().all(label_ok)
        || labels.last().is_some_and(|tld| tld.len() < 2)
    {
        return Err("is not an email address (invalid domain)".into());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// An email that may be left empty; otherwise as [`email`] checks it.
pub fn optional_email(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        email(value)
    }
}

/// A phone number: digits and the usual separators, at most 50 characters.
pub fn phone(value: &str) -> Result<String, String> {
    let v = text(value, 50)?;
    if v.chars()
        .any(|c| !(c.is_ascii_digit() || " +-().x/".contains(c)))
    {
        return Err("may contain only digits, spaces and + - ( ) . x /".into());
    }
    Ok(v)
}

/// A client's value inside an error message: quoted and cut at 64 characters, so that an error
/// never echoes a hostile input whole.
pub fn quoted(value: &str) -> String {
    format!("'{}'", clipped(value))
}

/// A client's value cut at 64 characters (with "…"), for error messages and summaries.
pub fn clipped(value: &str) -> String {
    const SHOWN: usize = 64;
    let mut out: String = value.chars().take(SHOWN).collect();
    if value.chars().nth(SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// ISO 4217, upper-cased; empty means unset.
pub fn currency_code(value: &str) -> Result<String, String> {
    let v = value.trim().to_ascii_uppercase();
    if v.is_empty() || ISO_4217.binary_search(&v.as_str()).is_ok() {
        Ok(v)
    } else {
        Err(format!(
            "{} is not an ISO 4217 currency code",
            quoted(value.trim())
        ))
    }
}

/// `en`, `en_US` or `en-US` (stored as given, with the region upper-cased); empty means unset.
pub fn locale(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    let (lang, region) = match v.split_once(['_', '-']) {
        Some((l, r)) => (l, Some((r, &v[l.len()..=l.len()]))),
        None => (v, None),
    };
    if !(2..=3).contains(&lang.len()) || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("must be a language code such as 'en' or 'en_US'".into());
    }
    match region {
        None => Ok(lang.to_owned()),
        Some((r, sep)) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(format!("{lang}{sep}{}", r.to_ascii_uppercase()))
        }
        Some(_) => Err("region must be two letters, as in 'en_US'".into()),
    }
}

/// An IANA time zone name (`Area/Location`, `UTC`, `Etc/GMT+5`); empty means unset. Checked by
/// form, since no zone database ships with mcsync.
pub fn timezone(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() || matches!(v, "UTC" | "GMT") {
        return Ok(v.to_owned());
    }
    let parts: Vec<&str> = v.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
    };
    let area_ok = parts[0]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase());
    if (2..=3).contains(&parts.len()) && area_ok && parts.iter().all(part_ok) {
        Ok(v.to_owned())
    } else {
        Err("must be an IANA time zone such as 'America/New_York' or 'UTC'".into())
    }
}

/// Trims in place (allocating only when there is something to trim); refuses control
/// characters and more than `max` characters.
pub fn text_in_place(v: &mut String, max: usize) -> Result<(), String> {
    let trimmed = v.trim();
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if trimmed.len() != v.len() {
        *v = trimmed.to_owned();
    }
    if v.len() > max && v.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

/// The fields of an address, whichever type holds them (settings or a shop record), so that
/// one set of rules serves both.
pub trait AddressFields {
    /// Each field's name (for error paths) and value.
    fn fields(&mut self) -> [(&'static str, &mut String); 8];
}

impl AddressFields for Address {
    fn fields(&mut self) -> [(&'static str, &mut String); 8] {
        [
            ("address1", &mut self.address1),
            ("address2", &mut self.address2),
            ("city", &mut self.city),
            ("province", &mut self.province),
            ("province_code", &mut self.province_code),
            ("postal_code", &mut self.postal_code),
            ("country", &mut self.country),
            ("country_code", &mut self.country_code),
        ]
    }
}

impl AddressFields for crate::proto::v1::Address {
    fn fields(&mut self) -> [(&'static str, &mut String); 8] {
        [
            ("address1", &mut self.address1),
            ("address2", &mut self.address2),
            ("city", &mut self.city),
            ("province", &mut self.province),
            ("province_code", &mut self.province_code),
            ("postal_code", &mut self.postal_code),
            ("country", &mut self.country),
            ("country_code", &mut self.country_code),
        ]
    }
}

/// Checks an address in place; `prefix` names it in errors (e.g. `shop.address`).
pub fn address(a: &mut impl AddressFields, prefix: &str) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    for (name, value) in a.fields() {
        let result = if name == "country_code" {
            country_code(value)
        } else {
            let max = match name {
                "address1" | "address2" => 100,
                "province_code" => 10,
                "postal_code" => 20,
                _ => 50,
            };
            text_in_place(value, max)
        };
        if let Err(reason) = result {
            errors.push(ValidationError::new(format!("{prefix}.{name}"), reason));
        }
    }
    errors
}

/// ISO 3166-1 alpha-2, upper-cased in place; empty means unset.
fn country_code(v: &mut String) -> Result<(), String> {
    if !(v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase())) {
        let upper = v.trim().to_ascii_uppercase();
        if !(upper.is_empty()
            || (upper.len() == 2 && upper.bytes().all(|b| b.is_ascii_uppercase())))
        {
            return Err("must be an ISO 3166-1 alpha-2 code such as 'US'".into());
        }
        *v = upper;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(ISO_4217.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(currency_code("usd").unwrap(), "USD");
        assert!(currency_code("XXY").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email("Urist@Freddie.COM").unwrap(), "Urist@freddie.com");
        for bad in [
            "",
            "a",
            "a@",
            "@b.com",
            "a@b",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            "a@b.c",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_locales_timezones() {
        assert_eq!(
            shop_url("https://shop.example.com/").unwrap(),
            "https://shop.example.com"
        );
        assert!(shop_url("shop.example.com").is_err());
        assert!(shop_url("ftp://shop.example.com").is_err());
        assert_eq!(locale("en_us").unwrap(), "en_US");
        assert_eq!(locale("de").unwrap(), "de");
        assert!(locale("English").is_err());
        assert!(timezone("America/New_York").is_ok());
        assert!(timezone("America/Argentina/Buenos_Aires").is_ok());
        assert!(timezone("new york").is_err());
    }
}

/// Whether a secret given equals the one kept, compared without an early exit, so that the
/// answer's timing says nothing about how much matched.
pub fn same_secret(given: &str, kept: &str) -> bool {
    let (a, b) = (given.as_bytes(), kept.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod secret_tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("secret", "secret"));
        assert!(!same_secret("secret", "secreT"));
        assert!(!same_secret("secret", "secret1"));
        assert!(!same_secret("", "x"));
        assert!(!same_secret("x", ""));
    }
}
