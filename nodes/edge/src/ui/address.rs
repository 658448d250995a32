//! The address form the account page ("add an address") and checkout ("a
//! new address") share: the fields as typed, what they become, and the
//! inputs the `address_fields` macro in `macros.html` draws.

use bazaar_subjects::orders::ShippingAddress;
use serde::Deserialize;

/// An address as a form posts it, every field as typed.
#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct AddressFields {
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub phone: String,
}

/// One input of the form, as the template draws it.
pub(crate) struct AddressField {
    /// The form field it posts.
    pub name: &'static str,
    /// The element id (one address form a page).
    pub id: String,
    pub label: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
    /// The field a refusal names it by.
    pub error_key: String,
}

impl AddressFields {
    /// The address the nodes take: trimmed, empty optional lines left out,
    /// the country code in capitals.
    pub(crate) fn address(&self) -> ShippingAddress {
        let optional = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        ShippingAddress {
            full_name: self.full_name.trim().to_owned(),
            line1: self.line1.trim().to_owned(),
            line2: optional(&self.line2),
            city: self.city.trim().to_owned(),
            postal_code: self.postal_code.trim().to_owned(),
            country: self.country.trim().to_uppercase(),
            phone: optional(&self.phone),
        }
    }

    /// The inputs, in the order a person fills them. `scope` is where the
    /// address sits in the request the node refuses (`"address."` at
    /// checkout, where the address is one field of the order, `""` when it
    /// is the whole request).
    pub(crate) fn inputs(&self, scope: &str) -> Vec<AddressField> {
        let input = |name: &'static str, label, autocomplete, value: &String| AddressField {
            name,
            // The ids checkout always had: `postal_code` is `postal-code`.
            id: name.replace('_', "-"),
            label,
            autocomplete,
            value: value.clone(),
            error_key: format!("{scope}{name}"),
        };
        vec![
            input("full_name", "Full name", "name", &self.full_name),
            input("line1", "Street and number", "address-line1", &self.line1),
            input(
                "line2",
                "Apartment, floor (optional)",
                "address-line2",
                &self.line2,
            ),
            input("city", "City", "address-level2", &self.city),
            input(
                "postal_code",
                "Postal code",
                "postal-code",
                &self.postal_code,
            ),
            input(
                "country",
                "Country (two letters, e.g. DE)",
                "country",
                &self.country,
            ),
            input("phone", "Phone (optional)", "tel", &self.phone),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_address_is_trimmed_and_its_country_capitalised() {
        let typed = AddressFields {
            full_name: " Bea Buyer ".into(),
            line1: "1 Market Street".into(),
            line2: "  ".into(),
            city: "Berlin".into(),
            postal_code: "10115 ".into(),
            country: "de".into(),
            phone: String::new(),
        };
        let a = typed.address();
        assert_eq!(a.full_name, "Bea Buyer");
        assert_eq!(a.line2, None);
        assert_eq!(a.postal_code, "10115");
        assert_eq!(a.country, "DE");
        assert_eq!(a.phone, None);
    }

    #[test]
    fn inputs_carry_their_values_and_the_keys_their_errors_come_under() {
        let typed = AddressFields {
            city: "Berlin".into(),
            ..Default::default()
        };
        let inputs = typed.inputs("address.");
        let city = inputs.iter().find(|i| i.name == "city").unwrap();
        assert_eq!(city.value, "Berlin");
        assert_eq!(city.error_key, "address.city");
        assert_eq!(inputs[4].id, "postal-code");
        assert_eq!(typed.inputs("")[0].error_key, "full_name");
    }
}
