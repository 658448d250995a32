//! Server-rendered pages (askama templates; no JavaScript build).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_subjects::Empty;
use bazaar_subjects::admin::{self, Category, SiteConfig};

use crate::EdgeState;
use crate::extract::{Meta, Viewer};
use bazaar_subjects::auth::Account;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/", get(home))
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    site: SiteConfig,
    categories: Vec<Category>,
    viewer: Option<Account>,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    viewer: Option<Account>,
    site_name: String,
    title: String,
    message: String,
    request_id: Option<String>,
}

async fn home(State(s): State<EdgeState>, Meta(meta): Meta, Viewer(viewer): Viewer) -> Response {
    let site = s.call::<admin::GetSite>(&meta, &Empty {}).await;
    let categories = s.call::<admin::ListCategories>(&meta, &Empty {}).await;
    match (site, categories) {
        (Ok(site), Ok(list)) => HomePage {
            site,
            categories: list.categories,
            viewer,
        }
        .into_response(),
        (Err(e), _) | (_, Err(e)) => error_page(e.0),
    }
}

/// A friendly page for an error, with the status the error carries.
pub(crate) fn error_page(e: bazaar_subjects::ErrorEnvelope) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match status.as_u16() {
        404 => "Page not found".to_owned(),
        503 | 504 => "We'll be right back".to_owned(),
        _ => "Something went wrong".to_owned(),
    };
    (
        status,
        ErrorPage {
            viewer: None,
            site_name: "Bazaar".into(),
            title,
            message: e.message,
            request_id: e.request_id,
        },
    )
        .into_response()
}

/// Unknown API paths get the JSON envelope; unknown pages get a page.
pub async fn not_found(uri: Uri) -> Response {
    let envelope =
        bazaar_subjects::ErrorEnvelope::not_found(format!("nothing lives at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        crate::ApiError(envelope).into_response()
    } else {
        error_page(envelope)
    }
}
