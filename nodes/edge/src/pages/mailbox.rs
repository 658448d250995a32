//! `/dev/mailbox`: on one box without SMTP, the emails Bazaar would have sent,
//! so a newcomer can finish signing up. The mail node serves the list only
//! under `bazaar dev` without SMTP; elsewhere this page says so (404).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_subjects::Empty;
use bazaar_subjects::auth::Account;
use bazaar_subjects::mail::{ListMailbox, MailboxMessage};

use crate::extract::{Meta, Viewer};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/dev/mailbox", get(mailbox))
}

#[derive(Template, WebTemplate)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    viewer: Option<Account>,
    chrome: Chrome,
    available: bool,
    messages: Vec<MailboxMessage>,
}

async fn mailbox(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    chrome: Chrome,
) -> Result<Response, PageError> {
    Ok(match s.call::<ListMailbox>(&meta, &Empty {}).await {
        Ok(m) => MailboxPage {
            viewer,
            chrome,
            available: true,
            messages: m.messages,
        }
        .into_response(),
        // No mail node serves the list here: mail goes to real inboxes.
        Err(e) if matches!(e.0.status, 404 | 503) => (
            StatusCode::NOT_FOUND,
            MailboxPage {
                viewer,
                chrome,
                available: false,
                messages: Vec::new(),
            },
        )
            .into_response(),
        Err(e) => return Err(e.into()),
    })
}
