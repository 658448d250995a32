//! Money: an amount in a currency's minor unit with its ISO 4217 code.
//!
//! Amounts are integers (cents for USD, yen for JPY), never floats. Every
//! place that shows an amount to a person, in a page or an email, formats it
//! through [`Money`]'s `Display`, so a price reads the same everywhere; every
//! form that takes one parses it with [`Money::parse`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three ASCII capital letters.
///
/// On the wire it is the plain code (`"USD"`); reading anything else fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("use a three-letter ISO 4217 code such as USD or EUR")]
pub struct BadCurrency;

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");
    pub const GBP: Currency = Currency(*b"GBP");
    pub const JPY: Currency = Currency(*b"JPY");

    /// The platform's currency where nothing names one: new products,
    /// discount codes, empty carts.
    pub const DEFAULT: Currency = Currency::USD;

    /// The code, e.g. `"USD"`.
    pub fn code(&self) -> &str {
        // Only ASCII capitals are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// How many decimals its minor unit has: 0 for JPY and the other
    /// currencies whose smallest coin is the unit itself, else 2.
    pub fn decimals(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            _ => 2,
        }
    }

    /// The sign written before an amount, for the currencies people know by
    /// their sign; the others are written as a code after the amount.
    fn symbol(&self) -> Option<&'static str> {
        match self.code() {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        }
    }
}

impl std::str::FromStr for Currency {
    type Err = BadCurrency;

    fn from_str(code: &str) -> Result<Self, BadCurrency> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(BadCurrency),
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = BadCurrency;

    fn try_from(code: String) -> Result<Self, BadCurrency> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::DEFAULT
    }
}

