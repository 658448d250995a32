//! Input rules for accounts, passwords and addresses.

use bazaar_subjects::Validator;

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 128;

/// Lower-cased, trimmed email; the rules are deliberately simple (one `@`, a
/// dot in the domain, no spaces) because the code we send proves the rest.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn check_email(v: &mut Validator, email: &str) {
    v.check(is_email(email), "email", "enter a valid email address");
}

pub fn check_password(v: &mut Validator, field: &str, password: &str) {
    let n = password.chars().count();
    v.check(n >= MIN_PASSWORD, field, "use at least 10 characters")
        .check(n <= MAX_PASSWORD, field, "use at most 128 characters");
}

pub fn check_name(v: &mut Validator, name: &str) {
    let n = name.trim().chars().count();
    v.check(
        (1..=80).contains(&n),
        "name",
        "enter a name of 1 to 80 characters",
    )
    .check(
        !name.chars().any(char::is_control),
        "name",
        "the name has invalid characters",
    );
}

pub fn is_country(c: &str) -> bool {
    c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())
}

pub fn is_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits) && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

pub fn is_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.org"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a b@c.de", "a@b.co.", "a@@b.co",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert_eq!(normalize_email("  Ann@Example.COM "), "ann@example.com");
    }

    #[test]
    fn phones_countries_codes() {
        assert!(is_phone("+49 30 1234567"));
        assert!(!is_phone("call me"));
        assert!(is_country("DE"));
        assert!(!is_country("de"));
        assert!(is_code("012345"));
        assert!(!is_code("12345a"));
    }
}
