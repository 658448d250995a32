//! Prices typed into forms. Shown prices come from the contract types'
//! [`Money`] accessors (`product.price()`), the one formatter every page and
//! email shares; this reads what a person typed back into minor units.

use bazaar_subjects::{Currency, Money};

/// A price typed in whole units (`129.99`, `1,299.5`, `12,50`) in minor
/// units; `Ok(None)` when nothing was typed, else what to type instead.
pub(crate) fn parse_price(text: &str, currency: Currency) -> Result<Option<i64>, String> {
    Money::parse(text, currency)
        .map(|m| m.map(|m| m.minor))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_prices_become_minor_units() {
        let p = |t: &str| parse_price(t, Currency::USD);
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
        assert_eq!(parse_price("1200", Currency::JPY), Ok(Some(1200)));
        assert!(parse_price("12.5", Currency::JPY).is_err());
    }
}
