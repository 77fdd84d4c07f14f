//! Money as exact decimals: ten-thousandths in an i64, never a float, so "19.99" stays 19.99.

/// Parses a non-negative decimal string with at most 4 decimal places into ten-thousandths.
pub fn parse(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("is required".into());
    }
    if s.starts_with('-') {
        return Err("must not be negative".into());
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (s.contains('.') && frac.is_empty()) {
        let s = super::validate::quoted(s);
        return Err(format!("{s} is not a decimal amount such as 19.99"));
    }
    if frac.len() > 4 {
        return Err("must have at most 4 decimal places".into());
    }
    let whole: i64 = whole.parse().map_err(|_| "is too large".to_string())?;
    let frac_units: i64 = format!("{frac:0<4}").parse().unwrap_or(0);
    whole
        .checked_mul(10_000)
        .and_then(|w| w.checked_add(frac_units))
        .ok_or_else(|| "is too large".into())
}

/// The canonical form: at least 2 decimals, trailing zeros beyond them dropped ("19.90", "0.125").
pub fn format(units: i64) -> String {
    let whole = units / 10_000;
    let frac = format!("{:04}", units % 10_000);
    let frac = frac.trim_end_matches('0');
    format!("{whole}.{frac:0<2}")
}

/// Whether `s` is already in the form [`format`] gives, checked without allocating.
pub fn is_canonical(s: &str) -> bool {
    let Some((whole, frac)) = s.split_once('.') else {
        return false;
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(whole)
        && digits(frac)
        && (whole == "0" || !whole.starts_with('0'))
        && whole.len() <= 14
        && (2..=4).contains(&frac.len())
        && (frac.len() == 2 || !frac.ends_with('0'))
}

/// Parses and re-formats, so that equal amounts are stored (and hashed) identically.
pub fn canonical(s: &str) -> Result<String, String> {
    parse(s).map(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_canonical() {
        assert_eq!(parse("19.99").unwrap(), 199_900);
        assert_eq!(canonical("19.9").unwrap(), "19.90");
        assert_eq!(canonical("0.125").unwrap(), "0.125");
        assert_eq!(canonical("7").unwrap(), "7.00");
        assert_eq!(canonical("0.1000").unwrap(), "0.10");
        // 0.1 + 0.2 in cents never drifts.
        assert_eq!(
            format(parse("0.1").unwrap() + parse("0.2").unwrap()),
            "0.30"
        );
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1,5",
            "1e3",
            "1.23456",
            "abc",
            "99999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
