//! `/admin/system`: which nodes run (copies, versions, uptimes), each
//! subject's request and error rates, the latest failures with a link to
//! their logs, and JetStream's streams and consumer lag. The admin node
//! gathers the report and checks the role itself; the page only spares
//! other accounts a page they could not see.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_subjects::Empty;
use bazaar_subjects::auth::Account;
use bazaar_subjects::system::{GetSystem, NodeReport, StreamReport, SystemReport};

use crate::extract::{Admin, Meta};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/admin/system", get(page))
}

/// One subject's line, formatted.
struct SubjectRow {
    subject: String,
    domain: String,
    requests: u64,
    per_sec: String,
    errors: u64,
    error_pct: String,
    refused: u64,
    mean_ms: String,
}

/// One failure, with where its log lines are when its request id is known.
struct ErrorRow {
    at: String,
    subject: String,
    status: u16,
    message: String,
    request_id: String,
    logs_href: Option<String>,
}

/// One copy, formatted.
struct InstanceRow {
    id: String,
    version: String,
    uptime: String,
    requests: u64,
    errors: u64,
}

struct NodeRow {
    domain: String,
    description: String,
    copies: usize,
    instances: Vec<InstanceRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "system.html")]
struct SystemPage {
    viewer: Option<Account>,
    chrome: Chrome,
    at: String,
    nodes: Vec<NodeRow>,
    subjects: Vec<SubjectRow>,
    errors: Vec<ErrorRow>,
    streams: Vec<StreamReport>,
}

async fn page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
) -> Result<Response, PageError> {
    let report = s.call::<GetSystem>(&meta, &Empty {}).await?;
    Ok(view(Some(viewer), chrome, report).into_response())
}

fn view(viewer: Option<Account>, chrome: Chrome, report: SystemReport) -> SystemPage {
    SystemPage {
        viewer,
        chrome,
        at: report.at,
        nodes: report.nodes.into_iter().map(node_row).collect(),
        subjects: report
            .subjects
            .into_iter()
            .map(|s| SubjectRow {
                per_sec: format!("{:.2}", s.requests_per_sec),
                error_pct: format!("{:.1} %", s.error_rate * 100.0),
                mean_ms: format!("{:.1}", s.mean_ms),
                subject: s.subject,
                domain: s.domain,
                requests: s.requests,
                errors: s.errors,
                refused: s.refused,
            })
            .collect(),
        errors: report
            .recent_errors
            .into_iter()
            .map(|e| ErrorRow {
                logs_href: logs_href(&e.request_id),
                at: e.at,
                subject: e.subject,
                status: e.status,
                message: e.message,
                request_id: e.request_id,
            })
            .collect(),
        streams: report.streams,
    }
}

fn node_row(n: NodeReport) -> NodeRow {
    NodeRow {
        domain: n.domain,
        description: n.description,
        copies: n.copies,
        instances: n
            .instances
            .into_iter()
            .map(|i| InstanceRow {
                uptime: uptime(i.uptime_secs),
                id: i.id,
                version: i.version,
                requests: i.requests,
                errors: i.errors,
            })
            .collect(),
    }
}

/// `/admin/logs?request_id=…`, with the id encoded as a query value.
fn logs_href(request_id: &str) -> Option<String> {
    if request_id.is_empty() {
        return None;
    }
    let query = serde_html_form::to_string([("request_id", request_id)]).ok()?;
    Some(format!("/admin/logs?{query}"))
}

/// `3 d 4 h`, `2 h 5 min`, `7 min 3 s`, `12 s`.
fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {s} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_read_at_a_glance() {
        assert_eq!(uptime(12), "12 s");
        assert_eq!(uptime(7 * 60 + 3), "7 min 3 s");
        assert_eq!(uptime(2 * 3600 + 5 * 60), "2 h 5 min");
        assert_eq!(uptime(3 * 86_400 + 4 * 3600 + 9), "3 d 4 h");
    }

    #[test]
    fn a_request_id_is_a_query_value_in_the_logs_link() {
        assert_eq!(
            logs_href("0193a-b").as_deref(),
            Some("/admin/logs?request_id=0193a-b")
        );
        assert_eq!(
            logs_href("a&b=<c>").as_deref(),
            Some("/admin/logs?request_id=a%26b%3D%3Cc%3E")
        );
        assert_eq!(logs_href(""), None);
    }
}
