//! Times as people read them.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// An RFC 3339 time as people read it, in UTC: `1 Dec 2026, 09:00 UTC`.
pub(crate) fn human_time(rfc3339: &str) -> String {
    let Ok(t) = OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_owned();
    };
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::format_description::parse_borrowed::<1>(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC",
    );
    format
        .ok()
        .and_then(|f| t.format(&f).ok())
        .unwrap_or_else(|| rfc3339.to_owned())
}