impl PartialEq<&str> for Currency {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .description(Some("ISO 4217 currency code"))
            .examples([serde_json::json!("USD")])
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// An amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

/// Why a typed amount was refused; the message says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAmount {
    #[error("enter an amount like {example}")]
    Unreadable { example: &'static str },
    #[error("the amount cannot be negative")]
    Negative,
    #[error("{currency} has no decimals: enter an amount like {example}")]
    NoDecimals {
        currency: Currency,
        example: &'static str,
    },
    #[error("use at most two decimals, like {example}")]
    TooManyDecimals { example: &'static str },
    #[error("that amount is too large")]
    TooLarge,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// An amount in a currency given by its code, as the contract carries
    /// them side by side; an unreadable code formats with the default
    /// currency's decimals rather than failing a page.
    pub fn of(minor: i64, currency: &str) -> Self {
        Self::new(minor, currency.parse().unwrap_or_default())
    }

    /// The amount in whole units as a form shows it for editing:
    /// `12999 USD` → `129.99`, `1200 JPY` → `1200` (no grouping, no sign).
    pub fn major_units(&self) -> String {
        let sign = if self.minor < 0 { "-" } else { "" };
        let m = self.minor.unsigned_abs();
        match self.currency.decimals() {
            0 => format!("{sign}{m}"),
            _ => format!("{sign}{}.{:02}", m / 100, m % 100),
        }
    }

    /// An amount typed in whole units (`129.99`, `1,299.5`, `12,50`, `$5`)
    /// in minor units of `currency`; `Ok(None)` when nothing was typed.
    pub fn parse(text: &str, currency: Currency) -> Result<Option<Money>, BadAmount> {
        let t: String = text
            .trim()
            .trim_start_matches(['$', '€', '£', '¥'])
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '_')
            .collect();
        if t.is_empty() {
            return Ok(None);
        }
        let decimals = currency.decimals() as usize;
        let example = if decimals == 0 { "1200" } else { "12.50" };
        if t.starts_with('-') {
            return Err(BadAmount::Negative);
        }
        // A comma is a decimal point when it is the only separator and one or
        // two digits follow it; otherwise commas group thousands.
        let normal = match (t.rfind(','), t.contains('.')) {
            (Some(i), false)
                if (1..=2).contains(&(t.len() - i - 1)) && t.matches(',').count() == 1 =>
            {
                t.replacen(',', ".", 1)
            }
            _ => t.replace(',', ""),
        };
        let (whole, frac) = normal.split_once('.').unwrap_or((&normal, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(BadAmount::Unreadable { example });
        }
        if frac.len() > decimals {
            return Err(if decimals == 0 {
                BadAmount::NoDecimals { currency, example }
            } else {
                BadAmount::TooManyDecimals { example }
            });
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| BadAmount::TooLarge)?
        };
        let frac_minor: i64 = if decimals == 0 {
            0
        } else {
            format!("{frac:0<2}")
                .parse()
                .map_err(|_| BadAmount::Unreadable { example })?
        };
        whole
            .checked_mul(10_i64.pow(decimals as u32))
            .and_then(|w| w.checked_add(frac_minor))
            .map(|minor| Some(Money::new(minor, currency)))
            .ok_or(BadAmount::TooLarge)
    }
}

/// Money accessors for a contract type whose amounts share its `currency`
/// field: `priced!(Order: total, payout)` gives `order.total()` as [`Money`],
/// so no caller pairs an amount with its currency by hand. Amounts after a
/// `;` are optional ones. Every such type also gets `money(minor)` for the
/// amounts around it that carry no currency of their own (a cart's shops, an
/// order's items).
macro_rules! priced {
    ($ty:ident: $($amount:ident),+ $(; $($optional:ident),+)?) => {
        impl $ty {
            $(
                #[doc = concat!("`", stringify!($amount), "` in this ", stringify!($ty), "'s currency.")]
                pub fn $amount(&self) -> $crate::Money {
                    $crate::Money::new(self.$amount, self.currency)
                }
            )+
            $($(
                #[doc = concat!("`", stringify!($optional), "`, when set, in this ", stringify!($ty), "'s currency.")]
                pub fn $optional(&self) -> Option<$crate::Money> {
                    self.$optional.map(|minor| $crate::Money::new(minor, self.currency))
                }
            )+)?

            #[doc = concat!("Any amount in this ", stringify!($ty), "'s currency.")]
            pub fn money(&self, minor: i64) -> $crate::Money {
                $crate::Money::new(minor, self.currency)
            }
        }
    };
}
pub(crate) use priced;

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

/// As people read prices: `$1,234.50`, `€12.50`, `¥1,200`, `12.50 CHF`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let m = self.minor.unsigned_abs();
        let amount = match self.currency.decimals() {
            0 => group(m),
            _ => format!("{}.{:02}", group(m / 100), m % 100),
        };
        match self.currency.symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}{amount}"),
            None => write!(f, "{sign}{amount} {}", self.currency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::USD)
    }

    #[test]
    fn prices_read_like_prices() {
        assert_eq!(usd(12999).to_string(), "$129.99");
        assert_eq!(usd(5).to_string(), "$0.05");
        assert_eq!(usd(-250).to_string(), "-$2.50");
        assert_eq!(usd(123_456_789).to_string(), "$1,234,567.89");
        assert_eq!(Money::of(1250, "EUR").to_string(), "€12.50");
        assert_eq!(Money::of(1250, "GBP").to_string(), "£12.50");
        assert_eq!(Money::of(1200, "JPY").to_string(), "¥1,200");
        assert_eq!(Money::of(1200, "KRW").to_string(), "1,200 KRW");
        assert_eq!(Money::of(1250, "CHF").to_string(), "12.50 CHF");
    }

    #[test]
    fn forms_show_whole_units() {
        assert_eq!(usd(12999).major_units(), "129.99");
        assert_eq!(usd(100).major_units(), "1.00");
        assert_eq!(Money::of(1200, "JPY").major_units(), "1200");
    }

    #[test]
    fn typed_prices_become_minor_units() {
        let p = |t: &str| Money::parse(t, Currency::USD).map(|m| m.map(|m| m.minor));
        assert_eq!(p("129.99"), Ok(Some(12999)));
        assert_eq!(p(" $1,299.5 "), Ok(Some(129950)));
        assert_eq!(p("12,50"), Ok(Some(1250)));
        assert_eq!(p("1,000"), Ok(Some(100000)));
        assert_eq!(p(".5"), Ok(Some(50)));
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("-3"), Err(BadAmount::Negative));
        assert_eq!(
            p("1.234"),
            Err(BadAmount::TooManyDecimals { example: "12.50" })
        );
        assert_eq!(p("abc"), Err(BadAmount::Unreadable { example: "12.50" }));
        assert_eq!(p("99999999999999999999"), Err(BadAmount::TooLarge));
        let jpy = Money::parse("1.5", Currency::JPY);
        assert_eq!(
            jpy.unwrap_err().to_string(),
            "JPY has no decimals: enter an amount like 1200"
        );
    }

    #[test]
    fn contract_types_price_their_amounts_in_their_currency() {
        let item: crate::orders::WishlistItem = serde_json::from_value(serde_json::json!({
            "product_id": "p", "slug": "p", "title": "P", "image": null,
            "price": 1250, "currency": "EUR", "available": true, "added_at": "now",
        }))
        .unwrap();
        assert_eq!(item.price(), Money::new(1250, Currency::EUR));
        assert_eq!(item.money(99).to_string(), "€0.99");
        // The wire keeps the plain code.
        assert_eq!(serde_json::to_value(&item).unwrap()["currency"], "EUR");
    }

    #[test]
    fn currencies_are_three_capitals_on_the_wire() {
        let c: Currency = serde_json::from_str("\"EUR\"").unwrap();
        assert_eq!(c, Currency::EUR);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"EUR\"");
        for bad in ["\"eur\"", "\"EURO\"", "\"\"", "\"E1R\""] {
            assert!(serde_json::from_str::<Currency>(bad).is_err(), "{bad}");
        }
    }
}
