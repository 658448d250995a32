//! Prices in pages: the contract carries an amount in minor units beside its
//! currency code; these read them through [`Money`], the one formatter and
//! parser every page and email shares.

use bazaar_subjects::{Currency, Money};

/// Minor units as people read them: `12999 USD` → `$129.99`, `1250 EUR` →
/// `€12.50`, `1250 CHF` → `12.50 CHF`.
pub(crate) fn format_price(minor: i64, currency: &str) -> String {
    Money::of(minor, currency).to_string()
}

/// Minor units as a form shows them for editing: `12999` → `129.99`.
pub(crate) fn major_units(minor: i64, currency: &str) -> String {
    Money::of(minor, currency).major_units()
}

/// A price typed in whole units (`129.99`, `1,299.5`, `12,50`) in minor
/// units; `Ok(None)` when nothing was typed, else what to type instead.
pub(crate) fn parse_price(text: &str, currency: &str) -> Result<Option<i64>, String> {
    let currency: Currency = currency.parse().unwrap_or_default();
    Money::parse(text, currency)
        .map(|m| m.map(|m| m.minor))
        .map_err(|e| e.to_string())
}

/// The currency of amounts that carry none of their own (discount codes,
/// price filters): the platform's.
pub(crate) fn platform_currency() -> String {
    Currency::DEFAULT.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_like_prices() {
        assert_eq!(format_price(12999, "USD"), "$129.99");
        assert_eq!(format_price(12999, "EUR"), "€129.99");
        assert_eq!(format_price(99900, "CHF"), "999.00 CHF");
        assert_eq!(format_price(5, "USD"), "$0.05");
        assert_eq!(format_price(123456789, "USD"), "$1,234,567.89");
        assert_eq!(format_price(1200, "JPY"), "¥1,200");
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
