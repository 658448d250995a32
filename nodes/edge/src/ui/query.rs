//! Query strings: encoding values, building links that keep a form's
//! filters, and reading what a form sent.

/// Percent-encodes a query-string value.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string from pairs, skipping empty values.
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A query string's pairs, in order (repeated keys kept); never fails.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    serde_html_form::from_str::<Vec<(String, String)>>(raw.unwrap_or_default()).unwrap_or_default()
}

/// The first non-empty value of `key`, trimmed.
pub(crate) fn first(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, v)| k == key && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// Every non-empty value of `key`, trimmed, without repeats.
pub(crate) fn all(pairs: &[(String, String)], key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (k, v) in pairs {
        let v = v.trim();
        if k == key && !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// Whether a checkbox-style value is on.
pub(crate) fn is_on(v: &str) -> bool {
    !matches!(v, "" | "0" | "false" | "off" | "no")
}
