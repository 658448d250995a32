//! Prices: minor units as people read them, as a form shows them for
//! editing, and typed amounts back into minor units.

/// Currencies whose minor unit is the whole unit.
fn zero_decimal(currency: &str) -> bool {
    matches!(
        currency,
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "PYG" | "RWF"
    )
}

/// Groups thousands: `1234567` → `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Minor units as people read them: `12999 USD` → `$129.99`, other
/// currencies with their code: `12999 EUR` → `129.99 EUR`.
pub(crate) fn format_price(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let amount = if zero_decimal(currency) {
        group(m)
    } else {
        format!("{}.{:02}", group(m / 100), m % 100)
    };
    if currency == "USD" {
        format!("{sign}${amount}")
    } else {
        format!("{sign}{amount} {currency}")
    }
}

/// Minor units as a form shows them for editing: `12999` → `129.99`.
pub(crate) fn major_units(minor: i64, currency: &str) -> String {
    if zero_decimal(currency) {
        minor.to_string()
    } else {
        let sign = if minor < 0 { "-" } else { "" };
        let m = minor.unsigned_abs();
        format!("{sign}{}.{:02}", m / 100, m % 100)
    }
}

/// A price typed in whole units (`129.99`, `1,299.5`, `12,50`) in minor
/// units; `Ok(None)` when nothing was typed.
pub(crate) fn parse_price(text: &str, currency: &str) -> Result<Option<i64>, String> {
    let t: String = text
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    if t.is_empty() {
        return Ok(None);
    }
    let decimals = if zero_decimal(currency) { 0 } else { 2 };
    let example = if decimals == 0 { "1200" } else { "12.50" };
    let bad = || format!("enter an amount like {example}");
    if t.starts_with('-') {
        return Err("the amount cannot be negative".into());
    }
    // A comma is a decimal point when it is the only separator and one or two
    // digits follow it; otherwise commas group thousands.
    let normal = match (t.rfind(','), t.contains('.')) {
        (Some(i), false) if (1..=2).contains(&(t.len() - i - 1)) && t.matches(',').count() == 1 => {
            t.replacen(',', ".", 1)
        }
        _ => t.replace(',', ""),
    };
    let (whole, frac) = normal.split_once('.').unwrap_or((&normal, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > decimals {
        return Err(if decimals == 0 {
            format!("{currency} has no decimals: enter an amount like {example}")
        } else {
            format!("use at most two decimals, like {example}")
        });
    }
    let too_big = || "that amount is too large".to_owned();
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_big())?
    };
    let frac_minor: i64 = if decimals == 0 {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(if decimals == 0 { 1 } else { 100 })
        .and_then(|w| w.checked_add(frac_minor))
        .map(Some)
        .ok_or_else(too_big)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_like_prices() {
        assert_eq!(format_price(12999, "USD"), "$129.99");
        assert_eq!(format_price(12999, "EUR"), "129.99 EUR");
        assert_eq!(format_price(5, "USD"), "$0.05");
        assert_eq!(format_price(123456789, "USD"), "$1,234,567.89");
        assert_eq!(format_price(1200, "JPY"), "1,200 JPY");
        assert_eq!(major_units(12999, "USD"), "129.99");
        assert_eq!(major_units(100, "USD"), "1.00");
    }

    #[test]
    fn typed_prices_become_minor_units() {
        let p = |t: &str| parse_price(t, "USD");
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("129.99"), Ok(Some(12999)));
        assert_eq!(p("129.9"), Ok(Some(12990)));
        assert_eq!(p("129"), Ok(Some(12900)));
        assert_eq!(p(" $1,299.50 "), Ok(Some(129950)));
        assert_eq!(p("12,50"), Ok(Some(1250)));
        assert_eq!(p(".5"), Ok(Some(50)));
        assert!(p("12.345").is_err());
        assert!(p("abc").is_err());
        assert!(p("-3").is_err());
        assert!(p("99999999999999999999").is_err());
        assert_eq!(parse_price("1200", "JPY"), Ok(Some(1200)));
        assert!(parse_price("12.5", "JPY").is_err());
    }
}
